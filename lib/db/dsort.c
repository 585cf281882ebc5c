/*
 * dsort.c - an external sort of datoms, for the bulk loader.
 *
 * The loader needs its datoms in several orders (transaction order for the
 * log tree, EAVT with history to group events into current and temporal
 * datoms, then AEVT and AVET) and must not hold them all: a million datoms
 * fit in memory, ten million must not.  A sorter keeps a chunk of datoms,
 * copied into its arena or borrowed from a chunk that outlives it, as an
 * array of pointers.  Sorting is a radix sort of a 16-byte key per datom
 * that agrees with dh_tree_cmp() (ties, mostly values of one
 * cardinality-many attribute, are settled by dh_tree_cmp() itself), and is
 * skipped when the chunk is in order already, as a dump's datoms are in
 * transaction order.  Sorters share a pool with a byte budget; when the
 * pool goes over it, the largest chunk is sorted in each of its orders and
 * written as runs to unlinked temporary files, and iterating merges the
 * runs through a heap.  Nothing is allocated per datom but the copies in
 * the arena.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/internal.h"
#include "util/runs.h"

#define RUN_BUF (256u << 10)
#define SIGN (UINT64_C(1) << 63)

struct skey {
	uint64_t k1, k2;
	uint32_t i, pad;
};

/* Transient sort memory per datom (keys and the radix sort's copy), reserved in the budget. */
#define SORT_COST (2 * sizeof(struct skey))

struct drun {
	FILE *f;
	struct dh_arena *a;       /* the current datom's value */
	unsigned char *buf;
	size_t cap;
	struct dh_datom d;
};

struct dsort {
	struct dsort_pool *pool;
	const struct schema *s;
	int nord;
	struct dsort_order ord[DSORT_MAX_ORDERS];
	/* the chunk in memory */
	struct dh_arena *a;
	const struct dh_datom **p;
	size_t n, cap;
	size_t bytes;             /* what the chunk counts against the pool */
	int frozen;               /* iterating: no more adds, never spilled */
	/* runs on disk: runs[o][r] */
	struct drun *runs[DSORT_MAX_ORDERS];
	size_t nruns, rcap;
	/* iteration */
	struct dh_tree_ctx tc;
	uint32_t *perm;           /* NULL: the chunk's own order */
	size_t pos;
	int merging, cur_ord;
	size_t *heap, nheap;
	int last;
	struct dh_buf enc;
};

static void ctx_for(struct dsort *s, const struct dsort_order *o)
{
	memset(&s->tc, 0, sizeof(s->tc));
	s->tc.ix = (enum dh_index)o->ix;
	s->tc.history = o->history;
	s->tc.rank = s->s->rank;
	s->tc.nrank = (size_t)s->s->max + 1;
}

static uint64_t attr_key(const struct dh_tree_ctx *c, dh_aid a)
{
	uint64_t r = a < c->nrank ? c->rank[a] : UINT32_MAX - 1;

	return r << 32 | a;
}

/* A key prefix: key(x) < key(y) only when dh_tree_cmp(x, y) < 0. */
static void key_of(const struct dh_tree_ctx *c, const struct dh_datom *d, struct skey *k)
{
	switch ((int)c->ix) {
	case DH_EAVT:
		k->k1 = (uint64_t)d->e ^ SIGN;
		k->k2 = attr_key(c, d->a);
		break;
	case DH_AEVT:
		k->k1 = attr_key(c, d->a);
		k->k2 = (uint64_t)d->e ^ SIGN;
		break;
	case DH_AVET:
		k->k1 = attr_key(c, d->a);
		k->k2 = 0;
		break;
	default:   /* the log: tx, the tx entity first, e (tx ids are positive, below 2^31) */
		k->k1 = (uint64_t)d->tx << 1 | (d->e != d->tx);
		k->k2 = (uint64_t)d->e ^ SIGN;
		break;
	}
}

