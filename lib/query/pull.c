/*
 * pull.c - Datahike's pull API: the map of an entity shaped by a pattern.
 *
 * A pattern is a vector of attribute specs: a keyword, `*` (every
 * attribute, components pulled whole), :db/id, a reverse :ns/_attr, a map
 * {attr subpattern} for refs (the subpattern may be a recursion depth or
 * `...`), and attribute options written as [:attr :limit n :default v :as
 * k], (:attr ...), or the older (limit :attr n) and (default :attr v).
 * Cardinality-many values come back as vectors (at most 1000 unless
 * :limit says otherwise; :limit nil means all), refs that are not pulled
 * further as {:db/id e}, reverse refs of components as one map.  An
 * entity with nothing to show pulls as nil.
 */
#include <stdlib.h>
#include <string.h>

#include "q.h"
#include "util/mem.h"

#define PULL_DEFAULT_LIMIT 1000
#define PULL_MAX_DEPTH 64

/* recursion budgets: per attribute, along the current path */
struct rec {
	const struct dh_val *attr;
	int left;
};

struct pctx {
	struct qctx *c;
	struct dh_query_source *s;
	struct dh_arena *a;
	int64_t path[PULL_MAX_DEPTH * 4];   /* entities being pulled, for cycles */
	int depth;
	struct rec recstack[PULL_MAX_DEPTH];
	int nrec;
};

struct acc {
	struct dh_val *items;   /* growing key/value pairs or values */
	size_t n, cap;
};

static int acc_push(struct acc *a, const struct dh_val *v)
{
	int rc = dh_grow((void **)&a->items, &a->cap, a->n + 1, sizeof(*a->items), 16);
	if (!rc)
		a->items[a->n++] = *v;
	return rc;
}

static int kw(struct pctx *p, struct dh_val *out, const char *s)
{
	return dh_val_text(out, p->a, DH_KEYWORD, s, strlen(s));
}

static int id_map(struct pctx *p, int64_t e, struct dh_val *out)
{
	struct dh_val kv[2];
	int rc = kw(p, &kv[0], "db/id");
	if (rc)
		return rc;
	kv[1] = dh_long(e);
	return q_mkvec(p->a, out, DH_MAP, kv, 2);
}

/* one attribute spec, normalized */
struct spec {
	struct dh_val attr;      /* forward attribute keyword */
	struct dh_val key;       /* result key */
	int reverse;
	int64_t limit;           /* -1 none */
	const struct dh_val *deflt;
	const struct dh_val *sub;  /* subpattern vector, or NULL */
	int recurse;             /* 0 none, >0 depth, -1 unbounded */
};

static int is_kw(const struct dh_val *v, const char *s)
{
	return v->type == DH_KEYWORD && v->len == strlen(s) && !memcmp(v->u.s, s, v->len);
}

static int is_sym(const struct dh_val *v, const char *s)
{
	return v->type == DH_SYMBOL && v->len == strlen(s) && !memcmp(v->u.s, s, v->len);
}

/* Split :ns/_name into the forward attribute :ns/name. */
static int norm_attr(struct pctx *p, const struct dh_val *k, struct spec *sp)
{
	const char *s = k->u.s;
	const char *slash = memchr(s, '/', k->len);
	const char *name = slash ? slash + 1 : s;
	sp->key = *k;
	sp->attr = *k;
	if (name < s + k->len && name[0] == '_') {
		char buf[512];
		size_t pre = (size_t)(name - s);
		if (k->len >= sizeof(buf))
			return dh_error_set(DH_EINVAL, "pull: attribute name too long");
		memcpy(buf, s, pre);
		memcpy(buf + pre, name + 1, k->len - pre - 1);
		sp->reverse = 1;
		return dh_val_text(&sp->attr, p->a, DH_KEYWORD, buf, k->len - 1);
	}
	return 0;
}

static int parse_opts(const struct dh_val *items, size_t n, struct spec *sp)
{
	for (size_t i = 0; i + 1 < n; i += 2) {
		const struct dh_val *k = &items[i], *v = &items[i + 1];
		if (is_kw(k, "limit")) {
			if (v->type == DH_NIL)
				sp->limit = -1;
			else if (v->type == DH_LONG && v->u.i >= 0)
				sp->limit = v->u.i;
			else
				return dh_error_set(DH_EINVAL, "pull: :limit must be a non-negative number or nil");
		} else if (is_kw(k, "default")) {
			sp->deflt = v;
		} else if (is_kw(k, "as")) {
			sp->key = *v;
		} else if (is_kw(k, "xform")) {
			continue;
		} else {
			return dh_error_set(DH_EINVAL, "pull: unknown attribute option");
		}
	}
	if (n % 2 == 1 && n > 0)
		return dh_error_set(DH_EINVAL, "pull: attribute options come in pairs");
	return 0;
}

