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
 * checked too.  Returns 0 or a store error that stopped the walk.
 */
int io_walk_heads(struct dh_store *st, const char *branch, struct nodeset *seen, int trees,
	dh_problem_cb cb, void *payload, struct dh_verify_stats *stats);

/*
 * io_branches() - the branches to work on, NUL-separated, into `out`:
 * `branch` alone (checked as a branch name) or, when NULL, every branch
 * with a head in `st`.  Returns 0, DH_EUSAGE, store errors.
 */
int io_branches(struct dh_store *st, const char *branch, struct dh_buf *out);

#endif
