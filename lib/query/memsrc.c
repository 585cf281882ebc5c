/*
 * memsrc.c - datom sources held in memory.
 *
 * dh_query_source_datoms() serves a fixed array of datoms sorted three
 * ways (EAVT, AEVT, AVET) and answers scans by binary search on whichever
 * of entity, attribute and value are given.  dh_query_source_tx() builds
 * such an array by applying Datahike tx-data to an empty database (a
 * small transactor for tests and benchmarks: tempids, upserts on unique
 * identity attributes, nested maps for refs, cardinality, retractions);
 * the database layer is the real transactor.
 */
#include <stdlib.h>
#include <string.h>

#include "rel.h"

#define TX0 INT64_C(536870912)

struct sattr {
	struct dh_val ident;
	unsigned flags;
};

struct memsrc {
	struct dh_query_source base;
	struct dh_arena *arena;
	struct dh_qdatom *d;       /* EAVT order */
	size_t n;
	uint32_t *aevt, *avet;     /* indices into d */
	struct sattr *attrs;
	size_t nattrs;
};

static int kwcmp(const struct dh_val *a, const struct dh_val *b)
{
	return dh_val_cmp(a, b);
}

static int64_t cmp64(int64_t a, int64_t b) { return a < b ? -1 : a > b; }

static struct memsrc *g_sort;   /* qsort has no payload; sorting is single-threaded here */

static int cmp_eavt(const void *x, const void *y)
{
	const struct dh_qdatom *a = x, *b = y;
	int r = (int)cmp64(a->e, b->e);
	if (!r) r = kwcmp(&a->a, &b->a);
	if (!r) r = dh_val_cmp(&a->v, &b->v);
	if (!r) r = (int)cmp64(a->tx, b->tx);
	return r;
}

static int cmp_aevt(const void *x, const void *y)
{
	const struct dh_qdatom *a = &g_sort->d[*(const uint32_t *)x], *b = &g_sort->d[*(const uint32_t *)y];
	int r = kwcmp(&a->a, &b->a);
	if (!r) r = (int)cmp64(a->e, b->e);
	if (!r) r = dh_val_cmp(&a->v, &b->v);
	return r;
}

static int cmp_avet(const void *x, const void *y)
{
	const struct dh_qdatom *a = &g_sort->d[*(const uint32_t *)x], *b = &g_sort->d[*(const uint32_t *)y];
	int r = kwcmp(&a->a, &b->a);
	if (!r) r = dh_val_cmp(&a->v, &b->v);
	if (!r) r = (int)cmp64(a->e, b->e);
	return r;
}

static unsigned mem_attr(struct dh_query_source *s, const struct dh_val *a)
{
	struct memsrc *m = (struct memsrc *)s;
	for (size_t i = 0; i < m->nattrs; i++)
		if (dh_val_eq(&m->attrs[i].ident, a))
			return m->attrs[i].flags;
	return 0;
}

static int match(const struct dh_qdatom *d, const struct dh_val *e, const struct dh_val *a, const struct dh_val *v,
                 const struct dh_val *tx)
{
	if (e && (e->type != DH_LONG || d->e != e->u.i))
		return 0;
	if (a && !dh_val_eq(&d->a, a))
		return 0;
	if (v && !dh_val_eq(&d->v, v))
		return 0;
	if (tx && (tx->type != DH_LONG || d->tx != tx->u.i))
		return 0;
	return 1;
}

/* first index in [0, n) where key(i) >= probe, by the given comparator */
static size_t lower(struct memsrc *m, const uint32_t *ix, size_t n, int (*cmp)(struct memsrc *, size_t, const void *),
                    const void *probe)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cmp(m, ix ? ix[mid] : mid, probe) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct probe {
	const struct dh_val *e, *a, *v;
};

/* compare datom i with the bound prefix of the probe, in the index's order */
static int pe(struct memsrc *m, size_t i, const void *pv)
{
	const struct probe *p = pv;
	const struct dh_qdatom *d = &m->d[i];
	int r = (int)cmp64(d->e, p->e->u.i);
	if (r || !p->a)
		return r;
	r = kwcmp(&d->a, p->a);
	if (r || !p->v)
		return r;
	return dh_val_cmp(&d->v, p->v);
}

static int pa(struct memsrc *m, size_t i, const void *pv)
{
	const struct probe *p = pv;
	const struct dh_qdatom *d = &m->d[i];
	int r = kwcmp(&d->a, p->a);
	if (r || !p->v)
		return r;
	return dh_val_cmp(&d->v, p->v);
}

