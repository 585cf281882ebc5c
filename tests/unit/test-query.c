/*
 * test-query.c - the query API itself: parsing errors with positions,
 * streaming rows and stopping early, limits, the in-memory sources
 * (history datoms with retractions), pull on missing entities, and a plan
 * run several times with different inputs.  The language is covered by the
 * data-driven cases in tests/data/query.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh.h"
#include "dh-query.h"
#include "dh-value.h"
#include "tap.h"

static struct dh_arena *A;

static struct dh_val edn(const char *text)
{
	return tap_edn(A, text);
}

static char *show(const struct dh_val *v)
{
	static char out[2048];
	struct dh_buf b = DH_BUF_INIT;
	snprintf(out, sizeof(out), "%s", dh_edn_print(&b, v) ? "?" : b.data);
	dh_buf_release(&b);
	return out;
}

static struct dh_query *parse(const char *text)
{
	struct dh_query *q = NULL;
	if (dh_query_parse(&q, text, strlen(text), "<q>"))
		tap_diag("parse: %s", dh_errmsg());
	return q;
}

struct counter {
	int rows, stop_at;
};

static int count_rows(const struct dh_val *row, void *payload)
{
	struct counter *c = payload;
	(void)row;
	if (++c->rows == c->stop_at)
		return 42;
	return 0;
}

int main(void)
{
	struct dh_query_source *src = NULL, *hist = NULL;
	struct dh_query *q;
	struct dh_val res;
	int rc;

	dh_arena_new(&A);
	struct dh_val schema = edn("{:name {:db/unique :db.unique/identity} :f {:db/valueType :db.type/ref "
	                           ":db/cardinality :db.cardinality/many}}");
	struct dh_val tx = edn("[{:db/id \"a\" :name \"a\" :n 1} {:db/id \"b\" :name \"b\" :n 2 :f [\"a\"]}"
	                       " {:name \"c\" :n 3 :f [\"a\" \"b\"]}]");
	ok(dh_query_source_tx(&src, &schema, &tx, 0) == 0, "a source from tx-data");

	/* parse errors carry line and column */
	q = NULL;
	const char *t1 = "[:find ?x\n :where [?e :name ?n]]";
	rc = dh_query_parse(&q, t1, strlen(t1), "q.edn");
	ok(rc == DH_EINVAL && !q, "unknown find variable is an error");
	is_str(dh_errmsg(), "q.edn:1:8: unknown variable ?x in :find (bind it in :where or :in)", "message and position");
	const char *t2 = "[:find ?n :where\n  [?e :name ?n]\n  [(frob ?n)]]";
	rc = dh_query_parse(&q, t2, strlen(t2), "q.edn");
	ok(rc == DH_EINVAL && strstr(dh_errmsg(), "q.edn:3:5: unknown function 'frob'"), "position on a later line: %s",
	   dh_errmsg());
	rc = dh_query_parse(&q, "[:find ?n :where [?e :name ?n]", 30, "q.edn");
	ok(rc == DH_EINVAL && strstr(dh_errmsg(), "q.edn:1:"), "unbalanced text: %s", dh_errmsg());

	/* streaming, stopping early, limits */
	q = parse("[:find ?e :where [?e :n _]]");
	struct dh_query_arg arg = { .src = src };
	struct counter c = { 0, 0 };
	ok(dh_query_run(q, &arg, 1, -1, -1, count_rows, &c) == 0 && c.rows == 3, "three rows streamed");
	c = (struct counter){ 0, 2 };
	ok(dh_query_run(q, &arg, 1, -1, -1, count_rows, &c) == 42 && c.rows == 2, "callback's return stops the run");
	c = (struct counter){ 0, 0 };
	ok(dh_query_run(q, &arg, 1, 2, -1, count_rows, &c) == 0 && c.rows == 2, "limit 2");
	c = (struct counter){ 0, 0 };
	ok(dh_query_run(q, &arg, 1, -1, 2, count_rows, &c) == 0 && c.rows == 1, "offset 2");
	c = (struct counter){ 0, 0 };
	ok(dh_query_run(q, &arg, 0, -1, -1, count_rows, &c) == DH_EINVAL, "missing source is an error");
	dh_query_free(q);

	/* a plan runs again with other inputs */
	q = parse("[:find ?m . :in $ ?x :where [?e :name ?x] [?e :n ?m]]");
	struct dh_query_arg args[2] = { { .src = src }, { .val = edn("\"b\"") } };
	ok(dh_query_collect(&res, A, q, args, 2) == 0 && res.type == DH_LONG && res.u.i == 2, "first run");
	args[1].val = edn("\"c\"");
	ok(dh_query_collect(&res, A, q, args, 2) == 0 && res.type == DH_LONG && res.u.i == 3, "second run");
	args[1].val = edn("\"zz\"");
	ok(dh_query_collect(&res, A, q, args, 2) == 0 && res.type == DH_NIL, "no match is nil");
	ok(dh_query_find_kind(q) == DH_FIND_SCALAR && dh_query_nin(q) == 2 && dh_query_in_kind(q, 0) == 1 &&
	   dh_query_in_kind(q, 1) == 0, "plan facts");
	dh_query_free(q);

	/* rules given at run time, twice with different rules */
	q = parse("[:find [?n ...] :in $ % :where (r ?e) [?e :name ?n]]");
	args[1].val = edn("[[(r ?e) [?e :n 1]]]");
	rc = dh_query_collect(&res, A, q, args, 2);
	ok(rc == 0 && !strcmp(show(&res), "[\"a\"]"), "rules: %s", show(&res));
	args[1].val = edn("[[(r ?e) [?e :f _]]]");
	rc = dh_query_collect(&res, A, q, args, 2);
	ok(rc == 0 && res.len == 2, "other rules: %s", show(&res));
	dh_query_free(q);

	/* a datom source with history: retractions bind added false */
	struct dh_qdatom d[3] = {
		{ 1, dh_text(DH_KEYWORD, "n", 1), dh_long(1), 536870913, 1 },
		{ 1, dh_text(DH_KEYWORD, "n", 1), dh_long(1), 536870914, 0 },
		{ 1, dh_text(DH_KEYWORD, "n", 1), dh_long(5), 536870914, 1 },
	};
	ok(dh_query_source_datoms(&hist, d, 3, NULL) == 0 && hist->history, "history source");
	q = parse("[:find ?v ?tx ?added :where [?e :n ?v ?tx ?added]]");
	arg.src = hist;
	rc = dh_query_collect(&res, A, q, &arg, 1);
	ok(rc == 0 && res.len == 3, "all three datoms: %s", show(&res));
	dh_query_free(q);
	q = parse("[:find [?v ...] :where [?e :n ?v _ false]]");
	rc = dh_query_collect(&res, A, q, &arg, 1);
	ok(rc == 0 && !strcmp(show(&res), "[1]"), "retracted: %s", show(&res));
	dh_query_free(q);

	/* pull */
	int64_t eid;
	struct dh_val ref = edn("[:name \"c\"]"), pat = edn("[:name {:f [:name]}]");
	ok(dh_query_resolve(src, &ref, &eid) == 0, "lookup ref resolves");
	rc = dh_pull(&res, A, src, &pat, eid);
	ok(rc == 0 && !strcmp(show(&res), "{:name \"c\", :f [{:name \"a\"} {:name \"b\"}]}"), "pull: %s", show(&res));
	pat = edn("[:nothing]");
	ok(dh_pull(&res, A, src, &pat, eid) == 0 && res.type == DH_NIL, "pull of nothing is nil");
	pat = edn("[(:name :limit \"x\")]");
	ok(dh_pull(&res, A, src, &pat, eid) == DH_EINVAL, "bad pull option: %s", dh_errmsg());
	ref = edn("[:name \"zz\"]");
	ok(dh_query_resolve(src, &ref, &eid) == DH_ENOTFOUND, "unknown lookup ref");

	/* run-time errors name the clause */
	q = parse("[:find ?y :where [?e :name ?n] [(inc ?n) ?y]]");
	arg.src = src;
	rc = dh_query_collect(&res, A, q, &arg, 1);
	ok(rc == DH_EINVAL && strstr(dh_errmsg(), "<q>:1:32") && strstr(dh_errmsg(), "expected a number, got string"),
	   "type error with position: %s", dh_errmsg());
	dh_query_free(q);

	dh_query_source_free(src);
	dh_query_source_free(hist);
	dh_arena_free(A);
	return done_testing();
}
