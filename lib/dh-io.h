/*
 * dh-io.h - whole databases: sync between stores, garbage collection,
 * verification, and the log of a branch's commits.
 *
 * Nodes are immutable and named by their hash, so copying a database is
 * copying the nodes reachable from its heads that the destination lacks,
 * children before parents, and moving the destination's heads last.  A
 * node the destination already has is complete below (every writer writes
 * children first), so walks stop there: a second sync moves only what
 * changed.
 */
#ifndef DH_IO_H
#define DH_IO_H

#include <stdint.h>

#include "dh.h"
#include "dh-db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sync -------------------------------------------------------------- */

struct dh_sync_stats {
	uint64_t nodes_copied;     /* nodes written to the destination (or that would be) */
	uint64_t bytes_copied;
	uint64_t nodes_present;    /* walks stopped at nodes the destination had */
	uint64_t nodes_read;       /* nodes read from the source */
	uint64_t heads_moved;
	uint64_t heads_current;    /* heads already equal */
};

struct dh_sync_opts {
	const char *branch;        /* NULL: every branch of the source */
	int force;                 /* move heads even when not a fast-forward */
	int dry_run;               /* read and count, write nothing */
	/* Called now and then with the running totals (may be NULL). */
	void (*progress)(const struct dh_sync_stats *stats, void *payload);
	/* Called once per branch with what happened ("moved", "current", ...). */
	void (*branch_done)(const char *branch, const char *old, const char *new, const char *what, void *payload);
	void *payload;
};

/*
 * dh_sync() - copy the database(s) of `src` into `dst`: every node reachable
 * from the chosen heads that `dst` lacks, children before parents, in
 * batches; then make them durable; then move each head of `dst` by
 * compare-and-swap.  A head of `dst` that names a commit the source's head
 * does not descend from is left alone with DH_ECONFLICT (message: not a
 * fast-forward) unless opts->force.  Writes `format` to `dst` when absent.
 * Interrupted, `dst` keeps its old heads and a rerun copies only what is
 * still missing.  *stats (may be NULL) gets the totals.
 * Returns 0; DH_ENOTFOUND (no such branch in src); DH_ECONFLICT (not a
 * fast-forward, or a head moved during the sync); DH_ECORRUPT (a source
 * node fails its hash or is not a libdh node; the message names the key;
 * nothing of it is written); DH_EINVAL (the stores hold different formats);
 * store errors.
 */
int dh_sync(struct dh_store *src, struct dh_store *dst, const struct dh_sync_opts *opts,
	struct dh_sync_stats *stats);

/* ---- verify ------------------------------------------------------------ */

struct dh_verify_stats {
	uint64_t heads;
	uint64_t commits;
	uint64_t nodes;            /* distinct nodes checked */
	uint64_t bytes;
	uint64_t problems;
};

/*
 * dh_verify() - walk everything reachable from every head of `st` (or of
 * `branch` when not NULL): every node present and hashing to its name,
 * every node a well-formed libdh node, every commit's parents present,
 * every index tree sorted and consistent (dh_db_verify).  Each problem is
 * passed to `cb` (a message naming the key) and counted; a non-zero return
 * from cb stops.  Returns 0 when the store is sound, DH_ECORRUPT when a
 * problem was found, store errors (when the walk itself could not run).
 */
int dh_verify(struct dh_store *st, const char *branch, dh_problem_cb cb, void *payload,
	struct dh_verify_stats *stats);

/* ---- log --------------------------------------------------------------- */

/* One commit of a log, as dh_log() passes it. */
struct dh_log_entry {
	const char *commit;                  /* 64 hex */
	const struct dh_commit_info *info;   /* parents, last tx, instant, datom count */
	int64_t delta;                       /* datoms added (net) since its first parent */
	int has_delta;                       /* 0: a first commit, or its parent is past a history cut */
};
typedef int (*dh_log_cb)(const struct dh_log_entry *e, void *payload);

/*
 * dh_log() - pass every commit of `branch` (NULL: "db"), or of the history
 * of `commit` (64 hex; when not NULL it is used instead of a branch), to
 * `cb`, newest first: walking back over parent links from the head, commits
 * in order of their last transaction (so that the commits of two lines of
 * history a merge joined come interleaved), each once.  History ends at a first commit
 * and at the commits a history cut of dh_gc() names.  A non-zero return
 * from cb stops the walk and is returned.  Reads commits only.
 * Returns 0, cb's value, DH_ENOTFOUND (no such branch or commit), DH_EUSAGE
 * (`commit` is not 64 hex digits), DH_ECORRUPT (a parent missing, not a
 * commit; the message names its key), store errors.
 */
int dh_log(struct dh_store *st, const char *branch, const char *commit, dh_log_cb cb, void *payload);

/* ---- gc ---------------------------------------------------------------- */

enum dh_gc_before {
	DH_GC_KEEP_HISTORY = 0,    /* keep every commit a head reaches */
	DH_GC_BEFORE_MS,           /* drop commits whose instant is before `before` (epoch ms) */
	DH_GC_BEFORE_TX,           /* drop commits whose last transaction is below tx `before` */
};

struct dh_gc_opts {
	int64_t grace_ms;          /* keep nodes unreachable for less than this; < 0: default (1 hour) */
	int dry_run;               /* report, delete nothing, commit nothing */
	enum dh_gc_before before_kind;   /* cut history older than `before` (see dh_gc) */
	int64_t before;
	/* Called with each node deleted (or that would be); may be NULL. */
	void (*deleted)(const char *key, void *payload);
	/* Called for each branch whose history is cut (or would be): its head
	 * before, the commit recording the cut that replaces it, and how many
	 * of the branch's commits stay (the new one not counted); may be NULL. */
	void (*cut)(const char *branch, const char *old, const char *new, uint64_t kept, void *payload);
	void *payload;
};

struct dh_gc_stats {
	uint64_t nodes;            /* nodes in the store */
	uint64_t reachable;
	uint64_t deleted;
	uint64_t pending;          /* unreachable, younger than the grace period: kept */
	uint64_t branches_cut;     /* branches given a commit recording a new history cut */
};

/*
 * dh_gc() - delete the nodes of `st` that no head reaches.  A writer's
 * nodes are unreachable until its head moves, so a node is deleted only
 * once it has been seen unreachable for at least the grace period: each run
 * records the unreachable nodes it keeps, with the time it first saw each,
 * under the key `gc/pending`, and a later run deletes those still
 * unreachable whose time has passed.  A grace period of 0 deletes every
 * unreachable node at once (only safe when no writer is running).
 *
 * With opts->before_kind, history older than opts->before is dropped, as
 * Datahike's gc-storage drops the snapshots before its cutoff: on each
 * branch the head and the commits back from it that are not older than
 * the cutoff stay, the walk stopping at the first older ones.  So that no
 * walk reports the parents that will be gone as missing, each branch whose
 * history stops at new commits first gets a commit recording where
 * (dh_commit_cut) on top of its head, moved by compare-and-swap; the old
 * commits and the nodes only they reach are then unreachable, and go
 * like any garbage.  The database value and every as-of, since and
 * history view of it stay as they were: those read the head's trees.
 *
 * Returns 0; DH_EUNSUPPORTED when the backend cannot delete, or history
 * would stop at more than DH_MAX_CUT commits of a branch; DH_ECORRUPT when
 * a reachable node is missing or corrupt (nothing is deleted then);
 * DH_ECONFLICT when writers kept moving the heads; store errors.
 */
int dh_gc(struct dh_store *st, const struct dh_gc_opts *opts, struct dh_gc_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
