/*
 * bench-db.c - the database benchmarks that need the library in process
 * (run by scripts/bench-db, which prints the ratios):
 *
 *   bench-db small URI PEOPLE.edn N     N one-entity transactions, durable
 *                                       commits; prints "tx_per_s X"
 *   bench-db load URI PEOPLE.edn        every vector of the file through
 *                                       one bulk transaction; prints
 *                                       "datoms D seconds S"
 *
 * PEOPLE.edn holds one entity map per line inside one vector.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dh-db.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what)
{
	fprintf(stderr, "bench-db: %s: %s\n", what, dh_errmsg());
	return 1;
}

static int read_all(const char *path, struct dh_arena *a, struct dh_val *out)
{
	FILE *f = fopen(path, "rb");
	struct dh_edn_reader *r;
	int rc;

	if (!f)
		return dh_error_set(DH_EIO, "cannot open '%s'", path);
	if ((rc = dh_edn_reader_file(&r, f, path)))
		return rc;
	rc = dh_edn_read(r, a, out);
	dh_edn_reader_free(r);
	fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	struct dh_store *st;
	struct dh_conn *c;
	struct dh_arena *a;
	struct dh_val people;
	double t0, t1;
	int rc;

	if (argc < 4)
		return 2;
	dh_arena_new(&a);
	if ((rc = read_all(argv[3], a, &people)) || people.type != DH_VECTOR)
		return die("read");
	if (dh_store_open(&st, argv[2], 0) || dh_conn_open(&c, st, NULL))
		return die("open");
	if (!strcmp(argv[1], "small")) {
		long n = argc > 4 ? atol(argv[4]) : (long)people.len, i;

		if (n > (long)people.len)
			n = (long)people.len;
		t0 = now();
		for (i = 0; i < n; i++) {
			struct dh_val tx = { .type = DH_VECTOR, .len = 1 };

			tx.u.items = &people.u.items[i];
			if (dh_transact(NULL, c, &tx, 0))
				return die("transact");
		}
		t1 = now();
		printf("tx_per_s %.0f\n", (double)n / (t1 - t0));
	} else if (!strcmp(argv[1], "load")) {
		struct dh_tx_report *r = NULL;

		t0 = now();
		if (dh_transact(&r, c, &people, 0))
			return die("transact");
		t1 = now();
		printf("datoms %zu seconds %.3f\n", r->ndatoms, t1 - t0);
		dh_tx_report_free(r);
	} else {
		return 2;
	}
	dh_conn_close(c);
	dh_store_close(st);
	dh_arena_free(a);
	return 0;
}
