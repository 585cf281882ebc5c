/*
 * bench-query.c - the in-process half of scripts/bench-query: DataScript's
 * query benchmarks (q1-q4, qpred1, qpred2, rules, pull) on libdh, warm, over
 * a database in a store, and the equivalent SQL on an in-memory SQLite
 * database loaded with the same rows.  Prints "engine name ms rows" lines.
 *
 * usage: bench-query URI BENCHES.json
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dh.h"
#include "dh-db.h"
#include "dh-query.h"
#include "dh-value.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef long (*bench_fn)(void *arg);

/* warm up, then run for at least a second (and 5 times); mean ms per run */
static double timeit(bench_fn fn, void *arg, long *rows)
{
	for (int i = 0; i < 3; i++)
		*rows = fn(arg);
	int n = 0;
	double t0 = now_ms(), t = t0;
	while (n < 5 || t - t0 < 1000) {
		fn(arg);
		n++;
		t = now_ms();
	}
	return (t - t0) / n;
}

struct qrun {
	struct dh_query *q;
	struct dh_query_arg args[4];
	size_t nargs;
	long rows;
};

static int count_row(const struct dh_val *row, void *payload)
{
	(void)row;
	((struct qrun *)payload)->rows++;
	return 0;
}

static long run_query(void *arg)
{
	struct qrun *r = arg;
	r->rows = 0;
	if (dh_query_run(r->q, r->args, r->nargs, -1, -1, count_row, r)) {
		fprintf(stderr, "bench-query: %s\n", dh_errmsg());
		exit(1);
	}
	return r->rows;
}

struct pullrun {
	struct dh_query_source *src;
	struct dh_val pattern;
	int64_t *ids;
	size_t n;
	struct dh_arena *a;
};

static long run_pull(void *arg)
{
	struct pullrun *p = arg;
	dh_arena_reset(p->a);
	for (size_t i = 0; i < p->n; i++) {
		struct dh_val out;
		if (dh_pull(&out, p->a, p->src, &p->pattern, p->ids[i])) {
			fprintf(stderr, "bench-query: %s\n", dh_errmsg());
			exit(1);
		}
	}
	return (long)p->n;
}

/* ---- SQLite ------------------------------------------------------------------ */

struct sqlrun {
	sqlite3_stmt *st;
	int nparams;
	int64_t param;
};

static long run_sql(void *arg)
{
	struct sqlrun *s = arg;
	long rows = 0;
	sqlite3_reset(s->st);
	if (s->nparams)
		sqlite3_bind_int64(s->st, 1, s->param);
	while (sqlite3_step(s->st) == SQLITE_ROW)
		rows++;
	return rows;
}

struct sqlpull {
	sqlite3_stmt *st;
	int64_t *ids;
	size_t n;
};

static long run_sqlpull(void *arg)
{
	struct sqlpull *s = arg;
	for (size_t i = 0; i < s->n; i++) {
		sqlite3_reset(s->st);
		sqlite3_bind_int64(s->st, 1, s->ids[i]);
		while (sqlite3_step(s->st) == SQLITE_ROW)
			;
	}
	return (long)s->n;
}

struct loadrow {
	sqlite3_stmt *ins;
	int cols;
};

static int load_row(const struct dh_val *row, void *payload)
{
	struct loadrow *l = payload;
	sqlite3_reset(l->ins);
	for (int i = 0; i < l->cols; i++) {
		const struct dh_val *v = &row->u.items[i];
		if (v->type == DH_LONG)
			sqlite3_bind_int64(l->ins, i + 1, v->u.i);
		else
			sqlite3_bind_text(l->ins, i + 1, v->u.s, (int)v->len, SQLITE_TRANSIENT);
	}
	return sqlite3_step(l->ins) == SQLITE_DONE ? 0 : -1;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-query: %s: %s\n", what, dh_errmsg());
	exit(1);
}

static void load_sqlite(sqlite3 *db, struct dh_query_source *src)
{
	static const char *ddl =
		"CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, last_name TEXT, sex TEXT, age INT, salary INT);"
		"CREATE INDEX people_name ON people(name);"
		"CREATE TABLE follows(src INT, dst INT);"
		"CREATE INDEX follows_src ON follows(src); CREATE INDEX follows_dst ON follows(dst);";
	const char *loads[2][2] = {
		{ "[:find ?e ?n ?l ?s ?a ?sal :where [?e :name ?n] [?e :last-name ?l] [?e :sex ?k] [(name ?k) ?s]"
		  " [?e :age ?a] [?e :salary ?sal]]", "INSERT INTO people VALUES(?,?,?,?,?,?)" },
		{ "[:find ?a ?b :where [?a :follows ?b]]", "INSERT INTO follows VALUES(?,?)" },
	};
	if (sqlite3_exec(db, ddl, NULL, NULL, NULL) != SQLITE_OK || sqlite3_exec(db, "BEGIN", NULL, NULL, NULL))
		die("sqlite schema");
	for (int k = 0; k < 2; k++) {
		struct dh_query *q;
		struct loadrow l = { NULL, k ? 2 : 6 };
		struct dh_query_arg a = { .src = src };
		if (dh_query_parse(&q, loads[k][0], strlen(loads[k][0]), "<load>"))
			die("load query");
		sqlite3_prepare_v2(db, loads[k][1], -1, &l.ins, NULL);
		if (dh_query_run(q, &a, 1, -1, -1, load_row, &l))
			die("load");
		sqlite3_finalize(l.ins);
		dh_query_free(q);
	}
	sqlite3_exec(db, "COMMIT; ANALYZE", NULL, NULL, NULL);
}

