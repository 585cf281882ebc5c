/*
 * mem.h - growable arrays inside libdh (not exported).
 */
#ifndef DH_UTIL_MEM_H
#define DH_UTIL_MEM_H

#include <stddef.h>

/*
 * dh_grow() - make the array *p (capacity *cap items of `size` bytes) hold
 * at least `need` items: the capacity doubles, from `first` when it is 0,
 * until it does.  Returns 0, or DH_ENOMEM (with a message) leaving *p and
 * *cap as they were.
 */
__attribute__((visibility("hidden"))) int dh_grow(void **p, size_t *cap, size_t need, size_t size, size_t first);

#endif
