/*
 * db.c - database values and their views, and reading datoms from them.
 *
 * A dh_db is a view (current, as-of, since, history) over a shared core: the
 * decoded commit, its schema and the events of its unindexed log tail.  A
 * datom iterator merges up to three sorted sources per index: the current
 * tree, the temporal tree (history views) and the tail overlay held in
 * memory.  The current view lets the tail's net effect win over the tree;
 * history views see every event; as-of groups the history by (e a v) and
 * keeps the last event at or before t if it is an assertion.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/internal.h"

/* ---- opening ----------------------------------------------------------- */

int db_wrap(struct dh_db **out, struct core *k)
{
	struct dh_db *db = calloc(1, sizeof(*db));

	*out = NULL;
	if (!db)
		return dh_error_set(DH_ENOMEM, "out of memory");
	db->core = k;
	k->refs++;
	db->as_of = INT64_MAX;
	db->since = INT64_MIN;
	*out = db;
	return 0;
}

int dh_db_open_commit(struct dh_db **out, struct dh_store *st, const char *hex)
{
	struct core *k;
	int rc;

	*out = NULL;
	if (strlen(hex) != DH_HASH_HEX)
		return dh_error_set(DH_EUSAGE, "'%s' is not a commit name", hex);
	if ((rc = core_load(&k, st, hex, NULL)))
		return rc;
	rc = db_wrap(out, k);
	core_unref(k);
	return rc;
}

struct opening {
	struct dh_buf format, head;
	int has_format, has_head;
	size_t first;   /* 0: the keys asked are format, head; 1: the head alone */
};

static int opening_cb(size_t i, const void *data, size_t len, void *payload)
{
	struct opening *o = payload;

	if (i + o->first == 0) {
		o->has_format = 1;
		return dh_buf_add(&o->format, data, len);
	}
	o->has_head = 1;
	return dh_buf_add(&o->head, data, len);
}

/* A `format` other than this dh's is refused; a missing one (a bare copy of nodes and heads) is not. */
static int format_check(const struct opening *o, struct dh_store *st)
{
	const char *f = o->format.data ? o->format.data : "";

	if (o->has_format && strcmp(f, DH_FORMAT_TEXT))
		return dh_error_set(DH_ECORRUPT, "'format' of '%s' is '%.*s', not '%.*s'", dh_store_uri(st),
			(int)strcspn(f, "\n"), f, (int)strlen(DH_FORMAT_TEXT) - 1, DH_FORMAT_TEXT);
	return 0;
}

/* Read `format` alone and check it (0 when it is this dh's or missing). */
static int format_read(struct dh_store *st)
{
	struct opening o = { DH_BUF_INIT, DH_BUF_INIT, 0, 0, 0 };
	const char *keys[1] = { "format" };
	int rc = dh_store_get_many(st, keys, 1, opening_cb, &o);

	if (!rc)
		rc = format_check(&o, st);
	dh_buf_release(&o.format);
	dh_buf_release(&o.head);
	return rc;
}

/*
 * Read the head of `branch`, and with `format` the store's `format` in the
 * same round trip.  A writer checks `format` before it adds to a store: a
 * store written by another format (or a later version) is refused, not
 * written to.  A reader reads the head alone (one request fewer on stores
 * that pay per key, as S3 and GCS do): the commit it names carries its own
 * version and is refused when it is not one this dh reads; `format` is read
 * only to explain a failure (see dh_db_open).
 */
