/*
 * sort.c - an external merge sort of encoded dump records.
 *
 * Export has to write datoms in transaction order, which no index keeps,
 * and import has to load them in that order even when a dump was written
 * otherwise (Datahike's `:sort? false` exports are in entity order).  Both
 * sort here: records are copied into one flat buffer with a small fixed key
 * beside each; when the buffer reaches its budget the keys are sorted and
 * the run is written to an unlinked temporary file; at the end the runs are
 * merged through a binary heap, each read through its own small buffer.
 * Memory is the budget plus one read buffer per run, whatever the input
 * size.  Nothing is allocated per record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dh.h"
#include "dh-dump.h"
#include "io.h"
#include "util/mem.h"
#include "util/runs.h"

#define RUN_BUF (256u << 10)

/*
 * A run's entry: the key folded into 12 bytes, and where the record is.
 * k1 = tx above tx0 (31 bits) | cls (2 bits) | e (31 bits), each clamped,
 * so it never contradicts the full order; k2 = attribute rank << 1 | added
 * when the rank is known (0 otherwise).  Ties are settled from the record
 * bytes themselves (slow_cmp(), values decoded), which is rare: mostly
 * values of one cardinality-many attribute.
 */
struct entry {
	uint64_t k1;
	uint32_t k2;
	uint32_t off;             /* [u32 len][record] in the run buffer */
};

struct run {
	FILE *f;
	unsigned char *buf;       /* current record */
	size_t cap;
	uint32_t len;
	struct entry cur;
};

struct sorter {
	char *tmpdir;
	size_t mem;
	unsigned char *data;      /* records of the run being built */
	size_t dlen, dcap;
	struct entry *ents;
	size_t n, ecap;
	struct run *runs;
	size_t nruns, rcap;
	/* merge */
	size_t *heap;
	size_t nheap;
	size_t pos;               /* next in-memory entry when nothing spilled */
	int done, merging;
	int last;                 /* run whose record was returned last; -1 none */
	struct dh_arena *va;      /* values decoded to settle ties */
};

/* The unsigned or negative integer head at p (for e and tx). */
static int64_t cbor_int(const unsigned char *p)
{
	unsigned ai = p[0] & 31, major = p[0] >> 5;
	uint64_t v = ai;

	if (ai >= 24 && ai <= 27) {
		v = 0;
		for (unsigned i = 0; i < (1u << (ai - 24)); i++)
			v = v << 8 | p[1 + i];
	}
	return major == 1 ? -1 - (int64_t)v : (int64_t)v;
}

struct spans {
	int64_t e, tx;
	size_t a_off, a_len, v_off, v_len;
	int added;
};

static void spans_of(struct spans *sp, const unsigned char *r, size_t len)
{
	uint64_t n = 0;
	size_t off = 1;

	memset(sp, 0, sizeof(*sp));
	sp->e = cbor_int(r + 1);
	dh_cbor_frame(r + off, len - off, &n);
	off += (size_t)n;
	sp->a_off = off;
	dh_cbor_frame(r + off, len - off, &n);
	sp->a_len = (size_t)n;
	off += (size_t)n;
	sp->v_off = off;
	dh_cbor_frame(r + off, len - off, &n);
	sp->v_len = (size_t)n;
	off += (size_t)n;
	sp->tx = off < len ? cbor_int(r + off) : 0;
	sp->added = r[len - 1] == 0xf5;
}

static int bytes_cmp(const unsigned char *x, size_t xl, const unsigned char *y, size_t yl)
{
	int c = memcmp(x, y, xl < yl ? xl : yl);

	if (c)
		return c;
	return xl < yl ? -1 : xl > yl;
}

/*
 * Values in the order the log tree keeps them (dh_val_cmp()), so that a
 * sorted export and one streamed from the log agree; by bytes when the
 * values are equal or do not decode.
 */
