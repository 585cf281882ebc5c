/*
 * parse.c - Datalog query text into a plan.
 *
 * Accepts Datahike's query forms: the vector form [:find ... :in ...
 * :where ...], the map form {:find [...] :where [...]}, and the wrapper
 * {:query q :args [...] :limit n :offset n}.  The result is a struct
 * dh_query (q.h): find elements, :in bindings, and :where clauses over
 * interned variable ids, with rules parsed into bodies.  Every error names
 * the offending form and, when the query text is known, its line and
 * column, plus a hint of what would be right.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "q.h"

static void *qalloc(struct dh_query *q, size_t n)
{
	void *p = dh_arena_alloc(q->arena, n ? n : 1);
	if (p)
		memset(p, 0, n ? n : 1);
	return p;
}

static int is_sym(const struct dh_val *v, const char *s)
{
	return v->type == DH_SYMBOL && v->len == strlen(s) && !memcmp(v->u.s, s, v->len);
}

static int is_var(const struct dh_val *v)
{
	return v->type == DH_SYMBOL && v->len > 1 && v->u.s[0] == '?';
}

static int is_src(const struct dh_val *v)
{
	return v->type == DH_SYMBOL && v->len >= 1 && v->u.s[0] == '$';
}

static int is_seq(const struct dh_val *v)
{
	return v->type == DH_VECTOR || v->type == DH_LIST;
}

/* Where `needle` occurs in the text as a whole token; 0 when not found. */
static size_t find_token(const char *text, size_t len, const char *needle, size_t nlen, size_t from)
{
	for (size_t i = from; nlen && i + nlen <= len; i++) {
		if (memcmp(text + i, needle, nlen))
			continue;
		int lb = i == 0 || strchr(" \t\r\n,([{#", text[i - 1]);
		int rb = i + nlen == len || strchr(" \t\r\n,)]}", text[i + nlen]) ||
		         strchr(")]}", needle[nlen - 1]);
		if (lb && rb)
			return i + 1;
	}
	return 0;
}

static const struct dh_val *first_atom(const struct dh_val *v)
{
	while (v && (is_seq(v) || v->type == DH_MAP || v->type == DH_SET) && v->len)
		v = &v->u.items[0];
	return v;
}

int q_err(struct dh_query *q, const struct dh_val *at, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int line = 0, col = 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (q->text && at) {
		struct dh_buf b = DH_BUF_INIT;
		size_t pos = 0;
		if (!dh_edn_print(&b, at))
			pos = find_token(q->text, q->textlen, b.data, b.len, 0);
		if (!pos && (at = first_atom(at)) && at->type != DH_NIL) {
			dh_buf_reset(&b);
			if (!dh_edn_print(&b, at))
				pos = find_token(q->text, q->textlen, b.data, b.len, 0);
		}
		dh_buf_release(&b);
		if (pos) {
			line = 1, col = 1;
			for (size_t i = 0; i + 1 < pos; i++) {
				if (q->text[i] == '\n')
					line++, col = 1;
				else
					col++;
			}
		}
	}
	if (line)
		return dh_error_set(DH_EINVAL, "%s:%d:%d: %s", q->name, line, col, msg);
	return dh_error_set(DH_EINVAL, "%s: %s", q->name, msg);
}

/* A printable form of a value for messages (truncated). */
static const char *show(const struct dh_val *v, char *buf, size_t size)
{
	struct dh_buf b = DH_BUF_INIT;
	if (dh_edn_print(&b, v) == 0 && b.data) {
		snprintf(buf, size, "%s%s", b.data, b.len >= size ? "..." : "");
	} else {
		snprintf(buf, size, "?");
	}
	dh_buf_release(&b);
	return buf;
}

int q_var(struct dh_query *q, const char *name, int create)
{
	for (int i = 0; i < q->nvars; i++)
		if (!strcmp(q->varnames[i], name))
			return i;
	if (!create)
		return -1;
	if (q->nvars == q->varcap) {
		int cap = q->varcap ? q->varcap * 2 : 32;
		const char **n = dh_arena_alloc(q->arena, cap * sizeof(*n));
		if (!n)
			return DH_ENOMEM;
		if (q->nvars)
			memcpy(n, q->varnames, q->nvars * sizeof(*n));
		q->varnames = n;
		q->varcap = cap;
	}
	q->varnames[q->nvars] = dh_arena_strndup(q->arena, name, strlen(name));
	return q->nvars++;
}

static int var_of(struct dh_query *q, const struct dh_val *sym)
{
	char tmp[256];
	size_t n = sym->len < sizeof(tmp) - 1 ? sym->len : sizeof(tmp) - 1;
	memcpy(tmp, sym->u.s, n);
	tmp[n] = 0;
	return q_var(q, tmp, 1);
}

static int src_of(struct dh_query *q, const struct dh_val *sym, int create)
{
	char tmp[128];
	size_t n = sym->len < sizeof(tmp) - 1 ? sym->len : sizeof(tmp) - 1;
	memcpy(tmp, sym->u.s, n);
	tmp[n] = 0;
	for (int i = 0; i < q->nsrcs; i++)
		if (!strcmp(q->srcnames[i], tmp))
			return i;
	if (!create)
		return -1;
	if (q->nsrcs == q->srccap) {
		int cap = q->srccap ? q->srccap * 2 : 8;
		const char **nn = dh_arena_alloc(q->arena, cap * sizeof(*nn));
		if (!nn)
			return DH_ENOMEM;
		if (q->nsrcs)
			memcpy(nn, q->srcnames, q->nsrcs * sizeof(*nn));
		q->srcnames = nn;
		q->srccap = cap;
	}
	q->srcnames[q->nsrcs] = dh_arena_strndup(q->arena, tmp, n);
	return q->nsrcs++;
}

