/*
 * bench-backend.c - the store side of scripts/bench-sql-redis.
 *
 *   bench-backend put URI N SIZE BATCH   write N distinct SIZE-byte nodes in
 *                                      node batches of BATCH, then move a
 *                                      head; print "<seconds> <nodes/s> <MB/s>"
 *   bench-backend get URI N SIZE         read back the nodes of `put` (verified)
 *   bench-backend get-many URI N SIZE    the same with dh_store_get_many, 1000 a call
 *   bench-backend rows N SIZE            the same nodes as COPY text rows
 *                                      (key TAB \\x<hex>) for psql's COPY
 *   bench-backend sqlite-raw FILE N SIZE the same rows inserted with the bare
 *                                      SQLite API in one transaction (WAL)
 *
 * Node i's bytes are a deterministic function of i, so `put` and `rows`
 * produce the same keys and bytes and a baseline loads exactly what the
 * store wrote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "dh.h"
#if DH_HAVE_SQLITE
#include <sqlite3.h>
#endif

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void node_bytes(unsigned char *out, size_t size, size_t i)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (i + 1);

	for (size_t j = 0; j < size; j++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[j] = (unsigned char)x;
	}
}

static int check_cb(size_t i, const void *data, size_t len, void *payload)
{
	char (*names)[DH_HASH_HEX + 1] = payload, got[DH_HASH_HEX + 1];

	dh_node_name(got, data, len);
	if (strcmp(got, names[i]))
		return dh_error_set(DH_ECORRUPT, "node %s does not hash to its name", names[i]);
	return 0;
}

static int fail(const char *what)
{
	fprintf(stderr, "bench-backend: %s: %s\n", what, dh_errmsg());
	return 1;
}

int main(int argc, char **argv)
{
	struct dh_store *st = NULL;
	struct dh_node_batch *b = NULL;
	char name[DH_HASH_HEX + 1], first[DH_HASH_HEX + 1] = "";
	unsigned char *data;
	size_t n, size, batch = 1;
	double t0, t;

	if (argc < 4) {
		fprintf(stderr, "usage: bench-backend put URI N SIZE BATCH | get URI N SIZE | rows N SIZE\n");
		return 2;
	}
	if (!strcmp(argv[1], "rows")) {
		static const char hex[] = "0123456789abcdef";
		char *line;

		n = strtoul(argv[2], NULL, 10);
		size = strtoul(argv[3], NULL, 10);
		data = malloc(size);
		line = malloc(2 * size + DH_NODE_KEY_LEN + 8);
		for (size_t i = 0; i < n; i++) {
			char *p = line;

			node_bytes(data, size, i);
			dh_node_name(name, data, size);
			dh_node_key(p, name);
			p += DH_NODE_KEY_LEN;
			memcpy(p, "\t\\\\x", 4);
			p += 4;
			for (size_t j = 0; j < size; j++) {
				*p++ = hex[data[j] >> 4];
				*p++ = hex[data[j] & 15];
			}
			*p++ = '\n';
			fwrite(line, 1, (size_t)(p - line), stdout);
		}
		return fflush(stdout) ? 1 : 0;
	}
#if DH_HAVE_SQLITE
	if (!strcmp(argv[1], "sqlite-raw") && argc >= 5) {
		sqlite3 *db;
		sqlite3_stmt *ins;
		char key[DH_NODE_KEY_LEN + 1];

		n = strtoul(argv[3], NULL, 10);
		size = strtoul(argv[4], NULL, 10);
		data = malloc(size);
		if (sqlite3_open(argv[2], &db) ||
		    sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
				     "CREATE TABLE raw (key TEXT PRIMARY KEY, value BLOB NOT NULL)", NULL, NULL, NULL) ||
		    sqlite3_prepare_v2(db, "INSERT INTO raw VALUES (?1, ?2)", -1, &ins, NULL)) {
			fprintf(stderr, "bench-backend: sqlite: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		t0 = now();
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		for (size_t i = 0; i < n; i++) {
			node_bytes(data, size, i);
			dh_node_name(name, data, size);
			dh_node_key(key, name);
			sqlite3_bind_text(ins, 1, key, -1, SQLITE_STATIC);
			sqlite3_bind_blob(ins, 2, data, (int)size, SQLITE_STATIC);
			if (sqlite3_step(ins) != SQLITE_DONE) {
				fprintf(stderr, "bench-backend: sqlite: %s\n", sqlite3_errmsg(db));
				return 1;
			}
			sqlite3_reset(ins);
		}
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) {
			fprintf(stderr, "bench-backend: sqlite: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		t = now() - t0;
		printf("%.3f %.0f %.1f\n", t, (double)n / t, (double)n * (double)size / t / 1e6);
		sqlite3_finalize(ins);
		sqlite3_close(db);
		return 0;
	}
#endif
	if (argc < 5)
		return 2;
	n = strtoul(argv[3], NULL, 10);
	size = strtoul(argv[4], NULL, 10);
	if (argc > 5)
		batch = strtoul(argv[5], NULL, 10);
	data = malloc(size);
	if (dh_store_open(&st, argv[2], !strcmp(argv[1], "put") ? DH_STORE_CREATE : 0))
		return fail("open");
	t0 = now();
	if (!strcmp(argv[1], "put")) {
		if (dh_node_batch_new(&b, st))
			return fail("batch");
		for (size_t i = 0; i < n; i++) {
			node_bytes(data, size, i);
			if (dh_node_batch_add(b, data, size, name))
				return fail("batch add");
			if (i == 0)
				memcpy(first, name, sizeof(first));
			if ((i + 1) % batch == 0 && dh_node_batch_write(b))
				return fail("batch write");
		}
		if (dh_node_batch_write(b) || dh_head_cas(st, "bench", NULL, first))
			return fail("write");
		dh_node_batch_free(b);
	} else if (!strcmp(argv[1], "get-many")) {
		static char names[1000][DH_HASH_HEX + 1], keys[1000][DH_NODE_KEY_LEN + 1];
		const char *kp[1000];

		for (size_t i = 0; i < n; i += 1000) {
			size_t m = n - i < 1000 ? n - i : 1000;

			for (size_t j = 0; j < m; j++) {
				node_bytes(data, size, i + j);
				dh_node_name(names[j], data, size);
				dh_node_key(keys[j], names[j]);
				kp[j] = keys[j];
			}
			if (dh_store_get_many(st, kp, m, check_cb, names))
				return fail("get_many");
		}
	} else {
		struct dh_buf out = DH_BUF_INIT;

		for (size_t i = 0; i < n; i++) {
			node_bytes(data, size, i);
			dh_node_name(name, data, size);
			if (dh_node_get(st, name, &out))
				return fail("get");
		}
		dh_buf_release(&out);
	}
	t = now() - t0;
	printf("%.3f %.0f %.1f\n", t, (double)n / t, (double)n * (double)size / t / 1e6);
	dh_store_close(st);
	free(data);
	return 0;
}