static int key_cmp(const struct skey *x, const struct skey *y)
{
	if (x->k1 != y->k1)
		return x->k1 < y->k1 ? -1 : 1;
	if (x->k2 != y->k2)
		return x->k2 < y->k2 ? -1 : 1;
	return 0;
}

struct tiectx {
	const struct dh_tree_ctx *c;
	const struct dh_datom **p;
};

static int tie_cmp(const void *x, const void *y, void *payload)
{
	const struct skey *a = x, *b = y;
	const struct tiectx *t = payload;
	int r = dh_tree_cmp(t->c, t->p[a->i], t->p[b->i]);

	if (r)
		return r;
	return a->i < b->i ? -1 : a->i > b->i;
}

static struct skey *radix(struct skey *a, struct skey *t, size_t n);

/*
 * Order m entries whose keys tie.  In AVET a tie is a whole attribute, and
 * its values are mostly integers (every ref attribute is in AVET): those
 * are radix sorted by value first, using `spare` (room for m entries).
 */
static void settle(struct skey *g, struct skey *spare, size_t m, struct tiectx *tie)
{
	size_t i, j;

	if ((int)tie->c->ix == DH_AVET && m > 16) {
		struct skey *r;

		for (i = 0; i < m && tie->p[g[i].i]->v.type == DH_LONG; i++)
			;
		if (i == m) {
			for (i = 0; i < m; i++)
				g[i].k2 = (uint64_t)tie->p[g[i].i]->v.u.i ^ SIGN;
			if (!(r = radix(g, spare, m)))
				goto all;
			if (r != g)
				memcpy(g, r, m * sizeof(*g));
			for (i = 0; i < m; i = j) {
				for (j = i + 1; j < m && g[j].k2 == g[i].k2; j++)
					;
				if (j - i > 1)
					qsort_r(g + i, j - i, sizeof(*g), tie_cmp, tie);
			}
			return;
		}
	}
all:
	qsort_r(g, m, sizeof(*g), tie_cmp, tie);
}

/* LSD radix sort on (k1, k2), one pass per byte that is not the same in every key. */
static struct skey *radix(struct skey *a, struct skey *t, size_t n)
{
	size_t (*cnt)[256] = calloc(16, sizeof(*cnt));
	uint64_t or1 = 0, and1 = UINT64_MAX, or2 = 0, and2 = UINT64_MAX;
	int live[16], nlive = 0, p;
	size_t i;

	if (!cnt)
		return NULL;
	/* the bytes that differ somewhere; only they are counted and sorted on */
	for (i = 0; i < n; i++) {
		or1 |= a[i].k1;
		and1 &= a[i].k1;
		or2 |= a[i].k2;
		and2 &= a[i].k2;
	}
	for (p = 0; p < 16; p++)
		if ((((p < 8 ? or2 ^ and2 : or1 ^ and1)) >> (8 * (p % 8))) & 255)
			live[nlive++] = p;
	for (i = 0; i < n; i++)
		for (int q = 0; q < nlive; q++) {
			p = live[q];
			cnt[p][((p < 8 ? a[i].k2 : a[i].k1) >> (8 * (p % 8))) & 255]++;
		}
	for (int q = 0; q < nlive; q++) {
		unsigned sh;
		size_t sum = 0, *c;
		struct skey *x;

		p = live[q];
		sh = 8 * (unsigned)(p % 8);
		c = cnt[p];
		for (int b = 0; b < 256; b++) {
			size_t v = c[b];

			c[b] = sum;
			sum += v;
		}
		for (i = 0; i < n; i++) {
			uint64_t kk = p < 8 ? a[i].k2 : a[i].k1;

			t[c[(kk >> sh) & 255]++] = a[i];
		}
		x = a;
		a = t;
		t = x;
	}
	free(cnt);
	return a;
}

/*
 * The chunk's order under order `o`: *out gets a permutation (caller
 * frees), or NULL when the chunk is in that order already.
 */
