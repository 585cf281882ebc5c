/*
 * eval.c - the Datalog evaluator: clauses over relations, joins, rules,
 * and the projection of results (aggregates, pull, :keys).
 *
 * A conjunction is evaluated left to right in a context: a list of
 * relations with disjoint variables (their product is the set of
 * solutions).  A data pattern scans its source for datoms matching its
 * constants; when a variable it uses is already bound and the position can
 * be looked up cheaply (the entity, or the value of an indexed attribute)
 * it looks up each distinct bound tuple instead of scanning the attribute.
 * The result is hash-joined into the context.  Predicates and functions
 * whose inputs are not bound yet wait until a later clause binds them.
 *
 * `or`, `not` and rule calls evaluate their bodies in a fresh context
 * seeded with the distinct tuples of the variables they share with the
 * caller, then join (or anti-join) the projection back.  Recursive rules
 * are answered from tables keyed by rule and bound argument positions: a
 * call adds its bound tuples to the table's demand, and the outermost call
 * iterates every table's bodies until no demand or answer is new (a
 * query-subquery fixpoint), so recursive calls stay seeded by the values
 * the caller binds.
 */
#include <stdlib.h>
#include <string.h>

#include "rel.h"

#define NOT_READY 1      /* clause waits for its inputs to be bound */
#define STOP 2           /* row callback asked to stop */

struct ectx {
	int n, cap;
	struct rel **rels;
	int empty;           /* some clause matched nothing: no solutions */
	int src0;            /* the source `$` means here (rule calls with $2) */
};

struct table {
	int rule, mask, src0;
	size_t done;         /* demand rows the call-free bodies have answered */
	struct rel *demand;  /* tuple set over the bound positions */
	struct rel *answer;  /* tuple set over all positions */
};

struct run {
	struct qctx qc;
	struct dh_query *q;
	struct dh_query_source **srcs;
	struct dh_val *collsrc;
	int nsrcs;
	struct table *tables;
	int ntables, tcap;
	int in_fix, changed;
	int bu_rule;          /* rule evaluated bottom-up now, or -1 */
	struct rel *bu_delta; /* its tuples new in the last round */
};

static int eval_clauses(struct run *R, struct ectx *cx, const struct clause *cl, int n);

/* ---- contexts ---------------------------------------------------------- */

static void ctx_release(struct ectx *cx)
{
	for (int i = 0; i < cx->n; i++)
		rel_free(cx->rels[i]);
	free(cx->rels);
	memset(cx, 0, sizeof(*cx));
}

static int ctx_find(const struct ectx *cx, int var)
{
	for (int i = 0; i < cx->n; i++)
		if (rel_col(cx->rels[i], var) >= 0)
			return i;
	return -1;
}

static int ctx_bound(const struct ectx *cx, int var)
{
	return ctx_find(cx, var) >= 0;
}

static struct rel *ctx_take(struct ectx *cx, int i)
{
	struct rel *r = cx->rels[i];
	cx->rels[i] = cx->rels[--cx->n];
	return r;
}

static int ctx_push(struct ectx *cx, struct rel *r)
{
	if (cx->n == cx->cap) {
		int cap = cx->cap ? cx->cap * 2 : 8;
		struct rel **n = realloc(cx->rels, cap * sizeof(*n));
		if (!n) {
			rel_free(r);
			return dh_error_set(DH_ENOMEM, "out of memory");
		}
		cx->rels = n;
		cx->cap = cap;
	}
	cx->rels[cx->n++] = r;
	return 0;
}

/*
 * join() - the natural join of a and b (a product when they share no
 * variable): hash the smaller on the shared columns, probe with the other.
 * Frees neither.
 */
static struct rel *join(const struct rel *a, const struct rel *b)
{
	int sa[64], sb[64], ns = 0, extra[64], nextra = 0;
	int vars[128], nv = 0;
	struct rel *out = NULL;
	uint32_t *head = NULL, *next = NULL;

