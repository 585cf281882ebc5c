/*
 * q.h - the query engine's private plan and relation types, shared by the
 * parser (parse.c), the evaluator (eval.c), the built-in functions
 * (builtins.c) and pull (pull.c).
 *
 * A parsed query is a tree of clauses over integer variable ids; variables
 * are interned per query, so rule bodies and the main query share one
 * numbering but are evaluated in separate contexts.  Relations are flat
 * arrays of dh_val rows (`nv` values per row) whose column i holds variable
 * vars[i].
 */
#ifndef DH_QUERY_Q_H
#define DH_QUERY_Q_H

#include <stddef.h>
#include <stdint.h>

#include "dh-query.h"

enum term_kind { T_VAR, T_CONST, T_BLANK, T_SRC };

struct term {
	uint8_t kind;
	int var;              /* T_VAR: variable id; T_SRC: source index */
	struct dh_val val;    /* T_CONST */
};

enum bind_kind { B_SCALAR, B_TUPLE, B_COLL, B_REL, B_BLANK };

struct binding {
	uint8_t kind;
	int var;              /* B_SCALAR */
	int n;                /* B_TUPLE: items; B_COLL/B_REL: 1 */
	struct binding *items;
};

enum clause_kind {
	C_PATTERN, C_PRED, C_FN, C_RULE, C_NOT, C_NOTJOIN, C_OR, C_ORJOIN, C_AND
};

struct builtin;

struct clause {
	uint8_t kind;
	int src;                   /* source index (0 = $), -1 for none */
	int nargs;
	struct term *args;         /* pattern: e a v tx added; pred/fn/rule arguments */
	const struct builtin *fn;  /* C_PRED, C_FN */
	int fnvar;                 /* function given as an :in variable, or -1 */
	struct binding bind;       /* C_FN output */
	int rule;                  /* C_RULE: rule index */
	int nsub;
	struct clause *sub;        /* not/and bodies, or branches (each C_AND) */
	int njoin, nreq;
	int *join;                 /* not-join/or-join variables (required ones first) */
	int nvars;
	int *vars;                 /* every variable the clause mentions (free ones for not/or) */
	struct dh_val form;        /* the clause as written, for messages */
};

struct rule_body {
	int nparams, nreq;
	int *params;
	int nclauses;
	struct clause *clauses;
};

struct rule {
	const char *name;
	int nbodies;
	struct rule_body *bodies;
	int recursive;
	int arity;
};

enum find_elem_kind { FE_VAR, FE_AGG, FE_PULL };

struct find_elem {
	uint8_t kind;
	int var;                   /* FE_VAR, the aggregated var, the pulled var */
	const char *agg;           /* FE_AGG: function name */
	int nconst;                /* FE_AGG: leading constant args ((max 3 ?x)) */
	struct dh_val cargs[2];
	int aggvar;                /* FE_AGG with a custom aggregate from :in */
	int src;                   /* FE_PULL source */
	struct dh_val pattern;     /* FE_PULL pattern (when constant) */
	int patvar;                /* FE_PULL pattern given as :in var, or -1 */
	const char *name;          /* column name */
};

struct in_bind {
	uint8_t kind;              /* 0 binding, 1 source, 2 rules */
	int src;                   /* source index for kind 1 */
	struct binding bind;
};

struct dh_query {
	struct dh_arena *arena;
	int nvars;
	const char **varnames;
	int varcap;
	int nsrcs;
	const char **srcnames;
	int srccap;
	enum dh_find_kind find_kind;
	int nfind;
	struct find_elem *find;
	int nwith;
	int *with;
	int keys_kind;             /* 0 none, 1 :keys, 2 :strs, 3 :syms */
	struct dh_val *keys;
	int nin;
	struct in_bind *in;
	int nwhere;
	struct clause *where;
	int nrules;
	struct rule *rules;
	int rules_from_input;      /* rules come from a % input: resolve at run time */
	int64_t limit, offset;
	const char *text;          /* the source text for positions (may be NULL) */
	size_t textlen;
	const char *name;
	int has_agg;
};

/* Variables and sources by name; -1 when unknown. */
int q_var(struct dh_query *q, const char *name, int create);

/* The rule parser, shared with run-time rules given as % inputs. */
int q_parse_rules(struct dh_query *q, const struct dh_val *rules);
/* Rules given at run time (a % input): parse them and resolve every call. */
int q_bind_rules(struct dh_query *q, const struct dh_val *rules);

/* Set an error that points at `needle` in the query text when found. */
int q_err(struct dh_query *q, const struct dh_val *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- built-ins ---------------------------------------------------------- */

struct qctx;

/* A built-in function: fills *out; returns 0, 1 for "no value" (nil result
 * filtering the row), or a negative error. */
typedef int (*builtin_fn)(struct qctx *c, const struct dh_val *args, int n, struct dh_val *out);

struct builtin {
	const char *name;
	builtin_fn fn;
	int minargs, maxargs;      /* maxargs -1: variadic */
	int srcarg;                /* takes a source as its first argument */
};

const struct builtin *q_builtin(const char *name);

/* Numeric and cross-type comparison as the query predicates use it. */
int q_cmp(const struct dh_val *a, const struct dh_val *b);
int q_truthy(const struct dh_val *v);

/* Aggregate `name` over values vals[0..n) with constant args; into `out`. */
int q_aggregate(struct qctx *c, const struct find_elem *fe, struct dh_val *vals, size_t n,
                struct dh_val *out);
int q_is_aggregate(const char *name);

/* ---- evaluation context shared with builtins and pull ------------------- */

struct qctx {
	struct dh_query *q;
	struct dh_arena *arena;
	struct dh_query_source **srcs;   /* by source index; NULL for collection sources */
	struct dh_val *srcvals;          /* collection sources */
	uint64_t rng;
};

/* Pull for the engine: `pattern` over entity eid from source s. */
int q_pull(struct qctx *c, struct dh_query_source *s, const struct dh_val *pattern, int64_t eid,
           struct dh_val *out);

/* Build a vector/map/set value in the arena. */
int q_mkvec(struct dh_arena *a, struct dh_val *out, enum dh_type t, const struct dh_val *items, size_t n);

#endif
