/*
 * dh-query.h - Datalog queries, pull and raw index access over datoms.
 *
 * The query engine reads datoms through a struct dh_query_source: a small
 * vtable with one scan operation (datoms matching whichever of e, a, v, tx
 * are given; the source picks the index), schema flags per attribute and
 * entity resolution (idents, lookup refs).  dh_query_source_db() wraps an
 * open database view (lib/dh-db.h); dh_query_source_datoms() serves a flat
 * array of datoms from memory (tests, collections given as inputs).
 *
 * A query is parsed once (dh_query_parse) into a plan and run any number of
 * times (dh_query_run) against inputs that fill its :in bindings.  Results
 * stream out row by row through a callback; each row is the element of the
 * result collection as Datahike returns it (a vector for :find ?a ?b, the
 * value for [?x ...] and ?x ., a map with :keys/:strs/:syms).
 *
 * Memory: everything a run builds lives in arenas owned by the run and is
 * released when dh_query_run() returns; rows handed to the callback are
 * valid only during the call (dh_val_copy() them to keep them).
 */
#ifndef DH_QUERY_H
#define DH_QUERY_H

#include <stdint.h>

#include "dh.h"
#include "dh-value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- datom sources ------------------------------------------------------ */

/* One datom as a source hands it out.  `a` is a keyword value. */
struct dh_qdatom {
	int64_t e;
	struct dh_val a;
	struct dh_val v;
	int64_t tx;
	int added;       /* 1 assertion, 0 retraction (history views only) */
};

/* Schema flags of an attribute (dh_query_source_ops.attr). */
enum {
	DH_QATTR_REF = 1 << 0,        /* :db.type/ref */
	DH_QATTR_MANY = 1 << 1,       /* :db.cardinality/many */
	DH_QATTR_COMPONENT = 1 << 2,  /* :db/isComponent */
	DH_QATTR_UNIQUE = 1 << 3,     /* :db/unique (identity or value) */
	DH_QATTR_INDEXED = 1 << 4,    /* present in AVET: lookups by value are cheap */
	DH_QATTR_TUPLE = 1 << 5,      /* :db.type/tuple */
};

/* Called for each datom of a scan; a non-zero return stops the scan and
 * becomes the scan's return value. */
typedef int (*dh_qdatom_fn)(const struct dh_qdatom *d, void *payload);

struct dh_query_source;

struct dh_query_source_ops {
	/*
	 * scan - call `fn` for every datom whose e, a, v and tx equal the given
	 * ones (NULL: any), in index order.  `e` and `tx` are DH_LONG; `a` a
	 * keyword; `v` any value (for a ref attribute an entity id).  Values
	 * handed out stay valid as long as the source.  Returns 0 or an error.
	 */
	int (*scan)(struct dh_query_source *s, const struct dh_val *e, const struct dh_val *a,
	            const struct dh_val *v, const struct dh_val *tx, dh_qdatom_fn fn, void *payload);
	/* attr - DH_QATTR_* flags of attribute `a`; 0 for unknown attributes. */
	unsigned (*attr)(struct dh_query_source *s, const struct dh_val *a);
	/*
	 * resolve - the entity id of an ident keyword or a lookup ref
	 * [attr value]; DH_ENOTFOUND when nothing matches.
	 */
	int (*resolve)(struct dh_query_source *s, const struct dh_val *ref, int64_t *eid);
	/* count - datoms with attribute `a` (an estimate is fine), -1 unknown. */
	int64_t (*count)(struct dh_query_source *s, const struct dh_val *a);
	/* release - free the source (NULL: nothing to free). */
	void (*release)(struct dh_query_source *s);
};

struct dh_query_source {
	const struct dh_query_source_ops *ops;
	int history;     /* scans include retractions: patterns may bind `added` */
};

/*
 * dh_query_source_datoms() - a source over `n` datoms copied from `d` (their
 * values are deep-copied), with schema flags from `schema`, a map of
 * attribute keyword to attribute map as in Datahike's schema
 * ({:friend {:db/valueType :db.type/ref :db/cardinality :db.cardinality/many}})
 * or a vector of such maps with :db/ident, or NULL.  Idents resolve through
 * :db/ident datoms.  Returns 0, DH_EINVAL (bad schema), DH_ENOMEM.
 */
int dh_query_source_datoms(struct dh_query_source **out, const struct dh_qdatom *d, size_t n,
                           const struct dh_val *schema);

/*
 * dh_query_source_tx() - a source built by applying Datahike tx-data (a
 * vector of maps and [:db/add e a v] / [:db/retract e a v] lists; tempids
 * as strings or negative numbers; nested maps for refs) to an empty
 * database with `schema` (as above).  Entity ids and tx ids are numbered as
 * Datahike numbers them.  Several tx-data vectors may be given as a vector
 * of vectors with `many_tx` set.  Meant for tests and the benchmark harness;
 * the database layer is the real transactor.  Returns 0, DH_EINVAL with a
 * message naming the bad item, DH_ENOMEM.
 */
int dh_query_source_tx(struct dh_query_source **out, const struct dh_val *schema,
                       const struct dh_val *txdata, int many_tx);

struct dh_db;

