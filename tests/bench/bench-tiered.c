/*
 * bench-tiered.c - a repeated point read through a tiered store.
 *
 *   bench-tiered DIR COUNT_PLUGIN [BACK_URI]
 *
 * Writes NODES 4 KiB nodes and a head to BACK_URI (default: a file store in
 * DIR) and the same data to a plain lmdb:// store, then runs the same
 * "point query" in RUNS runs, each with a fresh handle as a new process
 * would: read the head, then QUERIES times a root, a branch and a leaf
 * node (what a B+tree lookup reads).  The tiered store is LMDB in front of
 * BACK_URI, wrapped in the count plugin so that every backend request is
 * counted.  Prints, per run, the backend requests and the wall time next
 * to the plain LMDB store's in the same run.  Target (issue 9): warm runs
 * within 1.5x of plain LMDB, and no node request to the backend after the
 * first run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dh-backend.h"

#define NODES 4096
#define NODE_SIZE 4096
#define QUERIES 20000
#define RUNS 4

static char names[NODES][DH_HASH_HEX + 1];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct dh_store *open_or_die(const char *uri)
{
	struct dh_store *st;

	if (dh_store_open(&st, uri, DH_STORE_CREATE)) {
		fprintf(stderr, "bench-tiered: %s\n", dh_errmsg());
		exit(1);
	}
	return st;
}

static void load(const char *uri)
{
	struct dh_store *st = open_or_die(uri);
	struct dh_node_batch *b;
	unsigned char data[NODE_SIZE];

	dh_node_batch_new(&b, st);
	for (int i = 0; i < NODES; i++) {
		for (int j = 0; j < NODE_SIZE; j++)
			data[j] = (unsigned char)(i * 31 + j * 7 + (j >> 8));
		memcpy(data, &i, sizeof(i));
		dh_node_batch_add(b, data, sizeof(data), names[i]);
	}
	if (dh_node_batch_write(b) || dh_head_cas(st, "db", NULL, names[0]) || dh_store_flush(st)) {
		fprintf(stderr, "bench-tiered: %s\n", dh_errmsg());
		exit(1);
	}
	dh_node_batch_free(b);
	dh_store_close(st);
}

/* One run: a fresh handle, the head, then QUERIES lookups of 3 nodes. */
static double run(const char *uri)
{
	struct dh_store *st;
	struct dh_buf b = DH_BUF_INIT;
	char head[DH_HASH_HEX + 1];
	double t0 = now();

	st = open_or_die(uri);
	if (dh_head_get(st, "db", head))
		goto fail;
	for (int q = 0; q < QUERIES; q++) {
		int path[3] = { 0, 1 + q % 64, 65 + (q * 7919) % 256 };

		for (int k = 0; k < 3; k++)
			if (dh_node_get(st, names[path[k]], &b))
				goto fail;
	}
	dh_store_close(st);
	dh_buf_release(&b);
	return now() - t0;
fail:
	fprintf(stderr, "bench-tiered: %s\n", dh_errmsg());
	exit(1);
}

static long count_lines(const char *log, const char *prefix)
{
	FILE *f = fopen(log, "r");
	char line[1024];
	long n = 0;

	while (f && fgets(line, sizeof(line), f))
		n += !strncmp(line, prefix, strlen(prefix));
	if (f)
		fclose(f);
	return n;
}

static void esc(char *out, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s && n + 4 < size; s++)
		n += (size_t)snprintf(out + n, size - n, strchr("%&+=?#", *s) ? "%%%02X" : "%c", (unsigned char)*s);
	out[n] = '\0';
}

int main(int argc, char **argv)
{
	static char back[1024], plain[1024], counted[4096], tiered[12288], log[1024], e1[2048], e2[8192];

	if (argc < 3) {
		fprintf(stderr, "usage: bench-tiered DIR COUNT_PLUGIN [BACK_URI]\n");
		return 2;
	}
	if (dh_plugin_load(argv[2])) {
		fprintf(stderr, "bench-tiered: %s\n", dh_errmsg());
		return 1;
	}
	snprintf(back, sizeof(back), "%s", argc > 3 ? argv[3] : "");
	if (!back[0])
		snprintf(back, sizeof(back), "file://%s/back", argv[1]);
	snprintf(plain, sizeof(plain), "lmdb://%s/plain", argv[1]);
	snprintf(log, sizeof(log), "%s/requests.log", argv[1]);
	esc(e1, sizeof(e1), back);
	snprintf(counted, sizeof(counted), "count:?store=%s&log=%s", e1, log);
	snprintf(e1, sizeof(e1), "lmdb://%s/cache", argv[1]);
	esc(e2, sizeof(e2), counted);
	snprintf(tiered, sizeof(tiered), "tiered:?front=%s&back=%s", e1, e2);
	load(back);
	load(plain);
	printf("point read: head + %d x (root, branch, leaf) of %d nodes of %d bytes; backend %s\n", QUERIES, NODES,
	       NODE_SIZE, back);
	for (int r = 1; r <= RUNS; r++) {
		long before_nodes = count_lines(log, "get nodes/"), before_all = count_lines(log, "get ");
		double t = run(tiered), p = run(plain);

		printf("run %d (%s): backend node gets %ld, other gets %ld; tiered %.1f ms, plain lmdb %.1f ms, "
		       "ratio %.2f\n",
		       r, r == 1 ? "cold" : "warm", count_lines(log, "get nodes/") - before_nodes,
		       count_lines(log, "get ") - before_all - (count_lines(log, "get nodes/") - before_nodes), t * 1e3,
		       p * 1e3, t / p);
	}
	return 0;
}
