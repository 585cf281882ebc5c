/*
 * bench-dump-gen - write N datoms of DataScript's benchmark "people" shape
 * (:name :last-name :sex :age :salary per person, 1000 people per
 * transaction) as a dump (CBOR sequence) and the same rows as SQL for
 * SQLite, for scripts/bench-dump.  Deterministic (fixed seed).
 *
 *   bench-dump-gen N OUT.cbor OUT.sql
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh-dump.h"

static const char *names[] = { "Ivan", "Petr", "Sergei", "Oleg", "Yuri", "Dmitry", "Fedor", "Denis" };
static const char *lasts[] = { "Ivanov", "Petrov", "Sidorov", "Kovalev", "Kuznetsov", "Voronoi" };

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int add(struct dh_dump_writer *w, FILE *sql, int64_t e, const char *a, struct dh_val v, int64_t tx)
{
	struct dh_record r = { e, dh_text(DH_KEYWORD, a, (uint32_t)strlen(a)), v, tx, 1 };

	if (v.type == DH_STRING)
		fprintf(sql, "INSERT INTO datoms VALUES(%lld,':%s','%s',%lld);\n", (long long)e, a, v.u.s, (long long)tx);
	else if (v.type == DH_KEYWORD)
		fprintf(sql, "INSERT INTO datoms VALUES(%lld,':%s',':%s',%lld);\n", (long long)e, a, v.u.s, (long long)tx);
	else if (v.type == DH_INST)
		fprintf(sql, "INSERT INTO datoms VALUES(%lld,':%s',%lld,%lld);\n", (long long)e, a, (long long)v.u.i, (long long)tx);
	else
		fprintf(sql, "INSERT INTO datoms VALUES(%lld,':%s',%lld,%lld);\n", (long long)e, a, (long long)v.u.i, (long long)tx);
	return dh_dump_write(w, &r);
}

int main(int argc, char **argv)
{
	static const char *attrs[][2] = {
		{ "name", "db.type/string" }, { "last-name", "db.type/string" }, { "sex", "db.type/keyword" },
		{ "age", "db.type/long" }, { "salary", "db.type/long" },
	};
	struct dh_dump_opts o = { DH_DUMP_SEQ, 0, 0, 0 };
	struct dh_dump_writer *w = NULL;
	FILE *f, *sql;
	long long n, people;
	int64_t tx = 536870913, e = 1, ms = 1700000000000;
	int rc = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: bench-dump-gen N OUT.cbor OUT.sql\n");
		return 2;
	}
	n = atoll(argv[1]);
	people = n / 5;
	if (!(f = fopen(argv[2], "wb")) || !(sql = fopen(argv[3], "w"))) {
		perror("bench-dump-gen");
		return 1;
	}
	setvbuf(sql, NULL, _IOFBF, 1 << 20);
	fprintf(sql, "CREATE TABLE datoms(e INTEGER, a TEXT, v, tx INTEGER, PRIMARY KEY (e, a, v, tx)) WITHOUT ROWID;\n"
	        "CREATE INDEX aevt ON datoms(a, e, v);\nBEGIN;\n");
	rc = dh_dump_writer_file(&w, f, argv[2], &o);
	/* the schema transaction */
	rc = rc ? rc : add(w, sql, tx, "db/txInstant", dh_inst(ms), tx);
	for (int i = 0; i < 5 && !rc; i++) {
		struct dh_val one = dh_text(DH_KEYWORD, "db.cardinality/one", 18);

		rc = add(w, sql, e, "db/cardinality", one, tx);
		rc = rc ? rc : add(w, sql, e, "db/ident", dh_text(DH_KEYWORD, attrs[i][0], (uint32_t)strlen(attrs[i][0])), tx);
		rc = rc ? rc : add(w, sql, e, "db/valueType", dh_text(DH_KEYWORD, attrs[i][1], (uint32_t)strlen(attrs[i][1])), tx);
		e++;
	}
	for (long long p = 0; p < people && !rc; p++) {
		const char *nm = names[next() % 8], *ln = lasts[next() % 6];

		if (p % 1000 == 0) {
			tx++;
			ms += 1000;
			rc = add(w, sql, tx, "db/txInstant", dh_inst(ms), tx);
		}
		rc = rc ? rc : add(w, sql, e, "age", dh_long((int64_t)(next() % 100)), tx);
		rc = rc ? rc : add(w, sql, e, "last-name", dh_text(DH_STRING, ln, (uint32_t)strlen(ln)), tx);
		rc = rc ? rc : add(w, sql, e, "name", dh_text(DH_STRING, nm, (uint32_t)strlen(nm)), tx);
		rc = rc ? rc : add(w, sql, e, "salary", dh_long((int64_t)(next() % 100000)), tx);
		rc = rc ? rc : add(w, sql, e, "sex", next() % 2 ? dh_text(DH_KEYWORD, "male", 4) : dh_text(DH_KEYWORD, "female", 6), tx);
		e++;
	}
	fprintf(sql, "COMMIT;\n");
	if (!rc)
		rc = dh_dump_writer_finish(w, NULL);
	if (rc)
		fprintf(stderr, "bench-dump-gen: %s\n", dh_errmsg());
	printf("%llu\n", (unsigned long long)dh_dump_writer_digest(w)->count);
	dh_dump_writer_free(w);
	if (fclose(f) || fclose(sql)) {
		perror("bench-dump-gen");
		return 1;
	}
	return rc ? 1 : 0;
}
