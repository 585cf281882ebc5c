/*
 * runs.c - sorted runs in temporary files and their merge heap (runs.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh.h"
#include "util/mem.h"
#include "util/runs.h"

int dh_run_open(FILE **out, const char *tmpdir, const char *prefix, size_t bufsize)
{
	char *path = NULL;
	int fd, rc = 0;

	*out = NULL;
	if (!tmpdir || !*tmpdir)
		tmpdir = getenv("TMPDIR");
	if (!tmpdir || !*tmpdir)
		tmpdir = "/tmp";
	if (asprintf(&path, "%s/%s-XXXXXX", tmpdir, prefix) < 0)
		return dh_error_set(DH_ENOMEM, "out of memory");
	fd = mkstemp(path);
	if (fd < 0) {
		rc = dh_error_set(DH_EIO, "cannot create a sort run in '%s': %s", tmpdir, strerror(errno));
		goto out;
	}
	unlink(path);
	if (!(*out = fdopen(fd, "w+b"))) {
		close(fd);
		rc = dh_error_set(DH_EIO, "cannot open a sort run in '%s': %s", tmpdir, strerror(errno));
		goto out;
	}
	setvbuf(*out, NULL, _IOFBF, bufsize);
out:
	free(path);
	return rc;
}

int dh_run_read(FILE *f, unsigned char **buf, size_t *cap, size_t len)
{
	int rc = dh_grow((void **)buf, cap, len, 1, 4096);

	if (rc)
		return rc;
	if (fread_unlocked(*buf, 1, len, f) == len)
		return 0;
	if (ferror(f))
		return dh_error_set(DH_EIO, "cannot read a sort run: %s", strerror(errno));
	return dh_error_set(DH_EIO, "sort run truncated");
}

static void sift_down(size_t *heap, size_t n, size_t i, dh_heap_less_fn less, void *ctx)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i, t;

		if (l < n && less(heap[l], heap[m], ctx))
			m = l;
		if (l + 1 < n && less(heap[l + 1], heap[m], ctx))
			m = l + 1;
		if (m == i)
			return;
		t = heap[i];
		heap[i] = heap[m];
		heap[m] = t;
		i = m;
	}
}

void dh_heap_make(size_t *heap, size_t n, dh_heap_less_fn less, void *ctx)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(heap, n, i, less, ctx);
}

void dh_heap_next(size_t *heap, size_t *n, int more, dh_heap_less_fn less, void *ctx)
{
	if (!more)
		heap[0] = heap[--*n];
	if (*n)
		sift_down(heap, *n, 0, less, ctx);
}
