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
 */
#include <stdlib.h>
#include <string.h>

#include "dh-db.h"
#include "q.h"

struct dbsrc {
	struct dh_query_source base;
	struct dh_db *db;
	struct dh_arena *arena;
	struct dh_val *kw;       /* attribute keywords by aid, built on demand */
	size_t nkw;
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

static int db_scan(struct dh_query_source *src, const struct dh_val *e, const struct dh_val *a,
                   const struct dh_val *v, const struct dh_val *tx, dh_qdatom_fn fn, void *payload)
{
	struct dbsrc *s = (struct dbsrc *)src;
	struct dh_bound b = { 0 };
	struct dh_iter *it = NULL;
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
	if ((rc = dh_iter_new(&it, s->db, ix, b.n ? &b : NULL, b.n ? &b : NULL)))
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
		if (needs_copy(&d->v)) {
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