	if (a->nv > 64 || b->nv > 64) {
		dh_error_set(DH_EINVAL, "query too wide (more than 64 variables in one relation)");
		return NULL;
	}
	for (int i = 0; i < a->nv; i++)
		vars[nv++] = a->vars[i];
	for (int j = 0; j < b->nv; j++) {
		int c = rel_col(a, b->vars[j]);
		if (c >= 0) {
			sa[ns] = c;
			sb[ns++] = j;
		} else {
			extra[nextra++] = j;
			vars[nv++] = b->vars[j];
		}
	}
	out = rel_new(vars, nv);
	if (!out)
		return NULL;
	if (ns == 0) {
		for (size_t i = 0; i < a->n; i++) {
			for (size_t j = 0; j < b->n; j++) {
				struct dh_val *r = rel_push(out);
				if (!r)
					goto fail;
				memcpy(r, rel_row(a, i), a->nv * sizeof(*r));
				for (int k = 0; k < nextra; k++)
					r[a->nv + k] = rel_row(b, j)[extra[k]];
			}
		}
		return out;
	}
	/* build on the smaller side */
	int build_b = b->n <= a->n;
	const struct rel *bu = build_b ? b : a, *pr = build_b ? a : b;
	const int *bc = build_b ? sb : sa, *pc = build_b ? sa : sb;
	size_t nslots = 16;
	while (nslots < bu->n * 2)
		nslots *= 2;
	head = calloc(nslots, sizeof(*head));
	next = malloc((bu->n + 1) * sizeof(*next));
	if (!head || !next) {
		dh_error_set(DH_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < bu->n; i++) {
		size_t h = row_hash(rel_row(bu, i), bc, ns) & (nslots - 1);
		next[i] = head[h];
		head[h] = (uint32_t)i + 1;
	}
	for (size_t i = 0; i < pr->n; i++) {
		const struct dh_val *prow = rel_row(pr, i);
		size_t h = row_hash(prow, pc, ns) & (nslots - 1);
		for (uint32_t k = head[h]; k; k = next[k - 1]) {
			const struct dh_val *brow = rel_row(bu, k - 1);
			if (!row_eq(prow, pc, brow, bc, ns))
				continue;
			const struct dh_val *ra = build_b ? prow : brow, *rb = build_b ? brow : prow;
			struct dh_val *r = rel_push(out);
			if (!r)
				goto fail;
			memcpy(r, ra, a->nv * sizeof(*r));
			for (int e = 0; e < nextra; e++)
				r[a->nv + e] = rb[extra[e]];
		}
	}
	free(head);
	free(next);
	return out;
fail:
	free(head);
	free(next);
	rel_free(out);
	return NULL;
}

/* Add relation r (owned) to the context, joining it with every relation
 * that shares a variable with it. */
static int ctx_add(struct ectx *cx, struct rel *r)
{
	if (cx->empty) {
		rel_free(r);
		return 0;
	}
	if (r->n == 0) {
		rel_free(r);
		for (int i = 0; i < cx->n; i++)
			rel_free(cx->rels[i]);
		cx->n = 0;
		cx->empty = 1;
		return 0;
	}
	if (r->nv == 0) {
		rel_free(r);
		return 0;
	}
	for (int i = 0; i < cx->n;) {
		struct rel *o = cx->rels[i];
		int shares = 0;
		for (int k = 0; k < r->nv && !shares; k++)
			shares = rel_col(o, r->vars[k]) >= 0;
		if (!shares) {
			i++;
			continue;
		}
		ctx_take(cx, i);
		struct rel *j = join(o, r);
		rel_free(o);
		rel_free(r);
		if (!j)
			return DH_ENOMEM;
		r = j;
		if (r->n == 0)
			return ctx_add(cx, r);
		i = 0;
	}
	return ctx_push(cx, r);
}

/* Take every relation binding one of vars and join them into one (a unit
 * relation with one empty row when none does). */
static struct rel *ctx_merge(struct ectx *cx, const int *vars, int n)
{
	struct rel *acc = rel_new(NULL, 0);
	if (!acc)
		return NULL;
	if (!rel_push(acc)) {
		rel_free(acc);
		return NULL;
	}
	for (int k = 0; k < n; k++) {
		int i = ctx_find(cx, vars[k]);
		if (i < 0 || rel_col(acc, vars[k]) >= 0)
			continue;
		struct rel *o = ctx_take(cx, i);
		struct rel *j = join(acc, o);
		rel_free(o);
		rel_free(acc);
		if (!j)
			return NULL;
		acc = j;
	}
	return acc;
}

/* Distinct projection of r onto vars (all must be columns of r). */
static struct rel *project(const struct rel *r, const int *vars, int n)
{
	int cols[64];
	struct dh_val tmp[64];
	struct rel *s = rel_new(vars, n);
	if (!s)
		return NULL;
	for (int k = 0; k < n; k++)
		cols[k] = rel_col(r, vars[k]);
	for (size_t i = 0; i < r->n; i++) {
		const struct dh_val *row = rel_row(r, i);
		for (int k = 0; k < n; k++)
			tmp[k] = row[cols[k]];
		if (set_add(s, tmp) < 0) {
			rel_free(s);
			return NULL;
		}
	}
	return s;
}

/*
 * ctx_project() - the distinct tuples of vars over the whole context: the
 * product of each relation's projection.  Every var must be bound; an
 * unbound one is an error naming it.
 */
static int ctx_project(struct run *R, struct ectx *cx, const int *vars, int n, struct rel **out)
{
	struct rel *acc = NULL;
	int rc = 0;

	*out = NULL;
	if (n > 64)
		return dh_error_set(DH_EINVAL, "too many variables to project (%d)", n);
	if (cx->empty) {
		*out = rel_new(vars, n);
		return *out ? 0 : DH_ENOMEM;
	}
	for (int k = 0; k < n; k++) {
		if (ctx_find(cx, vars[k]) < 0)
			return dh_error_set(DH_EINVAL, "%s: insufficient bindings: %s is never bound",
			                    R->q->name, R->q->varnames[vars[k]]);
	}
	for (int i = 0; i < cx->n; i++) {
		int all = 1;
		for (int k = 0; k < n && all; k++)
			all = rel_col(cx->rels[i], vars[k]) >= 0;
		if (all) {
			/* one relation holds them all: one pass */
			*out = project(cx->rels[i], vars, n);
			return *out ? 0 : DH_ENOMEM;
		}
	}
	acc = rel_new(NULL, 0);
	if (!acc || !rel_push(acc)) {
		rel_free(acc);
		return DH_ENOMEM;
	}
	for (int i = 0; i < cx->n; i++) {
		int pv[64], np = 0;
		for (int k = 0; k < n; k++)
			if (rel_col(cx->rels[i], vars[k]) >= 0)
				pv[np++] = vars[k];
		if (!np)
			continue;
		struct rel *p = project(cx->rels[i], pv, np);
		if (!p) {
			rc = DH_ENOMEM;
			goto out;
		}
		struct rel *j = join(acc, p);
		rel_free(p);
		rel_free(acc);
		acc = j;
		if (!acc) {
			rc = DH_ENOMEM;
			goto out;
		}
	}
	/* reorder columns to vars */
	*out = project(acc, vars, n);
	if (!*out)
		rc = DH_ENOMEM;
out:
	rel_free(acc);
	return rc;
}

/* ---- data patterns -------------------------------------------------------- */

struct pscan {
	struct rel *out;
	int nv;
	int colpos[5];          /* position of each output column */
	int eq[5][2], neq;      /* positions that must hold equal values */
	const struct dh_val *want[5];   /* values a position must equal (consts, bound) */
	const struct dh_val *over[5];   /* the bound value to emit instead (resolved lookup refs) */
	int history;
};

static void datom_vals(const struct dh_qdatom *d, struct dh_val v[5])
{
	v[0] = dh_long(d->e);
	v[1] = d->a;
	v[2] = d->v;
	v[3] = dh_long(d->tx);
	v[4] = dh_bool(d->added);
}

static int pscan_emit(struct pscan *ps, const struct dh_val v[5])
{
	for (int i = 0; i < 5; i++)
		if (ps->want[i] && !dh_val_eq(ps->want[i], &v[i]))
			return 0;
	for (int k = 0; k < ps->neq; k++)
		if (!dh_val_eq(&v[ps->eq[k][0]], &v[ps->eq[k][1]]))
			return 0;
	struct dh_val *row = rel_push(ps->out);
	if (!row)
		return DH_ENOMEM;
	for (int c = 0; c < ps->nv; c++)
		row[c] = ps->over[ps->colpos[c]] ? *ps->over[ps->colpos[c]] : v[ps->colpos[c]];
	return 0;
}

static int pscan_cb(const struct dh_qdatom *d, void *payload)
{
	struct dh_val v[5];
	datom_vals(d, v);
	return pscan_emit(payload, v);
}

/* Match the tuples of a collection source. */
static int scan_coll(struct pscan *ps, const struct dh_val *coll, int nargs)
{
	if (coll->type != DH_VECTOR && coll->type != DH_LIST && coll->type != DH_SET)
		return dh_error_set(DH_EINVAL, "a collection source must be a collection of tuples");
	for (uint32_t i = 0; i < coll->len; i++) {
		const struct dh_val *t = &coll->u.items[i];
		struct dh_val v[5];
		if ((t->type != DH_VECTOR && t->type != DH_LIST) || (int)t->len < nargs)
			continue;
		for (int k = 0; k < 5; k++)
			v[k] = k < (int)t->len ? t->u.items[k] : dh_nil();
		int rc = pscan_emit(ps, v);
		if (rc)
			return rc;
	}
	return 0;
}

static int resolve_ref(struct dh_query_source *s, const struct dh_val *ref, int64_t *eid)
{
	if (ref->type == DH_LONG) {
		*eid = ref->u.i;
		return 0;
	}
	if (ref->type == DH_KEYWORD || ref->type == DH_VECTOR || ref->type == DH_LIST)
		return s->ops->resolve(s, ref, eid);
	return DH_ENOTFOUND;
}

static int eval_pattern(struct run *R, struct ectx *cx, const struct clause *c)
{
	int srci = c->src == 0 ? cx->src0 : c->src;
	struct dh_query_source *s = srci < R->nsrcs ? R->srcs[srci] : NULL;
	const struct dh_val *coll = srci < R->nsrcs && R->collsrc[srci].type != DH_NIL ? &R->collsrc[srci] : NULL;
	struct pscan ps = { 0 };
	struct dh_val cval[5];
	int vars[5], nv = 0, pos_of[5];
	int bound[5] = { 0 };
	struct rel *P = NULL, *K = NULL;
	int rc = 0;

	if (!s && !coll)
		return dh_error_set(DH_EINVAL, "%s: no source %s for pattern", R->q->name, R->q->srcnames[srci]);
	/* constants */
	for (int i = 0; i < 5; i++) {
		const struct term *t = &c->args[i];
		pos_of[i] = -1;
		if (t->kind == T_CONST) {
			cval[i] = t->val;
			if (s && i == 0 && t->val.type != DH_LONG) {
				int64_t e;
				if (resolve_ref(s, &t->val, &e))
					return ctx_add(cx, rel_new(NULL, 0));
				cval[i] = dh_long(e);
			}
			if (s && i == 3 && t->val.type != DH_LONG) {
				int64_t e;
				if (resolve_ref(s, &t->val, &e))
					return ctx_add(cx, rel_new(NULL, 0));
				cval[i] = dh_long(e);
			}
			if (s && i == 2 && c->args[1].kind == T_CONST &&
			    (t->val.type == DH_KEYWORD || t->val.type == DH_VECTOR) &&
			    (s->ops->attr(s, &c->args[1].val) & DH_QATTR_REF)) {
				int64_t e;
				if (resolve_ref(s, &t->val, &e))
					return ctx_add(cx, rel_new(NULL, 0));
				cval[i] = dh_long(e);
			}
			ps.want[i] = &cval[i];
		} else if (t->kind == T_VAR) {
			int k;
			for (k = 0; k < nv; k++)
				if (vars[k] == t->var)
					break;
			if (k < nv) {
				ps.eq[ps.neq][0] = ps.colpos[k];
				ps.eq[ps.neq++][1] = i;
			} else {
				vars[nv] = t->var;
				ps.colpos[nv] = i;
				bound[nv] = ctx_bound(cx, t->var);
				nv++;
			}
			pos_of[i] = k;
		}
	}
	if (s && !s->history && ps.want[4]) {
		/* current views hold assertions only */
		if (!q_truthy(ps.want[4]))
			return ctx_add(cx, rel_new(NULL, 0));
		ps.want[4] = NULL;
	}
	ps.nv = nv;
	ps.out = rel_new(vars, nv);
	if (!ps.out)
		return DH_ENOMEM;
	if (coll) {
		rc = scan_coll(&ps, coll, c->nargs);
		goto add;
	}

	const struct dh_val *e = ps.want[0], *a = ps.want[1], *v = ps.want[2], *tx = ps.want[3];
	/* lookup mode: per distinct bound tuple, when e (or an indexed v) is bound */
	int be = pos_of[0] >= 0 && bound[pos_of[0]];
	int bv = pos_of[2] >= 0 && bound[pos_of[2]];
	int ba = pos_of[1] >= 0 && bound[pos_of[1]];
	unsigned aflags = a ? s->ops->attr(s, a) : 0;
	int lookup = be || (bv && a && (aflags & (DH_QATTR_INDEXED | DH_QATTR_UNIQUE | DH_QATTR_REF)));
	if (lookup) {
		int bvars[5], bpos[5], nb = 0;
		for (int k = 0; k < nv; k++)
			if (bound[k] && ps.colpos[k] <= 2) {
				bpos[nb] = ps.colpos[k];
				bvars[nb++] = vars[k];
			}
		P = ctx_merge(cx, bvars, nb);
		if (!P) {
			rc = DH_ENOMEM;
			goto out;
		}
		K = project(P, bvars, nb);
		if (!K) {
			rc = DH_ENOMEM;
			goto out;
		}
		int64_t cnt = a && s->ops->count ? s->ops->count(s, a) : -1;
		if (!be && cnt >= 0 && (int64_t)K->n * 4 > cnt)
			lookup = 0;
		if (!be && cnt < 0 && K->n > 256)
			lookup = 0;   /* many values: one scan and a hash join beat many seeks */
		if (be && cnt >= 0 && (int64_t)K->n > cnt * 2)
			lookup = 0;
		/* entities bound by the thousand against an attribute of a few
		 * times as many datoms: one pass over the attribute (which the
		 * source then holds) beats seeks that each decode an EAVT leaf */
		if (be && !bv && cnt >= 0 && (int64_t)K->n * 16 > cnt && K->n > 64)
			lookup = 0;
		if (lookup) {
			for (size_t i = 0; i < K->n && !rc; i++) {
				const struct dh_val *krow = rel_row(K, i);
				struct dh_val ke, ka, kv;
				const struct dh_val *le = e, *la = a, *lv = v;
				for (int k = 0; k < nb; k++) {
					int pos = bpos[k];
					if (pos == 0) {
						int64_t rid;
						if (krow[k].type == DH_LONG) {
							ke = krow[k];
						} else if (resolve_ref(s, &krow[k], &rid) == 0) {
							ke = dh_long(rid);
							ps.over[0] = &krow[k];
						} else {
							goto next;
						}
						le = &ke;
					} else if (pos == 1) {
						if (krow[k].type != DH_KEYWORD)
							goto next;
						ka = krow[k];
						la = &ka;
					} else if (pos == 2) {
						kv = krow[k];
						lv = &kv;
					}
				}
				rc = s->ops->scan(s, le, la, lv, tx, pscan_cb, &ps);
next:
				ps.over[0] = NULL;
			}
			rel_free(K);
			K = NULL;
			if ((rc = ctx_push(cx, P)) != 0) {
				P = NULL;
				goto out;
			}
			P = NULL;
			goto add;
		}
		rel_free(K);
		K = NULL;
		rc = ctx_push(cx, P);
		P = NULL;
		if (rc)
			goto out;
	}
	(void)ba;
	rc = s->ops->scan(s, e, a, v, tx, pscan_cb, &ps);
add:
	if (rc)
		goto out;
	rc = ctx_add(cx, ps.out);
	ps.out = NULL;
out:
	rel_free(ps.out);
	rel_free(P);
	rel_free(K);
	return rc;
}

/* ---- predicates and functions --------------------------------------------- */

struct binder {
	int vars[32], n;
	struct dh_val vals[32];
	int set[32];
};

static int binder_var(struct binder *b, int var)
{
	for (int i = 0; i < b->n; i++)
		if (b->vars[i] == var)
			return i;
	if (b->n == 32)
		return -1;
	b->vars[b->n] = var;
	return b->n++;
}

static void binder_collect(struct binder *b, const struct binding *bd)
{
	if (bd->kind == B_SCALAR)
		binder_var(b, bd->var);
	for (int i = 0; i < bd->n; i++)
		binder_collect(b, &bd->items[i]);
}

typedef int (*emit_fn)(struct binder *b, void *payload);

static int is_coll(const struct dh_val *v)
{
	return v->type == DH_VECTOR || v->type == DH_LIST || v->type == DH_SET;
}

/* Bind `v` to binding form `bd`, calling emit for each complete assignment. */
static int bind_val(struct binder *b, const struct binding *bd, const struct dh_val *v,
                    const struct binding *rest[], const struct dh_val *restv[], int nrest,
                    emit_fn emit, void *payload)
{
	int rc = 0;
	switch (bd->kind) {
	case B_BLANK:
		break;
	case B_SCALAR: {
		int i = binder_var(b, bd->var);
		if (i < 0)
			return dh_error_set(DH_EINVAL, "binding form with more than 32 variables");
		if (b->set[i]) {
			if (!dh_val_eq(&b->vals[i], v))
				return 0;
			break;
		}
		b->vals[i] = *v;
		b->set[i] = 1;
		if (nrest)
			rc = bind_val(b, rest[0], restv[0], rest + 1, restv + 1, nrest - 1, emit, payload);
		else
			rc = emit(b, payload);
		b->set[i] = 0;
		return rc;
	}
	case B_TUPLE: {
		if (!is_coll(v))
			return dh_error_set(DH_EINVAL, "cannot bind a tuple to a non-collection value");
		if ((int)v->len < bd->n)
			return 0;
		const struct binding *r2[64];
		const struct dh_val *v2[64];
		int n2 = 0;
		for (int i = 1; i < bd->n && n2 < 60; i++) {
			r2[n2] = &bd->items[i];
			v2[n2++] = &v->u.items[i];
		}
		for (int i = 0; i < nrest && n2 < 64; i++) {
			r2[n2] = rest[i];
			v2[n2++] = restv[i];
		}
		return bind_val(b, &bd->items[0], &v->u.items[0], r2, v2, n2, emit, payload);
	}
	case B_COLL:
	case B_REL:
		if (!is_coll(v))
			return dh_error_set(DH_EINVAL, "cannot bind a collection to a non-collection value");
		for (uint32_t i = 0; i < v->len && !rc; i++)
			rc = bind_val(b, &bd->items[0], &v->u.items[i], rest, restv, nrest, emit, payload);
		return rc;
	}
	if (nrest)
		return bind_val(b, rest[0], restv[0], rest + 1, restv + 1, nrest - 1, emit, payload);
	return emit(b, payload);
}

struct fnemit {
	struct rel *out;
	const struct dh_val *prow;
	int pnv;
	int bcol[32];        /* column in P for binder var i, or -1 (new column) */
	int newidx[32];      /* output column for new vars */
};

static int fn_emit(struct binder *b, void *payload)
{
	struct fnemit *fe = payload;
	for (int i = 0; i < b->n; i++)
		if (fe->bcol[i] >= 0 && !dh_val_eq(&fe->prow[fe->bcol[i]], &b->vals[i]))
			return 0;
	struct dh_val *row = rel_push(fe->out);
	if (!row)
		return DH_ENOMEM;
	memcpy(row, fe->prow, fe->pnv * sizeof(*row));
	for (int i = 0; i < b->n; i++)
		if (fe->bcol[i] < 0)
			row[fe->newidx[i]] = b->vals[i];
	return 0;
}

static int call_err(struct run *R, const struct clause *c, int rc)
{
	if (rc == DH_EINVAL) {
		char *m = strdup(dh_errmsg());
		rc = q_err(R->q, &c->form, "%s", m ? m : "error");
		free(m);
	}
	return rc;
}

static int eval_call(struct run *R, struct ectx *cx, const struct clause *c)
{
	int in[64], nin = 0;
	struct binder b = { 0 };
	struct rel *P = NULL, *out = NULL;
	struct dh_val args[64];
	int rc = 0;

	if (c->fnvar >= 0)
		return q_err(R->q, &c->form, "functions passed as inputs are not supported");
	if (c->nargs > 60)
		return q_err(R->q, &c->form, "too many arguments (%d, at most 60)", c->nargs);
	for (int i = 0; i < c->nargs && i < 64; i++) {
		const struct term *t = &c->args[i];
		if (t->kind == T_VAR) {
			if (!ctx_bound(cx, t->var))
				return NOT_READY;
			in[nin++] = t->var;
		} else if (t->kind == T_BLANK) {
			return q_err(R->q, &c->form, "'_' cannot be a function argument");
		}
	}
	if (c->kind == C_FN) {
		binder_collect(&b, &c->bind);
		for (int i = 0; i < b.n; i++)
			if (ctx_bound(cx, b.vars[i]) && nin < 64)
				in[nin++] = b.vars[i];
	}
	if (cx->empty)
		return 0;
	P = ctx_merge(cx, in, nin);
	if (!P)
		return DH_ENOMEM;
	struct fnemit fe = { 0 };
	if (c->kind == C_FN) {
		int vars[128], nv = 0;
		for (int i = 0; i < P->nv; i++)
			vars[nv++] = P->vars[i];
		for (int i = 0; i < b.n; i++) {
			fe.bcol[i] = rel_col(P, b.vars[i]);
			if (fe.bcol[i] < 0) {
				fe.newidx[i] = nv;
				vars[nv++] = b.vars[i];
			}
		}
		out = rel_new(vars, nv);
	} else {
		out = rel_new(P->vars, P->nv);
	}
	if (!out) {
		rc = DH_ENOMEM;
		goto out;
	}
	fe.out = out;
	fe.pnv = P->nv;
	int cols[64];
	for (int i = 0; i < c->nargs; i++)
		cols[i] = c->args[i].kind == T_VAR ? rel_col(P, c->args[i].var) : -1;
	for (size_t r = 0; r < P->n && !rc; r++) {
		const struct dh_val *prow = rel_row(P, r);
		for (int i = 0; i < c->nargs; i++) {
			const struct term *t = &c->args[i];
			if (t->kind == T_VAR)
				args[i] = prow[cols[i]];
			else if (t->kind == T_SRC)
				args[i] = dh_long(t->var == 0 ? cx->src0 : t->var);
			else
				args[i] = t->val;
		}
		struct dh_val res = dh_nil();
		rc = c->fn->fn(&R->qc, args, c->nargs, &res);
		if (rc < 0) {
			rc = call_err(R, c, rc);
			break;
		}
		if (c->kind == C_PRED) {
			if (rc == 0 && q_truthy(&res)) {
				struct dh_val *row = rel_push(out);
				if (!row) {
					rc = DH_ENOMEM;
					break;
				}
				memcpy(row, prow, P->nv * sizeof(*row));
			}
			rc = 0;
			continue;
		}
		if (rc == 1 || res.type == DH_NIL) {
			rc = 0;
			continue;
		}
		fe.prow = prow;
		memset(b.set, 0, sizeof(b.set));
		rc = bind_val(&b, &c->bind, &res, NULL, NULL, 0, fn_emit, &fe);
		if (rc == DH_EINVAL)
			rc = call_err(R, c, rc);
	}
	if (rc)
		goto out;
	rel_free(P);
	P = NULL;
	rc = ctx_add(cx, out);
	out = NULL;
out:
	rel_free(P);
	rel_free(out);
	return rc;
}

/* ---- not, or -------------------------------------------------------------- */

/* A fresh context for a body, seeded with `seed` (owned, may be NULL). */
static int sub_eval(struct run *R, struct ectx *parent, struct rel *seed, const struct clause *cl, int n,
                    const int *vars, int nv, struct rel **out)
{
	struct ectx sub = { 0 };
	int rc = 0;
	sub.src0 = parent->src0;
	if (seed && (rc = ctx_add(&sub, seed)))
		goto out;
	if ((rc = eval_clauses(R, &sub, cl, n)))
		goto out;
	rc = ctx_project(R, &sub, vars, nv, out);
out:
	ctx_release(&sub);
	return rc;
}

static int eval_not(struct run *R, struct ectx *cx, const struct clause *c)
{
	int jv[64], nj = 0;
	struct rel *P = NULL, *seed = NULL, *res = NULL, *keep = NULL;
	int rc = 0;

	if (c->kind == C_NOTJOIN) {
		for (int i = 0; i < c->njoin; i++) {
			if (!ctx_bound(cx, c->join[i]))
				return NOT_READY;
			jv[nj++] = c->join[i];
		}
	} else {
		for (int i = 0; i < c->nvars && nj < 64; i++)
			if (ctx_bound(cx, c->vars[i]))
				jv[nj++] = c->vars[i];
		if (nj == 0)
			return NOT_READY;
	}
	if (cx->empty)
		return 0;
	P = ctx_merge(cx, jv, nj);
	if (!P)
		return DH_ENOMEM;
	seed = project(P, jv, nj);
	if (!seed) {
		rc = DH_ENOMEM;
		goto out;
	}
	rc = sub_eval(R, cx, seed, c->sub, c->nsub, jv, nj, &res);
	seed = NULL;
	if (rc)
		goto out;
	keep = rel_new(P->vars, P->nv);
	if (!keep) {
		rc = DH_ENOMEM;
		goto out;
	}
	int cols[64];
	struct dh_val tmp[64];
	for (int k = 0; k < nj; k++)
		cols[k] = rel_col(P, jv[k]);
	for (size_t i = 0; i < P->n; i++) {
		const struct dh_val *row = rel_row(P, i);
		for (int k = 0; k < nj; k++)
			tmp[k] = row[cols[k]];
		if (set_has(res, tmp))
			continue;
		struct dh_val *d = rel_push(keep);
		if (!d) {
			rc = DH_ENOMEM;
			goto out;
		}
		memcpy(d, row, P->nv * sizeof(*d));
	}
	rc = ctx_add(cx, keep);
	keep = NULL;
out:
	rel_free(P);
	rel_free(seed);
	rel_free(res);
	rel_free(keep);
	return rc;
}

static int eval_or(struct run *R, struct ectx *cx, const struct clause *c)
{
	const int *jvars = c->kind == C_ORJOIN ? c->join : c->vars;
	int nj = c->kind == C_ORJOIN ? c->njoin : c->nvars;
	int bv[64], nb = 0;
	struct rel *P = NULL, *U = NULL, *res = NULL;
	int rc = 0;

	if (nj > 64)
		return q_err(R->q, &c->form, "too many variables in or");
	for (int i = 0; i < c->nreq; i++)
		if (!ctx_bound(cx, c->join[i]))
			return NOT_READY;
	for (int i = 0; i < nj; i++)
		if (ctx_bound(cx, jvars[i]))
			bv[nb++] = jvars[i];
	if (cx->empty)
		return 0;
	P = ctx_merge(cx, bv, nb);
	if (!P)
		return DH_ENOMEM;
	U = rel_new(jvars, nj);
	if (!U) {
		rc = DH_ENOMEM;
		goto out;
	}
	for (int br = 0; br < c->nsub && !rc; br++) {
		struct rel *seed = nb ? project(P, bv, nb) : NULL;
		if (nb && !seed) {
			rc = DH_ENOMEM;
			break;
		}
		const struct clause *body = &c->sub[br];
		int nbody = 1;
		if (body->kind == C_AND) {
			nbody = body->nsub;
			body = body->sub;
		}
		rc = sub_eval(R, cx, seed, body, nbody, jvars, nj, &res);
		if (rc == DH_EINVAL && strstr(dh_errmsg(), "never bound"))
			rc = q_err(R->q, &c->form, "insufficient bindings: every branch of or must bind %s",
			           c->kind == C_ORJOIN ? "the or-join variables" : "the same variables");
		for (size_t i = 0; !rc && i < res->n; i++)
			if (set_add(U, rel_row(res, i)) < 0)
				rc = DH_ENOMEM;
		rel_free(res);
		res = NULL;
	}
	if (rc)
		goto out;
	if ((rc = ctx_push(cx, P)) != 0) {
		P = NULL;
		goto out;
	}
	P = NULL;
	rc = ctx_add(cx, U);
	U = NULL;
out:
	rel_free(P);
	rel_free(U);
	rel_free(res);
	return rc;
}

/* ---- rules ---------------------------------------------------------------- */

static struct table *table_get(struct run *R, int rule, int mask, int src0)
{
	for (int i = 0; i < R->ntables; i++)
		if (R->tables[i].rule == rule && R->tables[i].mask == mask && R->tables[i].src0 == src0)
			return &R->tables[i];
	if (R->ntables == R->tcap) {
		int cap = R->tcap ? R->tcap * 2 : 8;
		struct table *n = realloc(R->tables, cap * sizeof(*n));
		if (!n)
			return NULL;
		R->tables = n;
		R->tcap = cap;
	}
	struct rule *ru = &R->q->rules[rule];
	int pos[32], np = 0, all[32];
	for (int i = 0; i < ru->arity; i++) {
		all[i] = i;
		if (mask & (1 << i))
			pos[np++] = i;
	}
	struct table *t = &R->tables[R->ntables];
	t->rule = rule;
	t->mask = mask;
	t->src0 = src0;
	t->done = 0;
	t->demand = rel_new(pos, np);
	t->answer = rel_new(all, ru->arity);
	if (!t->demand || !t->answer) {
		rel_free(t->demand);
		rel_free(t->answer);
		return NULL;
	}
	R->ntables++;
	return t;
}

/*
 * Evaluate every body of `rule` for the seed tuples `seed` (columns: the
 * bound argument positions in `pos`), adding the answers (all positions)
 * to `ans`.  Returns 1 in *added when ans grew.
 */
static int rule_bodies(struct run *R, struct ectx *cx, int rule, const struct rel *seed, const int *pos,
                       int np, int src0, struct rel *ans, int *added, size_t from)
{
	struct rule *ru = &R->q->rules[rule];
	int rc = 0;
	for (int bi = 0; bi < ru->nbodies && !rc; bi++) {
		struct rule_body *b = &ru->bodies[bi];
		int pv[32];
		struct rel *s = NULL, *res = NULL;
		/* a body that calls no rule gives the same answers for the same
		 * seeds: only the seeds it has not seen need evaluating */
		size_t first = b->has_calls ? 0 : from;
		if (first >= seed->n && np)
			continue;
		if (!np && first > 0)
			continue;
		for (int k = 0; k < np; k++)
			pv[k] = b->params[pos[k]];
		if (np) {
			s = rel_new(pv, np);
			if (!s)
				return DH_ENOMEM;
			for (size_t i = first; i < seed->n; i++) {
				struct dh_val *d = rel_push(s);
				if (!d) {
					rel_free(s);
					return DH_ENOMEM;
				}
				memcpy(d, rel_row(seed, i), np * sizeof(*d));
			}
		}
		struct ectx pc = { .src0 = src0 };
		(void)cx;
		rc = sub_eval(R, &pc, s, b->clauses, b->nclauses, b->params, b->nparams, &res);
		if (rc == NOT_READY)
			rc = 0;
		for (size_t i = 0; !rc && i < res->n; i++) {
			int a = set_add(ans, rel_row(res, i));
			if (a < 0)
				rc = a;
			else if (a)
				*added = 1;
		}
		rel_free(res);
	}
	return rc;
}

/*
 * semi_naive() - the whole relation of a linearly recursive rule called
 * with no bound argument, bottom-up: the bodies without a recursive call
 * give the first tuples; each round runs the recursive bodies with their
 * recursive call seeing only the tuples new in the round before, until a
 * round finds nothing new.  *out gets every tuple (all positions).
 */
static int semi_naive(struct run *R, int rule, int src0, struct rel **out)
{
	struct rule *ru = &R->q->rules[rule];
	int all[32], rc = 0;
	struct rel *T = NULL, *D = NULL, *N = NULL;

	for (int i = 0; i < ru->arity; i++)
		all[i] = i;
	T = rel_new(all, ru->arity);
	D = rel_new(all, ru->arity);
	if (!T || !D) {
		rc = DH_ENOMEM;
		goto out;
	}
	for (int round = 0; !rc; round++) {
		N = rel_new(all, ru->arity);
		if (!N) {
			rc = DH_ENOMEM;
			break;
		}
		R->bu_rule = rule;
		R->bu_delta = D;
		for (int bi = 0; bi < ru->nbodies && !rc; bi++) {
			struct rule_body *b = &ru->bodies[bi];
			struct rel *res = NULL;
			if ((round == 0) != (b->self_calls == 0))
				continue;
			struct ectx pc = { .src0 = src0 };
			rc = sub_eval(R, &pc, NULL, b->clauses, b->nclauses, b->params, b->nparams, &res);
			for (size_t i = 0; !rc && i < res->n; i++) {
				const struct dh_val *row = rel_row(res, i);
				int a = set_has(T, row) ? 0 : set_add(N, row);
				if (a < 0)
					rc = a;
			}
			rel_free(res);
		}
		R->bu_rule = -1;
		R->bu_delta = NULL;
		for (size_t i = 0; !rc && i < N->n; i++)
			if (set_add(T, rel_row(N, i)) < 0)
				rc = DH_ENOMEM;
		rel_free(D);
		D = N;
		N = NULL;
		if (!rc && round > 0 && D->n == 0)
			break;
	}
out:
	rel_free(D);
	rel_free(N);
	if (rc)
		rel_free(T);
	else
		*out = T;
	return rc;
}

static int eval_rule(struct run *R, struct ectx *cx, const struct clause *c)
{
	struct dh_query *q = R->q;
	if (c->rule < 0 || c->rule >= q->nrules)
		return q_err(q, &c->form, "unknown rule (pass the rules as %% input)");
	struct rule *ru = &q->rules[c->rule];
	int pos[32], np = 0, bvars[32], nb = 0, mask = 0;
	int src0 = c->src >= 0 ? c->src : cx->src0;
	struct rel *P = NULL, *seed = NULL, *ans = NULL, *out = NULL;
	int rc = 0;

	if (c->nargs != ru->arity)
		return q_err(q, &c->form, "rule '%s' takes %d arguments, called with %d", ru->name, ru->arity, c->nargs);
	if (ru->arity > 30)
		return q_err(q, &c->form, "rule '%s' has too many arguments", ru->name);
	for (int i = 0; i < c->nargs; i++) {
		const struct term *t = &c->args[i];
		int isb = t->kind == T_CONST || (t->kind == T_VAR && ctx_bound(cx, t->var));
		for (int bi = 0; bi < ru->nbodies; bi++)
			if (i < ru->bodies[bi].nreq && !isb)
				return NOT_READY;
		if (isb) {
			pos[np++] = i;
			mask |= 1 << i;
			if (t->kind == T_VAR) {
				int k;
				for (k = 0; k < nb; k++)
					if (bvars[k] == t->var)
						break;
				if (k == nb)
					bvars[nb++] = t->var;
			}
		}
	}
	if (cx->empty)
		return 0;
	P = ctx_merge(cx, bvars, nb);
	if (!P)
		return DH_ENOMEM;
	/* seed over the bound positions */
	seed = rel_new(pos, np);
	if (!seed) {
		rc = DH_ENOMEM;
		goto out;
	}
	{
		struct rel *K = project(P, bvars, nb);
		if (!K) {
			rc = DH_ENOMEM;
			goto out;
		}
		struct dh_val tmp[32];
		for (size_t i = 0; i < K->n && !rc; i++) {
			for (int k = 0; k < np; k++) {
				const struct term *t = &c->args[pos[k]];
				tmp[k] = t->kind == T_CONST ? t->val : rel_row(K, i)[rel_col(K, t->var)];
			}
			if (set_add(seed, tmp) < 0)
				rc = DH_ENOMEM;
		}
		rel_free(K);
		if (rc)
			goto out;
	}
	int all[32];
	for (int i = 0; i < ru->arity; i++)
		all[i] = i;
	if (R->bu_rule == c->rule) {
		/* inside a semi-naive round: the recursive call sees the new tuples */
		ans = rel_new(all, ru->arity);
		if (!ans) {
			rc = DH_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < R->bu_delta->n; i++) {
			struct dh_val *d = rel_push(ans);
			if (!d) {
				rc = DH_ENOMEM;
				goto out;
			}
			memcpy(d, rel_row(R->bu_delta, i), ru->arity * sizeof(*d));
		}
	} else if (ru->recursive && ru->linear && mask == 0 && R->bu_rule < 0 && !R->in_fix) {
		rc = semi_naive(R, c->rule, src0, &ans);
	} else if (!ru->recursive) {
		ans = rel_new(all, ru->arity);
		int added = 0;
		if (!ans)
			rc = DH_ENOMEM;
		else
			rc = rule_bodies(R, cx, c->rule, seed, pos, np, src0, ans, &added, 0);
	} else {
		struct table *t = table_get(R, c->rule, mask, src0);
		if (!t) {
			rc = DH_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < seed->n && !rc; i++) {
			int a = set_add(t->demand, rel_row(seed, i));
			if (a < 0)
				rc = a;
			else if (a)
				R->changed = 1;
		}
		if (!rc && !R->in_fix) {
			R->in_fix = 1;
			do {
				R->changed = 0;
				for (int ti = 0; ti < R->ntables && !rc; ti++) {
					struct table *tt = &R->tables[ti];
					int tpos[32], tnp = 0, added = 0;
					for (int k = 0; k < q->rules[tt->rule].arity; k++)
						if (tt->mask & (1 << k))
							tpos[tnp++] = k;
					/* the demand may grow while its bodies run: iterate a snapshot */
					struct rel *snap = rel_new(tpos, tnp);
					if (!snap) {
						rc = DH_ENOMEM;
						break;
					}
					for (size_t i = 0; i < tt->demand->n && !rc; i++) {
						struct dh_val *d = rel_push(snap);
						if (!d)
							rc = DH_ENOMEM;
						else
							memcpy(d, rel_row(tt->demand, i), tnp * sizeof(*d));
					}
					int trule = tt->rule, tsrc = tt->src0;
					struct rel *tans = tt->answer;
					size_t from = tt->done;
					if (!rc)
						rc = rule_bodies(R, cx, trule, snap, tpos, tnp, tsrc, tans, &added, from);
					/* tables may have moved (realloc) while the bodies ran */
					R->tables[ti].done = snap->n;
					rel_free(snap);
					if (added)
						R->changed = 1;
				}
			} while (!rc && R->changed);
			R->in_fix = 0;
		}
		if (rc)
			goto out;
		t = table_get(R, c->rule, mask, src0);
		ans = rel_new(all, ru->arity);
		if (!ans) {
			rc = DH_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < t->answer->n; i++) {
			struct dh_val *d = rel_push(ans);
			if (!d) {
				rc = DH_ENOMEM;
				goto out;
			}
			memcpy(d, rel_row(t->answer, i), ru->arity * sizeof(*d));
		}
	}
	if (rc)
		goto out;
	/* answers over positions -> a relation over the call's variables */
	{
		int ov[32], nov = 0, colpos[32];
		for (int i = 0; i < c->nargs; i++) {
			const struct term *t = &c->args[i];
			if (t->kind != T_VAR)
				continue;
			int k;
			for (k = 0; k < nov; k++)
				if (ov[k] == t->var)
					break;
			if (k == nov) {
				ov[nov] = t->var;
				colpos[nov++] = i;
			}
		}
		out = rel_new(ov, nov);
		if (!out) {
			rc = DH_ENOMEM;
			goto out;
		}
		for (size_t r = 0; r < ans->n; r++) {
			const struct dh_val *row = rel_row(ans, r);
			int ok = 1;
			for (int i = 0; i < c->nargs && ok; i++) {
				const struct term *t = &c->args[i];
				if (t->kind == T_CONST)
					ok = dh_val_eq(&row[i], &t->val);
				else if (t->kind == T_VAR) {
					int k;
					for (k = 0; ov[k] != t->var; k++)
						;
					ok = dh_val_eq(&row[colpos[k]], &row[i]);
				}
			}
			if (!ok)
				continue;
			struct dh_val *d = rel_push(out);
			if (!d) {
				rc = DH_ENOMEM;
				goto out;
			}
			for (int k = 0; k < nov; k++)
				d[k] = row[colpos[k]];
		}
	}
	if ((rc = ctx_push(cx, P)) != 0) {
		P = NULL;
		goto out;
	}
	P = NULL;
	rc = ctx_add(cx, out);
	out = NULL;
out:
	rel_free(P);
	rel_free(seed);
	rel_free(ans);
	rel_free(out);
	return rc;
}

/* ---- conjunctions ---------------------------------------------------------- */

static int eval_clause(struct run *R, struct ectx *cx, const struct clause *c)
{
	switch (c->kind) {
	case C_PATTERN:
		return eval_pattern(R, cx, c);
	case C_PRED:
	case C_FN:
		return eval_call(R, cx, c);
	case C_NOT:
	case C_NOTJOIN:
		return eval_not(R, cx, c);
	case C_OR:
	case C_ORJOIN:
		return eval_or(R, cx, c);
	case C_AND:
		return eval_clauses(R, cx, c->sub, c->nsub);
	case C_RULE:
		return eval_rule(R, cx, c);
	}
	return 0;
}

static int unbound_msg(struct run *R, struct ectx *cx, const struct clause *c)
{
	char names[256] = "";
	size_t len = 0;
	for (int i = 0; i < c->nvars; i++) {
		if (ctx_bound(cx, c->vars[i]))
			continue;
		len += snprintf(names + len, len < sizeof(names) ? sizeof(names) - len : 0, "%s%s",
		                len ? " " : "", R->q->varnames[c->vars[i]]);
		if (len >= sizeof(names))
			break;
	}
	const char *what = c->kind == C_PRED ? "predicate" : c->kind == C_FN ? "function" :
	                   c->kind == C_RULE ? "rule call" : c->kind == C_OR || c->kind == C_ORJOIN ? "or-join" : "not";
	return q_err(R->q, &c->form, "insufficient bindings: %s unbound in %s (bind %s in an earlier clause or :in)",
	             names[0] ? names : "a variable", what, names[0] ? "it" : "them");
}

static int eval_clauses(struct run *R, struct ectx *cx, const struct clause *cl, int n)
{
	const struct clause *pending[256];
	int np = 0, rc = 0;

	for (int i = 0; i < n && !rc; i++) {
		if (cx->empty)
			return 0;   /* nothing can match any more: later clauses cannot add rows */
		rc = eval_clause(R, cx, &cl[i]);
		if (rc == NOT_READY) {
			if (np == 256)
				return q_err(R->q, &cl[i].form, "too many clauses waiting for bindings");
			pending[np++] = &cl[i];
			rc = 0;
			continue;
		}
		/* retry waiting clauses: the clause may have bound their inputs */
		for (int progress = 1; progress && np && !rc;) {
			progress = 0;
			for (int k = 0; k < np && !rc; k++) {
				rc = eval_clause(R, cx, pending[k]);
				if (rc == NOT_READY) {
					rc = 0;
					continue;
				}
				pending[k] = pending[--np];
				progress = 1;
				k--;
			}
		}
	}
	if (!rc && np && !cx->empty)
		rc = unbound_msg(R, cx, pending[0]);
	return rc;
}

/* ---- results --------------------------------------------------------------- */

struct emitter {
	struct run *R;
	dh_query_row_fn fn;
	void *payload;
	int64_t skip, left;
	struct rel *seen;        /* NULL: rows are distinct already */
	int rows;
};

static int emit_row(struct emitter *em, const struct dh_val *cols)
{
	struct dh_query *q = em->R->q;
	struct dh_val row;
	int rc;

	if (em->seen && (q->find_kind == DH_FIND_REL || q->find_kind == DH_FIND_COLL)) {
		rc = set_add(em->seen, cols);
		if (rc <= 0)
			return rc;
	}
	if (em->skip > 0) {
		em->skip--;
		return 0;
	}
	if (em->left == 0)
		return STOP;
	if (q->find_kind == DH_FIND_COLL || q->find_kind == DH_FIND_SCALAR) {
		row = cols[0];
	} else if (q->keys_kind) {
		struct dh_val *items = dh_arena_alloc(em->R->qc.arena, 2 * q->nfind * sizeof(*items));
		if (!items)
			return DH_ENOMEM;
		for (int i = 0; i < q->nfind; i++) {
			items[2 * i] = q->keys[i];
			items[2 * i + 1] = cols[i];
		}
		row = (struct dh_val){ .type = DH_MAP, .len = 2 * q->nfind };
		row.u.items = items;
	} else {
		row = (struct dh_val){ .type = DH_VECTOR, .len = q->nfind };
		row.u.items = cols;
	}
	rc = em->fn(&row, em->payload);
	if (rc)
		return rc;
	em->rows++;
	if (em->left > 0)
		em->left--;
	if (q->find_kind == DH_FIND_SCALAR || q->find_kind == DH_FIND_TUPLE || em->left == 0)
		return STOP;
	return 0;
}

static int do_pull(struct run *R, const struct find_elem *fe, const struct dh_val *eid, const struct rel *in,
                   struct dh_val *out)
{
	int srci = fe->src;
	struct dh_query_source *s = srci < R->nsrcs ? R->srcs[srci] : NULL;
	const struct dh_val *pattern = &fe->pattern;
	(void)in;
	if (!s)
		return dh_error_set(DH_EINVAL, "%s: pull needs a database source", R->q->name);
	if (eid->type != DH_LONG) {
		*out = dh_nil();
		return 0;
	}
	return q_pull(&R->qc, s, pattern, eid->u.i, out);
}

static int produce(struct run *R, struct ectx *cx, struct emitter *em, const struct dh_val *patvals)
{
	struct dh_query *q = R->q;
	int vars[64], nv = 0, col[64];
	struct rel *rows = NULL, *groups = NULL;
	struct dh_val *cols = NULL;
	int rc = 0;

	for (int i = 0; i < q->nfind + q->nwith && nv < 64; i++) {
		int v = i < q->nfind ? q->find[i].var : q->with[i - q->nfind];
		int k;
		for (k = 0; k < nv; k++)
			if (vars[k] == v)
				break;
		if (k == nv)
			vars[nv++] = v;
		if (i < q->nfind)
			col[i] = k;
	}
	/* find variables bound only by :in scalars are in the context too */
	if ((rc = ctx_project(R, cx, vars, nv, &rows)))
		goto out;
	cols = dh_arena_alloc(R->qc.arena, (q->nfind + 1) * sizeof(*cols));
	if (!cols) {
		rc = DH_ENOMEM;
		goto out;
	}
	if (!q->has_agg) {
		for (size_t r = 0; r < rows->n && !rc; r++) {
			const struct dh_val *row = rel_row(rows, r);
			struct dh_val *c2 = cols;
			/* rows kept for deduplication need their own memory */
			if (em->seen && (q->find_kind == DH_FIND_REL || q->find_kind == DH_FIND_TUPLE)) {
				c2 = dh_arena_alloc(R->qc.arena, (q->nfind + 1) * sizeof(*c2));
				if (!c2) {
					rc = DH_ENOMEM;
					break;
				}
			}
			for (int i = 0; i < q->nfind && !rc; i++) {
				const struct find_elem *fe = &q->find[i];
				if (fe->kind == FE_PULL) {
					struct find_elem f2 = *fe;
					if (fe->patvar >= 0)
						f2.pattern = patvals[i];
					rc = do_pull(R, &f2, &row[col[i]], rows, &c2[i]);
				} else {
					c2[i] = row[col[i]];
				}
			}
			if (!rc)
				rc = emit_row(em, c2);
		}
		goto out;
	}
	/* aggregates: group rows by the non-aggregate elements */
	{
		int gcols[64], ng = 0;
		for (int i = 0; i < q->nfind; i++)
			if (q->find[i].kind != FE_AGG)
				gcols[ng++] = i;
		int gvars[64];
		for (int k = 0; k < ng; k++)
			gvars[k] = k;
		groups = rel_new(gvars, ng);
		if (!groups) {
			rc = DH_ENOMEM;
			goto out;
		}
		size_t *gid = malloc((rows->n + 1) * sizeof(*gid));
		if (!gid) {
			rc = DH_ENOMEM;
			goto out;
		}
		struct dh_val key[64];
		for (size_t r = 0; r < rows->n && !rc; r++) {
			const struct dh_val *row = rel_row(rows, r);
			for (int k = 0; k < ng; k++)
				key[k] = row[col[gcols[k]]];
			long g = set_find(groups, key);
			if (g < 0) {
				if (set_add(groups, key) < 0)
					rc = DH_ENOMEM;
				g = (long)groups->n - 1;
			}
			gid[r] = (size_t)g;
		}
		size_t ngroups = groups->n;
		size_t *start = calloc(ngroups + 1, sizeof(*start));
		size_t *fill = calloc(ngroups + 1, sizeof(*fill));
		struct dh_val *vals = malloc((rows->n + 1) * sizeof(*vals));
		if (!start || !fill || !vals)
			rc = DH_ENOMEM;
		for (size_t r = 0; !rc && r < rows->n; r++)
			start[gid[r] + 1]++;
		for (size_t g = 0; !rc && g < ngroups; g++)
			start[g + 1] += start[g];
		struct dh_val **aggres = NULL;
		if (!rc) {
			aggres = calloc(q->nfind + 1, sizeof(*aggres));
			if (!aggres)
				rc = DH_ENOMEM;
		}
		for (int i = 0; i < q->nfind && !rc; i++) {
			const struct find_elem *fe = &q->find[i];
			if (fe->kind != FE_AGG)
				continue;
			if (fe->aggvar >= 0) {
				rc = dh_error_set(DH_EINVAL, "%s: custom aggregate functions are not supported", q->name);
				break;
			}
			aggres[i] = dh_arena_alloc(R->qc.arena, (ngroups + 1) * sizeof(struct dh_val));
			if (!aggres[i]) {
				rc = DH_ENOMEM;
				break;
			}
			memset(fill, 0, (ngroups + 1) * sizeof(*fill));
			for (size_t r = 0; r < rows->n; r++)
				vals[start[gid[r]] + fill[gid[r]]++] = rel_row(rows, r)[col[i]];
			for (size_t g = 0; g < ngroups && !rc; g++)
				rc = q_aggregate(&R->qc, fe, vals + start[g], start[g + 1] - start[g], &aggres[i][g]);
		}
		for (size_t g = 0; g < ngroups && !rc; g++) {
			struct dh_val *c2 = dh_arena_alloc(R->qc.arena, (q->nfind + 1) * sizeof(*c2));
			if (!c2) {
				rc = DH_ENOMEM;
				break;
			}
			const struct dh_val *grow = rel_row(groups, g);
			int gk = 0;
			for (int i = 0; i < q->nfind && !rc; i++) {
				const struct find_elem *fe = &q->find[i];
				if (fe->kind == FE_AGG) {
					c2[i] = aggres[i][g];
				} else if (fe->kind == FE_PULL) {
					struct find_elem f2 = *fe;
					if (fe->patvar >= 0)
						f2.pattern = patvals[i];
					rc = do_pull(R, &f2, &grow[gk++], rows, &c2[i]);
				} else {
					c2[i] = grow[gk++];
				}
			}
			if (!rc)
				rc = emit_row(em, c2);
		}
		free(aggres);
		free(gid);
		free(start);
		free(fill);
		free(vals);
	}
out:
	rel_free(rows);
	rel_free(groups);
	return rc;
}

/* ---- running -------------------------------------------------------------- */

struct in_emit {
	struct ectx *cx;
	struct rel *r;
};

static int in_emit(struct binder *b, void *payload)
{
	struct in_emit *ie = payload;
	struct dh_val *row = rel_push(ie->r);
	if (!row)
		return DH_ENOMEM;
	memcpy(row, b->vals, b->n * sizeof(*row));
	return 0;
}

static int bind_input(struct run *R, struct ectx *cx, const struct binding *bd, const struct dh_val *v)
{
	struct binder b = { 0 };
	struct in_emit ie = { cx, NULL };
	int rc;
	binder_collect(&b, bd);
	ie.r = rel_new(b.vars, b.n);
	if (!ie.r)
		return DH_ENOMEM;
	rc = bind_val(&b, bd, v, NULL, NULL, 0, in_emit, &ie);
	if (rc) {
		rel_free(ie.r);
		if (rc == DH_EINVAL)
			rc = dh_error_set(DH_EINVAL, "%s: input does not match its :in binding: %s", R->q->name,
			                  dh_errmsg());
		return rc;
	}
	/* a scalar bound to several values would be a collection: fine as is */
	(void)R;
	return ctx_add(cx, ie.r);
}

int dh_query_run(struct dh_query *q, const struct dh_query_arg *args, size_t nargs, int64_t limit,
                 int64_t offset, dh_query_row_fn fn, void *payload)
{
	struct run R = { 0 };
	struct ectx cx = { 0 };
	struct emitter em = { 0 };
	struct dh_val patvals[64];
	int rc = 0;

	if ((rc = dh_arena_new(&R.qc.arena)))
		return rc;
	R.q = q;
	R.qc.q = q;
	R.bu_rule = -1;
	R.qc.rng = 0x853c49e6748fea9bULL;
	R.nsrcs = q->nsrcs;
	R.srcs = calloc(q->nsrcs + 1, sizeof(*R.srcs));
	R.collsrc = calloc(q->nsrcs + 2, sizeof(*R.collsrc));
	if (!R.srcs || !R.collsrc) {
		rc = DH_ENOMEM;
		goto out;
	}
	R.qc.srcs = R.srcs;
	R.qc.srcvals = R.collsrc;
	if (nargs != (size_t)q->nin) {
		rc = dh_error_set(DH_EINVAL, "%s: the query takes %d input%s (:in), got %zu", q->name, q->nin,
		                  q->nin == 1 ? "" : "s", nargs);
		goto out;
	}
	for (size_t i = 0; i < nargs && !rc; i++) {
		const struct in_bind *ib = &q->in[i];
		if (ib->kind == 1 || ib->kind == 3) {
			if (args[i].src)
				R.srcs[ib->src] = args[i].src;
			else
				R.collsrc[ib->src] = args[i].val;
		} else if (ib->kind == 2) {
			rc = q_bind_rules(q, &args[i].val);
		} else {
			if (args[i].src) {
				rc = dh_error_set(DH_EINVAL, "%s: input %zu is a database but its :in binding is not a source",
				                  q->name, i + 1);
				break;
			}
			rc = bind_input(&R, &cx, &ib->bind, &args[i].val);
		}
	}
	if (rc)
		goto out;
	/* pull patterns given as inputs */
	for (int i = 0; i < q->nfind && i < 64; i++) {
		patvals[i] = dh_nil();
		if (q->find[i].kind == FE_PULL && q->find[i].patvar >= 0) {
			int ri = ctx_find(&cx, q->find[i].patvar);
			if (ri < 0 || cx.rels[ri]->n == 0) {
				rc = dh_error_set(DH_EINVAL, "%s: pull pattern %s is not bound by :in", q->name,
				                  q->varnames[q->find[i].patvar]);
				goto out;
			}
			patvals[i] = rel_row(cx.rels[ri], 0)[rel_col(cx.rels[ri], q->find[i].patvar)];
		}
	}
	if ((rc = eval_clauses(&R, &cx, q->where, q->nwhere)))
		goto out;
	em.R = &R;
	em.fn = fn;
	em.payload = payload;
	if (limit < 0)
		limit = q->limit;
	if (offset < 0)
		offset = q->offset;
	em.skip = offset > 0 ? offset : 0;
	em.left = limit >= 0 ? limit : -1;
	{
		/* projected rows are distinct; only :with (columns dropped), pull
		 * (maps built per row) and repeated variables need a check */
		int plain = q->nwith == 0 && !q->has_agg;
		for (int i = 0; i < q->nfind && plain; i++) {
			plain = q->find[i].kind == FE_VAR;
			for (int k = 0; k < i && plain; k++)
				plain = q->find[k].var != q->find[i].var;
		}
		int cv[64];
		for (int i = 0; i < q->nfind && i < 64; i++)
			cv[i] = i;
		if (!plain && !(em.seen = rel_new(cv, q->nfind))) {
			rc = DH_ENOMEM;
			goto out;
		}
	}
	if (em.left != 0)
		rc = produce(&R, &cx, &em, patvals);
	if (rc == STOP)
		rc = 0;
out:
	ctx_release(&cx);
	rel_free(em.seen);
	for (int i = 0; i < R.ntables; i++) {
		rel_free(R.tables[i].demand);
		rel_free(R.tables[i].answer);
	}
	free(R.tables);
	free(R.srcs);
	free(R.collsrc);
	dh_arena_free(R.qc.arena);
	return rc;
}

/* ---- collecting ------------------------------------------------------------ */

struct collect {
	struct dh_arena *a;
	struct dh_val *items;
	size_t n, cap;
	int err;
};

static int collect_row(const struct dh_val *row, void *payload)
{
	struct collect *c = payload;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct dh_val *n = realloc(c->items, cap * sizeof(*n));
		if (!n)
			return DH_ENOMEM;
		c->items = n;
		c->cap = cap;
	}
	return dh_val_copy(&c->items[c->n++], c->a, row);
}

