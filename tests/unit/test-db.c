/*
 * test-db.c - the database API beneath the tools: racing writers, `with`,
 * the node graph sync/gc/verify walk, commit facts, and the bulk loader fed
 * with a real Datahike export.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh-db.h"
#include "tap.h"

static struct dh_arena *A;

static struct dh_val edn(const char *text)
{
	return tap_edn(A, text);
}

static int count(struct dh_db *db, enum dh_index ix, const struct dh_bound *b)
{
	struct dh_iter *it;
	const struct dh_datom *d;
	int n = 0;

	if (dh_iter_new(&it, db, ix, b, b))
		return -1;
	while (dh_iter_next(it, &d) > 0)
		n++;
	dh_iter_free(it);
	return n;
}

static const char *SCHEMA =
	"[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}"
	" {:db/ident :n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]";

static void racing_writers(void)
{
	struct dh_store *st;
	struct dh_conn *a, *b;
	struct dh_db_config cfg = { 0 };
	struct dh_val schema = edn(SCHEMA), tx1 = edn("[{:name \"a\"}]"), tx2 = edn("[{:name \"b\"}]");
	struct dh_tx_report *r = NULL;
	char head[DH_HASH_HEX + 1];
	int rc;

	cfg.initial_tx = &schema;
	dh_store_open(&st, "mem://race", DH_STORE_CREATE);
	ok(!dh_db_create(st, &cfg), "create with an initial schema");
	ok(dh_db_create(st, &cfg) == DH_EEXISTS, "creating again is DH_EEXISTS");
	dh_conn_open(&a, st, NULL);
	dh_conn_open(&b, st, NULL);
	ok(!dh_transact(&r, a, &tx1, 0), "writer a commits");
	ok(r && r->tx == DH_TX0 + 2, "its tx id is 536870914");
	dh_tx_report_free(r);
	dh_head_get(st, "db", head);
	rc = dh_transact(NULL, b, &tx2, 0);
	ok(rc == DH_ECONFLICT, "writer b, built on the old head, gets DH_ECONFLICT");
	ok(strstr(dh_errmsg(), "moved") != NULL, "with a message saying the branch moved");
	{
		char now[DH_HASH_HEX + 1];

		dh_head_get(st, "db", now);
		ok(!strcmp(now, head), "and the head did not move");
	}
	ok(!dh_transact(&r, b, &tx2, DH_TX_RETRY), "with DH_TX_RETRY it rebuilds on the new head");
	ok(r && r->tx == DH_TX0 + 3, "and gets the next tx id");
	dh_tx_report_free(r);
	ok(count(dh_conn_db(b), DH_AVET, &(struct dh_bound){ .n = 1, .a = dh_db_attr_by_ident(dh_conn_db(b), "name", 4)->aid }) == 2,
		"both entities are there");

	/* with: process without writing */
	{
		struct dh_val tx3 = edn("[{:name \"c\"}]");
		char before[DH_HASH_HEX + 1], after[DH_HASH_HEX + 1];

		dh_head_get(st, "db", before);
		ok(!dh_transact(&r, b, &tx3, DH_TX_NOWRITE) && r->ndatoms == 2, "DH_TX_NOWRITE reports the datoms");
		dh_tx_report_free(r);
		dh_head_get(st, "db", after);
		ok(!strcmp(before, after), "and writes nothing");
	}
	dh_conn_close(a);
	dh_conn_close(b);
	dh_store_close(st);
}

struct walk {
	struct dh_store *st;
	char (*seen)[DH_HASH_HEX + 1];
	size_t n, cap;
	int missing, commits, leaves, branches, logs, schemas, other;
	int links_differ;
};

static int collect(const char *hex, void *p)
{
	return dh_buf_add(p, hex, DH_HASH_HEX);
}