int main(int argc, char **argv)
{
	struct dh_store *st = NULL;
	struct dh_db *db = NULL;
	struct dh_query_source *src = NULL;
	struct dh_arena *a = NULL;
	struct dh_buf text = DH_BUF_INIT;
	struct dh_val benches;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: bench-query URI BENCHES.json\n");
		return 2;
	}
	if (dh_arena_new(&a))
		return 1;
	if (!(f = fopen(argv[2], "r")))
		return 1;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		dh_buf_add(&text, chunk, n);
	fclose(f);
	struct dh_json_reader *jr;
	if (dh_json_reader_mem(&jr, text.data, text.len, argv[2]) || dh_json_read(jr, a, &benches))
		die(argv[2]);
	dh_json_reader_free(jr);
	double t0 = now_ms();
	if (dh_store_open(&st, argv[1], DH_STORE_RDONLY) || dh_db_open(&db, st, NULL) || dh_query_source_db(&src, db))
		die(argv[1]);
	printf("dh open %.3f 0\n", now_ms() - t0);

	sqlite3 *sq = NULL;
	sqlite3_open(":memory:", &sq);
	load_sqlite(sq, src);
	static const char *sql[][2] = {
		{ "q1", "SELECT id FROM people WHERE name = 'Ivan'" },
		{ "q2", "SELECT id, age FROM people WHERE name = 'Ivan'" },
		{ "q3", "SELECT id, age FROM people WHERE name = 'Ivan' AND sex = 'male'" },
		{ "q4", "SELECT id, last_name, age FROM people WHERE name = 'Ivan' AND sex = 'male'" },
		{ "qpred1", "SELECT id, salary FROM people WHERE salary > 50000" },
		{ "qpred2", "SELECT id, salary FROM people WHERE salary > ?" },
		{ "rules", "WITH RECURSIVE r(a, b) AS (SELECT src, dst FROM follows UNION "
		           "SELECT f.src, r.b FROM follows f JOIN r ON f.dst = r.a) SELECT a, b FROM r" },
	};

	/* benches is a JSON object: keys became keywords, values [query, [args]] */
	for (uint32_t i = 0; i + 1 < benches.len; i += 2) {
		const struct dh_val *name = &benches.u.items[i], *b = &benches.u.items[i + 1];
		const struct dh_val *qt = &b->u.items[0], *args = &b->u.items[1];
		struct qrun r = { 0 };
		if (dh_query_parse(&r.q, qt->u.s, qt->len, "<bench>"))
			die("parse");
		r.args[0].src = src;
		r.nargs = 1 + args->len;
		for (uint32_t k = 0; k < args->len; k++) {
			const struct dh_val *x = &args->u.items[k];
			if (x->type == DH_STRING) {
				if (dh_edn_parse(&r.args[1 + k].val, a, x->u.s, x->len, "<arg>"))
					die("arg");
			} else {
				r.args[1 + k].val = *x;
			}
		}
		long rows = 0;
		double ms = timeit(run_query, &r, &rows);
		printf("dh %.*s %.3f %ld\n", (int)name->len, name->u.s, ms, rows);
		dh_query_free(r.q);
		for (size_t k = 0; k < sizeof(sql) / sizeof(*sql); k++) {
			if (strlen(sql[k][0]) != name->len || memcmp(sql[k][0], name->u.s, name->len))
				continue;
			struct sqlrun s = { 0 };
			if (sqlite3_prepare_v2(sq, sql[k][1], -1, &s.st, NULL) != SQLITE_OK) {
				fprintf(stderr, "bench-query: %s\n", sqlite3_errmsg(sq));
				return 1;
			}
			s.nparams = sqlite3_bind_parameter_count(s.st);
			s.param = 50000;
			ms = timeit(run_sql, &s, &rows);
			printf("sqlite %s %.3f %ld\n", sql[k][0], ms, rows);
			sqlite3_finalize(s.st);
		}
	}

	/* pull: 1000 people with 4 attributes */
	{
		struct pullrun p = { .src = src };
		struct dh_query *q;
		const char *qt = "[:find [?e ...] :where [?e :salary _]]";
		struct dh_val ids;
		struct dh_query_arg qa = { .src = src };
		if (dh_query_parse(&q, qt, strlen(qt), "<ids>") || dh_query_collect(&ids, a, q, &qa, 1))
			die("ids");
		dh_query_free(q);
		p.n = ids.len < 1000 ? ids.len : 1000;
		p.ids = malloc((p.n + 1) * sizeof(*p.ids));
		for (size_t i = 0; i < p.n; i++)
			p.ids[i] = ids.u.items[i].u.i;
		const char *pt = "[:name :last-name :age :sex]";
		if (dh_edn_parse(&p.pattern, a, pt, strlen(pt), "<pattern>") || dh_arena_new(&p.a))
			die("pattern");
		long rows;
		double ms = timeit(run_pull, &p, &rows);
		printf("dh pull %.3f %ld\n", ms, rows);
		struct sqlpull s = { .ids = p.ids, .n = p.n };
		sqlite3_prepare_v2(sq, "SELECT name, last_name, age, sex FROM people WHERE id = ?", -1, &s.st, NULL);
		ms = timeit(run_sqlpull, &s, &rows);
		printf("sqlite pull %.3f %ld\n", ms, rows);
		sqlite3_finalize(s.st);
		dh_arena_free(p.a);
		free(p.ids);
	}
	sqlite3_close(sq);
	dh_query_source_free(src);
	dh_db_close(db);
	dh_store_close(st);
	dh_buf_release(&text);
	dh_arena_free(a);
	return 0;
}