/* Parse one attribute expression (keyword, [:a opts], (:a opts), (limit :a n), (default :a v)). */
static int parse_attr(struct pctx *p, const struct dh_val *e, struct spec *sp)
{
	int rc;
	memset(sp, 0, sizeof(*sp));
	sp->limit = PULL_DEFAULT_LIMIT;
	if (e->type == DH_KEYWORD)
		return norm_attr(p, e, sp);
	if ((e->type == DH_VECTOR || e->type == DH_LIST) && e->len >= 1) {
		const struct dh_val *it = e->u.items;
		if (is_sym(&it[0], "limit") && e->len == 3 && it[1].type == DH_KEYWORD) {
			if ((rc = norm_attr(p, &it[1], sp)))
				return rc;
			struct dh_val o[2] = { dh_text(DH_KEYWORD, "limit", 5), it[2] };
			return parse_opts(o, 2, sp);
		}
		if (is_sym(&it[0], "default") && e->len == 3 && it[1].type == DH_KEYWORD) {
			if ((rc = norm_attr(p, &it[1], sp)))
				return rc;
			sp->deflt = &it[2];
			return 0;
		}
		if (it[0].type == DH_KEYWORD) {
			if ((rc = norm_attr(p, &it[0], sp)))
				return rc;
			return parse_opts(it + 1, e->len - 1, sp);
		}
	}
	return dh_error_set(DH_EINVAL, "pull: bad attribute spec");
}

static int pull_entity(struct pctx *p, const struct dh_val *pattern, int64_t e, int nested, struct dh_val *out);

struct collect {
	struct acc vals;
	int64_t limit;
	int want_e;              /* collect entity ids (reverse) instead of values */
};

static int collect_cb(const struct dh_qdatom *d, void *payload)
{
	struct collect *c = payload;
	if (!d->added)
		return 0;
	if (c->limit >= 0 && (int64_t)c->vals.n >= c->limit)
		return 1;
	struct dh_val v = c->want_e ? dh_long(d->e) : d->v;
	return acc_push(&c->vals, &v);
}

static int on_path(struct pctx *p, int64_t e)
{
	for (int i = 0; i < p->depth; i++)
		if (p->path[i] == e)
			return 1;
	return 0;
}

/* The value for one ref target: pulled with `sub`, or {:db/id e}. */
static int ref_value(struct pctx *p, const struct spec *sp, const struct dh_val *pattern, int64_t target,
                     int component, int recurse_left, struct dh_val *out)
{
	if (sp->recurse) {
		if (recurse_left == 0 || on_path(p, target))
			return id_map(p, target, out);
		return pull_entity(p, pattern, target, 1, out);
	}
	if (sp->sub)
		return pull_entity(p, sp->sub, target, 1, out);
	if (component) {
		struct dh_val star = dh_text(DH_SYMBOL, "*", 1);
		struct dh_val pat;
		int rc = q_mkvec(p->a, &pat, DH_VECTOR, &star, 1);
		if (rc)
			return rc;
		if (on_path(p, target))
			return id_map(p, target, out);
		return pull_entity(p, &pat, target, 1, out);
	}
	return id_map(p, target, out);
}

static int pull_attr(struct pctx *p, const struct dh_val *pattern, int64_t e, const struct spec *sp,
                     struct acc *m)
{
	struct collect c = { .limit = sp->limit };
	struct dh_val ev = dh_long(e);
	int rc = 0;
	unsigned fl = p->s->ops->attr(p->s, &sp->attr);
	int isref = (fl & DH_QATTR_REF) != 0, many = (fl & DH_QATTR_MANY) != 0, comp = (fl & DH_QATTR_COMPONENT) != 0;

	if (is_kw(&sp->attr, "db/id") && !sp->reverse) {
		struct dh_val v = dh_long(e);
		if ((rc = acc_push(m, &sp->key)) == 0)
			rc = acc_push(m, &v);
		return rc;
	}
	if (sp->reverse) {
		c.want_e = 1;
		if (comp)
			c.limit = 1;
		rc = p->s->ops->scan(p->s, NULL, &sp->attr, &ev, NULL, collect_cb, &c);
	} else {
		if (!many)
			c.limit = 1;
		rc = p->s->ops->scan(p->s, &ev, &sp->attr, NULL, NULL, collect_cb, &c);
	}
	if (rc == 1)
		rc = 0;
	if (rc)
		goto out;
	if (c.vals.n == 0) {
		if (sp->deflt) {
			if ((rc = acc_push(m, &sp->key)) == 0)
				rc = acc_push(m, sp->deflt);
		}
		goto out;
	}
	for (size_t i = 0; i < c.vals.n && !rc; i++) {
		if (sp->reverse || isref) {
			int64_t t = c.vals.items[i].type == DH_LONG ? c.vals.items[i].u.i : 0;
			struct dh_val r;
			rc = ref_value(p, sp, pattern, t, comp && !sp->reverse, 1, &r);
			if (!rc && r.type == DH_NIL)
				rc = id_map(p, t, &r);
			if (!rc)
				c.vals.items[i] = r;
		}
	}
	if (rc)
		goto out;
	struct dh_val v;
	if ((sp->reverse && !comp) || (!sp->reverse && many))
		rc = q_mkvec(p->a, &v, DH_VECTOR, c.vals.items, c.vals.n);
	else
		v = c.vals.items[0];
	if (!rc && (rc = acc_push(m, &sp->key)) == 0)
		rc = acc_push(m, &v);
out:
	free(c.vals.items);
	return rc;
}