static int visit(const char *hex, void *p)
{
	struct walk *w = p;
	struct dh_buf b = DH_BUF_INIT;
	const char *k;
	size_t i;
	int rc;

	for (i = 0; i < w->n; i++)
		if (!strcmp(w->seen[i], hex))
			return 0;
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 256;
		w->seen = realloc(w->seen, w->cap * sizeof(*w->seen));
	}
	memcpy(w->seen[w->n++], hex, DH_HASH_HEX + 1);
	if (dh_node_get(w->st, hex, &b)) {
		w->missing++;
		return 0;
	}
	k = dh_node_kind(b.data, b.len);
	if (!k)
		w->other++;
	else if (!strcmp(k, "commit"))
		w->commits++;
	else if (!strcmp(k, "leaf"))
		w->leaves++;
	else if (!strcmp(k, "branch"))
		w->branches++;
	else if (!strcmp(k, "log"))
		w->logs++;
	else if (!strcmp(k, "schema"))
		w->schemas++;
	{
		struct dh_buf x = DH_BUF_INIT, y = DH_BUF_INIT;

		if (dh_node_children(b.data, b.len, collect, &x) || dh_node_links(b.data, b.len, collect, &y) ||
		    x.len != y.len || (x.len && memcmp(x.data, y.data, x.len)))
			w->links_differ++;
		dh_buf_release(&x);
		dh_buf_release(&y);
	}
	rc = dh_node_children(b.data, b.len, visit, w);
	dh_buf_release(&b);
	return rc;
}

static int count_key(const char *key, void *p)
{
	(void)key;
	++*(int *)p;
	return 0;
}

static void node_graph(void)
{
	struct dh_store *st;
	struct dh_conn *c;
	struct dh_db_config cfg = { 0 };
	struct dh_val schema = edn(SCHEMA);
	struct walk w = { 0 };
	struct dh_commit_info ci;
	char head[DH_HASH_HEX + 1], buf[200];
	int i, stored = 0;

	cfg.initial_tx = &schema;
	dh_store_open(&st, "mem://graph", DH_STORE_CREATE);
	dh_db_create(st, &cfg);
	dh_conn_open(&c, st, NULL);
	/* more transactions than a tail holds (TAIL_MAX_NODES): some are absorbed into trees */
	for (i = 0; i < 80; i++) {
		struct dh_val tx;

		snprintf(buf, sizeof(buf), "[{:name \"p%d\" :n %d} {:name \"q\" :n %d}]", i, i, i);
		tx = edn(buf);
		dh_transact(NULL, c, &tx, 0);
	}
	dh_head_get(st, "db", head);
	w.st = st;
	ok(!visit(head, &w), "walk every node reachable from the head");
	dh_store_list(st, "nodes/", count_key, &stored);
	ok(w.missing == 0, "no reachable node is missing");
	ok((int)w.n == stored, "every stored node is reachable (%zu reachable, %d stored)", w.n, stored);
	ok(w.commits == 82 && w.leaves > 0 && w.logs > 0 && w.schemas >= 1 && w.other == 0,
		"the walk sees commits (%d), leaves (%d), branches (%d), logs (%d), schemas (%d)", w.commits, w.leaves,
		w.branches, w.logs, w.schemas);
	ok(!dh_commit_info(&ci, st, head) && ci.nparents == 1 && ci.max_tx == DH_TX0 + 81,
		"commit info: one parent, max tx 536870993");
	ok(w.links_differ == 0, "dh_node_links() names the same children as dh_node_children() for every kind (%d differ)",
	   w.links_differ);
	ok(dh_node_children("garbage", 7, visit, &w) == DH_ECORRUPT, "bytes that are no node are DH_ECORRUPT");
	ok(dh_node_links("garbage", 7, visit, &w) == DH_ECORRUPT, "dh_node_links: bytes that are no node are DH_ECORRUPT");
	{
		struct dh_db *db;

		dh_db_open(&db, st, NULL);
		ok(!dh_db_verify(db, NULL, NULL), "the trees verify");
		dh_db_close(db);
	}
	free(w.seen);
	dh_conn_close(c);
	dh_store_close(st);
}