static int val_cmp(struct dh_arena *a, const unsigned char *x, size_t xl, const unsigned char *y, size_t yl)
{
	struct dh_val vx, vy;
	size_t used;
	int c;

	dh_arena_reset(a);
	if (dh_cbor_decode(&vx, a, x, xl, &used) || dh_cbor_decode(&vy, a, y, yl, &used))
		return bytes_cmp(x, xl, y, yl);
	c = dh_val_cmp(&vx, &vy);
	return c ? c : bytes_cmp(x, xl, y, yl);
}

static int slow_cmp(struct dh_arena *va, uint32_t k2, const unsigned char *x, size_t xl, const unsigned char *y,
                    size_t yl)
{
	struct spans a, b;
	int c;

	spans_of(&a, x, xl);
	spans_of(&b, y, yl);
	if (a.tx != b.tx)
		return a.tx < b.tx ? -1 : 1;
	if (a.e != b.e)
		return a.e < b.e ? -1 : 1;
	if (!(k2 >> 1)) {
		if ((c = bytes_cmp(x + a.a_off, a.a_len, y + b.a_off, b.a_len)))
			return c;
		if (a.added != b.added)
			return a.added < b.added ? -1 : 1;
	}
	return val_cmp(va, x + a.v_off, a.v_len, y + b.v_off, b.v_len);
}

static int ecmp(struct dh_arena *va, const struct entry *x, const unsigned char *xr, uint32_t xl,
                const struct entry *y, const unsigned char *yr, uint32_t yl)
{
	if (x->k1 != y->k1)
		return x->k1 < y->k1 ? -1 : 1;
	if (x->k2 != y->k2)
		return x->k2 < y->k2 ? -1 : 1;
	return slow_cmp(va, x->k2, xr, xl, yr, yl);
}

static uint32_t rec_len(const unsigned char *d, uint32_t off)
{
	uint32_t n;

	memcpy(&n, d + off, 4);
	return n;
}

static int ent_cmp(const void *a, const void *b, void *payload)
{
	const struct entry *x = a, *y = b;
	struct sorter *s = payload;
	const unsigned char *d = s->data;

	if (x->k1 != y->k1)
		return x->k1 < y->k1 ? -1 : 1;
	if (x->k2 != y->k2)
		return x->k2 < y->k2 ? -1 : 1;
	return slow_cmp(s->va, x->k2, d + x->off + 4, rec_len(d, x->off), d + y->off + 4, rec_len(d, y->off));
}

static uint64_t clamp31(int64_t v)
{
	return v < 0 ? 0 : v > 0x7fffffff ? 0x7fffffff : (uint64_t)v;
}

static void fold(struct entry *en, const struct sort_key *k)
{
	en->k1 = clamp31(k->tx - DH_DUMP_TX0) << 33 | (uint64_t)(k->cls & 3) << 31 | clamp31(k->e);
	en->k2 = k->arank ? k->arank << 1 | (k->added & 1) : 0;
}

static void hugepages(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
	uintptr_t a = ((uintptr_t)p + 0x1fffff) & ~(uintptr_t)0x1fffff;

	if (n > (4u << 20) && a < (uintptr_t)p + n)
		madvise((void *)a, ((uintptr_t)p + n - a) & ~(uintptr_t)0x1fffff, MADV_HUGEPAGE);
#else
	(void)p;
	(void)n;
#endif
}