/* ---- variable sets ------------------------------------------------------- */

struct vset {
	int n, cap;
	int *v;
};

static int vset_add(struct vset *s, int var)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i] == var)
			return 0;
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 8;
		int *n = realloc(s->v, cap * sizeof(int));
		if (!n)
			return DH_ENOMEM;
		s->v = n;
		s->cap = cap;
	}
	s->v[s->n++] = var;
	return 0;
}

static int vset_has(const struct vset *s, int var)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i] == var)
			return 1;
	return 0;
}

static int *vset_keep(struct dh_query *q, const struct vset *s)
{
	int *r = qalloc(q, (s->n ? s->n : 1) * sizeof(int));
	if (r && s->n)
		memcpy(r, s->v, s->n * sizeof(int));
	return r;
}

/* ---- terms and bindings --------------------------------------------------- */

static int parse_term(struct dh_query *q, const struct dh_val *v, struct term *t, struct vset *vars)
{
	int rc;
	if (is_var(v)) {
		t->kind = T_VAR;
		if ((rc = var_of(q, v)) < 0)
			return rc;
		t->var = rc;
		return vars ? vset_add(vars, t->var) : 0;
	}
	if (is_sym(v, "_")) {
		t->kind = T_BLANK;
		return 0;
	}
	if (is_src(v)) {
		t->kind = T_SRC;
		if ((rc = src_of(q, v, 1)) < 0)
			return rc;
		t->var = rc;
		return 0;
	}
	t->kind = T_CONST;
	t->val = *v;
	return 0;
}

static int parse_binding(struct dh_query *q, const struct dh_val *v, struct binding *b, struct vset *vars)
{
	char sb[128];
	int rc;

	if (is_var(v)) {
		b->kind = B_SCALAR;
		if ((rc = var_of(q, v)) < 0)
			return rc;
		b->var = rc;
		return vars ? vset_add(vars, rc) : 0;
	}
	if (is_sym(v, "_")) {
		b->kind = B_BLANK;
		return 0;
	}
	if (v->type != DH_VECTOR || v->len == 0)
		return q_err(q, v, "bad binding form %s (expected ?x, [?x ...], [?a ?b] or [[?a ?b]])",
		             show(v, sb, sizeof(sb)));
	if (v->len == 2 && is_sym(&v->u.items[1], "...")) {
		b->kind = B_COLL;
		b->n = 1;
		b->items = qalloc(q, sizeof(*b->items));
		if (!b->items)
			return DH_ENOMEM;
		return parse_binding(q, &v->u.items[0], b->items, vars);
	}
	if (v->len == 1 && v->u.items[0].type == DH_VECTOR) {
		b->kind = B_REL;
		b->n = 1;
		b->items = qalloc(q, sizeof(*b->items));
		if (!b->items)
			return DH_ENOMEM;
		rc = parse_binding(q, &v->u.items[0], b->items, vars);
		if (!rc && b->items->kind != B_TUPLE)
			b->items->kind = B_TUPLE;
		return rc;
	}
	b->kind = B_TUPLE;
	b->n = (int)v->len;
	b->items = qalloc(q, v->len * sizeof(*b->items));
	if (!b->items)
		return DH_ENOMEM;
	for (uint32_t i = 0; i < v->len; i++) {
		if (is_sym(&v->u.items[i], "..."))
			return q_err(q, v, "bad binding form %s ('...' must follow exactly one variable)",
			             show(v, sb, sizeof(sb)));
		if ((rc = parse_binding(q, &v->u.items[i], &b->items[i], vars)))
			return rc;
	}
	return 0;
}

/* ---- clauses --------------------------------------------------------------- */

static int parse_clauses(struct dh_query *q, const struct dh_val *items, size_t n,
                         struct clause **out, int *nout, struct vset *vars);

static int find_rule(struct dh_query *q, const struct dh_val *sym)
{
	for (int i = 0; i < q->nrules; i++)
		if (strlen(q->rules[i].name) == sym->len && !memcmp(q->rules[i].name, sym->u.s, sym->len))
			return i;
	return -1;
}