/* A minimal reader for the fixture: a CBOR sequence of [e a v tx added]. */
static void loader(void)
{
	FILE *f = fopen(DH_TEST_FIXTURE, "rb");
	unsigned char *data = NULL;
	size_t len = 0, off = 0, used;
	struct dh_store *st;
	struct dh_conn *c;
	struct dh_loader *l;
	struct dh_tx_report *r = NULL;
	struct dh_db *db, *h;
	int rc = 0, records = 0;

	if (!f) {
		ok(0, "the Datahike fixture %s is readable", DH_TEST_FIXTURE);
		return;
	}
	data = malloc(1 << 20);
	len = fread(data, 1, 1 << 20, f);
	fclose(f);
	dh_store_open(&st, "mem://load", DH_STORE_CREATE);
	dh_db_create(st, NULL);
	dh_conn_open(&c, st, NULL);
	dh_loader_new(&l, c);
	while (off < len && !rc) {
		struct dh_val rec;

		if ((rc = dh_cbor_decode(&rec, A, data + off, len - off, &used)))
			break;
		off += used;
		if (rec.type != DH_VECTOR || rec.len != 5) {
			rc = -1;
			break;
		}
		rc = dh_loader_add(l, rec.u.items[0].u.i, &rec.u.items[1], &rec.u.items[2], rec.u.items[3].u.i,
			rec.u.items[4].u.b);
		records++;
	}
	ok(!rc && records == 44, "the 44 records of a Datahike export load (%s)", rc ? dh_errmsg() : "ok");
	rc = dh_loader_finish(l, &r);
	ok(!rc, "and commit (%s)", rc ? dh_errmsg() : "ok");
	dh_loader_free(l);
	dh_tx_report_free(r);
	db = dh_conn_db(c);
	ok(dh_db_max_tx(db) == DH_TX0 + 4 && dh_db_max_eid(db) == 9, "ids are kept: max tx 536870916, max eid 9");
	{
		const struct dh_attr *tags = dh_db_attr_by_ident(db, "tags", 4), *age = dh_db_attr_by_ident(db, "age", 3);
		struct dh_bound b = { .n = 2, .e = 8 };
		struct dh_datom d;
		struct dh_iter *it;
		const struct dh_datom *dp;

		ok(tags && tags->card == DH_CARD_MANY && tags->type == DH_VT_KEYWORD, "the schema is rebuilt from its datoms");
		b.a = tags->aid;
		ok(count(db, DH_EAVT, &b) == 1, "a retracted value is gone from the current view");
		b.e = 9;
		b.a = age->aid;
		dh_iter_new(&it, db, DH_EAVT, &b, &b);
		ok(dh_iter_next(it, &dp) == 1 && dp->v.u.i == 31 && dp->tx == DH_TX0 + 4, "Bob is 31 since tx 536870916");
		dh_iter_free(it);
		dh_db_history(&h, db);
		ok(count(h, DH_EAVT, &b) == 3, "history has his age 30, its retraction and 31");
		dh_db_close(h);
		(void)d;
	}
	ok(!dh_db_verify(db, NULL, NULL), "the loaded trees verify");
	{
		struct dh_val tx = edn("[{:name \"Carol\" :age 5}]");

		ok(!dh_transact(&r, c, &tx, 0) && r->tx == DH_TX0 + 5 && r->tempids[0].eid == DH_TX0 + 5,
			"the next transaction continues the numbering");
		dh_tx_report_free(r);
		ok(count(dh_conn_db(c), DH_EAVT, &(struct dh_bound){ .n = 1, .e = 10 }) == 2, "a new entity gets id 10");
	}
	{
		struct dh_iter *it;
		const struct dh_datom *d;
		int n = 0, first_ok = 0;

		dh_log_iter_new(&it, dh_conn_db(c), 0, 0);
		while (dh_iter_next(it, &d) > 0) {
			if (n == 0)
				first_ok = d->e == DH_TX0 + 1;
			n++;
		}
		dh_iter_free(it);
		ok(n == 44 + 3 && first_ok, "the log yields every datom, the first transaction entity first (%d)", n);
	}
	dh_conn_close(c);
	dh_store_close(st);
	free(data);
}

/*
 * The loader with a tiny memory budget, so its sorts spill runs to
 * temporary files, and into a database that already holds datoms (batches
 * applied to the trees), must build the same database as the load that
 * fits in memory: schema, retractions, cardinality many, a float attribute
 * given doubles, a noHistory attribute, a repeated record.
 */
