/*
 * internal.h - what the files of lib/db share: the in-memory schema, the
 * decoded commit, the shared core of a db value and its views, and the
 * helpers transaction processing needs from the read side.
 */
#ifndef DH_DB_INTERNAL_H
#define DH_DB_INTERNAL_H

#include "dh-db.h"
#include "index/index.h"

#define NTREES 6           /* current EAVT AEVT AVET, then their temporal twins */
#define TREE_LOG NTREES    /* tree_ctx() index of the log tree */
#define TAIL_MAX_NODES 64  /* log nodes a commit carries before the trees absorb them (one absorb rewrites
                              * a path in each of seven trees: fewer, larger absorbs cost a small
                              * transaction less; readers read the tail in one batch) */
#define TAIL_MAX_DATOMS 512
#define CACHE_BYTES (64u << 20)
/*
 * Bulk work (a load, a transaction or absorb of BULK_MIN_EDITS datoms or
 * more) cuts the nodes it writes to BULK_NODE_TARGET bytes, not the usual
 * 4 KiB: each node is a file on a file store, whose creation costs far more
 * than its bytes, and fewer, larger nodes make scans and sync cheaper; a
 * point read decodes more, and a small transaction that touches such a
 * node rewrites it at the usual size.  64 KiB, measured in encoded bytes
 * (the tree builder cuts what it writes): at 128 KiB, the few nodes a
 * small transaction's absorb rewrites made a 1,000,000-datom store grow
 * 9.1 KiB per transaction; at 64 KiB 5.6 KiB, and a bulk load is as fast.
 */
#define BULK_NODE_TARGET (64u << 10)
#define BULK_MIN_EDITS 16384

/* System attribute ids. */
enum {
	AID_IDENT = 1,
	AID_VALUETYPE,
	AID_CARDINALITY,
	AID_UNIQUE,
	AID_INDEX,
	AID_ISCOMPONENT,
	AID_NOHISTORY,
	AID_DOC,
	AID_TXINSTANT,
	AID_TUPLEATTRS,
	AID_TUPLETYPES,
	AID_TUPLETYPE,
	AID_SYSTEM_END,
};

struct schema {
	unsigned refs;             /* schema_share() and schema_free() count them */
	struct dh_attr *attrs;     /* attrs[aid], aid 1..max; ident NULL = unused */
	dh_aid max, cap;
	uint32_t *rank;            /* rank[aid] by keyword order */
	struct dh_arena *arena;    /* idents, docs, tuple arrays */
	/* ident -> aid hash */
	dh_aid *hash;
	size_t hcap;
};

int schema_new_system(struct schema **out);
int schema_clone(struct schema **out, const struct schema *s);
/* Another reference to `s`, which must then not change; schema_free() drops one. */
struct schema *schema_share(struct schema *s);
void schema_free(struct schema *s);
const struct dh_attr *schema_find(const struct schema *s, const char *ident, size_t len);
/* Add an attribute with `ident` (copied); *out gets its id. */
int schema_add(struct schema *s, const char *ident, size_t len, dh_aid *out);
/* Recompute ranks, in_avet and in_tuples after changes. */
int schema_finish(struct schema *s);
int schema_encode(struct dh_buf *b, const struct schema *s);
int schema_decode(struct schema **out, const struct dh_val *node, const char *key);
enum dh_value_type value_type_from_kw(const char *s, size_t len);

struct commit {
	char parents[DH_MAX_PARENTS][DH_HASH_HEX + 1];
	size_t nparents;
	char schema[DH_HASH_HEX + 1];
	struct dh_tree_root roots[NTREES];
	struct dh_tree_root log;   /* every datom in transaction order (current only without history) */
	char (*tail)[DH_HASH_HEX + 1];
	size_t ntail;
	uint64_t tail_datoms;
	int64_t max_eid, max_tx, instant_ms;
	int flex, no_history;
	uint64_t ndatoms;
	/* commits where history stops (dh_commit_cut): no walk follows a parent
	 * link into them and they may be absent; commits made on top of this
	 * one copy the list (a struct copy, hence the fixed array) */
	char cut[DH_MAX_CUT][DH_HASH_HEX + 1];
	size_t ncut;
	/* the bytes of the schema node, carried inline when at most
	 * SCHEMA_INLINE_MAX (version 3): a reader needs no request for them;
	 * borrowed from whoever decoded or encoded them */
	const unsigned char *schema_bytes;
	size_t schema_len;
};

/* The largest schema node a commit carries inline (about 60 attributes without docs). */
#define SCHEMA_INLINE_MAX 2048

int commit_encode(struct dh_buf *b, const struct commit *c);
int commit_decode(struct commit *c, const struct dh_val *node, const char *key);
void commit_release(struct commit *c);

/* One event of the log: a datom and, for a retraction, the tx that asserted it. */
struct event {
	struct dh_datom d;
	int64_t prev_tx;
};

