/*
 * dbsrc.c - a database view (lib/dh-db.h) as a query source.
 *
 * This is where the query engine's index selection happens: a scan with
 * the entity bound walks EAVT from that entity (narrowed by attribute and
 * value when given); an attribute with a value uses AVET when the
 * attribute is in AVET; an attribute alone walks AEVT; anything else
 * walks EAVT whole.  Components the index cannot narrow are filtered.
 * Values handed to the engine are copied into the source's arena (the
 * iterator's memory is only valid until its next step); numbers and other
 * scalars cost nothing to copy.
 *
 * Opening an iterator costs far more than stepping one, so an attribute
 * that is scanned whole, or looked up by entity more than a few times, is
 * read once into memory (its datoms in AEVT order) and later scans of it
 * are binary searches there.  The cache lives as long as the source, whose
 * view of the database never changes.
 */
#include <stdlib.h>
#include <string.h>

#include "dh-db.h"
#include "q.h"
#include "util/mem.h"

/* A datom of a loaded attribute: its attribute is the cache's (40 bytes, not 72). */
struct cdatom {
	int64_t e;
	int64_t txa;             /* tx * 2 + added */
	struct dh_val v;
};

struct acache {
	int loaded;
	unsigned lookups;        /* by entity, before loading */
	unsigned vlookups;       /* by value, before loading */
	struct dh_val akw;       /* the attribute, as its datoms carry it */
	size_t finger;           /* where the last entity lookup landed */
	struct cdatom *d;        /* AEVT order */
	size_t n, cap;
	uint32_t *byv;           /* indices into d in value order, built on demand */
};

#define LOAD_AFTER 8         /* entity lookups of one attribute before it is loaded */
#define VLOAD_AFTER 2        /* value lookups of one attribute before it is loaded */

struct dbsrc {
	struct dh_query_source base;
	struct dh_db *db;
	struct dh_arena *arena;
	struct dh_val *kw;       /* attribute keywords by aid, built on demand */
	size_t nkw;
	struct acache *cache;    /* by aid */
	size_t ncache;
};

static const struct dh_attr *attr_of(struct dbsrc *s, const struct dh_val *a)
{
	if (!a || a->type != DH_KEYWORD)
		return NULL;
	return dh_db_attr_by_ident(s->db, a->u.s, a->len);
}

static int kw_of(struct dbsrc *s, dh_aid aid, struct dh_val *out)
{
	if (aid >= s->nkw) {
		size_t n = s->nkw ? s->nkw : 64;
		while (n <= aid)
			n *= 2;
		struct dh_val *k = realloc(s->kw, n * sizeof(*k));
		if (!k)
			return dh_error_set(DH_ENOMEM, "out of memory");
		memset(k + s->nkw, 0, (n - s->nkw) * sizeof(*k));
		s->kw = k;
		s->nkw = n;
	}
	if (s->kw[aid].type != DH_KEYWORD) {
		const struct dh_attr *at = dh_db_attr(s->db, aid);
		if (!at)
			return dh_error_set(DH_ECORRUPT, "datom with unknown attribute id %u", (unsigned)aid);
		s->kw[aid] = dh_text(DH_KEYWORD, at->ident, at->ident_len);
	}
	*out = s->kw[aid];
	return 0;
}

static int needs_copy(const struct dh_val *v)
{
	return v->type >= DH_STRING && v->type != DH_INST && v->type != DH_UUID ? 1 :
	       v->type == DH_BIGINT || v->type == DH_BIGDEC;
}

static int iter_scan(struct dbsrc *s, enum dh_index ix, const struct dh_bound *b, const struct dh_val *e,
                     const struct dh_attr *at, const struct dh_val *v, const struct dh_val *tx, unsigned flags,
                     dh_qdatom_fn fn, void *payload);

static int load_cb(const struct dh_qdatom *d, void *payload)
{
	struct acache *c = payload;
	int rc = dh_grow((void **)&c->d, &c->cap, c->n + 1, sizeof(*c->d), 256);
	if (rc)
		return rc;
	if (!c->n)
		c->akw = d->a;
	c->d[c->n].e = d->e;
	c->d[c->n].txa = d->tx * 2 + (d->added != 0);
	c->d[c->n].v = d->v;
	c->n++;
	return 0;
}

static struct acache *cache_of(struct dbsrc *s, dh_aid aid)
{
	if (aid >= s->ncache) {
		size_t n = s->ncache ? s->ncache : 64;
		while (n <= aid)
			n *= 2;
		struct acache *c = realloc(s->cache, n * sizeof(*c));
		if (!c)
			return NULL;
		memset(c + s->ncache, 0, (n - s->ncache) * sizeof(*c));
		s->cache = c;
		s->ncache = n;
	}
	return &s->cache[aid];
}

