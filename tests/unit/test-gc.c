/*
 * test-gc.c - history cuts beneath dh-gc --before: the commit that records
 * a cut (format, name, inheritance), and dh_gc() cutting while writers
 * move heads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh-db.h"
#include "dh-io.h"
#include "tap.h"

static struct dh_arena *A;

static struct dh_val edn(const char *text)
{
	return tap_edn(A, text);
}

static const char *SCHEMA =
	"[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}"
	" {:db/ident :n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}"
	" {:db/id \"datomic.tx\" :db/txInstant #inst \"2020-01-01\"}]";

/* Transaction i on `c`, dated 2020-01-(i+1) (2020-02-… for a later branch). */
static int tx_on(struct dh_conn *c, int i, int month)
{
	char buf[200];
	struct dh_val tx;

	snprintf(buf, sizeof(buf), "[{:name \"p%d\" :n %d} {:db/id \"datomic.tx\" :db/txInstant #inst \"2020-%02d-%02d\"}]",
		 i, i, month, i + 1);
	tx = edn(buf);
	return dh_transact(NULL, c, &tx, DH_TX_RETRY);
}

static struct dh_store *setup(const char *uri, int ntx)
{
	struct dh_store *st;
	struct dh_conn *c;
	struct dh_db_config cfg = { 0 };
	struct dh_val schema = edn(SCHEMA);

	cfg.initial_tx = &schema;
	dh_store_open(&st, uri, DH_STORE_CREATE);
	dh_db_create(st, &cfg);
	dh_conn_open(&c, st, NULL);
	for (int i = 0; i < ntx; i++)
		tx_on(c, i, 1);
	dh_conn_close(c);
	return st;
}

static int collect(const char *hex, void *payload)
{
	char (*names)[DH_HASH_HEX + 1] = payload;
	int i = 0;

	while (names[i][0])
		i++;
	memcpy(names[i], hex, DH_HASH_HEX + 1);
	return 0;
}

static void cut_commit(void)
{
	struct dh_store *st = setup("mem://cut", 5);
	struct dh_buf b = DH_BUF_INIT;
	struct dh_commit_info ci, gi;
	struct dh_conn *c;
	char head[DH_HASH_HEX + 1], g[DH_HASH_HEX + 1], dry[DH_HASH_HEX + 1], got[4][DH_HASH_HEX + 1];
	char cut[1][DH_HASH_HEX + 1], key[DH_NODE_KEY_LEN + 1];

	dh_head_get(st, "db", head);
	dh_node_get(st, head, &b);
	ok(b.len > 12 && (unsigned char)b.data[0] == 0x8f && b.data[11] == 3,
	   "a commit with a small schema carries it: 15 items, version 3");
	memset(got, 0, sizeof(got));
	ok(!dh_node_cut(b.data, b.len, collect, got) && !got[0][0], "it records no cut");
	dh_commit_info(&ci, st, head);
	memcpy(cut[0], ci.parents[0], sizeof(cut[0]));

	ok(!dh_commit_cut(dry, st, head, (const char (*)[DH_HASH_HEX + 1])cut, 1, 1), "a dry cut names its commit");
	ok(!dh_commit_cut(g, st, head, (const char (*)[DH_HASH_HEX + 1])cut, 1, 0), "the cut commit is written");
	is_str(g, dry, "the dry run named the same commit");
	dh_node_get(st, g, &b);
	ok((unsigned char)b.data[0] == 0x8f && b.data[11] == 3, "a commit with a cut and a small schema: version 3");
	memset(got, 0, sizeof(got));
	ok(!dh_node_cut(b.data, b.len, collect, got) && !strcmp(got[0], cut[0]) && !got[1][0],
	   "dh_node_cut reports where history stops");
	ok(!dh_commit_info(&gi, st, g), "the cut commit reads back");
	ok(gi.nparents == 1 && !strcmp(gi.parents[0], head) && gi.ncut == 1 && !strcmp(gi.cut[0], cut[0]),
	   "its parent is the old head, its cut the one given");
	ok(gi.max_tx == ci.max_tx && gi.max_eid == ci.max_eid && gi.instant_ms == ci.instant_ms &&
	   gi.ndatoms == ci.ndatoms, "it holds the old head's database value");
	ok(dh_commit_cut(g, st, head, (const char (*)[DH_HASH_HEX + 1])cut, DH_MAX_CUT + 1, 1) == DH_EINVAL,
	   "more than DH_MAX_CUT cut commits is DH_EINVAL");

	dh_head_cas(st, "db", head, g);
	dh_conn_open(&c, st, NULL);
	tx_on(c, 9, 1);
	dh_conn_close(c);
	dh_head_get(st, "db", head);
	ok(!dh_commit_info(&ci, st, head) && ci.ncut == 1 && !strcmp(ci.cut[0], cut[0]),
	   "a transaction on top keeps the cut");
	dh_node_key(key, cut[0]);
	dh_store_del(st, key);
	ok(dh_commit_info(&ci, st, cut[0]) == DH_ENOTFOUND, "dh_commit_info of a missing commit is DH_ENOTFOUND");
	ok(!dh_verify(st, NULL, NULL, NULL, NULL), "a store missing only a cut commit verifies");
	dh_buf_release(&b);
	dh_store_close(st);
}

