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
#include <unistd.h>

#include "dh.h"
#include "dh-dump.h"
#include "io.h"

#define RUN_BUF (256u << 10)

struct entry {
	struct sort_key k;
	size_t off;               /* record bytes in the run buffer */
	uint32_t len;
};

struct run {
	FILE *f;
	unsigned char *buf;       /* current record */
	size_t cap;
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
};

static int key_cmp(const struct sort_key *x, const unsigned char *xr, const struct sort_key *y,
                   const unsigned char *yr)
{
	size_t n;
	int c;

	if (x->tx != y->tx)
		return x->tx < y->tx ? -1 : 1;
	if (x->cls != y->cls)
		return x->cls < y->cls ? -1 : 1;
	if (x->e != y->e)
		return x->e < y->e ? -1 : 1;
	if (x->arank != y->arank)
		return x->arank < y->arank ? -1 : 1;
	if (!x->arank) {
		n = x->a_len < y->a_len ? x->a_len : y->a_len;
		if ((c = memcmp(xr + x->a_off, yr + y->a_off, n)))
			return c;
		if (x->a_len != y->a_len)
			return x->a_len < y->a_len ? -1 : 1;
	}
	if (x->added != y->added)
		return x->added < y->added ? -1 : 1;
	n = x->v_len < y->v_len ? x->v_len : y->v_len;
	if ((c = memcmp(xr + x->v_off, yr + y->v_off, n)))
		return c;
	return x->v_len < y->v_len ? -1 : x->v_len > y->v_len;
}

