/*
 * bench-copy.c - figures for scripts/bench-cloud (not a test).
 *
 *   bench-copy copy SRC DST [BATCH]    copy every key of SRC to DST with
 *                                      dh_store_put_many() in batches
 *   bench-copy gets URI N              read N nodes of URI one by one
 *   bench-copy query URI QUERY         open the database of URI and run
 *                                      QUERY (cold: a new process), as
 *                                      dh-query does
 *
 * Values are read from SRC before the clock starts, so `copy` times only
 * the writes.  Each prints one line of figures, including the HTTP
 * requests made (every attempt counts); `query` counts from before the
 * store is opened, and prints the depth of the EAVT and AVET trees.  The
 * cloud backends are compiled into this program and registered before any
 * store opens, so the request counter read here is the one the backends
 * count with (libdh would otherwise load them as a module, with a counter
 * of its own).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dh.h"
#include "dh-db.h"
#include "dh-query.h"
#include "store/backends.h"
#include "store/http.h"

struct keys {
	char **k;
	size_t n, cap;
};

static int add_key(const char *key, void *payload)
{
	struct keys *ks = payload;

	if (ks->n == ks->cap) {
		ks->cap = ks->cap ? ks->cap * 2 : 1024;
		ks->k = realloc(ks->k, ks->cap * sizeof(*ks->k));
	}
	ks->k[ks->n++] = strdup(key);
	return 0;
}

static void keys_release(struct keys *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		free(ks->k[i]);
	free(ks->k);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_row(const struct dh_val *row, void *payload)
{
	(void)row;
	++*(int *)payload;
	return 0;
}

static struct dh_store *open_or_die(const char *uri, unsigned flags)
{
	struct dh_store *st;

	if (dh_store_open(&st, uri, flags)) {
		fprintf(stderr, "bench-copy: %s\n", dh_errmsg());
		exit(1);
	}
	return st;
}

int main(int argc, char **argv)
{
	struct keys ks = { 0 };
	static const struct dh_store_ops *const cloud[] = { &dh_store_s3_ops, &dh_store_gs_ops, &dh_store_dynamodb_ops };

	if (dh_store_register_all(cloud, 3)) {
		fprintf(stderr, "bench-copy: %s\n", dh_errmsg());
		return 1;
	}

	if (argc >= 4 && !strcmp(argv[1], "copy")) {
		struct dh_store *src = open_or_die(argv[2], DH_STORE_RDONLY), *dst = open_or_die(argv[3], DH_STORE_CREATE);
		size_t batch = argc > 4 ? strtoul(argv[4], NULL, 10) : 1000, i;
		struct dh_buf *vals;
		struct dh_kv *kvs;
		unsigned long r0;
		double t0, t;

		dh_store_list(src, "", add_key, &ks);
		vals = calloc(ks.n + 1, sizeof(*vals));
		kvs = calloc(ks.n + 1, sizeof(*kvs));
		for (i = 0; i < ks.n; i++) {
			if (dh_store_get(src, ks.k[i], &vals[i])) {
				fprintf(stderr, "bench-copy: %s\n", dh_errmsg());
				return 1;
			}
			kvs[i] = (struct dh_kv){ ks.k[i], vals[i].data, vals[i].len };
		}
		r0 = dh_http_requests();
		t0 = now();
		for (i = 0; i < ks.n; i += batch) {
			size_t n = ks.n - i < batch ? ks.n - i : batch;

			if (dh_store_put_many(dst, kvs + i, n) || dh_store_flush(dst)) {
				fprintf(stderr, "bench-copy: %s\n", dh_errmsg());
				return 1;
			}
		}
		t = now() - t0;
		printf("%zu objects in %.2f s: %.0f objects/s, %lu HTTP requests\n", ks.n, t, (double)ks.n / t,
		       dh_http_requests() - r0);
		for (i = 0; i < ks.n; i++)
			dh_buf_release(&vals[i]);
		free(vals);
		free(kvs);
		keys_release(&ks);
		dh_store_close(src);
		dh_store_close(dst);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "gets")) {
		struct dh_store *st = open_or_die(argv[2], DH_STORE_RDONLY);
		size_t want = strtoul(argv[3], NULL, 10), i, got = 0;
		struct dh_buf b = DH_BUF_INIT;
		unsigned long r0;
		double t0, t;

		dh_store_list(st, "nodes/", add_key, &ks);
		r0 = dh_http_requests();
		t0 = now();
		for (i = 0; i < ks.n && got < want; i++, got++) {
			char hex[DH_HASH_HEX + 1];

			snprintf(hex, sizeof(hex), "%.2s%s", ks.k[i] + 6, ks.k[i] + 9);
			if (dh_node_get(st, hex, &b)) {
				fprintf(stderr, "bench-copy: %s\n", dh_errmsg());
				return 1;
			}
		}
		t = now() - t0;
		printf("%zu node gets in %.2f s: %.0f gets/s, %.2f HTTP requests per get\n", got, t, (double)got / t,
		       got ? (double)(dh_http_requests() - r0) / (double)got : 0.0);
		dh_buf_release(&b);
		keys_release(&ks);
		dh_store_close(st);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "query")) {
		unsigned long r0 = dh_http_requests();
		struct dh_store *st = open_or_die(argv[2], DH_STORE_RDONLY);
		struct dh_query_source *src = NULL;
		struct dh_query *q = NULL;
		struct dh_query_arg arg = { 0 };
		struct dh_db *db = NULL;
		int rows = 0;

		if (dh_db_open(&db, st, NULL) || dh_query_source_db(&src, db) ||
		    dh_query_parse(&q, argv[3], strlen(argv[3]), "query")) {
			fprintf(stderr, "bench-copy: %s\n", dh_errmsg());
			return 1;
		}
		arg.src = src;
		if (dh_query_run(q, &arg, dh_query_nin(q) ? 1 : 0, -1, 0, count_row, &rows)) {
			fprintf(stderr, "bench-copy: %s\n", dh_errmsg());
			return 1;
		}
		printf("%d rows, %lu HTTP requests; depth eavt %d avet %d\n", rows, dh_http_requests() - r0,
		       dh_db_depth(db, DH_EAVT), dh_db_depth(db, DH_AVET));
		dh_query_free(q);
		dh_query_source_free(src);
		dh_db_close(db);
		dh_store_close(st);
		return 0;
	}
	fprintf(stderr, "usage: bench-copy copy SRC DST [BATCH] | bench-copy gets URI N | bench-copy query URI QUERY\n");
	return 2;
}