static int gen_load(struct dh_conn *c, size_t mem, int from_tx, int to_tx)
{
	static const char *const schema[][3] = {
		{ "p/name", "db.type/string", "db.unique/identity" }, { "p/tags", "db.type/keyword", NULL },
		{ "p/f", "db.type/float", NULL }, { "p/nh", "db.type/long", NULL }, { "p/ref", "db.type/ref", NULL },
	};
	struct dh_loader *l = NULL;
	struct dh_tx_report *r = NULL;
	int rc, t;

	if ((rc = dh_loader_new(&l, c)))
		return rc;
	dh_loader_limit(l, mem, NULL);
#define KW(s) dh_text(DH_KEYWORD, s, (uint32_t)strlen(s))
#define ADD(e, a, v, tx, op) \
	do { struct dh_val a_ = KW(a), v_ = (v); \
	     if ((rc = dh_loader_add(l, (e), &a_, &v_, (tx), (op)))) goto out; } while (0)
	for (t = from_tx; t < to_tx; t++) {
		int64_t tx = DH_TX0 + 1 + t;

		ADD(tx, "db/txInstant", dh_inst(1700000000000 + t), tx, 1);
		if (t == 0) {
			for (int i = 0; i < 5; i++) {
				ADD(i + 1, "db/ident", KW(schema[i][0]), tx, 1);
				ADD(i + 1, "db/valueType", KW(schema[i][1]), tx, 1);
				ADD(i + 1, "db/cardinality", KW(i == 1 ? "db.cardinality/many" : "db.cardinality/one"), tx, 1);
				if (schema[i][2])
					ADD(i + 1, "db/unique", KW(schema[i][2]), tx, 1);
				if (i == 3)
					ADD(i + 1, "db/noHistory", dh_bool(1), tx, 1);
			}
			continue;
		}
		for (int k = 0; k < 60; k++) {
			int64_t e = 100 + (int64_t)t * 60 + k, old = e - 60 * 7;
			char name[32];

			snprintf(name, sizeof(name), "n%lld", (long long)(e * 7919 % 100003));
			ADD(e, "p/f", dh_double(k * 0.1), tx, 1);
			ADD(e, "p/name", dh_text(DH_STRING, name, (uint32_t)strlen(name)), tx, 1);
			ADD(e, "p/nh", dh_long(k - 30), tx, 1);
			ADD(e, "p/ref", dh_long(100 + (e * 31) % 500), tx, 1);
			ADD(e, "p/tags", KW(k % 2 ? "odd" : "even"), tx, 1);
			ADD(e, "p/tags", KW(k % 3 ? "x" : "three"), tx, 1);
			if (k % 5 == 0 && t > 8 && (t < 20 || t >= 27)) {
				/* an older entity changes: a retraction and a new value (never one of
				 * the first load's in the second: a merge leaves the target's datoms) */
				ADD(old, "p/nh", dh_long(k - 30), tx, 0);
				ADD(old, "p/nh", dh_long(k), tx, 1);
				ADD(old, "p/tags", KW(k % 2 ? "odd" : "even"), tx, 0);
			}
			if (k == 7)
				ADD(e, "p/tags", KW("x"), tx, 1);   /* the same record twice */
		}
	}
	rc = dh_loader_finish(l, &r);
#undef ADD
#undef KW
out:
	dh_tx_report_free(r);
	dh_loader_free(l);
	return rc;
}

static void datoms_of(struct dh_buf *b, struct dh_db *db, int ix, int hist)
{
	struct dh_db *h = NULL;
	struct dh_iter *it = NULL;
	const struct dh_datom *d;

	if (hist)
		dh_db_history(&h, db);
	if (ix < 0)
		dh_log_iter_new(&it, h ? h : db, 0, 0);
	else
		dh_iter_new(&it, h ? h : db, (enum dh_index)ix, NULL, NULL);
	while (it && dh_iter_next(it, &d) > 0) {
		dh_buf_addf(b, "%lld %u ", (long long)d->e, (unsigned)d->a);
		dh_edn_print(b, &d->v);
		dh_buf_addf(b, " %lld %d %d\n", (long long)d->tx, d->added, d->v.type);
	}
	dh_iter_free(it);
	dh_db_close(h);
}