static int read_head(struct dh_store *st, const char *branch, char hex[DH_HASH_HEX + 1], int format)
{
	struct opening o = { DH_BUF_INIT, DH_BUF_INIT, 0, 0, !format };
	char key[DH_BRANCH_MAX + 8];
	const char *keys[2] = { "format", key };
	int rc = dh_branch_check(branch);

	if (rc)
		return rc;
	snprintf(key, sizeof(key), "heads/%s", branch);
	if ((rc = dh_store_get_many(st, format ? keys : keys + 1, format ? 2 : 1, opening_cb, &o)))
		goto out;
	if ((rc = format_check(&o, st)))
		goto out;
	if (!o.has_head) {
		if (!format && (rc = format_read(st)))
			goto out;
		rc = dh_error_set(DH_ENOTFOUND, "no database on branch '%s' in '%s'", branch, dh_store_uri(st));
		goto out;
	}
	/* as dh_head_get() reads a head: 64 hex digits, a line end allowed */
	while (o.head.len && (o.head.data[o.head.len - 1] == '\n' || o.head.data[o.head.len - 1] == '\r'))
		o.head.data[--o.head.len] = '\0';
	if (o.head.len != DH_HASH_HEX || !dh_is_node_name(o.head.data))
		rc = dh_error_set(DH_ECORRUPT, "'%s' in store '%s' does not hold a node name", key, dh_store_uri(st));
	else
		memcpy(hex, o.head.data, DH_HASH_HEX + 1);
out:
	dh_buf_release(&o.format);
	dh_buf_release(&o.head);
	return rc;
}

int db_open(struct dh_db **out, struct dh_store *st, const char *branch, int format)
{
	char hex[DH_HASH_HEX + 1];
	struct core *k;
	int rc;

	*out = NULL;
	if (!branch)
		branch = DH_DEFAULT_BRANCH;
	if ((rc = read_head(st, branch, hex, format)))
		return rc;
	if ((rc = core_load(&k, st, hex, branch))) {
		/* a head this dh cannot read: another format explains it better
		 * (and a format that cannot be read leaves the first message) */
		if (!format && rc == DH_ECORRUPT) {
			char *first = strdup(dh_errmsg());
			int frc = format_read(st);

			if (frc != DH_ECORRUPT && first)
				dh_error_set(rc, "%s", first);
			free(first);
		}
		return rc;
	}
	rc = db_wrap(out, k);
	core_unref(k);
	return rc;
}

int dh_db_open(struct dh_db **out, struct dh_store *st, const char *branch)
{
	return db_open(out, st, branch, 0);
}

void dh_db_close(struct dh_db *db)
{
	if (!db)
		return;
	core_unref(db->core);
	free(db);
}

static int view(struct dh_db **out, struct dh_db *db)
{
	int rc = db_wrap(out, db->core);

	if (!rc) {
		(*out)->history = db->history;
		(*out)->as_of = db->as_of;
		(*out)->since = db->since;
	}
	return rc;
}

static int need_history(struct dh_db *db, const char *what)
{
	if (db->core->c.no_history)
		return dh_error_set(DH_EUNSUPPORTED, "%s needs history, which this database does not keep", what);
	return 0;
}

int dh_db_as_of(struct dh_db **out, struct dh_db *db, int64_t tx)
{
	int rc = need_history(db, "as-of");

	*out = NULL;
	if (rc || (rc = view(out, db)))
		return rc;
	if (tx < (*out)->as_of)
		(*out)->as_of = tx;
	return 0;
}

int dh_db_since(struct dh_db **out, struct dh_db *db, int64_t tx)
{
	int rc = view(out, db);

	if (!rc && tx > (*out)->since)
		(*out)->since = tx;
	return rc;
}

int dh_db_history(struct dh_db **out, struct dh_db *db)
{
	int rc = need_history(db, "history");

	*out = NULL;
	if (rc || (rc = view(out, db)))
		return rc;
	(*out)->history = 1;
	return 0;
}

/* The last transaction whose :db/txInstant <= ms (DH_TX0 if none). */
static int tx_at_instant(struct dh_db *db, int64_t ms, int64_t *out)
{
	struct dh_db *h = NULL;
	struct dh_iter *it = NULL;
	const struct dh_datom *d;
	struct dh_bound lo = { .n = 1, .a = AID_TXINSTANT };
	int64_t best = DH_TX0;
	int rc;

	/* txInstant is indexed: AVET over it is ordered by instant */
	if ((rc = db_wrap(&h, db->core)))
		return rc;
	if (!db->core->c.no_history)
		h->history = 1;
	if ((rc = dh_iter_new(&it, h, DH_AVET, &lo, &lo)))
		goto out;
	while ((rc = dh_iter_next(it, &d)) > 0) {
		if (!d->added || d->v.type != DH_INST)
			continue;
		if (d->v.u.i > ms)
			break;
		if (d->e > best)
			best = d->e;
	}
	if (rc >= 0)
		rc = 0;
	*out = best;
out:
	dh_iter_free(it);
	dh_db_close(h);
	return rc;
}

