/*
 * walk.h - the walk over every node reachable from a store's heads, shared
 * by verify and gc (internal to lib/io).
 */
#ifndef DH_IO_WALK_H
#define DH_IO_WALK_H

#include "dh-io.h"
#include "io/nodeset.h"

/*
 * io_walk_heads() - visit every node reachable from the heads of `st` (or
 * of `branch`), adding each name to `seen` (nodes already in it are not
 * entered).  Missing, corrupt and malformed nodes are passed to `cb` and
 * counted in stats->problems; with `trees`, each head's index trees are
 * checked too.
 *
 * History stops at the commits in `cut`: the walk never enters them from a
 * parent link (a head is always entered), so they are neither marked nor
 * reported missing.  The caller may seed `cut`; the walk adds what the
 * commits it visits record (dh_node_cut), the heads' first, so that the
 * order in which branches are walked does not matter.
 * Returns 0 or a store error that stopped the walk.
 */
int io_walk_heads(struct dh_store *st, const char *branch, struct nodeset *seen, struct nodeset *cut,
	int trees, dh_problem_cb cb, void *payload, struct dh_verify_stats *stats);

/* io_learn_cut() - a dh_child_cb adding each name to the nodeset `payload`. */
int io_learn_cut(const char *hex, void *payload);

/*
 * io_branches() - the branches to work on, NUL-separated, into `out`:
 * `branch` alone (checked as a branch name) or, when NULL, every branch
 * with a head in `st`.  Returns 0, DH_EUSAGE, store errors.
 */
int io_branches(struct dh_store *st, const char *branch, struct dh_buf *out);

#endif