static int parse_clause(struct dh_query *q, const struct dh_val *v, struct clause *c, struct vset *outer)
{
	char sb[200];
	struct vset vars = { 0 };
	int rc = 0;

	memset(c, 0, sizeof(*c));
	c->form = *v;
	c->src = -1;
	c->fnvar = -1;
	if (v->type == DH_LIST && v->len > 0) {
		const struct dh_val *it = v->u.items;
		size_t n = v->len;
		if (is_src(&it[0]) && n > 1) {
			if ((rc = src_of(q, &it[0], 1)) < 0)
				goto out;
			c->src = rc;
			rc = 0;
			it++, n--;
		}
		if (it[0].type != DH_SYMBOL) {
			rc = q_err(q, v, "bad clause %s (expected a pattern, [(pred ...)], or (rule ...))",
			           show(v, sb, sizeof(sb)));
			goto out;
		}
		if (is_sym(&it[0], "not") || is_sym(&it[0], "and")) {
			c->kind = is_sym(&it[0], "not") ? C_NOT : C_AND;
			if (n < 2) {
				rc = q_err(q, v, "'%s' needs at least one clause", c->kind == C_NOT ? "not" : "and");
				goto out;
			}
			if ((rc = parse_clauses(q, it + 1, n - 1, &c->sub, &c->nsub, &vars)))
				goto out;
		} else if (is_sym(&it[0], "not-join") || is_sym(&it[0], "or-join")) {
			int isor = is_sym(&it[0], "or-join");
			c->kind = isor ? C_ORJOIN : C_NOTJOIN;
			if (n < 3 || it[1].type != DH_VECTOR) {
				rc = q_err(q, v, "'%s' needs a vector of variables and at least one clause",
				           isor ? "or-join" : "not-join");
				goto out;
			}
			struct vset req = { 0 }, opt = { 0 };
			for (uint32_t i = 0; i < it[1].len && !rc; i++) {
				const struct dh_val *j = &it[1].u.items[i];
				if (j->type == DH_VECTOR && isor) {
					for (uint32_t k = 0; k < j->len && !rc; k++) {
						if (!is_var(&j->u.items[k]))
							rc = q_err(q, j, "or-join variables must be ?symbols");
						else if ((rc = var_of(q, &j->u.items[k])) >= 0)
							rc = vset_add(&req, rc);
					}
				} else if (!is_var(j)) {
					rc = q_err(q, j, "join variables must be ?symbols, not %s", show(j, sb, sizeof(sb)));
				} else if ((rc = var_of(q, j)) >= 0) {
					rc = vset_add(&opt, rc);
				}
			}
			if (!rc) {
				c->nreq = req.n;
				c->njoin = req.n + opt.n;
				c->join = qalloc(q, (c->njoin + 1) * sizeof(int));
				if (!c->join)
					rc = DH_ENOMEM;
				else {
					if (req.n)
						memcpy(c->join, req.v, req.n * sizeof(int));
					if (opt.n)
						memcpy(c->join + req.n, opt.v, opt.n * sizeof(int));
				}
			}
			free(req.v);
			free(opt.v);
			if (rc)
				goto out;
			struct vset inner = { 0 };
			if (isor) {
				c->nsub = (int)n - 2;
				c->sub = qalloc(q, c->nsub * sizeof(*c->sub));
				if (!c->sub)
					rc = DH_ENOMEM;
				for (int i = 0; i < c->nsub && !rc; i++)
					rc = parse_clause(q, &it[2 + i], &c->sub[i], &inner);
			} else {
				rc = parse_clauses(q, it + 2, n - 2, &c->sub, &c->nsub, &inner);
			}
			for (int i = 0; !rc && i < c->njoin; i++) {
				if (!vset_has(&inner, c->join[i])) {
					rc = q_err(q, v, "join variable %s is not used in the clauses of %s",
					           q->varnames[c->join[i]], isor ? "or-join" : "not-join");
				}
			}
			free(inner.v);
			if (rc)
				goto out;
			for (int i = 0; i < c->njoin && !rc; i++)
				rc = vset_add(&vars, c->join[i]);
		} else if (is_sym(&it[0], "or")) {
			c->kind = C_OR;
			if (n < 2) {
				rc = q_err(q, v, "'or' needs at least one clause");
				goto out;
			}
			c->nsub = (int)n - 1;
			c->sub = qalloc(q, c->nsub * sizeof(*c->sub));
			if (!c->sub) {
				rc = DH_ENOMEM;
				goto out;
			}
			struct vset first = { 0 };
			for (int i = 0; i < c->nsub && !rc; i++) {
				struct vset bv = { 0 };
				rc = parse_clause(q, &it[1 + i], &c->sub[i], &bv);
				if (!rc && i == 0) {
					for (int k = 0; k < bv.n && !rc; k++)
						rc = vset_add(&first, bv.v[k]);
				} else if (!rc) {
					int same = bv.n == first.n;
					for (int k = 0; same && k < bv.n; k++)
						same = vset_has(&first, bv.v[k]);
					if (!same)
						rc = q_err(q, &it[1 + i], "all clauses in 'or' must use the same set of "
						           "variables (use or-join to name the ones to join on)");
				}
				free(bv.v);
			}
			for (int k = 0; k < first.n && !rc; k++)
				rc = vset_add(&vars, first.v[k]);
			free(first.v);
			if (rc)
				goto out;
		} else {
			/* rule call */
			c->kind = C_RULE;
			c->rule = find_rule(q, &it[0]);
			if (c->rule < 0 && !q->rules_from_input) {
				rc = q_err(q, v, "unknown rule '%.*s' (define it in the rules passed as %%)",
				           (int)it[0].len, it[0].u.s);
				goto out;
			}
			if (c->rule < 0) {
				/* resolved when the rules arrive; keep the name in form */
				c->rule = -1;
			}
			c->nargs = (int)n - 1;
			c->args = qalloc(q, (n ? n : 1) * sizeof(*c->args));
			if (!c->args) {
				rc = DH_ENOMEM;
				goto out;
			}
			for (size_t i = 1; i < n && !rc; i++)
				rc = parse_term(q, &it[i], &c->args[i - 1], &vars);
			if (rc)
				goto out;
		}
	} else if (v->type == DH_VECTOR && v->len > 0 && v->u.items[0].type == DH_LIST) {
		const struct dh_val *call = &v->u.items[0];
		if (call->len == 0 || call->u.items[0].type != DH_SYMBOL) {
			rc = q_err(q, v, "bad function call %s (expected (name arg ...))", show(call, sb, sizeof(sb)));
			goto out;
		}
		const struct dh_val *fname = &call->u.items[0];
		char name[64];
		snprintf(name, sizeof(name), "%.*s", (int)fname->len, fname->u.s);
		if (is_var(fname)) {
			if ((rc = var_of(q, fname)) < 0)
				goto out;
			c->fnvar = rc;
			rc = 0;
		} else {
			c->fn = q_builtin(name);
			if (!c->fn) {
				rc = q_err(q, fname, "unknown function '%s' (see dh-query(1) for the built-ins)", name);
				goto out;
			}
		}
		c->nargs = (int)call->len - 1;
		c->args = qalloc(q, (call->len ? call->len : 1) * sizeof(*c->args));
		if (!c->args) {
			rc = DH_ENOMEM;
			goto out;
		}
		for (uint32_t i = 1; i < call->len && !rc; i++)
			rc = parse_term(q, &call->u.items[i], &c->args[i - 1], &vars);
		if (rc)
			goto out;
		if (c->fn && (c->nargs < c->fn->minargs || (c->fn->maxargs >= 0 && c->nargs > c->fn->maxargs))) {
			rc = q_err(q, call, "wrong number of arguments (%d) to '%s'", c->nargs, name);
			goto out;
		}
		if (v->len == 1) {
			c->kind = C_PRED;
		} else if (v->len == 2) {
			c->kind = C_FN;
			struct vset outv = { 0 };
			rc = parse_binding(q, &v->u.items[1], &c->bind, &outv);
			for (int i = 0; !rc && i < outv.n; i++)
				rc = vset_add(&vars, outv.v[i]);
			free(outv.v);
			if (rc)
				goto out;
		} else {
			rc = q_err(q, v, "bad function clause %s (expected [(f ...)] or [(f ...) binding])",
			           show(v, sb, sizeof(sb)));
			goto out;
		}
	} else if (v->type == DH_VECTOR && v->len > 0) {
		const struct dh_val *it = v->u.items;
		size_t n = v->len;
		c->kind = C_PATTERN;
		if (is_src(&it[0])) {
			if ((rc = src_of(q, &it[0], 1)) < 0)
				goto out;
			c->src = rc;
			rc = 0;
			it++, n--;
		} else {
			c->src = src_of(q, &(struct dh_val){ .type = DH_SYMBOL, .len = 1, .u.s = "$" }, 1);
		}
		if (n == 0 || n > 5) {
			rc = q_err(q, v, "bad data pattern %s (expected [e a v tx added], at most 5 elements)",
			           show(v, sb, sizeof(sb)));
			goto out;
		}
		c->nargs = (int)n;
		c->args = qalloc(q, 5 * sizeof(*c->args));
		if (!c->args) {
			rc = DH_ENOMEM;
			goto out;
		}
		for (int i = 0; i < 5; i++)
			c->args[i].kind = T_BLANK;
		for (size_t i = 0; i < n && !rc; i++)
			rc = parse_term(q, &it[i], &c->args[i], &vars);
		if (rc)
			goto out;
	} else {
		rc = q_err(q, v, "bad clause %s (expected a data pattern [e a v], a predicate [(f ...)], "
		           "a function [(f ...) binding], not, or, and, or a rule call)", show(v, sb, sizeof(sb)));
		goto out;
	}
	c->nvars = vars.n;
	c->vars = vset_keep(q, &vars);
	if (!c->vars) {
		rc = DH_ENOMEM;
		goto out;
	}
	for (int i = 0; outer && i < vars.n && !rc; i++)
		rc = vset_add(outer, vars.v[i]);
out:
	free(vars.v);
	return rc;
}