int dh_db_as_of_inst(struct dh_db **out, struct dh_db *db, int64_t ms)
{
	int64_t tx;
	int rc;

	*out = NULL;
	if ((rc = need_history(db, "as-of")) || (rc = tx_at_instant(db, ms, &tx)))
		return rc;
	return dh_db_as_of(out, db, tx);
}

int dh_db_since_inst(struct dh_db **out, struct dh_db *db, int64_t ms)
{
	int64_t tx;
	int rc;

	*out = NULL;
	if ((rc = tx_at_instant(db, ms, &tx)))
		return rc;
	return dh_db_since(out, db, tx);
}

int64_t dh_db_max_tx(const struct dh_db *db) { return db->core->c.max_tx; }
int64_t dh_db_max_eid(const struct dh_db *db) { return db->core->c.max_eid; }
const char *dh_db_commit(const struct dh_db *db) { return db->core->hex; }
const char *dh_db_branch(const struct dh_db *db) { return db->core->branch; }
enum dh_schema_flexibility dh_db_flexibility(const struct dh_db *db) { return db->core->c.flex ? DH_SCHEMA_READ : DH_SCHEMA_WRITE; }
int dh_db_keeps_history(const struct dh_db *db) { return !db->core->c.no_history; }
int dh_db_is_history(const struct dh_db *db) { return db->history; }
struct dh_store *dh_db_store(const struct dh_db *db) { return db->core->st; }

int dh_db_depth(const struct dh_db *db, enum dh_index ix)
{
	const struct dh_tree_root *r = &db->core->c.roots[ix];

	return r->hex[0] ? (int)r->level + 1 : 0;
}

const struct dh_attr *dh_db_attr(const struct dh_db *db, dh_aid aid)
{
	const struct schema *s = db->core->schema;

	if (aid == 0 || aid > s->max || !s->attrs[aid].ident)
		return NULL;
	return &s->attrs[aid];
}

const struct dh_attr *dh_db_attr_by_ident(const struct dh_db *db, const char *ident, size_t len)
{
	if (len && ident[0] == ':') {
		ident++;
		len--;
	}
	return schema_find(db->core->schema, ident, len);
}

dh_aid dh_db_attr_max(const struct dh_db *db)
{
	return db->core->schema->max;
}

/* ---- overlays ---------------------------------------------------------- */

static struct dh_tree_ctx *ov_ctx;

static int ov_cmp(const void *x, const void *y)
{
	const struct event *a = *(const struct event *const *)x, *b = *(const struct event *const *)y;
	int r = dh_tree_cmp(ov_ctx, &a->d, &b->d);

	if (r)
		return r;
	return a < b ? -1 : a > b;
}