static int chunk_sort(struct dsort *s, const struct dsort_order *o, uint32_t **out)
{
	struct skey *k = NULL, *t = NULL, *r;
	struct tiectx tie;
	uint32_t *perm = NULL;
	size_t i, j, n = s->n;
	int sorted = 1, rc = 0;

	*out = NULL;
	if (n < 2)
		return 0;
	if (n > UINT32_MAX)
		return dh_error_set(DH_ENOMEM, "too many datoms in one sort chunk");
	ctx_for(s, o);
	tie.c = &s->tc;
	tie.p = s->p;
	/* in order already?  (a dump is in transaction order) */
	{
		struct skey a, b;

		key_of(&s->tc, s->p[0], &b);
		for (i = 1; i < n && sorted; i++) {
			int c;

			a = b;
			key_of(&s->tc, s->p[i], &b);
			c = key_cmp(&a, &b);
			if (c > 0 || (c == 0 && dh_tree_cmp(&s->tc, s->p[i - 1], s->p[i]) > 0))
				sorted = 0;
		}
		if (sorted)
			return 0;
	}
	if (!(k = malloc(n * sizeof(*k))) || !(t = malloc(n * sizeof(*t)))) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		key_of(&s->tc, s->p[i], &k[i]);
		if (o->k1_only)
			k[i].k2 = 0;
		k[i].i = (uint32_t)i;
		k[i].pad = 0;
	}
	if (!(r = radix(k, t, n))) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	/* settle ties by the full order, input order last (the input settles them with k1_only) */
	for (i = 0; i < n && !o->k1_only; i = j) {
		for (j = i + 1; j < n && !key_cmp(&r[i], &r[j]); j++)
			;
		if (j - i > 1)
			settle(r + i, (r == k ? t : k) + i, j - i, &tie);
	}
	if (!(perm = malloc(n * sizeof(*perm)))) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		perm[i] = r[i].i;
	*out = perm;
out:
	free(k);
	free(t);
	return rc;
}

void dsort_pool_init(struct dsort_pool *pool, size_t max, const char *tmpdir)
{
	memset(pool, 0, sizeof(*pool));
	pool->max = max ? max : DSORT_DEFAULT_MEM;
	pool->tmpdir = tmpdir;
}

