/*
 * dh-db.h - the database: datoms, schema, transactions, commits, branches
 * and time-travel views over a store.
 *
 * A database lives in a store (dh.h) as immutable nodes: index trees of
 * datoms, small transaction-log nodes, a schema node and commit nodes that
 * name all of them.  `heads/<branch>` names a branch's current commit and
 * moves only by compare-and-swap, which enforces Datahike's single-writer
 * rule across processes and machines.
 *
 * Three kinds of handle:
 *  - struct dh_db: one immutable database value (one commit), optionally
 *    seen through a time filter (as-of, since, history).  Read-only, cheap
 *    to open: opening reads the head, the commit, the schema node and the
 *    few log nodes of the commit's unindexed tail; index nodes are read only
 *    when an iterator touches them.
 *  - struct dh_conn: a writer on one branch.  It holds the db value it will
 *    build the next transaction on.
 *  - struct dh_iter: a cursor over datoms in index order.
 *
 * Threads: a handle is used by one thread at a time.  A db, the views made
 * from it and a conn's successive dbs share one cache of decoded nodes, so
 * use them from one thread at a time too; open the db again for another
 * thread.
 * Every handle borrows the struct dh_store it was opened on: close the
 * handles before the store.
 *
 * Numbering follows Datahike: entity ids count up from 1 (DH_E0 + 1),
 * transaction ids from DH_TX0 + 1 = 536870913, and the transaction entity's
 * id is the transaction id.  Attributes appear in datoms as small attribute
 * ids (dh_aid) that map 1:1 to their keyword idents (dh_db_attr()); indices
 * order attributes by ident text, as Datahike does, not by id.
 */
#ifndef DH_DB_H
#define DH_DB_H

#include <stdint.h>

#include "dh.h"
#include "dh-value.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dh_db;
struct dh_conn;
struct dh_iter;

/* ---- constants --------------------------------------------------------- */

#define DH_DEFAULT_BRANCH "db"         /* Datahike's main branch, :db */
#define DH_E0 INT64_C(0)               /* user entities are DH_E0+1 ... */
#define DH_TX0 INT64_C(0x20000000)     /* first transaction is DH_TX0+1 */
#define DH_EMAX INT64_C(0x7FFFFFFF)
#define DH_TXMAX INT64_C(0x7FFFFFFF)

/* The value of the store's `format` key written by dh_db_create(). */
#define DH_FORMAT_TEXT "dh-db 1\n"

/* ---- datoms ------------------------------------------------------------ */

/* An attribute id: index into the database's attribute table, from 1. */
typedef uint32_t dh_aid;

/*
 * A datom.  `v` of a ref attribute is a DH_LONG entity id; tuples are
 * DH_VECTORs.  Memory `v` points to is owned by whoever produced the
 * datom (see each function).
 */
struct dh_datom {
	int64_t e;
	struct dh_val v;
	int64_t tx;
	dh_aid a;
	uint8_t added;      /* 1 assertion, 0 retraction */
};

/* ---- schema ------------------------------------------------------------ */

enum dh_value_type {
	DH_VT_ANY = 0,      /* undeclared (schema-on-read, or no :db/valueType) */
	DH_VT_STRING,
	DH_VT_KEYWORD,
	DH_VT_SYMBOL,
	DH_VT_LONG,
	DH_VT_DOUBLE,
	DH_VT_FLOAT,
	DH_VT_BOOLEAN,
	DH_VT_INSTANT,
	DH_VT_UUID,
	DH_VT_REF,
	DH_VT_BIGINT,
	DH_VT_BIGDEC,
	DH_VT_BYTES,
	DH_VT_TUPLE,
	DH_VT_NUMBER,       /* :db.type/number: any number */
	DH_VT_VALUETYPE,    /* system types of the meta-schema (keywords) */
	DH_VT_CARDINALITY,
	DH_VT_UNIQUE,
};

/* The keyword text of a value type ("db.type/string"), static; NULL for DH_VT_ANY. */
const char *dh_value_type_name(enum dh_value_type t);

enum dh_cardinality { DH_CARD_ONE = 0, DH_CARD_MANY = 1 };
enum dh_unique { DH_UNIQUE_NONE = 0, DH_UNIQUE_IDENTITY = 1, DH_UNIQUE_VALUE = 2 };

/*
 * An attribute as the schema defines it.  Owned by the db (or conn) it
 * came from; valid until that handle is closed.  System attributes
 * (:db/ident, :db/valueType, :db/txInstant, ...) have ids below
 * DH_AID_USER and eid 0.
 */