struct core {
	int refs;
	struct dh_store *st;
	char hex[DH_HASH_HEX + 1];
	char *branch;
	struct commit c;
	struct schema *schema;
	struct dh_arena *arena;    /* tail events, overlays, ident strings */
	struct dh_node_cache *cache;   /* decoded index nodes, shared with later cores */
	int prefetch_avet;         /* core_read reads the AVET root along (not on DH_STORE_KEYWISE stores) */
	struct event *tail;        /* events of the unindexed tail, in log order */
	size_t ntail;
	/* Overlays, built on first use: per index, the net effect of the tail on
	 * the current trees (cur, op 1 put / 0 delete) and all tail events
	 * sorted by history key (hist). */
	struct dh_datom *cur[3], *hist[3];
	uint8_t *cur_op[3];
	size_t ncur[3], nhist[3];
	int built[3];
	/* the tail's effect on the log tree, sorted in log order */
	struct dh_datom *logov;
	uint8_t *logop;
	size_t nlogov;
	int logbuilt;
};

struct dh_db {
	struct core *core;
	int history;               /* history view */
	int64_t as_of;             /* INT64_MAX: none */
	int64_t since;             /* INT64_MIN: none */
};

void tree_ctx(struct dh_tree_ctx *tc, const struct core *k, int tree);

int core_load(struct core **out, struct dh_store *st, const char *hex, const char *branch);
/* Keep a copy of the schema node's bytes in k's arena, for the commits made on top of k to carry. */
int core_keep_schema(struct core *k, const void *bytes, size_t len);
void core_unref(struct core *k);
int db_wrap(struct dh_db **out, struct core *k);
/* dh_db_open(), reading and checking the store's `format` too when `format` (writers do). */
int db_open(struct dh_db **out, struct dh_store *st, const char *branch, int format);

/* Decode node `hex` of kind `kind` into *out (allocating from a). */
int node_read(struct dh_store *st, const char *hex, const char *kind, struct dh_arena *a, struct dh_val *out);

/* First datom of the current view of `db` at EAVT (e, a) or AVET (a, v); 1 found, 0 not, <0 error.
 * The datom is copied into `a`. */
int db_first(struct dh_db *db, enum dh_index ix, const struct dh_bound *b, struct dh_arena *a, struct dh_datom *out);

/* Log node encoding: ["dh/log", tx, n, (e a v tx added prev_tx) x n]. */
int log_encode(struct dh_buf *b, int64_t tx, const struct event *ev, size_t n);
int log_decode(struct dh_arena *a, const struct dh_val *node, const char *key, struct event **ev, size_t *n);

/* Write the trees' absorption of `ev` (all tail events) into new roots. */
size_t log_edits(struct dh_tree_edit *e, const struct event *ev, size_t n, int no_history);
int absorb(struct commit *c, const struct schema *s, struct dh_store *st, const struct event *ev, size_t n,
	struct dh_node_batch *batch);

/*
 * The bulk loader's external sort of datoms (dsort.c).  Sorters share a
 * pool with a byte budget; over it, the largest chunk not being read is
 * sorted and written to temporary files as one run per order.  `prepare`
 * (may be NULL) runs before a chunk is sorted for spilling, so that the
 * attribute ranks the orders use are up to date.
 */
#define DSORT_MAX_ORDERS 2
#define DSORT_POOL_MAX 8
#define DSORT_DEFAULT_MEM ((size_t)128 << 20)

struct dsort;

struct dsort_order {
	int ix;                    /* DH_EAVT, DH_AEVT, DH_AVET or DH_TREE_LOG */
	int history;               /* dh_tree_ctx.history */
	int k1_only;               /* datoms come in order among those of one attribute
	                            * (AEVT) or one tx (log): a stable sort by that is enough */
};

struct dsort_pool {
	size_t max, used;
	const char *tmpdir;        /* NULL: $TMPDIR, else /tmp */
	struct dsort *m[DSORT_POOL_MAX];
	int n;
	int (*prepare)(void *payload);
	void *payload;
};

void dsort_pool_init(struct dsort_pool *pool, size_t max, const char *tmpdir);
/* A sorter in `pool` ordering by each of ord[0..nord) with the attribute ranks of `s`. */
int dsort_new(struct dsort **out, struct dsort_pool *pool, const struct schema *s, const struct dsort_order *ord,
	int nord);
/* Add a copy of d; or d itself, which must then outlive the sorter (_ref). */
int dsort_add(struct dsort *s, const struct dh_datom *d);
int dsort_add_ref(struct dsort *s, const struct dh_datom *d);
/* Datoms held in memory (not spilled). */
size_t dsort_count(const struct dsort *s);
/* 1 when nothing was spilled: what dsort_next() returns then stays valid until dsort_free(). */
int dsort_in_memory(const struct dsort *s);
/* Start reading in order `o` (no more adds after this; may be called again for another order). */
int dsort_iter(struct dsort *s, int o);
/* The next datom: 1 with *out (valid until the next call), 0 at the end, or an error. */
int dsort_next(struct dsort *s, const struct dh_datom **out);
void dsort_free(struct dsort *s);

int64_t now_ms(void);

#endif