static int parse_clauses(struct dh_query *q, const struct dh_val *items, size_t n,
                         struct clause **out, int *nout, struct vset *vars)
{
	int rc = 0;
	*out = qalloc(q, (n ? n : 1) * sizeof(**out));
	if (!*out)
		return DH_ENOMEM;
	*nout = (int)n;
	for (size_t i = 0; i < n && !rc; i++)
		rc = parse_clause(q, &items[i], &(*out)[i], vars);
	return rc;
}

/* ---- rules ------------------------------------------------------------------ */

static int clause_calls(const struct clause *c, int rule)
{
	if (c->kind == C_RULE && c->rule == rule)
		return 1;
	for (int i = 0; i < c->nsub; i++)
		if (clause_calls(&c->sub[i], rule))
			return 1;
	return 0;
}

/* rules reachable from `from` (bitset-free: small counts) */
static int reaches(struct dh_query *q, int from, int target, int depth)
{
	if (depth > q->nrules)
		return 0;
	struct rule *r = &q->rules[from];
	for (int b = 0; b < r->nbodies; b++) {
		for (int i = 0; i < r->bodies[b].nclauses; i++) {
			if (clause_calls(&r->bodies[b].clauses[i], target))
				return 1;
		}
	}
	for (int k = 0; k < q->nrules; k++) {
		if (k == from)
			continue;
		int calls = 0;
		for (int b = 0; b < r->nbodies && !calls; b++)
			for (int i = 0; i < r->bodies[b].nclauses && !calls; i++)
				calls = clause_calls(&r->bodies[b].clauses[i], k);
		if (calls && reaches(q, k, target, depth + 1))
			return 1;
	}
	return 0;
}

static void resolve_calls(struct dh_query *q, struct clause *c, int *bad)
{
	if (c->kind == C_RULE) {
		const struct dh_val *it = c->form.u.items;
		if (is_src(&it[0]))
			it++;
		c->rule = find_rule(q, it);
		if (c->rule < 0 && !*bad) {
			*bad = 1;
			q_err(q, &c->form, "unknown rule '%.*s' (not among the rules passed as %%)",
			      (int)it->len, it->u.s);
		} else if (c->rule >= 0 && q->rules[c->rule].arity != c->nargs && !*bad) {
			*bad = 1;
			q_err(q, &c->form, "rule '%s' takes %d arguments, called with %d",
			      q->rules[c->rule].name, q->rules[c->rule].arity, c->nargs);
		}
	}
	for (int i = 0; i < c->nsub; i++)
		resolve_calls(q, &c->sub[i], bad);
}

