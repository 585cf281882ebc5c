/*
 * index.h - persistent copy-on-write B+trees of datoms (internal to libdh).
 *
 * A tree is a set of datoms ordered by one index order (EAVT, AEVT, AVET)
 * and stored as content-addressed CBOR nodes.  Leaves hold datoms; branches
 * hold, per child, the child's node name, its first datom and the number of
 * datoms below it.  A tree is named by its root: node name, level (0 for a
 * leaf root) and count.  Trees are never changed in place: dh_tree_apply()
 * merges a sorted run of edits and returns a new root, rewriting only the
 * paths the edits touch and writing new nodes into a node batch (children
 * before parents).  Built on an empty root, it is the bottom-up bulk build.
 *
 * The tree knows datoms but not schema: the caller passes the attribute
 * order (rank[aid]: attributes are ordered by ident text, so the ranks come
 * from the schema) and whether the tree is a history tree, whose key is the
 * whole datom (components, tx, added) rather than the components alone.
 *
 * Node encodings (deterministic CBOR arrays):
 *   leaf:   ["dh/leaf", ix, n, e, a, v, tx, added, ...]          (5 items per datom)
 *   branch: ["dh/branch", ix, level, n, name, count, e, a, v, tx, added, ...]
 * where name is the child's SHA-256 as a 32-byte string and v is encoded
 * with dh_cbor_encode().
 */
#ifndef DH_INDEX_H
#define DH_INDEX_H

#include "dh.h"
#include "dh-db.h"
#include "dh-value.h"

/* Small CBOR writing helpers shared by the index and db layers. */
int dh_cw_head(struct dh_buf *b, unsigned major, uint64_t n);
int dh_cw_uint(struct dh_buf *b, uint64_t n);
int dh_cw_int(struct dh_buf *b, int64_t n);
int dh_cw_text(struct dh_buf *b, const char *s, size_t len);
int dh_cw_bytes(struct dh_buf *b, const void *p, size_t len);
int dh_cw_bool(struct dh_buf *b, int v);
int dh_cw_null(struct dh_buf *b);

/* Reading helpers over decoded values; DH_ECORRUPT naming `what` on mismatch. */
int dh_cr_int(const struct dh_val *v, int64_t *out, const char *what);
int dh_cr_hash(const struct dh_val *v, char hex[DH_HASH_HEX + 1], const char *what);

/*
 * A cache of decoded nodes shared by readers (see tree.c).  Reference
 * counted: _ref takes a reference, _free drops one.  Not thread-safe: the
 * handles sharing one are used by one thread at a time.
 */
struct dh_node_cache;
int dh_node_cache_new(struct dh_node_cache **out, size_t max_bytes);
struct dh_node_cache *dh_node_cache_ref(struct dh_node_cache *c);
void dh_node_cache_free(struct dh_node_cache *c);
/*
 * dh_node_cache_add() - decode node `hex` of index `ix` at `level` (-1:
 * any) from `len` bytes the caller read and checked against the name, and
 * keep it, unless the cache holds it already: a later read of the node
 * costs no request.  Returns 0, DH_ECORRUPT (not such a node), DH_ENOMEM.
 */
int dh_node_cache_add(struct dh_node_cache *c, const char *hex, int ix, int level, const void *data, size_t len);

struct dh_tree_ctx {
	struct dh_node_cache *cache;   /* NULL: decode nodes per cursor */
	struct dh_arena *values;       /* without a cache: the values of decoded datoms
	                                * (text, bytes) go here, and outlive the cursor */
	struct dh_store *st;
	enum dh_index ix;
	int history;               /* key includes tx and added */
	const uint32_t *rank;      /* rank[aid]: attribute order */
	size_t nrank;
};

/*
 * The log tree is ordered by transaction: (tx, the tx entity before other
 * entities, e, a, retraction before assertion, v); its key is the whole datom.
 */
#define DH_TREE_LOG 3