struct dh_attr {
	dh_aid aid;
	int64_t eid;                   /* schema entity, 0 if none (system or undeclared) */
	const char *ident;             /* keyword text without colon: "person/name" */
	uint32_t ident_len;
	enum dh_value_type type;
	enum dh_cardinality card;
	enum dh_unique unique;
	uint8_t is_component;
	uint8_t no_history;
	uint8_t index;                 /* :db/index true as declared */
	uint8_t in_avet;               /* datoms of it are in AVET (index, unique or ref) */
	uint8_t declared;              /* has a schema entity or is a system attribute */
	const char *doc;               /* :db/doc or NULL */
	/* Tuples: composite (:db/tupleAttrs), heterogeneous (:db/tupleTypes)
	 * or homogeneous (:db/tupleType). */
	const dh_aid *tuple_attrs;     /* ntuple_attrs attribute ids, or NULL */
	uint32_t ntuple_attrs;
	const enum dh_value_type *tuple_types;  /* ntuple_types types, or NULL */
	uint32_t ntuple_types;
	enum dh_value_type tuple_type; /* DH_VT_ANY when not homogeneous */
	/* Composite tuples that this attribute is part of, for upkeep. */
	const dh_aid *in_tuples;
	uint32_t nin_tuples;
};

#define DH_AID_USER 64     /* first attribute id that is not a system attribute */

enum dh_schema_flexibility { DH_SCHEMA_WRITE = 0, DH_SCHEMA_READ = 1 };

/*
 * dh_db_attr() - the attribute with id `aid`, or NULL if there is none.
 * dh_db_attr_by_ident() - by keyword text without the colon ("name",
 * "person/email", "db/ident"), `len` bytes; NULL when the database has never
 * seen it (so a query on it matches nothing).
 * dh_db_attr_max() - the largest attribute id in use: ids 1..max may be
 * walked with dh_db_attr() (NULL entries skipped).
 * Returned pointers are borrowed from `db`.
 */
const struct dh_attr *dh_db_attr(const struct dh_db *db, dh_aid aid);
const struct dh_attr *dh_db_attr_by_ident(const struct dh_db *db, const char *ident, size_t len);
dh_aid dh_db_attr_max(const struct dh_db *db);

/* ---- opening ----------------------------------------------------------- */

/*
 * Database options, fixed at creation (stored in every commit).  Zeroed
 * means Datahike's defaults: schema-on-write, history kept.
 */
struct dh_db_config {
	enum dh_schema_flexibility flexibility;
	int no_history;               /* 1: :keep-history? false */
	const char *branch;           /* NULL: DH_DEFAULT_BRANCH */
	const struct dh_val *initial_tx;  /* tx-data transacted by create, or NULL */
	int64_t instant_ms;           /* txInstant of create's commit; 0: now */
};

/*
 * dh_db_create() - create a database on `st`: write `format` if absent (a
 * different `format` is DH_ECORRUPT), an empty first commit, the head of
 * cfg->branch, then transact cfg->initial_tx if given.  Returns 0;
 * DH_EEXISTS when the branch already has a head (nothing written);
 * DH_EINVAL for bad initial tx-data (message names the datom; nothing
 * written); store errors.
 */
int dh_db_create(struct dh_store *st, const struct dh_db_config *cfg);

/*
 * dh_config_resolve() - accept a store URI, a bare path, or the path of a
 * Datahike config EDN file ({:store {:backend :file :path "..."}
 * :schema-flexibility :read :keep-history? false :initial-tx [...]
 * :branch :db}) wherever tools take a URI.  `arg` names a config file when
 * it ends in ".edn" and is a regular file.  Writes a new URI string to
 * *uri (caller frees with free()); when cfg is not NULL fills it from the
 * file (initial_tx allocated from `a`) or with defaults.  Supported
 * backends: :file (:path), :mem (:id), :lmdb (:path) and any backend whose
 * map has :uri.  Returns 0, DH_EUSAGE (unknown backend, missing key; the
 * message names the file), DH_EINVAL (malformed EDN, with file:line:col),
 * DH_EIO.
 */
int dh_config_resolve(char **uri, struct dh_db_config *cfg, struct dh_arena *a, const char *arg);