int q_bind_rules(struct dh_query *q, const struct dh_val *rules)
{
	struct dh_val copy;
	int bad = 0, rc;

	if ((rc = dh_val_copy(&copy, q->arena, rules)))
		return rc;
	if ((rc = q_parse_rules(q, &copy)))
		return rc;
	for (int i = 0; i < q->nwhere && !bad; i++)
		resolve_calls(q, &q->where[i], &bad);
	for (int k = 0; k < q->nrules && !bad; k++)
		for (int b = 0; b < q->rules[k].nbodies && !bad; b++)
			for (int i = 0; i < q->rules[k].bodies[b].nclauses && !bad; i++)
				resolve_calls(q, &q->rules[k].bodies[b].clauses[i], &bad);
	return bad ? DH_EINVAL : 0;
}

int q_parse_rules(struct dh_query *q, const struct dh_val *rules)
{
	char sb[160];
	int rc = 0;

	if (rules->type != DH_VECTOR && rules->type != DH_LIST)
		return q_err(q, rules, "rules must be a vector of [(name ?args) clauses...]");
	/* first pass: names and arities, so bodies can call rules defined later */
	q->rules = qalloc(q, (rules->len + 1) * sizeof(*q->rules));
	if (!q->rules)
		return DH_ENOMEM;
	q->nrules = 0;
	for (uint32_t i = 0; i < rules->len; i++) {
		const struct dh_val *r = &rules->u.items[i];
		if (!is_seq(r) || r->len < 2 || r->u.items[0].type != DH_LIST || r->u.items[0].len < 1 ||
		    r->u.items[0].u.items[0].type != DH_SYMBOL)
			return q_err(q, r, "bad rule %s (expected [(name ?a ?b) clause ...])", show(r, sb, sizeof(sb)));
		const struct dh_val *name = &r->u.items[0].u.items[0];
		int k = find_rule(q, name);
		if (k < 0) {
			k = q->nrules++;
			q->rules[k].name = dh_arena_strndup(q->arena, name->u.s, name->len);
			q->rules[k].arity = -1;
		}
		q->rules[k].nbodies++;
	}
	for (int k = 0; k < q->nrules; k++) {
		q->rules[k].bodies = qalloc(q, q->rules[k].nbodies * sizeof(struct rule_body));
		if (!q->rules[k].bodies)
			return DH_ENOMEM;
		q->rules[k].nbodies = 0;
	}
	for (uint32_t i = 0; i < rules->len && !rc; i++) {
		const struct dh_val *r = &rules->u.items[i];
		const struct dh_val *head = &r->u.items[0];
		int k = find_rule(q, &head->u.items[0]);
		struct rule *ru = &q->rules[k];
		struct rule_body *b = &ru->bodies[ru->nbodies++];
		struct vset req = { 0 }, opt = { 0 }, bodyv = { 0 };
		for (uint32_t j = 1; j < head->len && !rc; j++) {
			const struct dh_val *p = &head->u.items[j];
			if (p->type == DH_VECTOR) {
				for (uint32_t m = 0; m < p->len && !rc; m++) {
					if (!is_var(&p->u.items[m]))
						rc = q_err(q, head, "rule parameters must be ?symbols");
					else if ((rc = var_of(q, &p->u.items[m])) >= 0)
						rc = vset_add(&req, rc);
				}
			} else if (!is_var(p)) {
				rc = q_err(q, head, "rule parameters must be ?symbols, not %s", show(p, sb, sizeof(sb)));
			} else if ((rc = var_of(q, p)) >= 0) {
				rc = vset_add(&opt, rc);
			}
		}
		if (!rc) {
			b->nreq = req.n;
			b->nparams = req.n + opt.n;
			b->params = qalloc(q, (b->nparams + 1) * sizeof(int));
			if (!b->params)
				rc = DH_ENOMEM;
			else {
				if (req.n)
					memcpy(b->params, req.v, req.n * sizeof(int));
				if (opt.n)
					memcpy(b->params + req.n, opt.v, opt.n * sizeof(int));
			}
		}
		if (!rc && ru->arity >= 0 && ru->arity != b->nparams)
			rc = q_err(q, head, "rule '%s' defined with different numbers of arguments", ru->name);
		if (!rc)
			ru->arity = b->nparams;
		if (!rc)
			rc = parse_clauses(q, r->u.items + 1, r->len - 1, &b->clauses, &b->nclauses, &bodyv);
		for (int p = 0; !rc && p < b->nparams; p++) {
			if (!vset_has(&bodyv, b->params[p]))
				rc = q_err(q, head, "rule '%s' never binds its parameter %s", ru->name,
				           q->varnames[b->params[p]]);
		}
		free(req.v);
		free(opt.v);
		free(bodyv.v);
	}
	if (rc)
		return rc;
	for (int k = 0; k < q->nrules; k++)
		q->rules[k].recursive = reaches(q, k, k, 0);
	return 0;
}

/* ---- find ------------------------------------------------------------------- */