static int cache_load(struct dbsrc *s, const struct dh_attr *at, struct acache *c)
{
	struct dh_bound b = { .n = 1, .a = at->aid };
	c->n = 0;
	/* every node of the attribute is read once, and its datoms copied: no node cache */
	int rc = iter_scan(s, DH_AEVT, &b, NULL, at, NULL, NULL, DH_ITER_SCAN, load_cb, c);
	if (!rc)
		c->loaded = 1;
	return rc;
}

static int64_t cd_tx(const struct cdatom *d)
{
	return (d->txa - (d->txa & 1)) / 2;
}

static int cd_emit(const struct acache *c, const struct cdatom *d, dh_qdatom_fn fn, void *payload)
{
	struct dh_qdatom q = { .e = d->e, .a = c->akw, .v = d->v, .tx = cd_tx(d), .added = (int)(d->txa & 1) };

	return fn(&q, payload);
}

static int cache_scan(struct acache *c, const struct dh_val *e, const struct dh_val *v, const struct dh_val *tx,
                      dh_qdatom_fn fn, void *payload)
{
	size_t lo = 0, hi = c->n;
	int rc;
	if (e) {
		/* entities asked in increasing order (they come from another
		 * attribute's scan): gallop on from the last one found */
		size_t f = c->finger;
		if (f < c->n && c->d[f].e <= e->u.i) {
			size_t step = 1;
			lo = f;
			while (lo + step < c->n && c->d[lo + step].e < e->u.i) {
				lo += step;
				step *= 2;
			}
			hi = lo + step < c->n ? lo + step + 1 : c->n;
		}
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (c->d[mid].e < e->u.i)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	if (e)
		c->finger = lo;
	for (size_t i = lo; i < c->n; i++) {
		const struct cdatom *d = &c->d[i];
		if (e && d->e != e->u.i)
			break;
		if (tx && cd_tx(d) != tx->u.i)
			continue;
		if (v && !dh_val_eq(&d->v, v))
			continue;
		if ((rc = cd_emit(c, d, fn, payload)))
			return rc;
	}
	return 0;
}

static int cmp_byv(const void *x, const void *y, void *arg)
{
	const struct cdatom *d = arg;
	const struct cdatom *a = &d[*(const uint32_t *)x], *b = &d[*(const uint32_t *)y];
	int r = dh_val_cmp(&a->v, &b->v);
	return r ? r : (a->e < b->e ? -1 : a->e > b->e);
}

/* Datoms of a loaded attribute with value v, by binary search on byv. */
static int cache_vscan(struct acache *c, const struct dh_val *v, const struct dh_val *tx, dh_qdatom_fn fn,
                       void *payload)
{
	int rc;
	if (!c->byv) {
		c->byv = malloc((c->n + 1) * sizeof(*c->byv));
		if (!c->byv)
			return dh_error_set(DH_ENOMEM, "out of memory");
		for (size_t i = 0; i < c->n; i++)
			c->byv[i] = (uint32_t)i;
		qsort_r(c->byv, c->n, sizeof(*c->byv), cmp_byv, c->d);
	}
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (dh_val_cmp(&c->d[c->byv[mid]].v, v) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < c->n; i++) {
		const struct cdatom *d = &c->d[c->byv[i]];
		if (dh_val_cmp(&d->v, v))
			break;
		if (tx && cd_tx(d) != tx->u.i)
			continue;
		if ((rc = cd_emit(c, d, fn, payload)))
			return rc;
	}
	return 0;
}

static int db_scan(struct dh_query_source *src, const struct dh_val *e, const struct dh_val *a,
                   const struct dh_val *v, const struct dh_val *tx, dh_qdatom_fn fn, void *payload)
{
	struct dbsrc *s = (struct dbsrc *)src;
	struct dh_bound b = { 0 };
	enum dh_index ix = DH_EAVT;
	const struct dh_attr *at = NULL;
	int rc;

	if (a) {
		at = attr_of(s, a);
		if (!at)
			return 0;
	}
	if (e && e->type != DH_LONG)
		return 0;
	if (tx && tx->type != DH_LONG)
		return 0;
	if (at) {
		struct acache *c = cache_of(s, at->aid);
		if (!c)
			return dh_error_set(DH_ENOMEM, "out of memory");
		if (!c->loaded && ((!e && (!v || !at->in_avet)) || (e && ++c->lookups > LOAD_AFTER) ||
		                   (!e && v && ++c->vlookups > VLOAD_AFTER)) &&
		    (rc = cache_load(s, at, c)))
			return rc;
		if (c->loaded && !e && v)
			return cache_vscan(c, v, tx, fn, payload);
		if (c->loaded)
			return cache_scan(c, e, v, tx, fn, payload);
	}
	if (e) {
		ix = DH_EAVT;
		b.e = e->u.i;
		b.n = 1;
		if (at) {
			b.a = at->aid;
			b.n = 2;
			if (v) {
				b.v = *v;
				b.n = 3;
			}
		}
	} else if (at && v && at->in_avet) {
		ix = DH_AVET;
		b.a = at->aid;
		b.v = *v;
		b.n = 2;
	} else if (at) {
		ix = DH_AEVT;
		b.a = at->aid;
		b.n = 1;
	}
	return iter_scan(s, ix, &b, e, at, v, tx, 0, fn, payload);
}

static int iter_scan(struct dbsrc *s, enum dh_index ix, const struct dh_bound *b, const struct dh_val *e,
                     const struct dh_attr *at, const struct dh_val *v, const struct dh_val *tx, unsigned flags,
                     dh_qdatom_fn fn, void *payload)
{
	struct dh_iter *it = NULL;
	int rc;

	/* a scan decodes values straight into the source's arena: no copy below */
	int stable = (flags & DH_ITER_SCAN) != 0;
	if ((rc = stable ? dh_iter_new_scan(&it, s->db, ix, b->n ? b : NULL, b->n ? b : NULL, s->arena)
	                 : dh_iter_new_flags(&it, s->db, ix, b->n ? b : NULL, b->n ? b : NULL, flags)))
		return rc;
	for (;;) {
		const struct dh_datom *d;
		rc = dh_iter_next(it, &d);
		if (rc <= 0)
			break;
		if (e && d->e != e->u.i)
			continue;
		if (at && d->a != at->aid)
			continue;
		if (tx && d->tx != tx->u.i)
			continue;
		if (v && !dh_val_eq(&d->v, v))
			continue;
		struct dh_qdatom q = { .e = d->e, .tx = d->tx, .added = d->added };
		if ((rc = kw_of(s, d->a, &q.a)))
			break;
		if (v) {
			q.v = *v;    /* equal to the caller's value, which outlives the call */
		} else if (!stable && needs_copy(&d->v)) {
			if ((rc = dh_val_copy(&q.v, s->arena, &d->v)))
				break;
		} else {
			q.v = d->v;
		}
		if ((rc = fn(&q, payload)))
			break;
	}
	dh_iter_free(it);
	return rc;
}

static unsigned db_attr(struct dh_query_source *src, const struct dh_val *a)
{
	const struct dh_attr *at = attr_of((struct dbsrc *)src, a);
	unsigned f = 0;
	if (!at)
		return 0;
	if (at->type == DH_VT_REF)
		f |= DH_QATTR_REF;
	if (at->type == DH_VT_TUPLE)
		f |= DH_QATTR_TUPLE;
	if (at->card == DH_CARD_MANY)
		f |= DH_QATTR_MANY;
	if (at->is_component)
		f |= DH_QATTR_COMPONENT;
	if (at->unique)
		f |= DH_QATTR_UNIQUE;
	if (at->in_avet)
		f |= DH_QATTR_INDEXED;
	return f;
}

static int db_resolve(struct dh_query_source *src, const struct dh_val *ref, int64_t *eid)
{
	struct dbsrc *s = (struct dbsrc *)src;
	int rc = dh_db_entid(s->db, ref, eid);
	return rc == DH_EINVAL ? DH_ENOTFOUND : rc;
}

static void db_release(struct dh_query_source *src)
{
	struct dbsrc *s = (struct dbsrc *)src;
	for (size_t i = 0; i < s->ncache; i++) {
		free(s->cache[i].d);
		free(s->cache[i].byv);
	}
	free(s->cache);
	free(s->kw);
	dh_arena_free(s->arena);
	free(s);
}

static const struct dh_query_source_ops db_ops = {
	.scan = db_scan,
	.attr = db_attr,
	.resolve = db_resolve,
	.count = NULL,
	.release = db_release,
};

int dh_query_source_db(struct dh_query_source **out, struct dh_db *db)
{
	struct dbsrc *s = calloc(1, sizeof(*s));
	*out = NULL;
	if (!s || dh_arena_new(&s->arena)) {
		free(s);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	s->base.ops = &db_ops;
	s->base.history = dh_db_is_history(db);
	s->db = db;
	*out = &s->base;
	return 0;
}