/*
 * dh_query_source_db() - a source reading the database value (or time view)
 * `db` (lib/dh-db.h), which must outlive the source.  Scans pick the index
 * from the bound positions: EAVT when the entity is given, AVET for an
 * attribute and value when the attribute is in AVET, AEVT for an
 * attribute, EAVT whole otherwise.  Values handed out are copied into the
 * source's arena and live as long as the source.  Returns 0 or DH_ENOMEM.
 */
int dh_query_source_db(struct dh_query_source **out, struct dh_db *db);

/* dh_query_source_free() - release a source; NULL is a no-op. */
void dh_query_source_free(struct dh_query_source *s);

/* ---- queries ------------------------------------------------------------ */

struct dh_query;

/* Shape of a result, from the :find spec. */
enum dh_find_kind {
	DH_FIND_REL,     /* :find ?a ?b       -> a set of vectors (or maps with :keys) */
	DH_FIND_COLL,    /* :find [?a ...]    -> a collection of values */
	DH_FIND_SCALAR,  /* :find ?a .        -> one value (nil when empty) */
	DH_FIND_TUPLE,   /* :find [?a ?b]     -> one vector (nil when empty) */
};

/*
 * dh_query_parse() - parse query text `text` (EDN: the vector form
 * [:find ... :where ...], the map form {:find [...] :where [...]} or
 * Datahike's {:query ... :args ... :limit :offset} wrapper) into a plan.
 * `name` names the text in messages ("<query>", a file name).
 * Returns 0 or DH_EINVAL with a message "name:line:col: what (hint)", e.g.
 * "<query>:1:9: unknown variable ?y in :find (bind it in :where or :in)".
 * The caller frees the plan with dh_query_free().
 */
int dh_query_parse(struct dh_query **out, const char *text, size_t len, const char *name);

/* dh_query_parse_val() - the same from an already read EDN value. */
int dh_query_parse_val(struct dh_query **out, const struct dh_val *form);

void dh_query_free(struct dh_query *q);

/* The find spec's shape and the number of :in bindings (with the implicit $). */
enum dh_find_kind dh_query_find_kind(const struct dh_query *q);
size_t dh_query_nin(const struct dh_query *q);
/* What :in binding `i` is: 1 the source $, 3 another source ($2, $hist, ...),
 * 2 rules (%), 0 a value binding; -1 past the end. */
int dh_query_in_kind(const struct dh_query *q, size_t i);
/* Number of columns of a result row (find elements), and the name of each
 * ("?name", "(count ?x)", or the :keys name) as NUL-terminated text owned by q. */
size_t dh_query_ncols(const struct dh_query *q);
const char *dh_query_col_name(const struct dh_query *q, size_t i);
/* :limit and :offset given in the query map (-1 when absent). */
void dh_query_limits(const struct dh_query *q, int64_t *limit, int64_t *offset);

/* One :in argument: a source (for $ bindings) or a value. */
struct dh_query_arg {
	struct dh_query_source *src;   /* for $ bindings; NULL otherwise */
	struct dh_val val;             /* for everything else, and collections used as sources */
};

/* Called once per result row; a non-zero return stops the query and is
 * returned by dh_query_run(). */
typedef int (*dh_query_row_fn)(const struct dh_val *row, void *payload);

/*
 * dh_query_run() - run `q` with `nargs` arguments filling its :in bindings
 * in order, calling `fn` with each distinct result row (rows of
 * :with queries and aggregates as Datahike defines them).  For scalar and
 * tuple find specs `fn` is called at most once.  `limit` and `offset`
 * (-1: none, or the query's own) cut the rows.  Returns 0, DH_EINVAL for
 * a query that cannot run on these inputs (wrong number of arguments,
 * insufficient bindings, a function applied to wrong types), the source's
 * errors, or fn's non-zero return.
 */
int dh_query_run(struct dh_query *q, const struct dh_query_arg *args, size_t nargs,
                 int64_t limit, int64_t offset, dh_query_row_fn fn, void *payload);

/*
 * dh_query_collect() - run and gather the whole result as one value in `a`,
 * as Datahike returns it: a set of rows (relation find), a vector (collection
 * find; also relations with :limit/:offset), the scalar or tuple (nil when
 * there is none).  Returns as dh_query_run().
 */
int dh_query_collect(struct dh_val *out, struct dh_arena *a, struct dh_query *q,
                     const struct dh_query_arg *args, size_t nargs);

/* ---- pull --------------------------------------------------------------- */

/*
 * dh_pull() - Datahike's pull: the map of entity `eid` shaped by `pattern`
 * (a vector: attributes, *, {attr subpattern}, reverse :ns/_attr, (attr
 * :limit n :default v :as k), recursion with ... or a depth) built in `a`.
 * An entity with no matching datoms gives nil.  Returns 0, DH_EINVAL for a
 * malformed pattern, the source's errors.
 */
int dh_pull(struct dh_val *out, struct dh_arena *a, struct dh_query_source *s,
            const struct dh_val *pattern, int64_t eid);

/* dh_query_resolve() - entity id of an id, ident or lookup ref value. */
int dh_query_resolve(struct dh_query_source *s, const struct dh_val *ref, int64_t *eid);

#ifdef __cplusplus
}
#endif

#endif