static void loader_spill(void)
{
	for (int nh = 0; nh < 2; nh++) {
		struct dh_db_config cfg = { .no_history = nh };
		struct dh_store *st[3];
		struct dh_conn *c[3];
		const char *uri[3] = { "mem://big", "mem://spill", "mem://merge" };
		int rc[3], same = 1;

		for (int i = 0; i < 3; i++) {
			char u[64];

			snprintf(u, sizeof(u), "%s%d", uri[i], nh);
			dh_store_open(&st[i], u, DH_STORE_CREATE);
			dh_db_create(st[i], &cfg);
			dh_conn_open(&c[i], st[i], NULL);
		}
		rc[0] = gen_load(c[0], 0, 0, 40);
		rc[1] = gen_load(c[1], 64 << 10, 0, 40);
		rc[2] = gen_load(c[2], 0, 0, 20);
		if (!rc[2])
			rc[2] = gen_load(c[2], 64 << 10, 20, 40);
		ok(!rc[0] && !rc[1] && !rc[2], "%s: in memory, spilled and in two loads (%s)", nh ? "no history" : "history",
			rc[0] || rc[1] || rc[2] ? dh_errmsg() : "ok");
		for (int ix = -1; ix < 3; ix++)
			for (int hist = 0; hist < 2; hist++) {
				struct dh_buf b[3] = { DH_BUF_INIT, DH_BUF_INIT, DH_BUF_INIT };

				for (int i = 0; i < 3; i++)
					datoms_of(&b[i], dh_conn_db(c[i]), ix, hist);
				if (!b[0].len || !b[1].data || strcmp(b[0].data, b[1].data) || !b[2].data ||
				    strcmp(b[0].data, b[2].data)) {
					same = 0;
					tap_diag("index %d history %d differs", ix, hist);
				}
				for (int i = 0; i < 3; i++)
					dh_buf_release(&b[i]);
			}
		ok(same, "%s: the same datoms in every index and view", nh ? "no history" : "history");
		for (int i = 0; i < 3; i++) {
			ok(!dh_db_verify(dh_conn_db(c[i]), NULL, NULL), "%s: %s verifies", nh ? "no history" : "history", uri[i]);
			dh_conn_close(c[i]);
			dh_store_close(st[i]);
		}
	}
}

/*
 * Iteration over trees plus an unindexed tail, with bounds and seeks, in every
 * view, against a brute-force filter of the full scan.
 */
static int cmp_prefix(struct dh_db *db, enum dh_index ix, const struct dh_datom *d, const struct dh_bound *b)
{
	static const char order[3][4] = { { 'e', 'a', 'v', 't' }, { 'a', 'e', 'v', 't' }, { 'a', 'v', 'e', 't' } };
	struct dh_datom x = { 0 };
	unsigned i;
	int r;

	for (i = 0; i < b->n; i++) {
		switch (order[ix][i]) {
		case 'e': r = d->e < b->e ? -1 : d->e > b->e; break;
		case 'a':
			x = *d;
			x.a = b->a;
			x.e = d->e;
			/* attributes compare by ident: let the db decide */
			{
				struct dh_datom y = *d;

				y.e = 0; y.v = dh_nil(); y.tx = 0; y.added = 0;
				x.e = 0; x.v = dh_nil(); x.tx = 0; x.added = 0;
				r = dh_datom_cmp(db, DH_AEVT, &y, &x);
			}
			break;
		case 'v': r = dh_val_cmp(&d->v, &b->v); break;
		default: r = d->tx < b->tx ? -1 : d->tx > b->tx; break;
		}
		if (r)
			return r;
	}
	return 0;
}