int dh_query_collect(struct dh_val *out, struct dh_arena *a, struct dh_query *q,
                     const struct dh_query_arg *args, size_t nargs)
{
	struct collect c = { .a = a };
	int rc = dh_query_run(q, args, nargs, -1, -1, collect_row, &c);
	*out = dh_nil();
	if (rc)
		goto out;
	switch (q->find_kind) {
	case DH_FIND_SCALAR:
	case DH_FIND_TUPLE:
		if (c.n)
			*out = c.items[0];
		break;
	case DH_FIND_REL:
	case DH_FIND_COLL:
		rc = q_mkvec(a, out, q->find_kind == DH_FIND_REL ? DH_SET : DH_VECTOR, c.items, c.n);
		break;
	}
out:
	free(c.items);
	return rc;
}

int q_mkvec(struct dh_arena *a, struct dh_val *out, enum dh_type t, const struct dh_val *items, size_t n)
{
	struct dh_val *it = dh_arena_alloc(a, (n ? n : 1) * sizeof(*it));
	if (!it)
		return DH_ENOMEM;
	if (n)
		memcpy(it, items, n * sizeof(*it));
	*out = (struct dh_val){ .type = (uint8_t)t, .len = (uint32_t)n };
	out->u.items = it;
	return 0;
}

int dh_query_resolve(struct dh_query_source *s, const struct dh_val *ref, int64_t *eid)
{
	return resolve_ref(s, ref, eid);
}