/* A schema too large to ride in every commit: versions 1 and 2, as before version 3. */
static void big_schema_commit(void)
{
	struct dh_store *st = setup("mem://bigschema", 2);
	struct dh_buf b = DH_BUF_INIT, t = DH_BUF_INIT;
	struct dh_commit_info ci;
	struct dh_conn *c;
	struct dh_db *db;
	struct dh_val tx;
	char head[DH_HASH_HEX + 1], g[DH_HASH_HEX + 1], cut[1][DH_HASH_HEX + 1], got[4][DH_HASH_HEX + 1];

	dh_buf_add(&t, "[", 1);
	for (int i = 0; i < 60; i++) {
		char one[200];

		snprintf(one, sizeof(one), "{:db/ident :attribute-number-%d :db/valueType :db.type/string "
			 ":db/cardinality :db.cardinality/one :db/doc \"what attribute %d holds\"}", i, i);
		dh_buf_add(&t, one, strlen(one));
	}
	dh_buf_add(&t, "]", 2);
	tx = edn(t.data);
	dh_conn_open(&c, st, NULL);
	ok(!dh_transact(NULL, c, &tx, 0), "60 documented attributes are transacted");
	tx_on(c, 5, 1);
	dh_conn_close(c);
	dh_head_get(st, "db", head);
	dh_node_get(st, head, &b);
	ok(b.len > 12 && (unsigned char)b.data[0] == 0x8d && b.data[11] == 1,
	   "a commit whose schema is larger than 2 KiB names it only: 13 items, version 1");
	dh_commit_info(&ci, st, head);
	memcpy(cut[0], ci.parents[0], sizeof(cut[0]));
	ok(!dh_commit_cut(g, st, head, (const char (*)[DH_HASH_HEX + 1])cut, 1, 0), "a cut commit of it is written");
	dh_node_get(st, g, &b);
	ok((unsigned char)b.data[0] == 0x8e && b.data[11] == 2, "with a cut: 14 items, version 2");
	memset(got, 0, sizeof(got));
	ok(!dh_node_cut(b.data, b.len, collect, got) && !strcmp(got[0], cut[0]), "dh_node_cut reads its cut");
	ok(!dh_db_open(&db, st, NULL) && dh_db_attr_by_ident(db, "attribute-number-59", 19) != NULL,
	   "the database opens with its schema read from the schema node");
	dh_db_close(db);
	dh_buf_release(&b);
	dh_buf_release(&t);
	dh_store_close(st);
}

struct race {
	struct dh_store *st;
	int cuts, moved;
	char other[64];                 /* the branch the writer moved */
	char commit[DH_HASH_HEX + 1];   /* and its commit */
};

/* After the first branch is cut, a writer commits on the other branch. */
static void writer_moves(const char *branch, const char *old, const char *new, uint64_t kept, void *payload)
{
	struct race *r = payload;
	struct dh_conn *c;

	(void)old;
	(void)new;
	(void)kept;
	r->cuts++;
	if (r->moved)
		return;
	r->moved = 1;
	strcpy(r->other, strcmp(branch, "db") ? "db" : "b2");
	dh_conn_open(&c, r->st, r->other);
	tx_on(c, 27, 3);
	dh_conn_close(c);
	dh_head_get(r->st, r->other, r->commit);
}

static int has_p27(struct dh_store *st, const char *branch)
{
	struct dh_db *db;
	struct dh_iter *it;
	const struct dh_datom *d;
	struct dh_bound bd = { .n = 0 };
	int n = 0;

	dh_db_open(&db, st, branch);
	if (!dh_iter_new(&it, db, DH_EAVT, &bd, NULL)) {
		while (dh_iter_next(it, &d) > 0)
			if (d->v.type == DH_STRING && d->v.len == 3 && !memcmp(d->v.u.s, "p27", 3))
				n++;
		dh_iter_free(it);
	}
	dh_db_close(db);
	return n;
}

static void racing_writer(void)
{
	struct dh_store *st = setup("mem://race", 10);
	struct dh_gc_opts o = { .grace_ms = 0, .before_kind = DH_GC_BEFORE_MS };
	struct dh_gc_stats s;
	struct dh_commit_info ci;
	struct dh_conn *c;
	struct race r = { .st = st };
	struct dh_val v;
	char head[DH_HASH_HEX + 1];

	/* branch b2 from the db head, with commits of its own */
	dh_head_get(st, "db", head);
	dh_head_cas(st, "b2", NULL, head);
	dh_conn_open(&c, st, "b2");
	tx_on(c, 20, 2);
	tx_on(c, 21, 2);
	dh_conn_close(c);

	dh_edn_parse(&v, A, "#inst \"2020-01-06\"", 18, "test");
	o.before = v.u.i;
	o.cut = writer_moves;
	o.payload = &r;
	ok(!dh_gc(st, &o, &s), "gc cuts history while a writer moves a branch");
	is_int(s.branches_cut, 2, "both branches are cut");
	is_int(r.cuts, 2, "each once");
	dh_head_get(st, r.other, head);
	ok(!dh_commit_info(&ci, st, head) && !strcmp(ci.parents[0], r.commit),
	   "the branch whose compare-and-swap lost is cut on top of the writer's commit");
	ok(has_p27(st, r.other) == 1, "whose datoms stay");
	ok(!dh_verify(st, NULL, NULL, NULL, NULL), "the store verifies");

	/* a writer that read the head before the cut loses its race, and retries on top */
	dh_conn_open(&c, st, NULL);
	o.before = INT64_MAX;
	o.cut = NULL;
	ok(!dh_gc(st, &o, &s) && s.branches_cut == 2, "cut everything but the heads");
	ok(tx_on(c, 28, 4) == 0, "the stale writer commits after retrying");
	dh_conn_close(c);
	dh_head_get(st, "db", head);
	ok(!dh_commit_info(&ci, st, head) && ci.ncut == 1, "on top of the cut, which it keeps");
	ok(!dh_verify(st, NULL, NULL, NULL, NULL), "the store verifies");
	dh_store_close(st);
}

int main(void)
{
	dh_arena_new(&A);
	cut_commit();
	big_schema_commit();
	racing_writer();
	dh_arena_free(A);
	return done_testing();
}