static int check_view(struct dh_db *v, const char *name)
{
	struct dh_iter *it;
	const struct dh_datom *d;
	struct dh_datom *all[3];
	size_t nall[3] = { 0 }, cap = 4096, i, j;
	int ix, good = 1, k;
	const struct dh_attr *na = dh_db_attr_by_ident(v, "name", 4), *nn = dh_db_attr_by_ident(v, "n", 1);

	for (ix = 0; ix < 3; ix++) {
		all[ix] = malloc(cap * sizeof(**all));
		dh_iter_new(&it, v, (enum dh_index)ix, NULL, NULL);
		while (dh_iter_next(it, &d) > 0 && nall[ix] < cap) {
			all[ix][nall[ix]] = *d;
			dh_val_copy(&all[ix][nall[ix]].v, A, &d->v);
			if (nall[ix] && dh_datom_cmp(v, (enum dh_index)ix, &all[ix][nall[ix] - 1], &all[ix][nall[ix]]) >= 0)
				good = 0;
			nall[ix]++;
		}
		dh_iter_free(it);
	}
	ok(good, "%s: every index yields datoms in strictly increasing order", name);
	good = nall[0] == nall[1];
	ok(good, "%s: EAVT and AEVT hold the same datoms (%zu, %zu)", name, nall[0], nall[1]);
	/* bounded scans against filtering the full scan */
	for (k = 0; k < 60 && good; k++) {
		struct dh_bound lo = { 0 }, hi;
		size_t expect = 0, got = 0;
		char vb[32];

		ix = k % 3;
		if (ix == DH_AVET) {
			lo.n = 1 + k % 2;
			lo.a = nn->aid;
			lo.v = dh_long(k % 7);
		} else if (ix == DH_AEVT) {
			lo.n = 1 + (k % 3 == 0);
			lo.a = k % 2 ? na->aid : nn->aid;
			lo.e = 5 + k;
		} else {
			lo.n = 1 + k % 2;
			lo.e = 3 + k;
			lo.a = nn->aid;
		}
		hi = lo;
		if (k % 5 == 0 && ix == DH_EAVT)
			hi.e += 7;
		for (i = 0; i < nall[ix]; i++)
			if (cmp_prefix(v, (enum dh_index)ix, &all[ix][i], &lo) >= 0 &&
			    cmp_prefix(v, (enum dh_index)ix, &all[ix][i], &hi) <= 0)
				expect++;
		dh_iter_new(&it, v, (enum dh_index)ix, &lo, &hi);
		while (dh_iter_next(it, &d) > 0)
			got++;
		dh_iter_free(it);
		if (got != expect) {
			snprintf(vb, sizeof(vb), "%d", k);
			tap_diag("  case %s index %d n %u: got %zu, want %zu", vb, ix, lo.n, got, expect);
			good = 0;
		}
	}
	ok(good, "%s: 60 bounded scans match the filtered full scan", name);
	/* seek: visiting every 7th entity by seeking equals filtering */
	{
		size_t expect = 0, got = 0;
		struct dh_bound to = { .n = 1 };

		for (i = 0; i < nall[0]; i++)
			if (all[0][i].e % 7 == 0 && all[0][i].e < DH_TX0)
				expect++;
		dh_iter_new(&it, v, DH_EAVT, NULL, NULL);
		for (j = 7; j < 200; j += 7) {
			to.e = (int64_t)j;
			dh_iter_seek(it, &to);
			while (dh_iter_next(it, &d) > 0 && d->e == (int64_t)j)
				got++;
		}
		dh_iter_free(it);
		ok(got == expect, "%s: seeking entity by entity finds the same datoms (%zu, %zu)", name, got, expect);
	}
	for (ix = 0; ix < 3; ix++)
		free(all[ix]);
	return good;
}

static void views(void)
{
	struct dh_store *st;
	struct dh_conn *c;
	struct dh_db_config cfg = { 0 };
	struct dh_val schema = edn("[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}"
		" {:db/ident :n :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/index true}"
		" {:db/ident :tag :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}]");
	struct dh_db *db, *v;
	char buf[256];
	int i;

	cfg.initial_tx = &schema;
	dh_store_open(&st, "mem://views", DH_STORE_CREATE);
	dh_db_create(st, &cfg);
	dh_conn_open(&c, st, NULL);
	/* 70 transactions: two absorptions, then a tail of a few */
	for (i = 0; i < 70; i++) {
		struct dh_val tx;

		snprintf(buf, sizeof(buf), "[{:name \"e%d\" :n %d :tag [:t%d :u]} {:name \"e%d\" :n %d} [:db/retract [:name \"e%d\"] :tag :u]]",
			i % 40, i % 7, i % 3, (i * 7) % 40, (i * 3) % 7, (i + 5) % 40);
		tx = edn(buf);
		if (dh_transact(NULL, c, &tx, 0)) {
			tap_diag("transact: %s", dh_errmsg());
			break;
		}
	}
	dh_db_open(&db, st, NULL);
	check_view(db, "current");
	dh_db_history(&v, db);
	check_view(v, "history");
	dh_db_close(v);
	dh_db_as_of(&v, db, DH_TX0 + 40);
	check_view(v, "as-of");
	{
		/* as-of equals replaying the history up to t */
		struct dh_db *h;
		struct dh_iter *it;
		const struct dh_datom *d;
		struct dh_datom *want = malloc(4096 * sizeof(*want)), last = { 0 };
		size_t nw = 0, got = 0, same = 0;
		int have = 0;

		dh_db_history(&h, db);
		dh_iter_new(&it, h, DH_EAVT, NULL, NULL);
		while (dh_iter_next(it, &d) > 0) {
			if (have && (last.e != d->e || last.a != d->a || !dh_val_eq(&last.v, &d->v))) {
				if (last.added)
					want[nw++] = last;
				have = 0;
			}
			if (d->tx <= DH_TX0 + 40) {
				last = *d;
				dh_val_copy(&last.v, A, &d->v);
				have = 1;
			} else if (!have) {
				last = *d;
				dh_val_copy(&last.v, A, &d->v);
				last.added = 0;
				have = 1;
			}
		}
		if (have && last.added)
			want[nw++] = last;
		dh_iter_free(it);
		dh_iter_new(&it, v, DH_EAVT, NULL, NULL);
		while (dh_iter_next(it, &d) > 0) {
			if (got < nw && want[got].e == d->e && want[got].a == d->a && dh_val_eq(&want[got].v, &d->v) &&
			    want[got].tx == d->tx)
				same++;
			got++;
		}
		dh_iter_free(it);
		ok(got == nw && same == nw, "as-of: equals replaying the history up to t (%zu, %zu, %zu)", got, nw, same);
		free(want);
		dh_db_close(h);
	}
	dh_db_close(v);
	dh_db_since(&v, db, DH_TX0 + 50);
	check_view(v, "since");
	dh_db_close(v);
	dh_db_close(db);
	dh_conn_close(c);
	dh_store_close(st);
}

