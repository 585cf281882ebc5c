/*
 * test-tree.c - the persistent B+tree of datoms against a sorted reference:
 * random batches of puts and deletes, bulk builds, prefix bounds, seeks,
 * history keys, structural verification and copy-on-write sharing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh.h"
#include "dh-value.h"
#include "index/index.h"
#include "tap.h"

#define NATTR 8

static uint32_t rank[NATTR + 1];
static struct dh_tree_ctx ctx;
static char strs[64][64];

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Reference: a flat array kept sorted by the tree's own comparison. */
struct ref {
	struct dh_datom *d;
	size_t n, cap;
};

static int cmpe(const void *x, const void *y)
{
	return dh_tree_cmp(&ctx, &((const struct dh_tree_edit *)x)->d, &((const struct dh_tree_edit *)y)->d);
}

/* Merge sorted, unique edits into the sorted reference. */
static void ref_apply(struct ref *r, const struct dh_tree_edit *e, size_t n)
{
	struct dh_datom *out = malloc((r->n + n + 1) * sizeof(*out));
	size_t i = 0, j = 0, m = 0;

	while (i < r->n || j < n) {
		int c = i == r->n ? 1 : j == n ? -1 : dh_tree_cmp(&ctx, &r->d[i], &e[j].d);

		if (c < 0) {
			out[m++] = r->d[i++];
			continue;
		}
		if (c == 0)
			i++;
		if (e[j].op == DH_EDIT_PUT)
			out[m++] = e[j].d;
		j++;
	}
	free(r->d);
	r->d = out;
	r->n = m;
	r->cap = m;
}

static struct dh_datom mk(int64_t e, dh_aid a, int vi, int64_t tx, int added)
{
	struct dh_datom d;

	memset(&d, 0, sizeof(d));
	d.e = e;
	d.a = a;
	if (vi % 3 == 0)
		d.v = dh_text(DH_STRING, strs[vi % 64], (uint32_t)strlen(strs[vi % 64]));
	else
		d.v = dh_long(vi);
	d.tx = tx;
	d.added = (uint8_t)added;
	return d;
}

static size_t sort_unique(struct dh_tree_edit *e, size_t n)
{
	size_t i, m = 0;

	qsort(e, n, sizeof(*e), cmpe);
	for (i = 0; i < n; i++) {
		if (m && !cmpe(&e[m - 1], &e[i]))
			e[m - 1] = e[i];
		else
			e[m++] = e[i];
	}
	return m;
}

/* Iterate the whole tree and compare with the reference. */
static int same(const struct dh_tree_root *root, const struct ref *r)
{
	struct dh_tree_iter *it;
	const struct dh_datom *d;
	size_t i = 0;
	int rc, ok = 1;

	if (dh_tree_iter_new(&it, &ctx, root, NULL, NULL))
		return 0;
	while ((rc = dh_tree_iter_next(it, &d)) > 0) {
		if (i >= r->n || dh_tree_cmp(&ctx, d, &r->d[i]) || d->tx != r->d[i].tx) {
			ok = 0;
			break;
		}
		i++;
	}
	dh_tree_iter_free(it);
	return ok && rc == 0 && i == r->n && root->count == r->n;
}

static int problems;
static int on_problem(const char *msg, void *p)
{
	(void)p;
	tap_diag("  %s", msg);
	problems++;
	return 0;
}

static int write_batch(struct dh_node_batch *b)
{
	return dh_node_batch_write(b);
}

static void random_ops(struct dh_store *st, int history)
{
	struct dh_tree_root root = { "", 0, 0 };
	struct ref r = { 0 };
	struct dh_node_batch *b;
	struct dh_tree_edit *e = malloc(4000 * sizeof(*e));
	int round, okall = 1, verify_ok = 1;

	ctx.history = history;
	dh_node_batch_new(&b, st);
	for (round = 0; round < 60; round++) {
		size_t n = round % 10 == 0 ? 3000 : 1 + rnd() % 200, i, m;
		int rc;

		for (i = 0; i < n; i++) {
			int64_t ent = 1 + (int64_t)(rnd() % 400);
			dh_aid a = 1 + (dh_aid)(rnd() % NATTR);
			int vi = (int)(rnd() % 50);

			e[i].d = mk(ent, a, vi, history ? 536870913 + (int64_t)(rnd() % 5) : 536870913 + round,
				history ? (int)(rnd() % 2) : 1);
			e[i].op = (rnd() % 3 == 0) ? DH_EDIT_DEL : DH_EDIT_PUT;
		}
		m = sort_unique(e, n);
		rc = dh_tree_apply(&root, &ctx, &root, e, m, b);
		if (!rc)
			rc = write_batch(b);
		if (rc) {
			tap_diag("apply: %s", dh_errmsg());
			okall = 0;
			break;
		}
		ref_apply(&r, e, m);
		if (!same(&root, &r)) {
			tap_diag("round %d: tree differs from the reference (%zu datoms, tree count %llu)", round, r.n,
				(unsigned long long)root.count);
			okall = 0;
			break;
		}
		problems = 0;
		if (dh_tree_verify(&ctx, &root, on_problem, NULL) || problems)
			verify_ok = 0;
	}
	ok(okall, "%s tree: 60 random batches match a sorted reference", history ? "history" : "current");
	ok(verify_ok, "%s tree: every version verifies", history ? "history" : "current");
	ok(root.level >= 1, "%s tree grew branches (level %u, %llu datoms)", history ? "history" : "current",
		root.level, (unsigned long long)root.count);

	/* delete everything: the tree becomes empty */
	{
		size_t i;
		struct dh_tree_edit *all = malloc((r.n + 1) * sizeof(*all));

		for (i = 0; i < r.n; i++) {
			all[i].d = r.d[i];
			all[i].op = DH_EDIT_DEL;
		}
		dh_tree_apply(&root, &ctx, &root, all, r.n, b);
		write_batch(b);
		ok(root.hex[0] == 0 && root.count == 0, "deleting every datom leaves the empty tree");
		free(all);
	}
	dh_node_batch_free(b);
	free(e);
	free(r.d);
	ctx.history = 0;
}

