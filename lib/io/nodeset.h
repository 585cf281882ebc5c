/*
 * nodeset.h - a set of node names, for walks over the node graph.
 *
 * Internal to lib/io.  Names are kept as 32 binary bytes in one open
 * addressing table, so a walk over millions of nodes costs one allocation
 * per doubling, not one per node.
 */
#ifndef DH_IO_NODESET_H
#define DH_IO_NODESET_H

#include <stddef.h>

#include "dh.h"

struct nodeset {
	unsigned char (*slots)[DH_HASH_LEN];
	unsigned char *used;
	size_t cap, count;
};

void nodeset_init(struct nodeset *s);
void nodeset_release(struct nodeset *s);
/* 1 if `hex` is in the set. */
int nodeset_has(const struct nodeset *s, const char *hex);
/* Add `hex`: 1 if it was new, 0 if already present, DH_ENOMEM. */
int nodeset_add(struct nodeset *s, const char *hex);

/*
 * Names can carry flags (bits 1 to 7; any of them makes a member):
 * nodeset_flags() returns those of `hex` (0: not a member), nodeset_mark()
 * adds `flags` to them (adding `hex` if needed) and returns the flags it
 * had before, or DH_EINVAL, DH_ENOMEM.
 */
unsigned nodeset_flags(const struct nodeset *s, const char *hex);
int nodeset_mark(struct nodeset *s, const char *hex, unsigned flags);

#endif
