/*
 * arena.c - bump allocation for values.
 *
 * Decoding a node or reading a transaction creates thousands of small
 * values whose lifetimes end together, so they come from an arena: a chain
 * of blocks, each filled front to back, all freed at once.  A block grows
 * geometrically (4 KiB doubling up to 1 MiB); a request larger than the
 * current block size gets a block of its own, so no request wastes more than
 * the tail of one block.  dh_arena_reset() keeps the largest block, so a
 * loop that decodes node after node settles on one allocation;
 * dh_arena_rewind() keeps every block as it is, for a sorter that fills
 * its arena to the same size again and again.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh.h"
#include "dh-value.h"

#define ALIGN alignof(max_align_t)
#define MIN_BLOCK 4096
#define MAX_BLOCK (1u << 20)
#define KEEP_MAX ((size_t)64 << 20)

struct block {
	struct block *next;
	size_t size;           /* bytes of data[] */
	size_t used;
	alignas(max_align_t) unsigned char data[];
};

struct dh_arena {
	struct block *head;    /* current block, filled front to back */
	struct block *spare;   /* blocks kept by dh_arena_rewind(), reused before malloc */
	size_t next_size;      /* data size of the next ordinary block */
	size_t allocated;      /* bytes handed out, for dh_arena_used() */
};

int dh_arena_new(struct dh_arena **out)
{
	struct dh_arena *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (!a)
		return dh_error_set(DH_ENOMEM, "out of memory (arena)");
	a->next_size = MIN_BLOCK;
	*out = a;
	return 0;
}

static void free_chain(struct block *b)
{
	struct block *next;

	for (; b; b = next) {
		next = b->next;
		free(b);
	}
}

void dh_arena_free(struct dh_arena *a)
{
	if (!a)
		return;
	free_chain(a->head);
	free_chain(a->spare);
	free(a);
}

void dh_arena_reset(struct dh_arena *a)
{
	struct block *b, *next, *keep = NULL;
	size_t total = 0;

	if (!a)
		return;
	free_chain(a->spare);
	a->spare = NULL;
	for (b = a->head; b; b = b->next) {
		total += b->size;
		if (!keep || b->size > keep->size)
			keep = b;
	}
	/* Several blocks: replace them by one that holds as much (up to
	 * KEEP_MAX), so the next round of the same work allocates nothing. */
	if (keep && keep->size < total && keep->size < KEEP_MAX) {
		size_t size = total < KEEP_MAX ? total : KEEP_MAX;
		struct block *big = malloc(sizeof(*big) + size);

		if (big) {
			big->size = size;
			keep = big;
		}
	}
	for (b = a->head; b; b = next) {
		next = b->next;
		if (b != keep)
			free(b);
	}
	a->head = keep;
	if (keep) {
		keep->next = NULL;
		keep->used = 0;
	}
	a->allocated = 0;
}

void dh_arena_rewind(struct dh_arena *a)
{
	struct block *b, *next;

	if (!a)
		return;
	for (b = a->head; b; b = next) {
		next = b->next;
		b->next = a->spare;
		a->spare = b;
	}
	a->head = NULL;
	a->allocated = 0;
}

static void *alloc_slow(struct dh_arena *a, size_t size)
{
	struct block *b, **sp;
	size_t bsize = a->next_size;

	for (sp = &a->spare; *sp; sp = &(*sp)->next) {
		if ((*sp)->size < size)
			continue;
		b = *sp;
		*sp = b->next;
		b->used = size;
		b->next = a->head;
		a->head = b;
		a->allocated += size;
		return b->data;
	}

	if (size > SIZE_MAX - sizeof(struct block) - ALIGN) {
		dh_error_set(DH_ENOMEM, "out of memory (arena request of %zu bytes)", size);
		return NULL;
	}
	if (size > bsize) {
		/* A big request gets its own block, behind the current one so
		 * the current block's free tail stays in use. */
		b = malloc(sizeof(*b) + size);
		if (!b)
			goto nomem;
		b->size = size;
		b->used = size;
		if (a->head) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = NULL;
			a->head = b;
		}
		a->allocated += size;
		return b->data;
	}
	b = malloc(sizeof(*b) + bsize);
	if (!b)
		goto nomem;
	b->size = bsize;
	b->used = size;
	b->next = a->head;
	a->head = b;
	if (a->next_size < MAX_BLOCK)
		a->next_size *= 2;
	a->allocated += size;
	return b->data;
nomem:
	dh_error_set(DH_ENOMEM, "out of memory (arena block for %zu bytes)", size);
	return NULL;
}

/* Take `size` bytes aligned to `align` (a power of two, at most ALIGN). */
static void *take(struct dh_arena *a, size_t size, size_t align)
{
	struct block *b = a->head;

	if (size > SIZE_MAX - ALIGN) {
		dh_error_set(DH_ENOMEM, "out of memory (arena request of %zu bytes)", size);
		return NULL;
	}
	if (b) {
		size_t at = (b->used + align - 1) & ~(align - 1);

		if (at <= b->size && b->size - at >= size) {
			b->used = at + size;
			a->allocated += size;
			return b->data + at;
		}
	}
	return alloc_slow(a, (size + ALIGN - 1) & ~(size_t)(ALIGN - 1));
}

void *dh_arena_alloc(struct dh_arena *a, size_t size)
{
	return take(a, size, ALIGN);
}

char *dh_arena_strndup(struct dh_arena *a, const char *s, size_t len)
{
	char *p;

	if (len == SIZE_MAX) {
		dh_error_set(DH_ENOMEM, "out of memory (string of %zu bytes)", len);
		return NULL;
	}
	p = take(a, len + 1, 1);
	if (!p)
		return NULL;
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

size_t dh_arena_used(const struct dh_arena *a)
{
	return a->allocated;
}