/*
 * dh_db_open() - the current value of `branch` (NULL: DH_DEFAULT_BRANCH).
 * Reads `format`, the head, the commit, the schema and the unindexed log
 * tail.  Returns 0; DH_ENOTFOUND when the branch has no head (no database);
 * DH_ECORRUPT when `format` names another format;
 * DH_ECORRUPT for malformed nodes (message names the key); store errors.
 * Close with dh_db_close().  `st` must outlive the db.
 */
int dh_db_open(struct dh_db **out, struct dh_store *st, const char *branch);

/* dh_db_open_commit() - the value at commit `hex` (64 hex digits). */
int dh_db_open_commit(struct dh_db **out, struct dh_store *st, const char *hex);

/*
 * Views.  Each returns a new handle sharing the underlying state with
 * `db` (either may be closed first).  A view of a view composes as Datahike
 * does (as-of of a history is a history up to t).
 *  - as-of: the database as it was after transaction t (t is a tx id, or
 *    with _inst the last transaction whose :db/txInstant <= ms).
 *  - since: only datoms added by transactions after t (current datoms).
 *  - history: every assertion and retraction ever made (added flag set).
 * as-of and history need history kept (DH_EUNSUPPORTED otherwise).
 */
int dh_db_as_of(struct dh_db **out, struct dh_db *db, int64_t tx);
int dh_db_as_of_inst(struct dh_db **out, struct dh_db *db, int64_t ms);
int dh_db_since(struct dh_db **out, struct dh_db *db, int64_t tx);
int dh_db_since_inst(struct dh_db **out, struct dh_db *db, int64_t ms);
int dh_db_history(struct dh_db **out, struct dh_db *db);

void dh_db_close(struct dh_db *db);

/* Facts about a db value; borrowed strings valid until close. */
int64_t dh_db_max_tx(const struct dh_db *db);
int64_t dh_db_max_eid(const struct dh_db *db);
const char *dh_db_commit(const struct dh_db *db);      /* 64 hex */
const char *dh_db_branch(const struct dh_db *db);      /* NULL if opened by commit */
enum dh_schema_flexibility dh_db_flexibility(const struct dh_db *db);
int dh_db_keeps_history(const struct dh_db *db);
int dh_db_is_history(const struct dh_db *db);          /* a history view */
struct dh_store *dh_db_store(const struct dh_db *db);

/* ---- entity ids -------------------------------------------------------- */

/*
 * dh_db_entid() - resolve an entity reference: a DH_LONG entity id
 * (returned as is if positive), a keyword ident (:db/ident lookup), or a
 * lookup ref [attr value] on a unique attribute.  Returns 0 with *out set;
 * DH_ENOTFOUND when nothing matches (a lookup ref to no entity, an unknown
 * ident); DH_EINVAL for a malformed reference or a lookup ref on a
 * non-unique attribute (message says which).
 */
int dh_db_entid(const struct dh_db *db, const struct dh_val *ref, int64_t *out);

/*
 * dh_db_ident() - the keyword text of entity `e`'s :db/ident, or NULL.
 * Borrowed from db.  dh_db_ident_eid() is the inverse (DH_ENOTFOUND).
 */
const char *dh_db_ident(const struct dh_db *db, int64_t e);
int dh_db_ident_eid(const struct dh_db *db, const char *ident, size_t len, int64_t *out);

/* ---- datom iteration --------------------------------------------------- */

enum dh_index {
	DH_EAVT = 0,
	DH_AEVT = 1,
	DH_AVET = 2,
};

/*
 * dh_db_depth() - the levels of the current index tree `ix` from its root
 * to its leaves (1: the root is a leaf; 0: the tree is empty).  A lookup
 * in it reads that many nodes.
 */
int dh_db_depth(const struct dh_db *db, enum dh_index ix);

/*
 * A bound on an index: the first `n` components of the index's own order
 * (EAVT: e a v tx; AEVT: a e v tx; AVET: a v e tx) are set, the rest are
 * ignored.  n = 0 is unbounded.
 */
struct dh_bound {
	unsigned n;
	int64_t e;
	dh_aid a;
	struct dh_val v;
	int64_t tx;
};

/*
 * dh_iter_new() - datoms of `db` in `ix` order from `lo` to `hi`, both
 * inclusive as prefixes: a datom is yielded when its first lo->n components
 * compare >= lo and its first hi->n components compare <= hi.  NULL means
 * unbounded.  Uses:
 *   datoms(ix, c1 c2..)      lo = hi = {n, c1, c2..}
 *   seek-datoms(ix, c1..)    lo = {n, c1..}, hi = NULL
 *   index-range(a, v1, v2)   DH_AVET, lo = {2, a, v1}, hi = {2, a, v2}
 * Current views yield assertions only; history views yield assertions and
 * retractions in (components..., tx, added) order.  AVET holds only
 * attributes with in_avet set: asking AVET for another attribute (lo->n >= 1)
 * yields nothing.  Returns 0, DH_ENOMEM.  Store errors surface in
 * dh_iter_next().
 */