static int build_overlay(struct core *k, int ix)
{
	struct dh_tree_ctx tc = { 0 };
	const struct event **p = NULL;
	size_t i, n = 0, m;
	int rc = 0;

	if (k->built[ix])
		return 0;
	if (k->ntail) {
		p = malloc(k->ntail * sizeof(*p));
		if (!p)
			return dh_error_set(DH_ENOMEM, "out of memory");
	}
	for (i = 0; i < k->ntail; i++) {
		const struct dh_datom *d = &k->tail[i].d;

		if (ix == DH_AVET && !(d->a <= k->schema->max && k->schema->attrs[d->a].in_avet))
			continue;
		p[n++] = &k->tail[i];
	}
	/* history overlay: every event by full key */
	tree_ctx(&tc, k, ix + 3);
	ov_ctx = &tc;
	if (n)
		qsort(p, n, sizeof(*p), ov_cmp);
	k->hist[ix] = dh_arena_alloc(k->arena, (n ? n : 1) * sizeof(struct dh_datom));
	k->cur[ix] = dh_arena_alloc(k->arena, (n ? n : 1) * sizeof(struct dh_datom));
	k->cur_op[ix] = dh_arena_alloc(k->arena, n ? n : 1);
	if (!k->hist[ix] || !k->cur[ix] || !k->cur_op[ix]) {
		rc = DH_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		k->hist[ix][i] = p[i]->d;
	k->nhist[ix] = n;
	/* current overlay: last event per (components) key */
	tree_ctx(&tc, k, ix);
	ov_ctx = &tc;
	if (n)
		qsort(p, n, sizeof(*p), ov_cmp);
	for (i = 0, m = 0; i < n; i++) {
		if (m && !dh_tree_cmp(&tc, &k->cur[ix][m - 1], &p[i]->d)) {
			k->cur[ix][m - 1] = p[i]->d;
			k->cur_op[ix][m - 1] = p[i]->d.added;
		} else {
			k->cur[ix][m] = p[i]->d;
			k->cur_op[ix][m] = p[i]->d.added;
			m++;
		}
	}
	k->ncur[ix] = m;
	k->built[ix] = 1;
out:
	free(p);
	return rc;
}

/* ---- iteration --------------------------------------------------------- */

struct src {
	struct dh_tree_iter *ti;     /* tree source, or */
	const struct dh_datom *ov;   /* an overlay array */
	const uint8_t *op;
	size_t n, pos;
	const struct dh_datom *head; /* peeked datom, NULL when exhausted */
	int head_op;
	int need;                    /* head must be (re)fetched */
};

struct dh_iter {
	struct dh_db *db;
	struct core *k;
	enum dh_index ix;
	struct dh_tree_ctx cc, hc;   /* component-key and history-key orders */
	int history;                 /* merge history sources */
	struct src s[3];
	int ns;
	struct dh_bound lo, hi;
	int has_hi;
	struct dh_arena *barena;
	/* as-of: the group returned (in ar[g]) and the next group's first datom (in ar[g^1]) */
	struct dh_arena *ar[2];
	int g;
	struct dh_arena *values;     /* dh_iter_new_scan(): where tree values are decoded */
	struct dh_datom out, pend;
	int pending;
	int logmode;                 /* dh_log_iter_new(): the log tree and its overlay */
	int empty;
};

static int ov_seek(struct dh_iter *it, struct src *s, const struct dh_bound *b)
{
	size_t lo = s->pos, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (dh_bound_cmp(&it->cc, &s->ov[mid], b) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	s->pos = lo;
	s->need = 1;
	return 0;
}

static int src_fetch(struct dh_iter *it, struct src *s)
{
	int rc;

	if (!s->need)
		return 0;
	s->need = 0;
	if (s->ti) {
		rc = dh_tree_iter_next(s->ti, &s->head);
		if (rc < 0)
			return rc;
		if (rc == 0)
			s->head = NULL;
		s->head_op = 1;
		return 0;
	}
	if (s->pos < s->n && !(it->has_hi && dh_bound_cmp(&it->cc, &s->ov[s->pos], &it->hi) > 0)) {
		s->head = &s->ov[s->pos];
		s->head_op = s->op ? s->op[s->pos] : 1;
		s->pos++;
	} else {
		s->head = NULL;
	}
	return 0;
}

static int iter_new(struct dh_iter **out, struct dh_db *db, enum dh_index ix,
	const struct dh_bound *lo, const struct dh_bound *hi, unsigned flags, struct dh_arena *values);

int dh_iter_new(struct dh_iter **out, struct dh_db *db, enum dh_index ix,
	const struct dh_bound *lo, const struct dh_bound *hi)
{
	return dh_iter_new_flags(out, db, ix, lo, hi, 0);
}

int dh_iter_new_flags(struct dh_iter **out, struct dh_db *db, enum dh_index ix,
	const struct dh_bound *lo, const struct dh_bound *hi, unsigned flags)
{
	return iter_new(out, db, ix, lo, hi, flags, NULL);
}

int dh_iter_new_scan(struct dh_iter **out, struct dh_db *db, enum dh_index ix,
	const struct dh_bound *lo, const struct dh_bound *hi, struct dh_arena *values)
{
	return iter_new(out, db, ix, lo, hi, DH_ITER_SCAN, values);
}

static int iter_new(struct dh_iter **out, struct dh_db *db, enum dh_index ix,
	const struct dh_bound *lo, const struct dh_bound *hi, unsigned flags, struct dh_arena *values)
{
	struct dh_iter *it = calloc(1, sizeof(*it));
	struct dh_tree_ctx tcur, thist;
	struct core *k = db->core;
	struct dh_bound none = { 0 };
	int rc;

	*out = NULL;
	if (!it)
		return dh_error_set(DH_ENOMEM, "out of memory");
	if ((unsigned)ix > DH_AVET) {
		free(it);
		return dh_error_set(DH_EINVAL, "unknown index %d", (int)ix);
	}
	it->db = db;
	it->k = k;
	it->ix = ix;
	tree_ctx(&it->cc, k, ix);
	tree_ctx(&it->hc, k, ix + 3);
	it->history = db->history || db->as_of != INT64_MAX;
	if ((rc = dh_arena_new(&it->barena)) || (rc = dh_arena_new(&it->ar[0])) || (rc = dh_arena_new(&it->ar[1])))
		goto fail;
	if (lo) {
		it->lo = *lo;
		if (lo->n && (rc = dh_val_copy(&it->lo.v, it->barena, &lo->v)))
			goto fail;
	}
	if (hi) {
		it->hi = *hi;
		it->has_hi = 1;
		if (hi->n && (rc = dh_val_copy(&it->hi.v, it->barena, &hi->v)))
			goto fail;
	}
	if (ix == DH_AVET && it->lo.n >= 1) {
		const struct dh_attr *at = dh_db_attr(db, it->lo.a);

		if (!at || !at->in_avet)
			it->empty = 1;
	}
	if ((rc = build_overlay(k, ix)))
		goto fail;
	tcur = it->cc;
	thist = it->hc;
	if (flags & DH_ITER_SCAN) {
		tcur.cache = thist.cache = NULL;
		tcur.values = thist.values = it->values = values;
	}
	if ((rc = dh_tree_iter_new(&it->s[0].ti, &tcur, &k->c.roots[ix], &it->lo, hi ? &it->hi : NULL)))
		goto fail;
	it->s[0].need = 1;
	if (it->history) {
		if ((rc = dh_tree_iter_new(&it->s[1].ti, &thist, &k->c.roots[ix + 3], &it->lo, hi ? &it->hi : NULL)))
			goto fail;
		it->s[1].need = 1;
		it->s[2].ov = k->hist[ix];
		it->s[2].n = k->nhist[ix];
	} else {
		it->s[2].ov = k->cur[ix];
		it->s[2].op = k->cur_op[ix];
		it->s[2].n = k->ncur[ix];
	}
	ov_seek(it, &it->s[2], lo ? &it->lo : &none);
	it->ns = 3;
	*out = it;
	return 0;
fail:
	dh_iter_free(it);
	return rc;
}

void dh_iter_free(struct dh_iter *it)
{
	int i;

	if (!it)
		return;
	for (i = 0; i < 3; i++)
		dh_tree_iter_free(it->s[i].ti);
	dh_arena_free(it->barena);
	dh_arena_free(it->ar[0]);
	dh_arena_free(it->ar[1]);
	free(it);
}

/* The next event of the merged sources, or NULL; `op` gets its put/delete flag. */
static int merged_next(struct dh_iter *it, const struct dh_datom **out, int *op)
{
	struct dh_tree_ctx *c = it->history ? &it->hc : &it->cc;
	int i, best, rc;

	for (;;) {
		best = -1;
		for (i = 0; i < it->ns; i++) {
			struct src *s = &it->s[i];

			if (!s->ti && !s->ov)
				continue;
			if ((rc = src_fetch(it, s)))
				return rc;
			if (!s->head)
				continue;
			if (best < 0 || dh_tree_cmp(c, s->head, it->s[best].head) < 0)
				best = i;
		}
		if (best < 0) {
			*out = NULL;
			return 0;
		}
		/* equal keys: the overlay (last source) wins over the trees */
		for (i = 0; i < it->ns; i++) {
			struct src *s = &it->s[i];

			if (i != best && s->head && !dh_tree_cmp(c, s->head, it->s[best].head)) {
				if (i > best) {
					it->s[best].need = 1;
					best = i;
				} else {
					s->need = 1;
				}
			}
		}
		it->s[best].need = 1;
		*out = it->s[best].head;
		*op = it->s[best].head_op;
		if (!it->history && !*op)
			continue;     /* a retraction in the tail hides the tree's datom */
		return 1;
	}
}

static int keep(struct dh_iter *it, const struct dh_datom *d)
{
	if (d->tx > it->db->as_of && it->db->history)
		return 0;
	if (d->tx <= it->db->since)
		return 0;
	return 1;
}

/*
 * as-of over the current view: group the history by components and return
 * the group's last event at or before t when it is an assertion.  The group
 * being returned and the first datom of the next group live in two arenas
 * that swap roles, so the returned datom stays valid until the next call.
 */
static int asof_next(struct dh_iter *it, const struct dh_datom **out)
{
	const struct dh_datom *d;
	int op, rc;

	for (;;) {
		struct dh_datom grp;
		int have;

		if (it->pending) {
			it->pending = 0;
			it->g ^= 1;
			grp = it->pend;
		} else {
			if ((rc = merged_next(it, &d, &op)) <= 0)
				return rc;
			grp = *d;
			/* kept past the next datoms: copied, unless values outlive the cursor */
			if (!it->values) {
				dh_arena_reset(it->ar[it->g]);
				if ((rc = dh_val_copy(&grp.v, it->ar[it->g], &d->v)))
					return rc;
			}
		}
		have = grp.tx <= it->db->as_of;
		for (;;) {
			if ((rc = merged_next(it, &d, &op)) < 0)
				return rc;
			if (rc == 0)
				break;
			if (dh_tree_cmp(&it->cc, d, &grp)) {
				it->pend = *d;
				if (!it->values) {
					dh_arena_reset(it->ar[it->g ^ 1]);
					if ((rc = dh_val_copy(&it->pend.v, it->ar[it->g ^ 1], &d->v)))
						return rc;
				}
				it->pending = 1;
				break;
			}
			if (d->tx <= it->db->as_of) {
				grp.tx = d->tx;
				grp.added = d->added;
				have = 1;
			}
		}
		if (have && grp.added && grp.tx > it->db->since) {
			it->out = grp;
			*out = &it->out;
			return 1;
		}
		if (!it->pending)
			return 0;
	}
}

int dh_iter_next(struct dh_iter *it, const struct dh_datom **out)
{
	const struct dh_datom *d;
	int op, rc;

	if (it->logmode)
		return merged_next(it, out, &op);
	if (it->empty)
		return 0;
	if (it->db->history || !it->history) {
		for (;;) {
			if ((rc = merged_next(it, &d, &op)) <= 0)
				return rc;
			if (keep(it, d)) {
				*out = d;
				return 1;
			}
		}
	}
	return asof_next(it, out);
}

int dh_iter_seek(struct dh_iter *it, const struct dh_bound *to)
{
	int i, rc;

	if (it->empty || it->logmode)
		return 0;
	for (i = 0; i < it->ns; i++) {
		struct src *s = &it->s[i];

		if (s->ti) {
			if (s->head && !s->need && dh_bound_cmp(&it->cc, s->head, to) >= 0)
				continue;
			if ((rc = dh_tree_iter_seek(s->ti, to)))
				return rc;
			s->need = 1;
		} else if (s->ov) {
			if (s->head && !s->need && dh_bound_cmp(&it->cc, s->head, to) >= 0)
				continue;
			ov_seek(it, s, to);
		}
	}
	if (it->pending && dh_bound_cmp(&it->cc, &it->pend, to) < 0)
		it->pending = 0;
	return 0;
}

int dh_datom_cmp(const struct dh_db *db, enum dh_index ix, const struct dh_datom *x, const struct dh_datom *y)
{
	struct dh_tree_ctx c;

	tree_ctx(&c, db->core, (int)ix + 3);
	return dh_tree_cmp(&c, x, y);
}

/* ---- the log order (export) -------------------------------------------- */

static struct dh_tree_ctx *lg_ctx;

static int lg_cmp(const void *x, const void *y)
{
	const struct dh_tree_edit *a = x, *b = y;
	int r = dh_tree_cmp(lg_ctx, &a->d, &b->d);

	if (r)
		return r;
	return a < b ? -1 : a > b;
}

/* The tail's edits to the log tree, sorted, last edit per key. */
static int build_log_overlay(struct core *k)
{
	struct dh_tree_ctx tc;
	struct dh_tree_edit *e;
	size_t i, m, n;

	if (k->logbuilt)
		return 0;
	e = malloc((k->ntail + 1) * sizeof(*e));
	if (!e)
		return dh_error_set(DH_ENOMEM, "out of memory");
	n = log_edits(e, k->tail, k->ntail, k->c.no_history);
	tree_ctx(&tc, k, TREE_LOG);
	lg_ctx = &tc;
	qsort(e, n, sizeof(*e), lg_cmp);
	k->logov = dh_arena_alloc(k->arena, (n ? n : 1) * sizeof(*k->logov));
	k->logop = dh_arena_alloc(k->arena, n ? n : 1);
	if (!k->logov || !k->logop) {
		free(e);
		return DH_ENOMEM;
	}
	for (i = 0, m = 0; i < n; i++) {
		if (m && !dh_tree_cmp(&tc, &k->logov[m - 1], &e[i].d))
			m--;
		k->logov[m] = e[i].d;
		k->logop[m] = (uint8_t)e[i].op;
		m++;
	}
	k->nlogov = m;
	k->logbuilt = 1;
	free(e);
	return 0;
}

int dh_log_iter_new(struct dh_iter **out, struct dh_db *db, int64_t from_tx, int64_t to_tx)
{
	struct dh_iter *it = calloc(1, sizeof(*it));
	struct core *k = db->core;
	int rc;

	*out = NULL;
	if (!it)
		return dh_error_set(DH_ENOMEM, "out of memory");
	/* a view's time filter becomes bounds */
	if (db->since != INT64_MIN && (!from_tx || from_tx <= db->since))
		from_tx = db->since + 1;
	if (db->as_of != INT64_MAX && (!to_tx || to_tx > db->as_of))
		to_tx = db->as_of;
	it->db = db;
	it->k = k;
	it->ix = DH_EAVT;
	tree_ctx(&it->cc, k, TREE_LOG);
	it->hc = it->cc;
	if ((rc = dh_arena_new(&it->barena)) || (rc = dh_arena_new(&it->ar[0])) || (rc = dh_arena_new(&it->ar[1])) ||
	    (rc = build_log_overlay(k)))
		goto fail;
	if (from_tx) {
		it->lo.n = 1;
		it->lo.tx = from_tx;
	}
	if (to_tx) {
		it->hi.n = 1;
		it->hi.tx = to_tx;
		it->has_hi = 1;
	}
	it->logmode = 1;
	{
		/* a scan reads each node once: decoding it into the shared cache only churns memory */
		struct dh_tree_ctx scan = it->cc;

		scan.cache = NULL;
		if ((rc = dh_tree_iter_new(&it->s[0].ti, &scan, &k->c.log, &it->lo, it->has_hi ? &it->hi : NULL)))
			goto fail;
	}
	it->s[0].need = 1;
	it->s[2].ov = k->logov;
	it->s[2].op = k->logop;
	it->s[2].n = k->nlogov;
	ov_seek(it, &it->s[2], &it->lo);
	it->ns = 3;
	*out = it;
	return 0;
fail:
	dh_iter_free(it);
	return rc;
}

int dh_db_log_is_current(const struct dh_db *db)
{
	const struct core *k = db->core;
	size_t i;

	if (db->as_of != INT64_MAX || db->since != INT64_MIN)
		return 0;
	if (k->c.no_history)
		return 1;
	/*
	 * With history the log holds every event, so it holds every current
	 * datom; it holds nothing else exactly when no retraction was ever
	 * recorded.  In the trees that is equal counts and no temporal datom;
	 * in the tail (whose events are never redundant) it is no retraction.
	 */
	if (k->c.log.count != k->c.roots[DH_EAVT].count || k->c.roots[3 + DH_EAVT].count)
		return 0;
	for (i = 0; i < k->ntail; i++)
		if (!k->tail[i].d.added)
			return 0;
	return 1;
}

/* ---- entities ---------------------------------------------------------- */

int db_first(struct dh_db *db, enum dh_index ix, const struct dh_bound *b, struct dh_arena *a, struct dh_datom *out)
{
	struct dh_iter *it = NULL;
	const struct dh_datom *d;
	int rc;

	if ((rc = dh_iter_new(&it, db, ix, b, b)))
		return rc;
	rc = dh_iter_next(it, &d);
	if (rc > 0) {
		*out = *d;
		if (a && dh_val_copy(&out->v, a, &d->v))
			rc = DH_ENOMEM;
	}
	dh_iter_free(it);
	return rc;
}

int dh_db_ident_eid(const struct dh_db *db, const char *ident, size_t len, int64_t *out)
{
	struct dh_bound b = { .n = 2, .a = AID_IDENT };
	struct dh_datom d;
	int rc;

	if (len && ident[0] == ':') {
		ident++;
		len--;
	}
	b.v = dh_text(DH_KEYWORD, ident, (uint32_t)len);
	rc = db_first((struct dh_db *)db, DH_AVET, &b, NULL, &d);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return dh_error_set(DH_ENOTFOUND, "no entity with :db/ident :%.*s", (int)len, ident);
	*out = d.e;
	return 0;
}

const char *dh_db_ident(const struct dh_db *db, int64_t e)
{
	struct dh_bound b = { .n = 2, .e = e, .a = AID_IDENT };
	struct dh_datom d;

	if (db_first((struct dh_db *)db, DH_EAVT, &b, db->core->arena, &d) <= 0 || d.v.type != DH_KEYWORD)
		return NULL;
	return d.v.u.s;
}

int dh_db_entid(const struct dh_db *db, const struct dh_val *ref, int64_t *out)
{
	const struct dh_attr *at;
	struct dh_bound b = { .n = 2 };
	struct dh_datom d;
	int rc;

	switch (ref->type) {
	case DH_LONG:
		if (ref->u.i <= 0)
			return dh_error_set(DH_EINVAL, "%lld is not an entity id", (long long)ref->u.i);
		*out = ref->u.i;
		return 0;
	case DH_KEYWORD:
		return dh_db_ident_eid(db, ref->u.s, ref->len, out);
	case DH_VECTOR:
	case DH_LIST:
		if (ref->len != 2 || (ref->u.items[0].type != DH_KEYWORD))
			return dh_error_set(DH_EINVAL, "a lookup ref is [attribute value]");
		at = dh_db_attr_by_ident(db, ref->u.items[0].u.s, ref->u.items[0].len);
		if (!at)
			return dh_error_set(DH_ENOTFOUND, "lookup ref attribute :%s is not in the schema",
				ref->u.items[0].u.s);
		if (!at->unique)
			return dh_error_set(DH_EINVAL, "lookup ref attribute :%s is not unique", at->ident);
		if (ref->u.items[1].type == DH_NIL)
			return dh_error_set(DH_ENOTFOUND, "lookup ref with a nil value");
		b.a = at->aid;
		b.v = ref->u.items[1];
		rc = db_first((struct dh_db *)db, DH_AVET, &b, NULL, &d);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return dh_error_set(DH_ENOTFOUND, "nothing found for lookup ref [:%s ...]", at->ident);
		*out = d.e;
		return 0;
	default:
		return dh_error_set(DH_EINVAL, "not an entity reference (an id, an ident or a lookup ref)");
	}
}

/* ---- verification ------------------------------------------------------ */

int dh_db_verify(struct dh_db *db, dh_problem_cb cb, void *payload)
{
	struct dh_tree_ctx tc = { 0 };
	int t, rc, bad = 0;

	for (t = 0; t <= NTREES; t++) {
		tree_ctx(&tc, db->core, t);
		rc = dh_tree_verify(&tc, t < NTREES ? &db->core->c.roots[t] : &db->core->c.log, cb, payload);
		if (rc == DH_ECORRUPT)
			bad = 1;
		else if (rc)
			return rc;
	}
	return bad ? dh_error_set(DH_ECORRUPT, "commit '%s' has problems", db->core->hex) : 0;
}
