/*
 * bench-store.c - store put/get throughput next to raw writes.
 *
 *   bench-store DIR [COUNT_4K] [COUNT_64K]
 *
 * For the file and LMDB backends: batched, durable puts of 4 KiB and 64 KiB
 * nodes (put_many of BATCH nodes, then flush), and gets of every node; next
 * to a trivial loop writing the same bytes sequentially to one file with the
 * same durability (one fdatasync per batch), measured in the same run.
 * The nodes and their names (SHA-256) are made before either clock starts:
 * both sides time writing the same bytes durably, nothing else.  A second
 * peer writes each value to its own file with one syncfs per batch: the
 * floor for any store of one file per value.
 * Prints one line per measurement with the ratio to the raw rate.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dh.h"

#define BATCH 1000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;

	for (size_t i = 0; i < n; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, n - i < 8 ? n - i : 8);
	}
}

/*
 * The peer: the same bytes written sequentially to one file, BATCH values
 * at a time, with one fdatasync per batch.
 */
static double raw_write(const char *dir, const unsigned char *data, size_t size, size_t count)
{
	char path[4096];
	double t0;
	int fd;

	snprintf(path, sizeof(path), "%s/raw.bin", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	t0 = now();
	for (size_t i = 0; i < count; i += BATCH) {
		size_t n = count - i < BATCH ? count - i : BATCH;

		for (size_t j = 0; j < n; j++)
			if (write(fd, data + (i + j) * size, size) != (ssize_t)size)
				abort();
		fdatasync(fd);
	}
	t0 = now() - t0;
	close(fd);
	unlink(path);
	return (double)count / t0;
}

/*
 * A second peer, for the file backend: what one file per value costs at
 * best, a trivial loop writing each value to its own file in the same
 * fan-out (a temporary file renamed into place) with one syncfs per batch.
 */
static double raw_files(const char *dir, const unsigned char *data, char (*keys)[DH_NODE_KEY_LEN + 1], size_t size,
	size_t count)
{
	char path[4096], tmp[4200], cmd[8400];
	double t0;
	int root;

	snprintf(path, sizeof(path), "%s/raw-files", dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s/nodes'", path, path);
	if (system(cmd) || (root = open(path, O_RDONLY | O_DIRECTORY)) < 0)
		abort();
	for (int i = 0; i < 256; i++) {
		snprintf(tmp, sizeof(tmp), "nodes/%02x", i);
		mkdirat(root, tmp, 0777);
	}
	syncfs(root);
	t0 = now();
	for (size_t i = 0; i < count; i += BATCH) {
		size_t n = count - i < BATCH ? count - i : BATCH;

		for (size_t j = 0; j < n; j++) {
			int fd;

			snprintf(tmp, sizeof(tmp), "%.9s.tmp", keys[i + j]);
			fd = openat(root, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || write(fd, data + (i + j) * size, size) != (ssize_t)size || close(fd) ||
			    renameat(root, tmp, root, keys[i + j]))
				abort();
		}
		syncfs(root);
	}
	t0 = now() - t0;
	close(root);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd))
		abort();
	return (double)count / t0;
}

struct result {
	double put, get, node_get, flush_secs;
};

static int run(struct result *r, const char *uri, const unsigned char *data, char (*keys)[DH_NODE_KEY_LEN + 1],
	size_t size, size_t count)
{
	struct dh_store *st;
	struct dh_kv *kvs = calloc(count, sizeof(*kvs));
	struct dh_buf b = DH_BUF_INIT;
	double t0, t1;
	int rc = dh_store_open(&st, uri, DH_STORE_CREATE);

	r->flush_secs = 0;
	if (rc)
		goto out;
	for (size_t i = 0; i < count; i++)
		kvs[i] = (struct dh_kv){ keys[i], data + i * size, size };
	t0 = now();
	for (size_t i = 0; i < count && !rc; i += BATCH) {
		size_t n = count - i < BATCH ? count - i : BATCH;

		rc = dh_store_put_many(st, kvs + i, n);
		t1 = now();
		if (!rc)
			rc = dh_store_flush(st);
		r->flush_secs += now() - t1;
	}
	r->put = (double)count / (now() - t0);
	r->flush_secs /= (double)count / r->put;  /* as a share of the put time */
	t0 = now();
	for (int pass = 0; pass < 3 && !rc; pass++)
		for (size_t i = 0; i < count && !rc; i++)
			rc = dh_store_get(st, keys[i], &b);
	r->get = 3.0 * (double)count / (now() - t0);
	t0 = now();
	for (size_t i = 0; i < count && !rc; i++) {
		char hex[DH_HASH_HEX + 1];

		snprintf(hex, sizeof(hex), "%c%c%s", keys[i][6], keys[i][7], keys[i] + 9);
		rc = dh_node_get(st, hex, &b);
	}
	r->node_get = (double)count / (now() - t0);
	dh_store_close(st);
out:
	if (rc)
		fprintf(stderr, "bench-store: %s: %s\n", uri, dh_errmsg());
	free(kvs);
	dh_buf_release(&b);
	return rc;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	size_t counts[2] = { argc > 2 ? strtoul(argv[2], NULL, 10) : 20000, argc > 3 ? strtoul(argv[3], NULL, 10) : 2000 };
	size_t sizes[2] = { 4096, 65536 };
	const char *schemes[2] = { "file", "lmdb" };

	printf("%-6s %6s %7s %12s %6s %12s %8s %12s %8s %12s %12s\n", "store", "node", "count", "put/s", "sync%",
	       "raw write/s", "ratio", "file loop/s", "ratio", "get/s", "verified/s");
	for (int s = 0; s < 2; s++) {
		size_t size = sizes[s], count = counts[s];
		unsigned char *data = malloc(size * count);
		char (*keys)[DH_NODE_KEY_LEN + 1] = calloc(count, sizeof(*keys));
		double raw, files;

		if (!data || !keys)
			return 1;
		for (size_t i = 0; i < count; i++) {
			char hex[DH_HASH_HEX + 1];

			fill(data + i * size, size, (unsigned)i);
			dh_node_name(hex, data + i * size, size);
			dh_node_key(keys[i], hex);
		}
		raw = raw_write(dir, data, size, count);
		files = raw_files(dir, data, keys, size, count);
		for (int k = 0; k < 2; k++) {
			char uri[4200], cmd[4300];
			struct result r;

			snprintf(uri, sizeof(uri), "%s://%s/bench-%s-%zu", schemes[k], dir, schemes[k], size);
			snprintf(cmd, sizeof(cmd), "rm -rf '%s/bench-%s-%zu'", dir, schemes[k], size);
			if (system(cmd))
				return 1;
			if (run(&r, uri, data, keys, size, count))
				return 1;
			printf("%-6s %5zuK %7zu %12.0f %5.0f%% %12.0f %8.2f %12.0f %8.2f %12.0f %12.0f\n", schemes[k],
			       size / 1024, count, r.put, 100 * r.flush_secs, raw, r.put / raw, files, r.put / files, r.get,
			       r.node_get);
			fflush(stdout);
			if (system(cmd))
				return 1;
		}
		free(data);
		free(keys);
	}
	return 0;
}