int dh_iter_new(struct dh_iter **out, struct dh_db *db, enum dh_index ix,
	const struct dh_bound *lo, const struct dh_bound *hi);

/* Flags of dh_iter_new_flags(). */
enum dh_iter_flags {
	/*
	 * A scan that reads each node once: its nodes are decoded for the
	 * cursor alone, not kept in the database's node cache (which a long
	 * scan only churns, at a page fault per 4 KiB).
	 */
	DH_ITER_SCAN = 1,
};

/* dh_iter_new_flags() - dh_iter_new() with dh_iter_flags. */
int dh_iter_new_flags(struct dh_iter **out, struct dh_db *db, enum dh_index ix,
	const struct dh_bound *lo, const struct dh_bound *hi, unsigned flags);

/*
 * dh_iter_new_scan() - dh_iter_new_flags(..., DH_ITER_SCAN) whose datoms'
 * values (text, bytes, big numbers) are allocated from `values`: they stay
 * valid after the iterator is freed, for as long as `values` and db do, so
 * a caller keeping them need not copy them.
 */
int dh_iter_new_scan(struct dh_iter **out, struct dh_db *db, enum dh_index ix,
	const struct dh_bound *lo, const struct dh_bound *hi, struct dh_arena *values);

/*
 * dh_iter_next() - the next datom into *out.  Returns 1 with *out set, 0 at
 * the end, or a negative error (DH_ECORRUPT naming the node key, DH_EIO).
 * *out and the memory its value points to stay valid until the next
 * dh_iter_next() or dh_iter_free() on this iterator; copy with
 * dh_val_copy() to keep.  No allocation per datom.
 */
int dh_iter_next(struct dh_iter *it, const struct dh_datom **out);

/*
 * dh_iter_seek() - move forward to the first datom >= `to` (a prefix in the
 * iterator's index order; never backwards: a `to` before the current
 * position is ignored).  For leapfrog joins.  Returns 0 or an error.
 */
int dh_iter_seek(struct dh_iter *it, const struct dh_bound *to);

void dh_iter_free(struct dh_iter *it);

/*
 * dh_datom_cmp() - compare two datoms in `ix` order as `db` orders them
 * (attributes by ident), then tx, then added.  Returns <0, 0, >0.
 */
int dh_datom_cmp(const struct dh_db *db, enum dh_index ix, const struct dh_datom *x, const struct dh_datom *y);

/*
 * dh_log_iter_new() - every datom in transaction order, for export: the
 * datoms of the history view (of the current view when history is not
 * kept) with from_tx <= tx <= to_tx (0 for either: unbounded), ordered by
 * tx, the transaction entity's datoms first, then e, a (by ident),
 * retraction before assertion, v.  A view's as-of and since narrow the
 * range.  Streams from the log tree (every datom in transaction order) and
 * the unindexed tail: memory stays small whatever the database's size.
 * Iterate with dh_iter_next(); dh_iter_seek() is not supported on it.
 * Returns 0, DH_ENOMEM or store errors.
 */
int dh_log_iter_new(struct dh_iter **out, struct dh_db *db, int64_t from_tx, int64_t to_tx);

/*
 * dh_db_log_is_current() - 1 when the log of `db` holds exactly its current
 * datoms (history is not kept, or no datom was ever retracted), so that
 * dh_log_iter_new() yields the current view, which is then also the
 * history view; 0 otherwise, and for as-of and since views.
 */
int dh_db_log_is_current(const struct dh_db *db);

/* ---- writing ----------------------------------------------------------- */

/*
 * dh_conn_open() - a writer on `branch` (NULL: DH_DEFAULT_BRANCH) of `st`,
 * positioned at the branch's current commit.  Returns 0, DH_ENOTFOUND (no
 * database on that branch), DH_ECORRUPT, store errors.
 */
int dh_conn_open(struct dh_conn **out, struct dh_store *st, const char *branch);

/*
 * dh_conn_open_at() - a writer on `branch` positioned at commit `hex`
 * instead of the head: its next transaction lands only if the head still
 * names `hex` (DH_ECONFLICT otherwise), like git's --force-with-lease.
 */