static void bulk_and_bounds(struct dh_store *st)
{
	struct dh_tree_root root = { "", 0, 0 }, root2;
	struct dh_node_batch *b;
	size_t n = 100000, i, cnt;
	struct dh_tree_edit *e = malloc(n * sizeof(*e));
	struct dh_tree_iter *it;
	const struct dh_datom *d;
	struct dh_bound lo, hi;
	int rc, good;

	dh_node_batch_new(&b, st);
	for (i = 0; i < n; i++) {
		e[i].d = mk((int64_t)(i / 5) + 1, (dh_aid)(i % 5) + 1, (int)(i % 50), 536870913, 1);
		e[i].op = DH_EDIT_PUT;
	}
	n = sort_unique(e, n);
	rc = dh_tree_apply(&root, &ctx, &root, e, n, b);
	ok(!rc && !write_batch(b), "bulk build of %zu datoms", n);
	ok(root.count == n && root.level >= 2, "bulk tree has %llu datoms in %u levels", (unsigned long long)root.count,
		root.level + 1);
	problems = 0;
	ok(!dh_tree_verify(&ctx, &root, on_problem, NULL) && !problems, "bulk tree verifies");

	/* prefix [e] */
	memset(&lo, 0, sizeof(lo));
	lo.n = 1;
	lo.e = 777;
	dh_tree_iter_new(&it, &ctx, &root, &lo, &lo);
	cnt = 0;
	good = 1;
	while ((rc = dh_tree_iter_next(it, &d)) > 0) {
		cnt++;
		if (d->e != 777)
			good = 0;
	}
	dh_tree_iter_free(it);
	ok(good && cnt == 5, "prefix [e] yields that entity's 5 datoms (got %zu)", cnt);

	/* range [e 100] .. [e 199] */
	lo.e = 100;
	hi = lo;
	hi.e = 199;
	dh_tree_iter_new(&it, &ctx, &root, &lo, &hi);
	cnt = 0;
	while (dh_tree_iter_next(it, &d) > 0)
		cnt++;
	dh_tree_iter_free(it);
	ok(cnt == 500, "range of 100 entities yields 500 datoms (got %zu)", cnt);

	/* prefix [e a] and a missing entity */
	lo.n = 2;
	lo.e = 5000;
	lo.a = 3;
	dh_tree_iter_new(&it, &ctx, &root, &lo, &lo);
	cnt = 0;
	while (dh_tree_iter_next(it, &d) > 0)
		cnt++;
	dh_tree_iter_free(it);
	ok(cnt == 1, "prefix [e a] yields one datom");
	lo.n = 1;
	lo.e = 999999;
	dh_tree_iter_new(&it, &ctx, &root, &lo, &lo);
	ok(dh_tree_iter_next(it, &d) == 0, "an absent entity yields nothing");
	dh_tree_iter_free(it);

	/* seek forward */
	dh_tree_iter_new(&it, &ctx, &root, NULL, NULL);
	dh_tree_iter_next(it, &d);
	lo.n = 1;
	lo.e = 15000;
	dh_tree_iter_seek(it, &lo);
	rc = dh_tree_iter_next(it, &d);
	ok(rc == 1 && d->e == 15000 && d->a == 5, "seek jumps to the first datom of entity 15000");
	lo.e = 10;
	dh_tree_iter_seek(it, &lo);
	rc = dh_tree_iter_next(it, &d);
	ok(rc == 1 && d->e == 15000 && d->a == 4, "seek never goes backwards");
	dh_tree_iter_free(it);

	/* copy-on-write: one more datom changes few nodes and leaves the old root readable */
	{
		struct dh_tree_edit one;
		size_t before = dh_node_batch_size(b);

		one.d = mk(20001, 1, 7, 536870914, 1);
		one.op = DH_EDIT_PUT;
		rc = dh_tree_apply(&root2, &ctx, &root, &one, 1, b);
		ok(!rc && root2.count == root.count + 1, "appending one datom makes a new root");
		ok(dh_node_batch_size(b) - before < 4 * 9000, "only a root-to-leaf path is rewritten (%zu bytes)",
			dh_node_batch_size(b) - before);
		write_batch(b);
		lo.n = 1;
		lo.e = 20001;
		dh_tree_iter_new(&it, &ctx, &root, &lo, &lo);
		ok(dh_tree_iter_next(it, &d) == 0, "the old version does not see it");
		dh_tree_iter_free(it);
		dh_tree_iter_new(&it, &ctx, &root2, &lo, &lo);
		ok(dh_tree_iter_next(it, &d) == 1 && d->e == 20001, "the new version does");
		dh_tree_iter_free(it);
	}
	dh_node_batch_free(b);
	free(e);
}