struct dh_tree_root {
	char hex[DH_HASH_HEX + 1]; /* "" for the empty tree */
	uint32_t level;
	uint64_t count;
};

/* Compare two datoms by the tree's key. */
int dh_tree_cmp(const struct dh_tree_ctx *c, const struct dh_datom *x, const struct dh_datom *y);
/* Compare a datom's first b->n components (index order) with bound b. */
int dh_bound_cmp(const struct dh_tree_ctx *c, const struct dh_datom *x, const struct dh_bound *b);

enum dh_edit_op { DH_EDIT_DEL = 0, DH_EDIT_PUT = 1 };

/* One change: PUT inserts or replaces the datom with the same key; DEL removes it. */
struct dh_tree_edit {
	struct dh_datom d;
	int op;
};

/*
 * dh_tree_apply() - apply `n` edits, sorted by key with no duplicate keys,
 * to the tree at `root`, writing new nodes into `batch` (the values of the
 * edits are copied into the nodes).  *out gets the new root.  Returns 0,
 * DH_ECORRUPT, store errors, DH_ENOMEM.
 */
int dh_tree_apply(struct dh_tree_root *out, const struct dh_tree_ctx *c, const struct dh_tree_root *root,
	const struct dh_tree_edit *edits, size_t n, struct dh_node_batch *batch);
/* The same, cutting the nodes it writes to about node_target bytes (0: as dh_tree_apply()). */
int dh_tree_apply_sized(struct dh_tree_root *out, const struct dh_tree_ctx *c, const struct dh_tree_root *root,
	const struct dh_tree_edit *edits, size_t n, struct dh_node_batch *batch, size_t node_target);

/*
 * Bulk building: datoms added in strictly increasing key order (no
 * duplicates) become a tree written bottom-up into `batch`, children
 * before parents, each node as soon as it is full; memory is a few nodes
 * per level whatever the tree's size.  node_target is the bytes a node is
 * cut to (0: the size dh_tree_apply() cuts to).  _finish() writes what is
 * left and sets *out (the empty tree when nothing was added).  Returns 0,
 * DH_ENOMEM, or what dh_node_batch_add() returns.
 */
struct dh_tree_builder;
int dh_tree_builder_new(struct dh_tree_builder **out, const struct dh_tree_ctx *c, size_t node_target,
	struct dh_node_batch *batch);
int dh_tree_builder_add(struct dh_tree_builder *b, const struct dh_datom *d);
int dh_tree_builder_finish(struct dh_tree_builder *b, struct dh_tree_root *out);
void dh_tree_builder_free(struct dh_tree_builder *b);

/*
 * A cursor over a tree from lo to hi (dh_iter_new() bounds).  Datoms it
 * yields, and what their values point to, are valid until the next call.
 */
struct dh_tree_iter;
int dh_tree_iter_new(struct dh_tree_iter **out, const struct dh_tree_ctx *c, const struct dh_tree_root *root,
	const struct dh_bound *lo, const struct dh_bound *hi);
/* 1 with *out, 0 at the end, or an error. */
int dh_tree_iter_next(struct dh_tree_iter *it, const struct dh_datom **out);
/* Move forward to the first datom >= to (prefix). */
int dh_tree_iter_seek(struct dh_tree_iter *it, const struct dh_bound *to);
void dh_tree_iter_free(struct dh_tree_iter *it);

/* Visit every node of a tree (for verify): cb(hex, level, payload). */
int dh_tree_children(const void *data, size_t len, dh_child_cb cb, void *payload);

/*
 * dh_tree_verify() - walk the tree checking each node's kind, index, level,
 * order, separators and counts.  Problems go to cb.  Returns 0,
 * DH_ECORRUPT when a problem was found, or store errors.
 */
int dh_tree_verify(const struct dh_tree_ctx *c, const struct dh_tree_root *root, dh_problem_cb cb, void *payload);

#endif