int dh_conn_open_at(struct dh_conn **out, struct dh_store *st, const char *branch, const char *hex);
void dh_conn_close(struct dh_conn *conn);

/*
 * dh_conn_db() - the db value the next transaction builds on.  Borrowed:
 * valid until the next dh_transact/dh_conn_refresh/dh_conn_close on conn.
 */
struct dh_db *dh_conn_db(struct dh_conn *conn);

/* dh_conn_refresh() - re-read the head (after DH_ECONFLICT). */
int dh_conn_refresh(struct dh_conn *conn);

/*
 * A transaction report.  Everything in it (datoms, tempids, values) lives in
 * the report's own arena and is freed by dh_tx_report_free().
 */
struct dh_tempid {
	struct dh_val tempid;      /* DH_LONG (negative) or DH_STRING as given */
	int64_t eid;
};

struct dh_tx_report {
	int64_t tx;                /* the transaction id, also its entity id */
	int64_t instant_ms;        /* its :db/txInstant */
	char commit[DH_HASH_HEX + 1];   /* the new commit */
	char parent[DH_HASH_HEX + 1];   /* the commit it was built on */
	struct dh_datom *datoms;   /* tx-data: what changed, in processing order */
	size_t ndatoms;
	size_t nadded, nretracted;
	struct dh_tempid *tempids; /* the last is :db/current-tx -> tx, as Datahike reports it */
	size_t ntempids;
	struct dh_arena *arena;
};

enum dh_tx_flags {
	DH_TX_NOWRITE = 1 << 0,    /* Datahike's `with`: process, do not commit */
	DH_TX_RETRY = 1 << 1,      /* on a lost head race, refresh and rebuild (up to 100 times) */
};

/*
 * dh_transact() - process `tx_data` (a vector or list of entity maps and
 * [:db/add ...]-style operations, as Datahike takes it) against the conn's
 * db, write its nodes, and move the head from the db's commit to the new
 * commit by compare-and-swap.  On success the conn moves to the new db
 * value and *out (may be NULL) gets the report.
 * Returns 0; DH_EINVAL for any violation (unique conflict, wrong value
 * type, unknown attribute under schema-on-write, failed :db/cas, bad lookup
 * ref, ...): the message names the offending datom or operation and
 * nothing is written; DH_ECONFLICT when another writer moved the head (the
 * nodes written are unreferenced garbage; refresh and retry, or pass
 * DH_TX_RETRY); store errors.
 */
int dh_transact(struct dh_tx_report **out, struct dh_conn *conn, const struct dh_val *tx_data, unsigned flags);

void dh_tx_report_free(struct dh_tx_report *r);

/*
 * Bulk load (import): datoms with their own entity and transaction ids, in
 * transaction order, schema transactions before the data that uses them.
 * The loader keeps Datahike's invariants (datoms of one tx contiguous, tx
 * ids increasing, schema datoms interpreted as they arrive) and builds the
 * trees bottom-up from sorted runs at dh_loader_finish(), which writes one
 * commit and moves the head by compare-and-swap.
 */
struct dh_loader;

/* dh_loader_new() - a loader onto conn's db (normally empty).  Returns 0 or DH_ENOMEM. */
int dh_loader_new(struct dh_loader **out, struct dh_conn *conn);

/*
 * dh_loader_add() - add one datom: `attr` is the attribute's keyword
 * value, `v` is copied.  Returns 0; DH_EINVAL (the message names the datom)
 * for a bad entity or tx id, a tx id going backwards or a bad schema
 * definition; DH_ENOMEM; DH_EIO (sort runs).  Undeclared attributes and
 * values of the wrong type are found by dh_loader_finish().
 */
int dh_loader_add(struct dh_loader *l, int64_t e, const struct dh_val *attr,
	const struct dh_val *v, int64_t tx, int added);

/*
 * dh_loader_limit() - hold at most about `mem` bytes of datoms in memory
 * (0: 128 MiB) and write sorted runs beyond that to unlinked temporary
 * files in `tmpdir` (NULL: $TMPDIR, else /tmp).  Call before the first
 * dh_loader_add().
 */
void dh_loader_limit(struct dh_loader *l, size_t mem, const char *tmpdir);

/*
 * dh_loader_finish() - check every datom against the final schema (DH_EINVAL
 * naming the first that fails, before anything is written), build the
 * trees and commit.  Returns 0, DH_EINVAL, DH_ECONFLICT, DH_EIO (sort runs),
 * store errors.
 */