static int ent_cmp(const void *a, const void *b, void *payload)
{
	const struct entry *x = a, *y = b;
	const unsigned char *d = payload;

	return key_cmp(&x->k, d + x->off, &y->k, d + y->off);
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
	if (!(s->tmpdir = strdup(tmpdir))) {
		free(s);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	s->mem = mem ? mem : (64u << 20);
	s->last = -1;
	*out = s;
	return 0;
}

static int spill(struct sorter *s)
{
	char *path = NULL;
	struct run *r;
	FILE *f = NULL;
	int fd, rc = 0;

	if (!s->n)
		return 0;
	qsort_r(s->ents, s->n, sizeof(*s->ents), ent_cmp, s->data);
	if (s->nruns == s->rcap) {
		size_t cap = s->rcap ? s->rcap * 2 : 8;
		struct run *nr = realloc(s->runs, cap * sizeof(*nr));

		if (!nr)
			return dh_error_set(DH_ENOMEM, "out of memory");
		s->runs = nr;
		s->rcap = cap;
	}
	if (asprintf(&path, "%s/dh-sort-XXXXXX", s->tmpdir) < 0)
		return dh_error_set(DH_ENOMEM, "out of memory");
	fd = mkstemp(path);
	if (fd < 0) {
		rc = dh_error_set(DH_EIO, "cannot create a sort run in '%s': %s", s->tmpdir, strerror(errno));
		goto out;
	}
	unlink(path);
	if (!(f = fdopen(fd, "w+b"))) {
		close(fd);
		rc = dh_error_set(DH_EIO, "cannot open a sort run: %s", strerror(errno));
		goto out;
	}
	setvbuf(f, NULL, _IOFBF, RUN_BUF);
	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->ents[i];

		if (fwrite(&e->k, sizeof(e->k), 1, f) != 1 || fwrite(&e->len, sizeof(e->len), 1, f) != 1 ||
		    fwrite(s->data + e->off, 1, e->len, f) != e->len) {
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
	free(path);
	return rc;
}

int sorter_add(struct sorter *s, const struct sort_key *k, const void *rec, size_t len)
{
	int rc;

	if (len > UINT32_MAX)
		return dh_error_set(DH_EINVAL, "record too large to sort");
	if (s->n && s->dlen + len + (s->n + 1) * sizeof(struct entry) > s->mem && (rc = spill(s)))
		return rc;
	if (s->dcap - s->dlen < len) {
		size_t cap = s->dcap ? s->dcap : (1u << 20);
		unsigned char *nd;

		while (cap - s->dlen < len)
			cap *= 2;
		if (!(nd = realloc(s->data, cap)))
			return dh_error_set(DH_ENOMEM, "out of memory");
		s->data = nd;
		s->dcap = cap;
	}
	if (s->n == s->ecap) {
		size_t cap = s->ecap ? s->ecap * 2 : 4096;
		struct entry *ne = realloc(s->ents, cap * sizeof(*ne));

		if (!ne)
			return dh_error_set(DH_ENOMEM, "out of memory");
		s->ents = ne;
		s->ecap = cap;
	}
	memcpy(s->data + s->dlen, rec, len);
	s->ents[s->n].k = *k;
	s->ents[s->n].off = s->dlen;
	s->ents[s->n].len = (uint32_t)len;
	s->n++;
	s->dlen += len;
	return 0;
}

/* Read run r's next record; 1, 0 at its end, or an error. */
static int run_next(struct sorter *s, struct run *r)
{
	size_t n = fread(&r->cur.k, sizeof(r->cur.k), 1, r->f);

	if (n != 1) {
		if (ferror(r->f))
			return dh_error_set(DH_EIO, "cannot read a sort run in '%s': %s", s->tmpdir, strerror(errno));
		return 0;
	}
	if (fread(&r->cur.len, sizeof(r->cur.len), 1, r->f) != 1)
		return dh_error_set(DH_EIO, "sort run in '%s' is truncated", s->tmpdir);
	if (r->cap < r->cur.len) {
		size_t cap = r->cap ? r->cap : 4096;
		unsigned char *nb;

		while (cap < r->cur.len)
			cap *= 2;
		if (!(nb = realloc(r->buf, cap)))
			return dh_error_set(DH_ENOMEM, "out of memory");
		r->buf = nb;
		r->cap = cap;
	}
	if (fread(r->buf, 1, r->cur.len, r->f) != r->cur.len)
		return dh_error_set(DH_EIO, "sort run in '%s' is truncated", s->tmpdir);
	return 1;
}

static int heap_less(struct sorter *s, size_t a, size_t b)
{
	struct run *x = &s->runs[a], *y = &s->runs[b];
	int c = key_cmp(&x->cur.k, x->buf, &y->cur.k, y->buf);

	return c < 0 || (c == 0 && a < b);
}

static void sift_down(struct sorter *s, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < s->nheap && heap_less(s, s->heap[l], s->heap[m]))
			m = l;
		if (l + 1 < s->nheap && heap_less(s, s->heap[l + 1], s->heap[m]))
			m = l + 1;
		if (m == i)
			return;
		size_t t = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = t;
		i = m;
	}
}

int sorter_done(struct sorter *s)
{
	int rc;

	s->done = 1;
	if (!s->nruns) {
		if (s->n)
			qsort_r(s->ents, s->n, sizeof(*s->ents), ent_cmp, s->data);
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
	for (size_t i = s->nheap / 2; i-- > 0;)
		sift_down(s, i);
	s->merging = 1;
	return 0;
}

int sorter_next(struct sorter *s, const unsigned char **rec, size_t *len)
{
	int rc;

	if (!s->merging) {
		if (s->pos >= s->n)
			return 0;
		*rec = s->data + s->ents[s->pos].off;
		*len = s->ents[s->pos].len;
		s->pos++;
		return 1;
	}
	if (s->last >= 0) {
		/* advance the run whose record the caller has finished with */
		rc = run_next(s, &s->runs[s->last]);
		if (rc < 0)
			return rc;
		if (!rc) {
			s->heap[0] = s->heap[--s->nheap];
		}
		if (s->nheap)
			sift_down(s, 0);
		s->last = -1;
	}
	if (!s->nheap)
		return 0;
	s->last = (int)s->heap[0];
	*rec = s->runs[s->last].buf;
	*len = s->runs[s->last].cur.len;
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
