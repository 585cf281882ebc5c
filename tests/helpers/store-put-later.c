/*
 * store-put-later.c - a test helper: open a store, say "ready", wait for a
 * line on stdin, then put SIZE bytes under KEY and report.
 *
 *   store-put-later URI KEY SIZE
 *
 * Unlike the tools it leaves SIGPIPE at its default, as a program linking
 * libdh may, so tests can drop the server connection while it waits and
 * check that the library reports the failure instead of killing its caller.
 * Exits 0 when the put succeeded, 1 when it failed (message on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh.h"

int main(int argc, char **argv)
{
	struct dh_store *st;
	char line[64];
	size_t size;
	char *data;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: store-put-later URI KEY SIZE\n");
		return 2;
	}
	size = strtoul(argv[3], NULL, 10);
	if (dh_store_open(&st, argv[1], 0)) {
		fprintf(stderr, "store-put-later: %s\n", dh_errmsg());
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	data = calloc(1, size ? size : 1);
	rc = dh_store_put(st, argv[2], data, size);
	if (!rc)
		rc = dh_store_flush(st);
	if (rc)
		fprintf(stderr, "store-put-later: %s\n", dh_errmsg());
	dh_store_close(st);
	free(data);
	return rc ? 1 : 0;
}