static int parse_find_elem(struct dh_query *q, const struct dh_val *v, struct find_elem *fe)
{
	char sb[160];
	struct dh_buf b = DH_BUF_INIT;
	int rc = 0;

	fe->var = fe->aggvar = fe->patvar = -1;
	if (is_var(v)) {
		fe->kind = FE_VAR;
		if ((rc = var_of(q, v)) < 0)
			return rc;
		fe->var = rc;
		rc = 0;
	} else if (v->type == DH_LIST && v->len >= 2 && v->u.items[0].type == DH_SYMBOL) {
		const struct dh_val *it = v->u.items;
		if (is_sym(&it[0], "pull")) {
			fe->kind = FE_PULL;
			size_t k = 1;
			fe->src = 0;
			if (v->len == 4) {
				if (!is_src(&it[1]))
					return q_err(q, v, "bad pull %s (expected (pull ?e pattern) or (pull $ ?e pattern))",
					             show(v, sb, sizeof(sb)));
				if ((rc = src_of(q, &it[1], 1)) < 0)
					return rc;
				fe->src = rc;
				rc = 0;
				k = 2;
			} else if (v->len != 3) {
				return q_err(q, v, "bad pull %s (expected (pull ?e pattern))", show(v, sb, sizeof(sb)));
			} else {
				fe->src = src_of(q, &(struct dh_val){ .type = DH_SYMBOL, .len = 1, .u.s = "$" }, 1);
			}
			if (!is_var(&it[k]))
				return q_err(q, v, "pull needs a variable for the entity, not %s", show(&it[k], sb, sizeof(sb)));
			fe->var = var_of(q, &it[k]);
			if (is_var(&it[k + 1]))
				fe->patvar = var_of(q, &it[k + 1]);
			else if (it[k + 1].type == DH_VECTOR)
				fe->pattern = it[k + 1];
			else
				return q_err(q, v, "pull pattern must be a vector or a variable");
		} else {
			fe->kind = FE_AGG;
			const struct dh_val *fn = &it[0];
			if (is_var(fn)) {
				fe->aggvar = var_of(q, fn);
				fe->agg = "";
			} else {
				fe->agg = dh_arena_strndup(q->arena, fn->u.s, fn->len);
				if (!q_is_aggregate(fe->agg))
					return q_err(q, fn, "unknown aggregate '%s' (count, count-distinct, sum, avg, min, "
					             "max, median, variance, stddev, distinct, rand, sample)", fe->agg);
			}
			if (!is_var(&it[v->len - 1]))
				return q_err(q, v, "aggregate %s must end with a variable", show(v, sb, sizeof(sb)));
			fe->var = var_of(q, &it[v->len - 1]);
			fe->nconst = (int)v->len - 2;
			if (fe->nconst > 2)
				return q_err(q, v, "too many arguments in aggregate %s", show(v, sb, sizeof(sb)));
			for (int i = 0; i < fe->nconst; i++)
				fe->cargs[i] = it[1 + i];
			q->has_agg = 1;
		}
	} else {
		return q_err(q, v, "bad find element %s (expected ?var, (aggregate ?var) or (pull ?e pattern))",
		             show(v, sb, sizeof(sb)));
	}
	if (!rc && (rc = dh_edn_print(&b, v)) == 0)
		fe->name = dh_arena_strndup(q->arena, b.data, b.len);
	dh_buf_release(&b);
	return rc < 0 ? rc : 0;
}

static int parse_find(struct dh_query *q, const struct dh_val *items, size_t n, const struct dh_val *whole)
{
	char sb[160];
	int rc;

	if (n == 0)
		return q_err(q, whole, "empty :find (expected :find ?a ?b, [?a ...], ?a . or [?a ?b])");
	const struct dh_val *elems = items;
	size_t ne = n;
	q->find_kind = DH_FIND_REL;
	if (n == 2 && is_sym(&items[1], ".")) {
		q->find_kind = DH_FIND_SCALAR;
		ne = 1;
	} else if (n == 1 && items[0].type == DH_VECTOR) {
		const struct dh_val *v = &items[0];
		if (v->len == 2 && is_sym(&v->u.items[1], "...")) {
			q->find_kind = DH_FIND_COLL;
			elems = v->u.items;
			ne = 1;
		} else if (v->len >= 1) {
			q->find_kind = DH_FIND_TUPLE;
			elems = v->u.items;
			ne = v->len;
		} else {
			return q_err(q, v, "empty find tuple []");
		}
	}
	for (size_t i = 0; i < ne; i++) {
		if (is_sym(&elems[i], ".") || is_sym(&elems[i], "..."))
			return q_err(q, &elems[i], "wrong find spec: '%.*s' goes %s", (int)elems[i].len, elems[i].u.s,
			             elems[i].len == 1 ? "after exactly one element (:find ?x .)"
			                                : "inside a vector after one element (:find [?x ...])");
		if (elems[i].type == DH_VECTOR)
			return q_err(q, &elems[i], "wrong find spec %s (a vector must be the only find element)",
			             show(&elems[i], sb, sizeof(sb)));
	}
	q->nfind = (int)ne;
	q->find = qalloc(q, ne * sizeof(*q->find));
	if (!q->find)
		return DH_ENOMEM;
	for (size_t i = 0; i < ne; i++)
		if ((rc = parse_find_elem(q, &elems[i], &q->find[i])))
			return rc;
	return 0;
}

/* ---- the whole query ---------------------------------------------------- */

struct qparts {
	const struct dh_val *find, *keys, *strs, *syms, *with, *in, *where;
	size_t nfind, nkeys, nstrs, nsyms, nwith, nin, nwhere;
	const struct dh_val *limit, *offset;
	int keyskind;
};

static int split_vector(struct dh_query *q, const struct dh_val *v, struct qparts *p)
{
	const struct dh_val **cur = NULL;
	size_t *ncur = NULL;
	for (uint32_t i = 0; i < v->len; i++) {
		const struct dh_val *it = &v->u.items[i];
		if (it->type == DH_KEYWORD) {
			char kw[16];
			snprintf(kw, sizeof(kw), "%.*s", (int)it->len, it->u.s);
			static const char *const names[] = { "find", "keys", "strs", "syms", "with", "in", "where" };
			const struct dh_val **slots[] = { &p->find, &p->keys, &p->strs, &p->syms, &p->with, &p->in, &p->where };
			size_t *counts[] = { &p->nfind, &p->nkeys, &p->nstrs, &p->nsyms, &p->nwith, &p->nin, &p->nwhere };
			int sec = -1;
			for (int k = 0; k < 7; k++)
				if (!strcmp(kw, names[k]))
					sec = k;
			if (sec >= 0) {
				if (*slots[sec])
					return q_err(q, it, "duplicate :%s in query", names[sec]);
				cur = slots[sec];
				ncur = counts[sec];
				*cur = it + 1;
				*ncur = 0;
				continue;
			}
			if (!strcmp(kw, "limit") || !strcmp(kw, "offset")) {
				if (i + 1 >= v->len)
					return q_err(q, it, ":%s needs a number", kw);
				if (kw[0] == 'l')
					p->limit = it + 1;
				else
					p->offset = it + 1;
				i++;
				cur = NULL;
				continue;
			} else
				return q_err(q, it, "unknown query section :%s (expected :find :keys :strs :syms "
				             ":with :in :where)", kw);
		}
		if (!cur)
			return q_err(q, it, "query must start with :find");
		(*ncur)++;
	}
	return 0;
}