/*
 * The streaming builder: trees of every size from one datom up, with small
 * nodes so there are many levels, and a value larger than a node; the same
 * datoms as the reference, the same node bytes as a second build, sound.
 */
static void builder(struct dh_store *st)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 17, 100, 1000, 20000 };
	static char big[3000];
	struct dh_node_batch *b;
	int all_same = 1, all_sound = 1, levels = 0, repeat = 1;

	memset(big, 'x', sizeof(big) - 1);
	dh_node_batch_new(&b, st);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s], i;
		struct dh_tree_edit *e = malloc((n + 1) * sizeof(*e));
		struct ref r = { NULL, 0, 0 };
		struct dh_tree_root root, again;

		for (i = 0; i < n; i++) {
			e[i].d = mk((int64_t)(i / 3) + 1, (dh_aid)(i % 3) + 1, (int)(i % 50), 536870913, 1);
			if (i == n / 2 && n > 10)
				e[i].d.v = dh_text(DH_STRING, big, sizeof(big) - 1);
			e[i].op = DH_EDIT_PUT;
		}
		n = sort_unique(e, n);
		ref_apply(&r, e, n);
		for (int pass = 0; pass < 2; pass++) {
			struct dh_tree_builder *tb = NULL;
			int rc = dh_tree_builder_new(&tb, &ctx, 256, b);

			for (i = 0; i < n && !rc; i++)
				rc = dh_tree_builder_add(tb, &e[i].d);
			if (!rc)
				rc = dh_tree_builder_finish(tb, pass ? &again : &root);
			dh_tree_builder_free(tb);
			if (rc || write_batch(b))
				all_sound = 0;
		}
		if (strcmp(root.hex, again.hex))
			repeat = 0;
		if (!same(&root, &r))
			all_same = 0;
		problems = 0;
		if ((n && dh_tree_verify(&ctx, &root, on_problem, NULL)) || problems || (!n && root.hex[0]))
			all_sound = 0;
		if ((int)root.level > levels)
			levels = (int)root.level;
		free(r.d);
		free(e);
	}
	ok(all_same, "builder: every size yields the datoms it was given");
	ok(all_sound && levels >= 3, "builder: the trees verify (up to %d levels)", levels + 1);
	ok(repeat, "builder: the same datoms build the same root");
	dh_node_batch_free(b);
}

static void corruption(struct dh_store *st)
{
	struct dh_tree_root root = { "", 0, 0 };
	struct dh_node_batch *b;
	struct dh_tree_edit e[300];
	struct dh_tree_iter *it;
	const struct dh_datom *d;
	char key[DH_NODE_KEY_LEN + 1];
	int i, rc = 0;

	dh_node_batch_new(&b, st);
	for (i = 0; i < 300; i++) {
		e[i].d = mk(100000 + i, 1, i, 536870913, 1);
		e[i].op = DH_EDIT_PUT;
	}
	dh_tree_apply(&root, &ctx, &root, e, 300, b);
	write_batch(b);
	dh_node_key(key, root.hex);
	dh_store_put(st, key, "garbage", 7);
	dh_tree_iter_new(&it, &ctx, &root, NULL, NULL);
	if (it)
		rc = dh_tree_iter_next(it, &d);
	else
		rc = DH_ECORRUPT;
	ok(rc == DH_ECORRUPT && strstr(dh_errmsg(), key), "a damaged node is reported as corrupt, naming its key");
	dh_tree_iter_free(it);
	dh_node_batch_free(b);
}

int main(void)
{
	struct dh_store *st;
	int i;

	for (i = 0; i <= NATTR; i++)
		rank[i] = (uint32_t)(NATTR - i);   /* attribute order is not id order */
	for (i = 0; i < 64; i++)
		snprintf(strs[i], sizeof(strs[i]), "string value number %d%s", i, i % 7 ? "" : " with a longer tail");
	if (dh_store_open(&st, "mem://test-tree", DH_STORE_CREATE)) {
		fprintf(stderr, "%s\n", dh_errmsg());
		return 1;
	}
	ctx.st = st;
	ctx.ix = DH_EAVT;
	ctx.rank = rank;
	ctx.nrank = NATTR + 1;
	random_ops(st, 0);
	ctx.ix = DH_AEVT;
	random_ops(st, 1);
	ctx.ix = DH_AVET;
	random_ops(st, 0);
	ctx.ix = DH_EAVT;
	bulk_and_bounds(st);
	builder(st);
	corruption(st);
	dh_store_close(st);
	return done_testing();
}