/* The log holds every event with history, the current datoms without. */
static void log_tree(void)
{
	int nh;

	for (nh = 0; nh < 2; nh++) {
		struct dh_store *st;
		struct dh_conn *c;
		struct dh_db_config cfg = { 0 };
		struct dh_val schema = edn(SCHEMA);
		struct dh_db *db, *h = NULL;
		struct dh_iter *it;
		const struct dh_datom *d;
		char buf[128], uri[64];
		int i, n, round, inorder;
		int64_t prev;

		cfg.initial_tx = &schema;
		cfg.no_history = nh;
		snprintf(uri, sizeof(uri), "mem://log%d", nh);
		dh_store_open(&st, uri, DH_STORE_CREATE);
		dh_db_create(st, &cfg);
		dh_conn_open(&c, st, NULL);
		for (round = 0; round < 2; round++) {
			/* 20 then 40 transactions: a tail, then absorbed trees plus a tail */
			for (i = 0; i < (round ? 40 : 20); i++) {
				struct dh_val tx;

				snprintf(buf, sizeof(buf), "[{:name \"k%d\" :n %d}]", i % 5, i);
				tx = edn(buf);
				dh_transact(NULL, c, &tx, 0);
			}
			dh_db_open(&db, st, NULL);
			if (!nh)
				dh_db_history(&h, db);
			n = 0;
			dh_iter_new(&it, nh ? db : h, DH_EAVT, NULL, NULL);
			while (dh_iter_next(it, &d) > 0)
				n++;
			dh_iter_free(it);
			dh_log_iter_new(&it, db, 0, 0);
			inorder = 1;
			prev = 0;
			while (dh_iter_next(it, &d) > 0) {
				if (d->tx < prev)
					inorder = 0;
				prev = d->tx;
				n--;
			}
			dh_iter_free(it);
			ok(n == 0 && inorder, "%s, %s: the log holds the %s datoms in tx order (%d off)",
				nh ? "no history" : "history", round ? "absorbed" : "tail", nh ? "current" : "historic", n);
			dh_log_iter_new(&it, db, DH_TX0 + 5, DH_TX0 + 6);
			n = 0;
			inorder = 1;
			while (dh_iter_next(it, &d) > 0) {
				n++;
				if (d->tx < DH_TX0 + 5 || d->tx > DH_TX0 + 6)
					inorder = 0;
			}
			dh_iter_free(it);
			ok(inorder && n > 0, "%s, %s: a tx range of the log (%d datoms)", nh ? "no history" : "history",
				round ? "absorbed" : "tail", n);
			dh_db_close(h);
			h = NULL;
			dh_db_close(db);
		}
		dh_db_open(&db, st, NULL);
		ok(!dh_db_verify(db, NULL, NULL), "%s: the log tree verifies", nh ? "no history" : "history");
		dh_db_close(db);
		dh_conn_close(c);
		dh_store_close(st);
	}
}

int main(void)
{
	dh_arena_new(&A);
	racing_writers();
	node_graph();
	loader();
	loader_spill();
	views();
	log_tree();
	dh_arena_free(A);
	return done_testing();
}