int dsort_new(struct dsort **out, struct dsort_pool *pool, const struct schema *sch, const struct dsort_order *ord,
	int nord)
{
	struct dsort *s;
	int rc;

	*out = NULL;
	if (nord < 1 || nord > DSORT_MAX_ORDERS || pool->n == DSORT_POOL_MAX)
		return dh_error_set(DH_EINVAL, "bad sorter");
	if (!(s = calloc(1, sizeof(*s))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	if ((rc = dh_arena_new(&s->a))) {
		free(s);
		return rc;
	}
	s->pool = pool;
	s->s = sch;
	s->nord = nord;
	memcpy(s->ord, ord, (size_t)nord * sizeof(*ord));
	s->last = -1;
	pool->m[pool->n++] = s;
	*out = s;
	return 0;
}

static void account(struct dsort *s)
{
	size_t b = (s->a ? dh_arena_used(s->a) : 0) + s->n * sizeof(*s->p) + (s->frozen ? 0 : s->n * SORT_COST);

	s->pool->used = s->pool->used - s->bytes + b;
	s->bytes = b;
}

/* Run records: [u32 length of the rest][e i64][tx i64][a u32][added u8][v as CBOR]. */
static int run_write(struct dsort *s, FILE *f, const struct dh_datom *d)
{
	unsigned char h[25];
	uint32_t len;
	int rc;

	dh_buf_reset(&s->enc);
	if ((rc = dh_cbor_encode(&s->enc, &d->v)))
		return rc;
	len = (uint32_t)(21 + s->enc.len);
	memcpy(h, &len, 4);
	memcpy(h + 4, &d->e, 8);
	memcpy(h + 12, &d->tx, 8);
	memcpy(h + 20, &d->a, 4);
	h[24] = d->added;
	if (fwrite_unlocked(h, 1, sizeof(h), f) != sizeof(h) ||
	    fwrite_unlocked(s->enc.data, 1, s->enc.len, f) != s->enc.len)
		return dh_error_set(DH_EIO, "cannot write a sort run: %s", strerror(errno));
	return 0;
}

/* Sort the chunk in each order, write it as one run per order, empty it. */
static int spill(struct dsort *s)
{
	int o, rc = 0;

	if (!s->n)
		return 0;
	if (s->pool->prepare && (rc = s->pool->prepare(s->pool->payload)))
		return rc;
	if (s->nruns == s->rcap) {
		size_t cap = s->rcap ? s->rcap * 2 : 8;

		for (o = 0; o < s->nord; o++) {
			struct drun *r = realloc(s->runs[o], cap * sizeof(*r));

			if (!r)
				return dh_error_set(DH_ENOMEM, "out of memory");
			s->runs[o] = r;
		}
		s->rcap = cap;
	}
	for (o = 0; o < s->nord; o++)
		memset(&s->runs[o][s->nruns], 0, sizeof(struct drun));
	s->nruns++;
	for (o = 0; o < s->nord; o++) {
		struct drun *r = &s->runs[o][s->nruns - 1];
		uint32_t *perm = NULL;
		size_t i;

		if ((rc = chunk_sort(s, &s->ord[o], &perm)) || (rc = dh_run_open(&r->f, s->pool->tmpdir, "dh-load", RUN_BUF)))
			goto fail;
		for (i = 0; i < s->n && !rc; i++)
			rc = run_write(s, r->f, s->p[perm ? perm[i] : i]);
		free(perm);
		if (!rc && fflush(r->f))
			rc = dh_error_set(DH_EIO, "cannot write a sort run: %s", strerror(errno));
		if (rc)
			goto fail;
	}
	s->n = 0;
	dh_arena_rewind(s->a);
	account(s);
	return 0;
fail:
	return rc;
}

/* Spill the largest chunk that may still be spilled while the pool is over budget. */
static int pool_relieve(struct dsort_pool *pool)
{
	while (pool->used > pool->max) {
		struct dsort *big = NULL;
		int i, rc;

		for (i = 0; i < pool->n; i++)
			if (!pool->m[i]->frozen && pool->m[i]->n && (!big || pool->m[i]->bytes > big->bytes))
				big = pool->m[i];
		if (!big)
			return 0;
		if ((rc = spill(big)))
			return rc;
	}
	return 0;
}

static int push(struct dsort *s, const struct dh_datom *d)
{
	if (s->frozen)
		return dh_error_set(DH_EINVAL, "datom added to a sorter being read");
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		const struct dh_datom **p = realloc(s->p, cap * sizeof(*p));

		if (!p)
			return dh_error_set(DH_ENOMEM, "out of memory");
		s->p = p;
		s->cap = cap;
	}
	s->p[s->n++] = d;
	return 0;
}

int dsort_add(struct dsort *s, const struct dh_datom *d)
{
	struct dh_datom *c;
	int rc;

	if (s->frozen)
		return dh_error_set(DH_EINVAL, "datom added to a sorter being read");
	if (!(c = dh_arena_alloc(s->a, sizeof(*c))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	*c = *d;
	if ((rc = dh_val_copy(&c->v, s->a, &d->v)) || (rc = push(s, c)))
		return rc;
	if ((s->n & 255) == 0) {
		account(s);
		return pool_relieve(s->pool);
	}
	return 0;
}

int dsort_add_ref(struct dsort *s, const struct dh_datom *d)
{
	int rc = push(s, d);

	if (rc)
		return rc;
	if ((s->n & 255) == 0) {
		account(s);
		return pool_relieve(s->pool);
	}
	return 0;
}

size_t dsort_count(const struct dsort *s)
{
	return s->n;
}

int dsort_in_memory(const struct dsort *s)
{
	return s->nruns == 0;
}

/* Read run r's next datom; 1, 0 at its end, or an error. */
static int run_next(struct drun *r)
{
	uint32_t len;
	size_t used;
	int rc;

	if (fread_unlocked(&len, 4, 1, r->f) != 1) {
		if (ferror(r->f))
			return dh_error_set(DH_EIO, "cannot read a sort run: %s", strerror(errno));
		return 0;
	}
	if (len < 21)
		return dh_error_set(DH_EIO, "sort run damaged");
	if ((rc = dh_run_read(r->f, &r->buf, &r->cap, len)))
		return rc;
	memcpy(&r->d.e, r->buf, 8);
	memcpy(&r->d.tx, r->buf + 8, 8);
	memcpy(&r->d.a, r->buf + 16, 4);
	r->d.added = r->buf[20];
	dh_arena_reset(r->a);
	if ((rc = dh_cbor_decode(&r->d.v, r->a, r->buf + 21, len - 21, &used)))
		return rc;
	return 1;
}

static int heap_less(size_t a, size_t b, void *ctx)
{
	struct dsort *s = ctx;
	struct drun *rs = s->runs[s->cur_ord];
	int c = dh_tree_cmp(&s->tc, &rs[a].d, &rs[b].d);

	return c < 0 || (c == 0 && a < b);
}

int dsort_iter(struct dsort *s, int o)
{
	size_t i;
	int rc;

	if (o < 0 || o >= s->nord)
		return dh_error_set(DH_EINVAL, "no such sort order");
	free(s->perm);
	s->perm = NULL;
	s->pos = 0;
	s->merging = 0;
	s->last = -1;
	s->nheap = 0;
	if (s->nruns) {
		/* everything is on disk: the chunk's memory goes back for the merge */
		if ((rc = spill(s)))
			return rc;
		dh_arena_free(s->a);
		s->a = NULL;
		free(s->p);
		s->p = NULL;
		s->cap = 0;
	}
	s->frozen = 1;
	ctx_for(s, &s->ord[o]);
	if (!s->nruns) {
		account(s);
		return chunk_sort(s, &s->ord[o], &s->perm);
	}
	s->cur_ord = o;
	if (!s->heap && !(s->heap = malloc(s->nruns * sizeof(*s->heap))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	for (i = 0; i < s->nruns; i++) {
		struct drun *r = &s->runs[o][i];

		if (!r->a && (rc = dh_arena_new(&r->a)))
			return rc;
		rewind(r->f);
		if ((rc = run_next(r)) < 0)
			return rc;
		if (rc)
			s->heap[s->nheap++] = i;
	}
	dh_heap_make(s->heap, s->nheap, heap_less, s);
	s->merging = 1;
	return 0;
}

int dsort_next(struct dsort *s, const struct dh_datom **out)
{
	int rc;

	if (!s->merging) {
		if (s->pos >= s->n)
			return 0;
		*out = s->p[s->perm ? s->perm[s->pos] : s->pos];
		s->pos++;
		return 1;
	}
	if (s->last >= 0) {
		if ((rc = run_next(&s->runs[s->cur_ord][s->last])) < 0)
			return rc;
		dh_heap_next(s->heap, &s->nheap, rc, heap_less, s);
		s->last = -1;
	}
	if (!s->nheap)
		return 0;
	s->last = (int)s->heap[0];
	*out = &s->runs[s->cur_ord][s->last].d;
	return 1;
}

void dsort_free(struct dsort *s)
{
	int o, i;

	if (!s)
		return;
	for (i = 0; i < s->pool->n; i++)
		if (s->pool->m[i] == s) {
			s->pool->m[i] = s->pool->m[--s->pool->n];
			break;
		}
	s->pool->used -= s->bytes;
	for (o = 0; o < s->nord; o++) {
		for (size_t r = 0; r < s->nruns; r++) {
			if (s->runs[o][r].f)
				fclose(s->runs[o][r].f);
			dh_arena_free(s->runs[o][r].a);
			free(s->runs[o][r].buf);
		}
		free(s->runs[o]);
	}
	dh_arena_free(s->a);
	dh_buf_release(&s->enc);
	free(s->p);
	free(s->perm);
	free(s->heap);
	free(s);
}