int dh_loader_finish(struct dh_loader *l, struct dh_tx_report **out);
void dh_loader_free(struct dh_loader *l);

/* ---- nodes and commits, for sync, gc and verify ------------------------- */

/*
 * dh_node_children() - call `cb` with the name (64 hex, NUL terminated,
 * valid during the call) of every node that node `data` (len bytes, any
 * kind libdh writes: commit, index branch or leaf, log, schema) refers to,
 * parents of a commit included.  Leaves have none.  A non-zero return from
 * cb stops the walk and is returned.  Returns 0, cb's value, or
 * DH_ECORRUPT when the bytes are not a libdh node.
 */
typedef int (*dh_child_cb)(const char *hex, void *payload);
int dh_node_children(const void *data, size_t len, dh_child_cb cb, void *payload);

/*
 * dh_node_links() - dh_node_children() for copying: a node whose first
 * bytes name a kind that refers to no node (leaf, log, schema) is taken at
 * its word and not decoded further, so it is never reported malformed.
 * For nodes whose bytes were checked against their names, when only the
 * graph matters (dh_sync); dh-verify uses dh_node_children().
 */
int dh_node_links(const void *data, size_t len, dh_child_cb cb, void *payload);

/*
 * dh_node_kind() - a static name of the node's kind ("commit", "branch",
 * "leaf", "log", "schema"), or NULL when the bytes are not a libdh node.
 */
const char *dh_node_kind(const void *data, size_t len);

/*
 * dh_node_cut() - when node `data` is a commit that records where history
 * stops (see dh_commit_cut), call `cb` with the name of each commit that
 * history no longer includes.  A walk over commits does not follow a parent
 * link into such a commit, and does not report it missing: it may have
 * been deleted.  Other nodes, and commits without the record, have none;
 * this is cheap for them (no decoding).  Returns 0, cb's value, or
 * DH_ECORRUPT when the bytes are not a well-formed commit.
 */
int dh_node_cut(const void *data, size_t len, dh_child_cb cb, void *payload);

/* What a commit says about itself. */
#define DH_MAX_PARENTS 8
#define DH_MAX_CUT 8
struct dh_commit_info {
	char parents[DH_MAX_PARENTS][DH_HASH_HEX + 1];
	size_t nparents;
	int64_t max_tx;
	int64_t max_eid;
	int64_t instant_ms;        /* :db/txInstant of its last transaction */
	uint64_t ndatoms;          /* current datoms */
	char cut[DH_MAX_CUT][DH_HASH_HEX + 1];   /* where history stops (dh_node_cut) */
	size_t ncut;
};

/*
 * dh_commit_info() - read commit `hex` from `st`.  Returns 0, DH_ENOTFOUND
 * (no such node), DH_ECORRUPT (not a commit; message names the key), store
 * errors.
 */
int dh_commit_info(struct dh_commit_info *out, struct dh_store *st, const char *hex);

/*
 * dh_commit_cut() - write a commit that continues commit `hex` of `st`: the
 * same database value (schema, trees, log tail, max-eid, max-tx, instant),
 * `hex` as its only parent, and the record that history now stops at the
 * `ncut` commits `cut` (dh_node_cut), which commits made on top of it keep.
 * Its name goes to `out`; with `dry_run` nothing is written and `out` gets
 * the name it would have.  The caller moves the head from `hex` to `out` by
 * compare-and-swap, which makes the node durable first.  This is how
 * dh_gc() drops old history without losing track of which parents are
 * absent on purpose.
 * Returns 0; DH_EINVAL (ncut above DH_MAX_CUT); DH_ECORRUPT (`hex` missing or
 * not a commit); store errors.
 */
int dh_commit_cut(char out[DH_HASH_HEX + 1], struct dh_store *st, const char *hex,
	const char (*cut)[DH_HASH_HEX + 1], size_t ncut, int dry_run);

/*
 * dh_db_verify() - check every tree of db's commit: nodes present, hashes
 * right (by reading them), every node well-formed, datoms sorted in index
 * order, separator keys consistent, counts right.  Each problem is passed
 * to `cb` as a message naming the node key; a non-zero return stops.
 * Returns 0 when sound, DH_ECORRUPT when a problem was found, store errors.
 */
typedef int (*dh_problem_cb)(const char *msg, void *payload);
int dh_db_verify(struct dh_db *db, dh_problem_cb cb, void *payload);

#ifdef __cplusplus
}
#endif

#endif