int sorter_new(struct sorter **out, size_t mem, const char *tmpdir)
{
	struct sorter *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return dh_error_set(DH_ENOMEM, "out of memory");
	if (!tmpdir || !*tmpdir)
		tmpdir = getenv("TMPDIR");
	if (!tmpdir || !*tmpdir)
		tmpdir = "/tmp";
	if (!(s->tmpdir = strdup(tmpdir)) || dh_arena_new(&s->va)) {
		free(s->tmpdir);
		free(s);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	s->mem = mem ? mem : (96u << 20);
	s->last = -1;
	*out = s;
	return 0;
}

static int spill(struct sorter *s)
{
	struct run *r;
	FILE *f = NULL;
	int rc = 0;

	if (!s->n)
		return 0;
	qsort_r(s->ents, s->n, sizeof(*s->ents), ent_cmp, s);
	if ((rc = dh_grow((void **)&s->runs, &s->rcap, s->nruns + 1, sizeof(*s->runs), 8)))
		return rc;
	if ((rc = dh_run_open(&f, s->tmpdir, "dh-sort", RUN_BUF)))
		return rc;
	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->ents[i];

		uint32_t len = rec_len(s->data, e->off);

		if (fwrite_unlocked(&e->k1, 8, 1, f) != 1 || fwrite_unlocked(&e->k2, 4, 1, f) != 1 ||
		    fwrite_unlocked(s->data + e->off, 1, (size_t)len + 4, f) != (size_t)len + 4) {
			rc = dh_error_set(DH_EIO, "cannot write a sort run in '%s': %s", s->tmpdir, strerror(errno));
			goto out;
		}
	}
	if (fflush(f)) {
		rc = dh_error_set(DH_EIO, "cannot write a sort run in '%s': %s", s->tmpdir, strerror(errno));
		goto out;
	}
	r = &s->runs[s->nruns++];
	memset(r, 0, sizeof(*r));
	r->f = f;
	f = NULL;
	s->n = 0;
	s->dlen = 0;
out:
	if (f)
		fclose(f);
	return rc;
}

int sorter_add(struct sorter *s, const struct sort_key *k, const void *rec, size_t len)
{
	uint32_t n32;
	int rc;

	if (len > UINT32_MAX - 8)
		return dh_error_set(DH_EINVAL, "record too large to sort");
	/*
	 * Records and keys share the budget: half for records, a quarter for
	 * keys, a quarter for qsort_r()'s merge buffer.  Both buffers are
	 * reserved once (pages are touched only as they fill) and a run spills
	 * when either is full.
	 */
	if (!s->data) {
		s->dcap = s->mem / 2;
		s->ecap = (s->mem / 4) / sizeof(struct entry);
		if (s->dcap < 4096)
			s->dcap = 4096;
		if (s->dcap > UINT32_MAX)
			s->dcap = UINT32_MAX;
		if (s->ecap < 16)
			s->ecap = 16;
		if (!(s->data = malloc(s->dcap)) || !(s->ents = malloc(s->ecap * sizeof(*s->ents))))
			return dh_error_set(DH_ENOMEM, "out of memory");
		/* large pages: a fault per 2 MiB, not per 4 KiB, as the buffers fill */
		hugepages(s->data, s->dcap);
		hugepages(s->ents, s->ecap * sizeof(*s->ents));
	}
	if ((s->dcap - s->dlen < len + 4 || s->n == s->ecap) && (rc = spill(s)))
		return rc;
	if (s->dcap - s->dlen < len + 4) {
		/* one record larger than the whole buffer */
		unsigned char *nd = realloc(s->data, len + 4);

		if (!nd)
			return dh_error_set(DH_ENOMEM, "out of memory");
		s->data = nd;
		s->dcap = len + 4;
	}
	n32 = (uint32_t)len;
	memcpy(s->data + s->dlen, &n32, 4);
	memcpy(s->data + s->dlen + 4, rec, len);
	fold(&s->ents[s->n], k);
	s->ents[s->n].off = (uint32_t)s->dlen;
	s->n++;
	s->dlen += len + 4;
	return 0;
}

/* Read run r's next record; 1, 0 at its end, or an error. */
static int run_next(struct sorter *s, struct run *r)
{
	size_t n = fread_unlocked(&r->cur.k1, 8, 1, r->f);

	if (n != 1) {
		if (ferror(r->f))
			return dh_error_set(DH_EIO, "cannot read a sort run in '%s': %s", s->tmpdir, strerror(errno));
		return 0;
	}
	if (fread_unlocked(&r->cur.k2, 4, 1, r->f) != 1 || fread_unlocked(&r->len, 4, 1, r->f) != 1)
		return dh_error_set(DH_EIO, "sort run in '%s' is truncated", s->tmpdir);
	int rc = dh_run_read(r->f, &r->buf, &r->cap, r->len);
	return rc ? rc : 1;
}