static int split_map(struct dh_query *q, const struct dh_val *m, struct qparts *p)
{
	for (uint32_t i = 0; i + 1 < m->len; i += 2) {
		const struct dh_val *k = &m->u.items[i], *v = &m->u.items[i + 1];
		if (k->type != DH_KEYWORD)
			return q_err(q, k, "query map keys must be keywords");
		char kw[16];
		snprintf(kw, sizeof(kw), "%.*s", (int)k->len, k->u.s);
		const struct dh_val *items = v;
		size_t n = 1;
		if (is_seq(v)) {
			items = v->u.items;
			n = v->len;
		}
		if (!strcmp(kw, "find")) p->find = items, p->nfind = n;
		else if (!strcmp(kw, "keys")) p->keys = items, p->nkeys = n;
		else if (!strcmp(kw, "strs")) p->strs = items, p->nstrs = n;
		else if (!strcmp(kw, "syms")) p->syms = items, p->nsyms = n;
		else if (!strcmp(kw, "with")) p->with = items, p->nwith = n;
		else if (!strcmp(kw, "in")) p->in = items, p->nin = n;
		else if (!strcmp(kw, "where")) p->where = items, p->nwhere = n;
		else if (!strcmp(kw, "limit")) p->limit = v;
		else if (!strcmp(kw, "offset")) p->offset = v;
		else if (!strcmp(kw, "timeout") || !strcmp(kw, "args") || !strcmp(kw, "query"))
			continue;
		else
			return q_err(q, k, "unknown query key :%s", kw);
	}
	return 0;
}

static int check_vars_known(struct dh_query *q, const struct vset *known, const struct dh_val *form)
{
	for (int i = 0; i < q->nfind; i++) {
		const struct find_elem *fe = &q->find[i];
		if (fe->var >= 0 && !vset_has(known, fe->var))
			return q_err(q, &(struct dh_val){ .type = DH_SYMBOL, .len = (uint32_t)strlen(q->varnames[fe->var]),
			             .u.s = q->varnames[fe->var] },
			             "unknown variable %s in :find (bind it in :where or :in)", q->varnames[fe->var]);
		if (fe->patvar >= 0 && !vset_has(known, fe->patvar))
			return q_err(q, form, "unknown variable %s in pull pattern (bind it in :in)",
			             q->varnames[fe->patvar]);
		if (fe->aggvar >= 0 && !vset_has(known, fe->aggvar))
			return q_err(q, form, "unknown variable %s as aggregate (bind it in :in)",
			             q->varnames[fe->aggvar]);
	}
	for (int i = 0; i < q->nwith; i++)
		if (!vset_has(known, q->with[i]))
			return q_err(q, &(struct dh_val){ .type = DH_SYMBOL, .len = (uint32_t)strlen(q->varnames[q->with[i]]),
			             .u.s = q->varnames[q->with[i]] },
			             "unknown variable %s in :with (bind it in :where or :in)", q->varnames[q->with[i]]);
	return 0;
}