static int mem_scan(struct dh_query_source *s, const struct dh_val *e, const struct dh_val *a,
                    const struct dh_val *v, const struct dh_val *tx, dh_qdatom_fn fn, void *payload)
{
	struct memsrc *m = (struct memsrc *)s;
	int rc;
	if (e) {
		if (e->type != DH_LONG)
			return 0;
		struct probe p = { e, a, a ? v : NULL };
		size_t i = lower(m, NULL, m->n, pe, &p);
		for (; i < m->n && pe(m, i, &p) == 0; i++)
			if (match(&m->d[i], e, a, v, tx) && (rc = fn(&m->d[i], payload)))
				return rc;
		return 0;
	}
	if (a) {
		const uint32_t *ix = v ? m->avet : m->aevt;
		struct probe p = { NULL, a, v };
		size_t i = lower(m, ix, m->n, pa, &p);
		for (; i < m->n && pa(m, ix[i], &p) == 0; i++)
			if (match(&m->d[ix[i]], e, a, v, tx) && (rc = fn(&m->d[ix[i]], payload)))
				return rc;
		return 0;
	}
	for (size_t i = 0; i < m->n; i++)
		if (match(&m->d[i], e, a, v, tx) && (rc = fn(&m->d[i], payload)))
			return rc;
	return 0;
}

static int mem_resolve(struct dh_query_source *s, const struct dh_val *ref, int64_t *eid)
{
	struct memsrc *m = (struct memsrc *)s;
	struct dh_val a, v;
	if (ref->type == DH_LONG) {
		*eid = ref->u.i;
		return 0;
	}
	if (ref->type == DH_KEYWORD) {
		a = dh_text(DH_KEYWORD, "db/ident", 8);
		v = *ref;
	} else if ((ref->type == DH_VECTOR || ref->type == DH_LIST) && ref->len == 2) {
		a = ref->u.items[0];
		v = ref->u.items[1];
	} else {
		return dh_error_set(DH_EINVAL, "not an entity reference");
	}
	struct probe p = { NULL, &a, &v };
	size_t i = lower(m, m->avet, m->n, pa, &p);
	if (i < m->n && pa(m, m->avet[i], &p) == 0) {
		*eid = m->d[m->avet[i]].e;
		return 0;
	}
	return DH_ENOTFOUND;
}