static int heap_less(size_t a, size_t b, void *ctx)
{
	struct sorter *s = ctx;
	struct run *x = &s->runs[a], *y = &s->runs[b];
	int c = ecmp(s->va, &x->cur, x->buf, x->len, &y->cur, y->buf, y->len);

	return c < 0 || (c == 0 && a < b);
}

int sorter_done(struct sorter *s)
{
	int rc;

	s->done = 1;
	if (!s->nruns) {
		if (s->n)
			qsort_r(s->ents, s->n, sizeof(*s->ents), ent_cmp, s);
		s->pos = 0;
		return 0;
	}
	if ((rc = spill(s)))
		return rc;
	free(s->data);
	free(s->ents);
	s->data = NULL;
	s->ents = NULL;
	s->dcap = s->ecap = 0;
	if (!(s->heap = malloc(s->nruns * sizeof(*s->heap))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	for (size_t i = 0; i < s->nruns; i++) {
		struct run *r = &s->runs[i];

		rewind(r->f);
		setvbuf(r->f, NULL, _IOFBF, RUN_BUF);
		rc = run_next(s, r);
		if (rc < 0)
			return rc;
		if (rc)
			s->heap[s->nheap++] = i;
	}
	dh_heap_make(s->heap, s->nheap, heap_less, s);
	s->merging = 1;
	return 0;
}

int sorter_next(struct sorter *s, const unsigned char **rec, size_t *len)
{
	int rc;

	if (!s->merging) {
		if (s->pos >= s->n)
			return 0;
		*rec = s->data + s->ents[s->pos].off + 4;
		*len = rec_len(s->data, s->ents[s->pos].off);
		s->pos++;
		return 1;
	}
	if (s->last >= 0) {
		/* advance the run whose record the caller has finished with */
		if ((rc = run_next(s, &s->runs[s->last])) < 0)
			return rc;
		dh_heap_next(s->heap, &s->nheap, rc, heap_less, s);
		s->last = -1;
	}
	if (!s->nheap)
		return 0;
	s->last = (int)s->heap[0];
	*rec = s->runs[s->last].buf;
	*len = s->runs[s->last].len;
	return 1;
}

size_t sorter_runs(const struct sorter *s)
{
	return s->nruns;
}

void sorter_free(struct sorter *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nruns; i++) {
		if (s->runs[i].f)
			fclose(s->runs[i].f);
		free(s->runs[i].buf);
	}
	free(s->runs);
	free(s->heap);
	free(s->data);
	free(s->ents);
	free(s->tmpdir);
	dh_arena_free(s->va);
	free(s);
}

int record_key(struct sort_key *k, const unsigned char *rec, size_t len, int64_t e, int64_t tx, int added)
{
	uint64_t n;
	size_t off = 1;

	if (len < 1 || rec[0] != 0x85)
		return dh_error_set(DH_ECORRUPT, "record is not a 5-element array");
	if (dh_cbor_frame(rec + off, len - off, &n) != 1)
		return dh_error_set(DH_ECORRUPT, "malformed record");
	off += (size_t)n;
	k->a_off = (uint32_t)off;
	if (dh_cbor_frame(rec + off, len - off, &n) != 1)
		return dh_error_set(DH_ECORRUPT, "malformed record");
	k->a_len = (uint32_t)n;
	off += (size_t)n;
	k->v_off = (uint32_t)off;
	if (dh_cbor_frame(rec + off, len - off, &n) != 1)
		return dh_error_set(DH_ECORRUPT, "malformed record");
	k->v_len = (uint32_t)n;
	k->e = e;
	k->tx = tx;
	k->added = (uint8_t)!!added;
	return 0;
}