static int parse_impl(struct dh_query **out, const struct dh_val *form, const char *text, size_t textlen,
                      const char *name)
{
	struct dh_query *q = NULL;
	struct dh_arena *a = NULL;
	struct qparts p = { 0 };
	struct vset known = { 0 };
	char sb[160];
	int rc;

	*out = NULL;
	if ((rc = dh_arena_new(&a)))
		return rc;
	q = dh_arena_alloc(a, sizeof(*q));
	if (!q) {
		dh_arena_free(a);
		return DH_ENOMEM;
	}
	memset(q, 0, sizeof(*q));
	q->arena = a;
	q->limit = q->offset = -1;
	q->name = dh_arena_strndup(a, name, strlen(name));
	if (text) {
		q->text = dh_arena_strndup(a, text, textlen);
		q->textlen = textlen;
	}
	if (!q->name || (text && !q->text)) {
		rc = DH_ENOMEM;
		goto out;
	}
	/* a copy of the form keeps every value the plan points at alive */
	struct dh_val f;
	if ((rc = dh_val_copy(&f, a, form)))
		goto out;
	/* source $ is always source 0 */
	src_of(q, &(struct dh_val){ .type = DH_SYMBOL, .len = 1, .u.s = "$" }, 1);

	if (f.type == DH_MAP && dh_map_getk(&f, "query")) {
		const struct dh_val *l = dh_map_getk(&f, "limit"), *o = dh_map_getk(&f, "offset");
		if (l && l->type == DH_LONG)
			q->limit = l->u.i;
		if (o && o->type == DH_LONG)
			q->offset = o->u.i;
		f = *dh_map_getk(&f, "query");
		if (f.type == DH_STRING) {
			struct dh_val g;
			if ((rc = dh_edn_parse(&g, a, f.u.s, f.len, "<query>")))
				goto out;
			f = g;
		}
	}
	if (f.type == DH_VECTOR || f.type == DH_LIST)
		rc = split_vector(q, &f, &p);
	else if (f.type == DH_MAP)
		rc = split_map(q, &f, &p);
	else
		rc = q_err(q, &f, "a query is a vector [:find ...] or a map {:find [...] ...}, not %s",
		           show(&f, sb, sizeof(sb)));
	if (rc)
		goto out;
	if (!p.find) {
		rc = q_err(q, &f, "query has no :find");
		goto out;
	}
	if (p.limit) {
		if (p.limit->type != DH_LONG && p.limit->type != DH_NIL) {
			rc = q_err(q, p.limit, ":limit must be a number");
			goto out;
		}
		q->limit = p.limit->type == DH_LONG ? p.limit->u.i : -1;
	}
	if (p.offset) {
		if (p.offset->type != DH_LONG && p.offset->type != DH_NIL) {
			rc = q_err(q, p.offset, ":offset must be a number");
			goto out;
		}
		q->offset = p.offset->type == DH_LONG ? p.offset->u.i : -1;
	}

	/* :in first: rules must be known before :where is parsed */
	if (p.in) {
		q->nin = (int)p.nin;
		q->in = qalloc(q, (p.nin + 1) * sizeof(*q->in));
		if (!q->in) {
			rc = DH_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < p.nin; i++) {
			const struct dh_val *b = &p.in[i];
			if (is_src(b)) {
				q->in[i].kind = b->len == 1 ? 1 : 3;
				if ((rc = src_of(q, b, 1)) < 0)
					goto out;
				q->in[i].src = rc;
				rc = 0;
			} else if (is_sym(b, "%")) {
				q->in[i].kind = 2;
				q->rules_from_input = 1;
			} else if ((rc = parse_binding(q, b, &q->in[i].bind, &known))) {
				goto out;
			}
		}
	} else {
		q->nin = 1;
		q->in = qalloc(q, sizeof(*q->in));
		if (!q->in) {
			rc = DH_ENOMEM;
			goto out;
		}
		q->in[0].kind = 1;
		q->in[0].src = 0;
	}

	if ((rc = parse_find(q, p.find, p.nfind, &f)))
		goto out;
	if (p.keys || p.strs || p.syms) {
		const struct dh_val *k = p.keys ? p.keys : p.strs ? p.strs : p.syms;
		size_t nk = p.keys ? p.nkeys : p.strs ? p.nstrs : p.nsyms;
		q->keys_kind = p.keys ? 1 : p.strs ? 2 : 3;
		if ((int)nk != q->nfind) {
			rc = q_err(q, k, "%s has %zu names but :find has %d elements",
			           p.keys ? ":keys" : p.strs ? ":strs" : ":syms", nk, q->nfind);
			goto out;
		}
		if (q->find_kind == DH_FIND_COLL || q->find_kind == DH_FIND_SCALAR) {
			rc = q_err(q, k, ":keys/:strs/:syms need a relation or tuple find spec");
			goto out;
		}
		q->keys = qalloc(q, nk * sizeof(*q->keys));
		if (!q->keys) {
			rc = DH_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < nk; i++) {
			const struct dh_val *s = &k[i];
			if (s->type != DH_SYMBOL && s->type != DH_KEYWORD && s->type != DH_STRING) {
				rc = q_err(q, s, "key names must be symbols");
				goto out;
			}
			enum dh_type t = q->keys_kind == 1 ? DH_KEYWORD : q->keys_kind == 2 ? DH_STRING : DH_SYMBOL;
			q->keys[i] = dh_text(t, s->u.s, s->len);
			q->find[i].name = dh_arena_strndup(q->arena, s->u.s, s->len);
		}
	}
	if (p.with) {
		q->nwith = (int)p.nwith;
		q->with = qalloc(q, (p.nwith + 1) * sizeof(int));
		if (!q->with) {
			rc = DH_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < p.nwith; i++) {
			if (!is_var(&p.with[i])) {
				rc = q_err(q, &p.with[i], ":with takes variables, not %s", show(&p.with[i], sb, sizeof(sb)));
				goto out;
			}
			q->with[i] = var_of(q, &p.with[i]);
		}
	}
	if (p.where && (rc = parse_clauses(q, p.where, p.nwhere, &q->where, &q->nwhere, &known)))
		goto out;
	if ((rc = check_vars_known(q, &known, &f)))
		goto out;
	*out = q;
	q = NULL;
out:
	free(known.v);
	if (q)
		dh_arena_free(a);
	return rc;
}

int dh_query_parse_val(struct dh_query **out, const struct dh_val *form)
{
	return parse_impl(out, form, NULL, 0, "<query>");
}

int dh_query_parse(struct dh_query **out, const char *text, size_t len, const char *name)
{
	struct dh_arena *a = NULL;
	struct dh_val form;
	int rc;

	*out = NULL;
	if (!name)
		name = "<query>";
	if ((rc = dh_arena_new(&a)))
		return rc;
	if ((rc = dh_edn_parse(&form, a, text, len, name)) == 0)
		rc = parse_impl(out, &form, text, len, name);
	dh_arena_free(a);
	return rc;
}

void dh_query_free(struct dh_query *q)
{
	if (q)
		dh_arena_free(q->arena);
}

enum dh_find_kind dh_query_find_kind(const struct dh_query *q) { return q->find_kind; }
size_t dh_query_nin(const struct dh_query *q) { return (size_t)q->nin; }
int dh_query_in_kind(const struct dh_query *q, size_t i) { return i < (size_t)q->nin ? q->in[i].kind : -1; }
size_t dh_query_ncols(const struct dh_query *q) { return (size_t)q->nfind; }
const char *dh_query_col_name(const struct dh_query *q, size_t i) { return i < (size_t)q->nfind ? q->find[i].name : NULL; }

void dh_query_limits(const struct dh_query *q, int64_t *limit, int64_t *offset)
{
	*limit = q->limit;
	*offset = q->offset;
}