static int64_t mem_count(struct dh_query_source *s, const struct dh_val *a)
{
	struct memsrc *m = (struct memsrc *)s;
	struct probe p = { NULL, a, NULL };
	size_t i = lower(m, m->aevt, m->n, pa, &p);
	size_t j = i;
	/* galloping would be faster; counts are only estimates for planning */
	size_t lo = i, hi = m->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (pa(m, m->aevt[mid], &p) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	j = lo;
	return (int64_t)(j - i);
}

static void mem_release(struct dh_query_source *s)
{
	struct memsrc *m = (struct memsrc *)s;
	free(m->d);
	free(m->aevt);
	free(m->avet);
	free(m->attrs);
	dh_arena_free(m->arena);
	free(m);
}

static const struct dh_query_source_ops mem_ops = {
	.scan = mem_scan,
	.attr = mem_attr,
	.resolve = mem_resolve,
	.count = mem_count,
	.release = mem_release,
};

void dh_query_source_free(struct dh_query_source *s)
{
	if (s && s->ops->release)
		s->ops->release(s);
}

/* ---- schema ------------------------------------------------------------------ */

static unsigned flags_of(const struct dh_val *m)
{
	unsigned f = 0;
	const struct dh_val *t = dh_map_getk(m, "db/valueType");
	const struct dh_val *c = dh_map_getk(m, "db/cardinality");
	const struct dh_val *u = dh_map_getk(m, "db/unique");
	const struct dh_val *ic = dh_map_getk(m, "db/isComponent");
	const struct dh_val *ix = dh_map_getk(m, "db/index");
	if (t && dh_val_is_kw(t, "db.type/ref"))
		f |= DH_QATTR_REF | DH_QATTR_INDEXED;
	if (t && dh_val_is_kw(t, "db.type/tuple"))
		f |= DH_QATTR_TUPLE;
	if (c && dh_val_is_kw(c, "db.cardinality/many"))
		f |= DH_QATTR_MANY;
	if (u && u->type == DH_KEYWORD)
		f |= DH_QATTR_UNIQUE | DH_QATTR_INDEXED;
	if (u && dh_val_is_kw(u, "db.unique/identity"))
		f |= 1u << 30;   /* identity: upserts */
	if (ic && ic->type == DH_BOOL && ic->u.b)
		f |= DH_QATTR_COMPONENT;
	if (ix && ix->type == DH_BOOL && ix->u.b)
		f |= DH_QATTR_INDEXED;
	return f;
}

static int add_attr(struct memsrc *m, size_t *cap, const struct dh_val *ident, unsigned flags)
{
	for (size_t i = 0; i < m->nattrs; i++)
		if (dh_val_eq(&m->attrs[i].ident, ident)) {
			m->attrs[i].flags = flags;
			return 0;
		}
	if (m->nattrs == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct sattr *n = realloc(m->attrs, c * sizeof(*n));
		if (!n)
			return DH_ENOMEM;
		m->attrs = n;
		*cap = c;
	}
	int rc = dh_val_copy(&m->attrs[m->nattrs].ident, m->arena, ident);
	if (rc)
		return rc;
	m->attrs[m->nattrs++].flags = flags;
	return 0;
}

static int load_schema(struct memsrc *m, size_t *cap, const struct dh_val *schema)
{
	int rc = 0;
	if (!schema || schema->type == DH_NIL)
		return 0;
	if (schema->type == DH_MAP) {
		for (uint32_t i = 0; i + 1 < schema->len && !rc; i += 2) {
			if (schema->u.items[i].type != DH_KEYWORD || schema->u.items[i + 1].type != DH_MAP)
				return dh_error_set(DH_EINVAL, "schema: expected {:attr {:db/valueType ...}}");
			rc = add_attr(m, cap, &schema->u.items[i], flags_of(&schema->u.items[i + 1]));
		}
		return rc;
	}
	if (schema->type == DH_VECTOR || schema->type == DH_LIST) {
		for (uint32_t i = 0; i < schema->len && !rc; i++) {
			const struct dh_val *it = &schema->u.items[i];
			const struct dh_val *id = it->type == DH_MAP ? dh_map_getk(it, "db/ident") : NULL;
			if (!id || id->type != DH_KEYWORD)
				return dh_error_set(DH_EINVAL, "schema: every attribute map needs :db/ident");
			rc = add_attr(m, cap, id, flags_of(it));
		}
		return rc;
	}
	return dh_error_set(DH_EINVAL, "schema: expected a map or a vector of attribute maps");
}

static int finish(struct memsrc *m)
{
	g_sort = m;
	qsort(m->d, m->n, sizeof(*m->d), cmp_eavt);
	m->aevt = malloc((m->n + 1) * sizeof(uint32_t));
	m->avet = malloc((m->n + 1) * sizeof(uint32_t));
	if (!m->aevt || !m->avet)
		return dh_error_set(DH_ENOMEM, "out of memory");
	for (size_t i = 0; i < m->n; i++)
		m->aevt[i] = m->avet[i] = (uint32_t)i;
	qsort(m->aevt, m->n, sizeof(uint32_t), cmp_aevt);
	qsort(m->avet, m->n, sizeof(uint32_t), cmp_avet);
	g_sort = NULL;
	return 0;
}

static struct memsrc *mem_new(void)
{
	struct memsrc *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->base.ops = &mem_ops;
	if (dh_arena_new(&m->arena)) {
		free(m);
		return NULL;
	}
	return m;
}

int dh_query_source_datoms(struct dh_query_source **out, const struct dh_qdatom *d, size_t n,
                           const struct dh_val *schema)
{
	struct memsrc *m = mem_new();
	size_t cap = 0;
	int rc = 0;
	*out = NULL;
	if (!m)
		return dh_error_set(DH_ENOMEM, "out of memory");
	if ((rc = load_schema(m, &cap, schema)))
		goto out;
	m->d = malloc((n + 1) * sizeof(*m->d));
	if (!m->d) {
		rc = DH_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		m->d[i] = d[i];
		if (!(rc = dh_val_copy(&m->d[i].a, m->arena, &d[i].a)))
			rc = dh_val_copy(&m->d[i].v, m->arena, &d[i].v);
		if (!d[i].added)
			m->base.history = 1;
	}
	m->n = n;
	if (!rc)
		rc = finish(m);
out:
	if (rc)
		mem_release(&m->base);
	else
		*out = &m->base;
	return rc;
}

/* ---- a small transactor --------------------------------------------------------- */

struct op {
	int64_t e;
	struct dh_val a, v;
	int64_t tx;
	size_t seq;
	int add;
};

struct txs {
	struct memsrc *m;
	size_t acap;
	struct op *ops;
	size_t nops, opcap;
	int64_t maxe, tx;
	/* tempids of the current tx */
	struct dh_val *tnames;
	int64_t *tids;
	size_t ntemp, tcap;
	/* unique values: [a v] -> e, for upserts and lookup refs */
	struct rel *uniq;
	int64_t *uniq_e;
	size_t uecap;
};

static int op_add(struct txs *t, int64_t e, const struct dh_val *a, const struct dh_val *v, int add)
{
	if (t->nops == t->opcap) {
		size_t c = t->opcap ? t->opcap * 2 : 1024;
		struct op *n = realloc(t->ops, c * sizeof(*n));
		if (!n)
			return DH_ENOMEM;
		t->ops = n;
		t->opcap = c;
	}
	struct op *o = &t->ops[t->nops];
	o->e = e;
	o->tx = t->tx;
	o->seq = t->nops;
	o->add = add;
	int rc = dh_val_copy(&o->a, t->m->arena, a);
	if (!rc)
		rc = dh_val_copy(&o->v, t->m->arena, v);
	if (rc)
		return rc;
	t->nops++;
	unsigned f = mem_attr(&t->m->base, a);
	if (add && ((f & DH_QATTR_UNIQUE) || dh_val_is_kw(a, "db/ident"))) {
		struct dh_val key[2] = { o->a, o->v };
		long at = set_find(t->uniq, key);
		if (at < 0) {
			if (set_add(t->uniq, key) < 0)
				return DH_ENOMEM;
			at = (long)t->uniq->n - 1;
		}
		if ((size_t)at >= t->uecap) {
			size_t c = t->uecap ? t->uecap * 2 : 256;
			while (c <= (size_t)at)
				c *= 2;
			int64_t *n = realloc(t->uniq_e, c * sizeof(*n));
			if (!n)
				return DH_ENOMEM;
			t->uniq_e = n;
			t->uecap = c;
		}
		t->uniq_e[at] = e;
	}
	return 0;
}

static int uniq_find(struct txs *t, const struct dh_val *a, const struct dh_val *v, int64_t *e)
{
	struct dh_val key[2] = { *a, *v };
	long at = set_find(t->uniq, key);
	if (at < 0)
		return DH_ENOTFOUND;
	*e = t->uniq_e[at];
	return 0;
}

static int temp_get(struct txs *t, const struct dh_val *name, int64_t *e, int create)
{
	for (size_t i = 0; i < t->ntemp; i++)
		if (dh_val_eq(&t->tnames[i], name))
			return *e = t->tids[i], 0;
	if (!create)
		return DH_ENOTFOUND;
	if (t->ntemp == t->tcap) {
		size_t c = t->tcap ? t->tcap * 2 : 64;
		struct dh_val *n = realloc(t->tnames, c * sizeof(*n));
		int64_t *m = realloc(t->tids, c * sizeof(*m));
		if (n)
			t->tnames = n;
		if (m)
			t->tids = m;
		if (!n || !m)
			return DH_ENOMEM;
		t->tcap = c;
	}
	int rc = dh_val_copy(&t->tnames[t->ntemp], t->m->arena, name);
	if (rc)
		return rc;
	t->tids[t->ntemp++] = *e;
	return 0;
}

static int entity_ref(struct txs *t, const struct dh_val *r, int64_t *e, int create)
{
	if (r->type == DH_LONG && r->u.i > 0)
		return *e = r->u.i, 0;
	if (r->type == DH_STRING || (r->type == DH_LONG && r->u.i < 0)) {
		if (temp_get(t, r, e, 0) == 0)
			return 0;
		if (!create)
			return dh_error_set(DH_EINVAL, "unknown tempid");
		*e = ++t->maxe;
		return temp_get(t, r, e, 1);
	}
	if (r->type == DH_KEYWORD) {
		struct dh_val a = dh_text(DH_KEYWORD, "db/ident", 8);
		if (uniq_find(t, &a, r, e))
			return dh_error_set(DH_EINVAL, "unknown ident :%.*s", (int)r->len, r->u.s);
		return 0;
	}
	if ((r->type == DH_VECTOR || r->type == DH_LIST) && r->len == 2) {
		if (uniq_find(t, &r->u.items[0], &r->u.items[1], e))
			return dh_error_set(DH_EINVAL, "lookup ref matches nothing");
		return 0;
	}
	return dh_error_set(DH_EINVAL, "bad entity id");
}

static int tx_map(struct txs *t, const struct dh_val *mp, int64_t *eout);

static int tx_value(struct txs *t, int64_t e, const struct dh_val *a, const struct dh_val *v)
{
	unsigned f = mem_attr(&t->m->base, a);
	if ((f & DH_QATTR_MANY) && (v->type == DH_VECTOR || v->type == DH_SET || v->type == DH_LIST) &&
	    !(f & DH_QATTR_TUPLE)) {
		int rc = 0;
		for (uint32_t i = 0; i < v->len && !rc; i++) {
			/* a lookup ref inside a vector of refs */
			rc = tx_value(t, e, a, &v->u.items[i]);
		}
		return rc;
	}
	if (f & DH_QATTR_REF) {
		int64_t r;
		int rc;
		if (v->type == DH_MAP)
			rc = tx_map(t, v, &r);
		else
			rc = entity_ref(t, v, &r, 1);
		if (rc)
			return rc;
		struct dh_val rv = dh_long(r);
		return op_add(t, e, a, &rv, 1);
	}
	return op_add(t, e, a, v, 1);
}

static int tx_map(struct txs *t, const struct dh_val *mp, int64_t *eout)
{
	const struct dh_val *id = dh_map_getk(mp, "db/id");
	int64_t e = 0;
	int rc = 0;
	/* upsert: a unique identity value already present names the entity */
	for (uint32_t i = 0; i + 1 < mp->len && !e; i += 2) {
		unsigned f = mem_attr(&t->m->base, &mp->u.items[i]);
		if ((f & (1u << 30)) && uniq_find(t, &mp->u.items[i], &mp->u.items[i + 1], &e) == 0) {
			if (id && (id->type == DH_STRING || (id->type == DH_LONG && id->u.i < 0)))
				temp_get(t, id, &e, 1);
		}
	}
	if (!e) {
		if (id)
			rc = entity_ref(t, id, &e, 1);
		else
			e = ++t->maxe;
	}
	if (rc)
		return rc;
	/* schema in the data */
	const struct dh_val *ident = dh_map_getk(mp, "db/ident");
	if (ident && (dh_map_getk(mp, "db/valueType") || dh_map_getk(mp, "db/cardinality")))
		if ((rc = add_attr(t->m, &t->acap, ident, flags_of(mp))))
			return rc;
	for (uint32_t i = 0; i + 1 < mp->len && !rc; i += 2) {
		const struct dh_val *k = &mp->u.items[i];
		if (k->type != DH_KEYWORD)
			return dh_error_set(DH_EINVAL, "entity map keys must be keywords");
		if (dh_val_is_kw(k, "db/id"))
			continue;
		rc = tx_value(t, e, k, &mp->u.items[i + 1]);
	}
	*eout = e;
	return rc;
}

static int tx_item(struct txs *t, const struct dh_val *it)
{
	int64_t e;
	if (it->type == DH_MAP)
		return tx_map(t, it, &e);
	if ((it->type == DH_VECTOR || it->type == DH_LIST) && it->len >= 1 && it->u.items[0].type == DH_KEYWORD) {
		const struct dh_val *op = &it->u.items[0];
		int add = dh_val_is_kw(op, "db/add");
		if ((add || dh_val_is_kw(op, "db/retract")) && it->len == 4) {
			int rc = entity_ref(t, &it->u.items[1], &e, add);
			if (rc)
				return rc;
			if (add)
				return tx_value(t, e, &it->u.items[2], &it->u.items[3]);
			struct dh_val v = it->u.items[3];
			if (mem_attr(&t->m->base, &it->u.items[2]) & DH_QATTR_REF) {
				int64_t r;
				if ((rc = entity_ref(t, &v, &r, 0)))
					return rc;
				v = dh_long(r);
			}
			return op_add(t, e, &it->u.items[2], &v, 0);
		}
		if (dh_val_is_kw(op, "db/retractEntity") && it->len == 2) {
			int rc = entity_ref(t, &it->u.items[1], &e, 0);
			if (rc)
				return rc;
			struct dh_val ev = dh_long(e);
			return op_add(t, e, &(struct dh_val){ .type = DH_NIL }, &ev, 2);
		}
	}
	return dh_error_set(DH_EINVAL, "tx-data: expected a map or [:db/add e a v]");
}

static int cmp_op(const void *x, const void *y)
{
	const struct op *a = x, *b = y;
	int r = (int)cmp64(a->e, b->e);
	if (!r) r = dh_val_cmp(&a->a, &b->a);
	if (!r) r = a->seq < b->seq ? -1 : a->seq > b->seq;
	return r;
}

int dh_query_source_tx(struct dh_query_source **out, const struct dh_val *schema, const struct dh_val *txdata,
                       int many_tx)
{
	struct memsrc *m = mem_new();
	struct txs t = { 0 };
	int rc = 0;
	int one = 0;
	*out = NULL;
	if (!m)
		return dh_error_set(DH_ENOMEM, "out of memory");
	t.m = m;
	t.tx = TX0;
	t.uniq = rel_new((int[]){ 0, 1 }, 2);
	if (!t.uniq) {
		rc = DH_ENOMEM;
		goto out;
	}
	if ((rc = load_schema(m, &t.acap, schema)))
		goto out;
	const struct dh_val *txs = txdata;
	size_t ntx = 1;
	if (many_tx) {
		if (txdata->type != DH_VECTOR && txdata->type != DH_LIST)
			return dh_error_set(DH_EINVAL, "tx-data: expected a vector of transactions");
		ntx = txdata->len;
		txs = txdata->u.items;
	} else {
		one = 1;
	}
	(void)one;
	for (size_t k = 0; k < ntx && !rc; k++) {
		const struct dh_val *tx = &txs[k];
		if (tx->type != DH_VECTOR && tx->type != DH_LIST) {
			rc = dh_error_set(DH_EINVAL, "tx-data: expected a vector");
			break;
		}
		t.tx++;
		t.ntemp = 0;
		for (uint32_t i = 0; i < tx->len && !rc; i++)
			rc = tx_item(&t, &tx->u.items[i]);
		if (!rc) {
			struct dh_val a = dh_text(DH_KEYWORD, "db/txInstant", 12);
			struct dh_val v = dh_inst((int64_t)1700000000000 + (t.tx - TX0) * 1000);
			rc = op_add(&t, t.tx, &a, &v, 1);
		}
	}
	if (rc)
		goto out;
	/* resolve: last op per (e, a) for cardinality one, per (e, a, v) for many */
	qsort(t.ops, t.nops, sizeof(*t.ops), cmp_op);
	m->d = malloc((t.nops + 1) * sizeof(*m->d));
	if (!m->d) {
		rc = DH_ENOMEM;
		goto out;
	}
	/* retractEntity: collect entity ids */
	for (size_t i = 0; i < t.nops;) {
		size_t j = i;
		while (j < t.nops && t.ops[j].e == t.ops[i].e && dh_val_eq(&t.ops[j].a, &t.ops[i].a))
			j++;
		if (t.ops[i].a.type == DH_NIL) {
			i = j;
			continue;
		}
		unsigned f = mem_attr(&m->base, &t.ops[i].a);
		if (!(f & DH_QATTR_MANY)) {
			const struct op *cur = NULL;
			for (size_t k = i; k < j; k++) {
				if (t.ops[k].add)
					cur = &t.ops[k];
				else if (cur && dh_val_eq(&cur->v, &t.ops[k].v))
					cur = NULL;
			}
			if (cur)
				m->d[m->n++] = (struct dh_qdatom){ cur->e, cur->a, cur->v, cur->tx, 1 };
		} else {
			for (size_t k = i; k < j; k++) {
				int keep = t.ops[k].add;
				for (size_t l = k + 1; l < j && keep; l++)
					if (dh_val_eq(&t.ops[l].v, &t.ops[k].v))
						keep = 0;   /* a later op on the same value decides */
				if (keep)
					m->d[m->n++] = (struct dh_qdatom){ t.ops[k].e, t.ops[k].a, t.ops[k].v, t.ops[k].tx, 1 };
			}
		}
		i = j;
	}
	/* retracted entities (and refs to them) disappear */
	for (size_t i = 0; i < t.nops; i++) {
		if (t.ops[i].a.type != DH_NIL)
			continue;
		int64_t dead = t.ops[i].e;
		size_t k = 0;
		for (size_t d = 0; d < m->n; d++) {
			int refs = (mem_attr(&m->base, &m->d[d].a) & DH_QATTR_REF) && m->d[d].v.type == DH_LONG &&
			           m->d[d].v.u.i == dead;
			if (m->d[d].e != dead && !refs)
				m->d[k++] = m->d[d];
		}
		m->n = k;
	}
	rc = finish(m);
out:
	free(t.ops);
	free(t.tnames);
	free(t.tids);
	free(t.uniq_e);
	rel_free(t.uniq);
	if (rc)
		mem_release(&m->base);
	else
		*out = &m->base;
	return rc;
}
