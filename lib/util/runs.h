/*
 * runs.h - what the external sorters of libdh (lib/db/dsort.c for the bulk
 * loader, lib/io/sort.c for export and import) share; not exported: sorted
 * runs kept in unlinked temporary files, and the heap that merges them.
 */
#ifndef DH_UTIL_RUNS_H
#define DH_UTIL_RUNS_H

#include <stddef.h>
#include <stdio.h>

#define DH_HIDDEN_RUNS __attribute__((visibility("hidden")))

/*
 * dh_run_open() - a new temporary file for one run, in `tmpdir` (NULL or
 * empty: $TMPDIR, else /tmp), named `prefix`-XXXXXX until it is unlinked,
 * which is at once: a process that dies leaves nothing behind.  Open for
 * writing, then (after rewind()) reading, through a buffer of `bufsize`
 * bytes.  Returns 0, DH_EIO (the message names the folder), DH_ENOMEM.
 */
DH_HIDDEN_RUNS int dh_run_open(FILE **out, const char *tmpdir, const char *prefix, size_t bufsize);

/*
 * dh_run_read() - read the next `len` bytes of run `f` into the growable
 * buffer *buf (capacity *cap).  Returns 0, DH_EIO when the run ends first
 * (it was written whole: it is damaged) or cannot be read, DH_ENOMEM.
 */
DH_HIDDEN_RUNS int dh_run_read(FILE *f, unsigned char **buf, size_t *cap, size_t len);

/*
 * The merge: heap[] holds the indices of the runs that still have a
 * record, the run whose record comes first at heap[0]; less(a, b, ctx)
 * says whether run a's current record goes before run b's (ties by index,
 * so that equal records come out in run order).
 */
typedef int (*dh_heap_less_fn)(size_t a, size_t b, void *ctx);

/* dh_heap_make() - order heap[0..n) into a heap. */
DH_HIDDEN_RUNS void dh_heap_make(size_t *heap, size_t n, dh_heap_less_fn less, void *ctx);

/*
 * dh_heap_next() - after the record of run heap[0] was used up: `more` is 1
 * when that run has a next record (now current), 0 when it ended (it
 * leaves the heap).  Restores the heap; *n is its size.
 */
DH_HIDDEN_RUNS void dh_heap_next(size_t *heap, size_t *n, int more, dh_heap_less_fn less, void *ctx);

#endif
