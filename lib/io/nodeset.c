/*
 * nodeset.c - see nodeset.h.
 */
#include <stdlib.h>
#include <string.h>

#include "io/nodeset.h"

void nodeset_init(struct nodeset *s)
{
	memset(s, 0, sizeof(*s));
}

void nodeset_release(struct nodeset *s)
{
	free(s->slots);
	free(s->used);
	nodeset_init(s);
}

/* Node names are SHA-256: their first bytes are already uniformly spread. */
static size_t slot_of(const unsigned char *bin, size_t cap)
{
	size_t h;

	memcpy(&h, bin, sizeof(h));
	return h & (cap - 1);
}

static size_t find(const struct nodeset *s, const unsigned char *bin)
{
	size_t i = slot_of(bin, s->cap);

	while (s->used[i] && memcmp(s->slots[i], bin, DH_HASH_LEN))
		i = (i + 1) & (s->cap - 1);
	return i;
}

int nodeset_has(const struct nodeset *s, const char *hex)
{
	unsigned char bin[DH_HASH_LEN];

	if (!s->cap || dh_unhex(bin, hex, DH_HASH_LEN))
		return 0;
	return s->used[find(s, bin)] != 0;
}

static int grow(struct nodeset *s)
{
	struct nodeset n;
	size_t i;

	n.cap = s->cap ? s->cap * 2 : 1024;
	n.count = s->count;
	n.slots = malloc(n.cap * sizeof(*n.slots));
	n.used = calloc(n.cap, 1);
	if (!n.slots || !n.used) {
		free(n.slots);
		free(n.used);
		return dh_error_set(DH_ENOMEM, "out of memory (node set of %zu)", n.cap);
	}
	for (i = 0; i < s->cap; i++)
		if (s->used[i]) {
			size_t j = find(&n, s->slots[i]);

			memcpy(n.slots[j], s->slots[i], DH_HASH_LEN);
			n.used[j] = s->used[i];
		}
	nodeset_release(s);
	*s = n;
	return 0;
}

unsigned nodeset_flags(const struct nodeset *s, const char *hex)
{
	unsigned char bin[DH_HASH_LEN];

	if (!s->cap || dh_unhex(bin, hex, DH_HASH_LEN))
		return 0;
	return s->used[find(s, bin)];
}

int nodeset_mark(struct nodeset *s, const char *hex, unsigned flags)
{
	unsigned char bin[DH_HASH_LEN];
	size_t i;
	int rc, old;

	if (dh_unhex(bin, hex, DH_HASH_LEN))
		return dh_error_set(DH_EINVAL, "'%.64s' is not a node name", hex);
	if (s->count * 2 >= s->cap && (rc = grow(s)))
		return rc;
	i = find(s, bin);
	old = s->used[i];
	if (!old) {
		memcpy(s->slots[i], bin, DH_HASH_LEN);
		s->count++;
	}
	s->used[i] = (unsigned char)(old | (flags & 0x7f));
	return old;
}

int nodeset_add(struct nodeset *s, const char *hex)
{
	unsigned char bin[DH_HASH_LEN];
	size_t i;
	int rc;

	if (dh_unhex(bin, hex, DH_HASH_LEN))
		return dh_error_set(DH_EINVAL, "'%.64s' is not a node name", hex);
	if (s->count * 2 >= s->cap && (rc = grow(s)))
		return rc;
	i = find(s, bin);
	if (s->used[i])
		return 0;
	memcpy(s->slots[i], bin, DH_HASH_LEN);
	s->used[i] = 1;
	s->count++;
	return 1;
}