struct attrs {
	struct acc list;
};

static int attrs_cb(const struct dh_qdatom *d, void *payload)
{
	struct attrs *at = payload;
	if (!d->added)
		return 0;
	if (at->list.n && dh_val_eq(&at->list.items[at->list.n - 1], &d->a))
		return 0;
	for (size_t i = 0; i < at->list.n; i++)
		if (dh_val_eq(&at->list.items[i], &d->a))
			return 0;
	return acc_push(&at->list, &d->a);
}

static int has_key(const struct acc *m, const struct dh_val *k)
{
	for (size_t i = 0; i < m->n; i += 2)
		if (dh_val_eq(&m->items[i], k))
			return 1;
	return 0;
}

static int pull_entity(struct pctx *p, const struct dh_val *pattern, int64_t e, int nested, struct dh_val *out)
{
	struct acc m = { 0 };
	int rc = 0;
	int found = 0;

	if (pattern->type != DH_VECTOR && pattern->type != DH_LIST)
		return dh_error_set(DH_EINVAL, "pull: a pattern is a vector");
	if (p->depth >= PULL_MAX_DEPTH * 4)
		return id_map(p, e, out);
	p->path[p->depth++] = e;
	for (uint32_t i = 0; i < pattern->len && !rc; i++) {
		const struct dh_val *el = &pattern->u.items[i];
		if (is_sym(el, "*") || (el->type == DH_STRING && el->len == 1 && el->u.s[0] == '*')) {
			struct attrs at = { 0 };
			struct dh_val ev = dh_long(e);
			rc = p->s->ops->scan(p->s, &ev, NULL, NULL, NULL, attrs_cb, &at);
			for (size_t k = 0; k < at.list.n && !rc; k++) {
				struct spec sp;
				if (has_key(&m, &at.list.items[k]))
					continue;
				memset(&sp, 0, sizeof(sp));
				sp.attr = sp.key = at.list.items[k];
				sp.limit = -1;
				rc = pull_attr(p, pattern, e, &sp, &m);
				found = 1;
			}
			free(at.list.items);
			if (!rc && !has_key(&m, &(struct dh_val){ .type = DH_KEYWORD, .len = 5, .u.s = "db/id" })) {
				struct dh_val k, v = dh_long(e);
				if (at.list.n && !(rc = kw(p, &k, "db/id")) && !(rc = acc_push(&m, &k)))
					rc = acc_push(&m, &v);
			}
			continue;
		}
		if (el->type == DH_MAP) {
			for (uint32_t j = 0; j + 1 < el->len && !rc; j += 2) {
				struct spec sp;
				const struct dh_val *sub = &el->u.items[j + 1];
				if ((rc = parse_attr(p, &el->u.items[j], &sp)))
					break;
				if (sub->type == DH_LONG || is_sym(sub, "...")) {
					/* recursion: budget tracked per attribute along the path */
					int budget = sub->type == DH_LONG ? (int)sub->u.i : -1;
					int k;
					for (k = p->nrec - 1; k >= 0; k--)
						if (dh_val_eq(p->recstack[k].attr, &el->u.items[j]))
							break;
					int left = k >= 0 ? p->recstack[k].left : budget;
					if (left == 0) {
						continue;
					}
					if (p->nrec >= PULL_MAX_DEPTH)
						continue;
					p->recstack[p->nrec].attr = &el->u.items[j];
					p->recstack[p->nrec].left = left > 0 ? left - 1 : -1;
					p->nrec++;
					sp.recurse = budget ? budget : 1;
					sp.sub = NULL;
					rc = pull_attr(p, pattern, e, &sp, &m);
					p->nrec--;
				} else {
					sp.sub = sub;
					rc = pull_attr(p, pattern, e, &sp, &m);
				}
			}
			continue;
		}
		struct spec sp;
		if ((rc = parse_attr(p, el, &sp)))
			break;
		rc = pull_attr(p, pattern, e, &sp, &m);
	}
	p->depth--;
	(void)found;
	if (rc)
		goto out;
	if (m.n == 0) {
		*out = dh_nil();
		if (nested)
			rc = id_map(p, e, out);
		goto out;
	}
	rc = q_mkvec(p->a, out, DH_MAP, m.items, m.n);
out:
	free(m.items);
	return rc;
}

int q_pull(struct qctx *c, struct dh_query_source *s, const struct dh_val *pattern, int64_t eid, struct dh_val *out)
{
	struct pctx p = { .c = c, .s = s, .a = c->arena };
	return pull_entity(&p, pattern, eid, 0, out);
}

int dh_pull(struct dh_val *out, struct dh_arena *a, struct dh_query_source *s, const struct dh_val *pattern,
            int64_t eid)
{
	struct qctx c = { .arena = a };
	return q_pull(&c, s, pattern, eid, out);
}
