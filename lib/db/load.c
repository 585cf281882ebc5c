/*
 * load.c - bulk loading datoms that carry their own ids (import).
 *
 * The loader takes datoms in transaction order and interprets schema datoms
 * at each transaction boundary (so the data after them is checked against
 * the schema they define).  It holds no tree in memory: every datom goes
 * into an external sorter (dsort.c) that keeps it in two orders, the log's
 * (transaction order: a dump's own order, so normally nothing to sort) and
 * EAVT with history.  dh_loader_finish() first checks every datom against
 * the final schema, from the value types seen per attribute, so a bad datom
 * stops the load before anything is written; then it builds the trees
 * bottom-up: the log from the first order; from the second, each (e a v)
 * whose last event is an assertion goes to the current EAVT tree (already
 * in its order) and to sorters for AEVT and AVET, every other event to the
 * temporal trees likewise.  One commit is written and the head moves by
 * compare-and-swap.
 *
 * Memory: the sorters' budget (128 MiB unless dh_loader_limit() says
 * otherwise; a million datoms of a typical dump fit in it) plus a few nodes
 * per tree being built, whatever the number of datoms.  Trees built from
 * nothing get nodes of LOAD_NODE_TARGET bytes (some 6,000 small datoms a
 * leaf): a bulk load writes each node once, and on a file store every node
 * is a file, whose creation costs far more than its bytes (on a busy ext4
 * without a journal, a millisecond: 19,331 files of 4 KiB nodes took most
 * of a million-datom import).  Fewer, larger nodes also make full scans
 * and sync cheaper; a point read decodes more, and a transaction that
 * touches such a node rewrites it at the usual size.  A load into trees
 * that already hold datoms (a merge) applies its datoms to them in sorted
 * batches, cutting the nodes it writes to the same size.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/internal.h"
#include "util/mem.h"

#define LOAD_NODE_TARGET BULK_NODE_TARGET
#define BATCH_FLUSH (8u << 20)      /* node bytes written to the store at once */
#define APPLY_BATCH 65536           /* edits per dh_tree_apply() when merging (at most) */

/* A schema datom of the current transaction and its place in the input. */
struct sysd {
	struct dh_datom d;
	size_t idx;
};

/* The first datom of each (attribute, value type) seen, for the final type check. */
struct seen {
	struct seen *next;
	struct dh_datom d;
	size_t idx;
};

/*
 * Writing nodes, a file per node on a file store, costs about as much as
 * building them, and making them durable as much again: full batches go
 * to a thread that writes and flushes one while the next fills, so the
 * head's compare-and-swap at the end has only the last batch to wait
 * for.  Nothing else touches the store meanwhile; a batch is written
 * completely before the next one starts, so children still come before
 * parents.
 */
struct bgwriter {
	struct dh_node_batch *b;   /* the batch the thread writes */
	struct dh_store *st;
	pthread_t th;
	int running;
	int rc;
	char msg[512];
};

struct dh_loader {
	struct dh_conn *conn;
	struct dh_db *db;
	struct schema *s;
	struct dh_arena *a;        /* first-seen datoms */
	struct dsort_pool pool;
	struct dsort *all;         /* every datom: log order, EAVT history order */
	char *tmpdir;
	size_t n;
	uint64_t nadded, nretracted;
	int64_t last_tx, max_eid, max_tx, instant;
	struct sysd *sys;          /* schema datoms of the current transaction */
	size_t nsys, syscap;
	struct dh_arena *sysa;
	uint32_t *types;           /* types[aid]: bit t set when a value of type t was seen */
	size_t ntypes;
	struct seen *firsts;
	int schema_changed;
	int ranks_stale;           /* attributes added since the ranks were computed */
	struct bgwriter w;
};

static void *bg_write(void *arg)
{
	struct bgwriter *w = arg;

	w->rc = dh_node_batch_write(w->b);
	if (!w->rc)
		w->rc = dh_store_flush(w->st);
	if (w->rc)
		snprintf(w->msg, sizeof(w->msg), "%s", dh_errmsg());
	return NULL;
}

/* Wait for the batch being written; its error, with the thread's message. */
static int bg_wait(struct bgwriter *w)
{
	if (!w->running)
		return 0;
	pthread_join(w->th, NULL);
	w->running = 0;
	return w->rc ? dh_error_set(w->rc, "%s", w->msg) : 0;
}

/* Hand `batch` to the thread (after the one before it is written); `batch` comes back empty. */
static int bg_flush(struct bgwriter *w, struct dh_node_batch *batch)
{
	int rc = bg_wait(w);

	if (rc)
		return rc;
	dh_node_batch_swap(w->b, batch);
	if (pthread_create(&w->th, NULL, bg_write, w))
		return dh_node_batch_write(w->b);
	w->running = 1;
	return 0;
}

int dh_loader_new(struct dh_loader **out, struct dh_conn *conn)
{
	struct dh_loader *l = calloc(1, sizeof(*l));
	int rc;

	*out = NULL;
	if (!l)
		return dh_error_set(DH_ENOMEM, "out of memory");
	l->conn = conn;
	l->db = dh_conn_db(conn);
	l->max_eid = l->db->core->c.max_eid;
	l->max_tx = l->db->core->c.max_tx;
	l->instant = l->db->core->c.instant_ms;
	dsort_pool_init(&l->pool, 0, NULL);
	if ((rc = dh_arena_new(&l->a)) || (rc = dh_arena_new(&l->sysa)) ||
	    (rc = schema_clone(&l->s, l->db->core->schema))) {
		dh_loader_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

void dh_loader_limit(struct dh_loader *l, size_t mem, const char *tmpdir)
{
	free(l->tmpdir);
	l->tmpdir = tmpdir ? strdup(tmpdir) : NULL;
	l->pool.max = mem ? mem : DSORT_DEFAULT_MEM;
	l->pool.tmpdir = l->tmpdir;
}

void dh_loader_free(struct dh_loader *l)
{
	if (!l)
		return;
	dsort_free(l->all);
	schema_free(l->s);
	dh_arena_free(l->a);
	dh_arena_free(l->sysa);
	free(l->sys);
	free(l->types);
	free(l->tmpdir);
	free(l);
}

static int datom_msg(struct dh_loader *l, const struct dh_datom *d, size_t idx, const char *what)
{
	struct dh_buf b = DH_BUF_INIT;
	int rc;

	dh_edn_print(&b, &d->v);
	rc = dh_error_set(DH_EINVAL, "datom %zu [%lld :%s %s %lld %s]: %s", idx, (long long)d->e,
		l->s->attrs[d->a].ident, b.data ? b.data : "?", (long long)d->tx, d->added ? "true" : "false", what);
	dh_buf_release(&b);
	return rc;
}

static int kw_is(const struct dh_val *v, const char *s)
{
	return v->type == DH_KEYWORD && v->len == strlen(s) && !memcmp(v->u.s, s, v->len);
}

/* Interpret the schema datoms of the transaction that ended: define attributes. */
static int schema_pass(struct dh_loader *l)
{
	size_t i, j;
	int rc;

	for (i = 0; i < l->nsys; i++) {
		const struct dh_datom *d = &l->sys[i].d;
		struct dh_attr *at;
		const struct dh_val *ident = NULL, *vt = NULL, *card = NULL;
		dh_aid aid;

		if (d->a != AID_IDENT || !d->added || d->v.type != DH_KEYWORD)
			continue;
		ident = &d->v;
		for (j = 0; j < l->nsys; j++) {
			const struct dh_datom *x = &l->sys[j].d;

			if (x->e != d->e || !x->added)
				continue;
			if (x->a == AID_VALUETYPE)
				vt = &x->v;
			else if (x->a == AID_CARDINALITY)
				card = &x->v;
		}
		if (!vt)
			continue;   /* an ident only */
		if (vt->type != DH_KEYWORD || value_type_from_kw(vt->u.s, vt->len) == DH_VT_ANY)
			return datom_msg(l, d, l->sys[i].idx, "unknown :db/valueType");
		if ((rc = schema_add(l->s, ident->u.s, ident->len, &aid)))
			return rc;
		at = &l->s->attrs[aid];
		at->eid = d->e;
		at->declared = 1;
		at->type = value_type_from_kw(vt->u.s, vt->len);
		at->card = card && kw_is(card, "db.cardinality/many") ? DH_CARD_MANY : DH_CARD_ONE;
		for (j = 0; j < l->nsys; j++) {
			const struct dh_datom *x = &l->sys[j].d;

			if (x->e != d->e || !x->added)
				continue;
			switch (x->a) {
			case AID_UNIQUE:
				at->unique = kw_is(&x->v, "db.unique/identity") ? DH_UNIQUE_IDENTITY : DH_UNIQUE_VALUE;
				break;
			case AID_INDEX: at->index = x->v.type == DH_BOOL && x->v.u.b; break;
			case AID_ISCOMPONENT: at->is_component = x->v.type == DH_BOOL && x->v.u.b; break;
			case AID_NOHISTORY: at->no_history = x->v.type == DH_BOOL && x->v.u.b; break;
			case AID_DOC:
				if (x->v.type == DH_STRING)
					at->doc = dh_arena_strndup(l->s->arena, x->v.u.s, x->v.len);
				break;
			case AID_TUPLEATTRS:
				if (x->v.type == DH_VECTOR || x->v.type == DH_LIST) {
					dh_aid *ids = dh_arena_alloc(l->s->arena, (x->v.len + 1) * sizeof(*ids));
					uint32_t k;

					if (!ids)
						return DH_ENOMEM;
					for (k = 0; k < x->v.len; k++) {
						const struct dh_val *t = &x->v.u.items[k];

						if (t->type != DH_KEYWORD)
							return datom_msg(l, x, l->sys[j].idx, "bad :db/tupleAttrs");
						if ((rc = schema_add(l->s, t->u.s, t->len, &ids[k])))
							return rc;
					}
					at = &l->s->attrs[aid];
					at->tuple_attrs = ids;
					at->ntuple_attrs = x->v.len;
				}
				break;
			case AID_TUPLETYPES:
				if (x->v.type == DH_VECTOR || x->v.type == DH_LIST) {
					enum dh_value_type *ty = dh_arena_alloc(l->s->arena, (x->v.len + 1) * sizeof(*ty));
					uint32_t k;

					if (!ty)
						return DH_ENOMEM;
					for (k = 0; k < x->v.len; k++)
						ty[k] = x->v.u.items[k].type == DH_KEYWORD
							? value_type_from_kw(x->v.u.items[k].u.s, x->v.u.items[k].len) : DH_VT_ANY;
					at->tuple_types = ty;
					at->ntuple_types = x->v.len;
				}
				break;
			case AID_TUPLETYPE:
				if (x->v.type == DH_KEYWORD)
					at->tuple_type = value_type_from_kw(x->v.u.s, x->v.len);
				break;
			default:
				break;
			}
		}
		l->schema_changed = 1;
		l->ranks_stale = 1;
	}
	return 0;
}

/* A transaction ended: its schema takes effect. */
static int tx_end(struct dh_loader *l)
{
	int rc = 0;

	if (l->nsys && (rc = schema_pass(l)))
		return rc;
	if (l->ranks_stale) {
		if ((rc = schema_finish(l->s)))
			return rc;
		l->ranks_stale = 0;
	}
	l->nsys = 0;
	dh_arena_reset(l->sysa);
	return 0;
}

/* Before a chunk is sorted mid-load: ranks for the attributes seen so far. */
static int prepare_ranks(void *payload)
{
	struct dh_loader *l = payload;
	int rc = 0;

	if (l->ranks_stale && !(rc = schema_finish(l->s)))
		l->ranks_stale = 0;
	return rc;
}

static int note_type(struct dh_loader *l, const struct dh_datom *d)
{
	uint32_t bit = 1u << (d->v.type & 31);
	struct seen *f;
	int rc;

	if (d->a >= l->ntypes) {
		size_t n = (size_t)d->a * 2 + 64;
		uint32_t *t = realloc(l->types, n * sizeof(*t));

		if (!t)
			return dh_error_set(DH_ENOMEM, "out of memory");
		memset(t + l->ntypes, 0, (n - l->ntypes) * sizeof(*t));
		l->types = t;
		l->ntypes = n;
	}
	if (l->types[d->a] & bit)
		return 0;
	l->types[d->a] |= bit;
	if (!(f = dh_arena_alloc(l->a, sizeof(*f))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	f->d = *d;
	f->idx = l->n + 1;
	if ((rc = dh_val_copy(&f->d.v, l->a, &d->v)))
		return rc;
	f->next = l->firsts;
	l->firsts = f;
	return 0;
}

static int note_schema_datom(struct dh_loader *l, const struct dh_datom *d)
{
	struct sysd *x;
	int rc;

	if ((rc = dh_grow((void **)&l->sys, &l->syscap, l->nsys + 1, sizeof(*l->sys), 64)))
		return rc;
	x = &l->sys[l->nsys++];
	x->d = *d;
	x->idx = l->n + 1;
	return dh_val_copy(&x->d.v, l->sysa, &d->v);
}

int dh_loader_add(struct dh_loader *l, int64_t e, const struct dh_val *attr, const struct dh_val *v, int64_t tx,
	int added)
{
	static const struct dsort_order orders[2] = { { DH_TREE_LOG, 1, 0 }, { DH_EAVT, 1, 0 } };
	struct dh_datom d;
	const struct dh_attr *at;
	dh_aid aid;
	size_t len;
	const char *s;
	int rc;

	if (!attr || attr->type != DH_KEYWORD)
		return dh_error_set(DH_EINVAL, "datom %zu: the attribute is not a keyword", l->n + 1);
	if (e <= 0)
		return dh_error_set(DH_EINVAL, "datom %zu: bad entity id %lld", l->n + 1, (long long)e);
	if (tx <= DH_TX0 - 1 || tx > DH_TXMAX)
		return dh_error_set(DH_EINVAL, "datom %zu: bad transaction id %lld", l->n + 1, (long long)tx);
	if (tx < l->last_tx)
		return dh_error_set(DH_EINVAL, "datom %zu: transaction %lld after %lld (datoms must come in transaction order)",
			l->n + 1, (long long)tx, (long long)l->last_tx);
	if (tx != l->last_tx) {
		if ((rc = tx_end(l)))
			return rc;
		l->last_tx = tx;
	}
	s = attr->u.s;
	len = attr->len;
	if (len && s[0] == ':') {
		s++;
		len--;
	}
	at = schema_find(l->s, s, len);
	if (at) {
		aid = at->aid;
	} else {
		if ((rc = schema_add(l->s, s, len, &aid)))
			return rc;
		l->schema_changed = 1;
		l->ranks_stale = 1;
	}
	if (!l->all) {
		l->pool.prepare = prepare_ranks;
		l->pool.payload = l;
		if ((rc = dsort_new(&l->all, &l->pool, l->s, orders, 2)))
			return rc;
	}
	d.e = e;
	d.a = aid;
	d.v = *v;
	d.tx = tx;
	d.added = (uint8_t)!!added;
	if ((rc = note_type(l, &d)) || (aid < DH_AID_USER && (rc = note_schema_datom(l, &d))) ||
	    (rc = dsort_add(l->all, &d)))
		return rc;
	l->n++;
	if (d.added)
		l->nadded++;
	else
		l->nretracted++;
	if (e < DH_TX0 && e > l->max_eid)
		l->max_eid = e;
	if (tx > l->max_tx)
		l->max_tx = tx;
	if (aid == AID_TXINSTANT && v->type == DH_INST && d.added && v->u.i > l->instant)
		l->instant = v->u.i;
	return 0;
}

/* Does a value of type t fit attribute `at`?  (A double fits a float attribute: it is stored as one.) */
static int type_fits(const struct dh_attr *at, int t)
{
	switch (at->type) {
	case DH_VT_STRING: return t == DH_STRING;
	case DH_VT_KEYWORD: case DH_VT_VALUETYPE: case DH_VT_CARDINALITY: case DH_VT_UNIQUE:
		return t == DH_KEYWORD;
	case DH_VT_SYMBOL: return t == DH_SYMBOL;
	case DH_VT_LONG: case DH_VT_REF: return t == DH_LONG;
	case DH_VT_DOUBLE: return t == DH_DOUBLE;
	case DH_VT_FLOAT: return t == DH_FLOAT || t == DH_DOUBLE;
	case DH_VT_BOOLEAN: return t == DH_BOOL;
	case DH_VT_INSTANT: return t == DH_INST;
	case DH_VT_UUID: return t == DH_UUID;
	case DH_VT_BIGINT: return t == DH_BIGINT || t == DH_LONG;
	case DH_VT_BIGDEC: return t == DH_BIGDEC;
	case DH_VT_BYTES: return t == DH_BYTES;
	case DH_VT_TUPLE: return t == DH_VECTOR || t == DH_LIST;
	default: return 1;
	}
}

/*
 * Every datom against the final schema: whether a datom passes depends on
 * its attribute and value type only, so the first datom of each pair
 * stands for all; the earliest that fails is reported.
 */
static int check_types(struct dh_loader *l, int flex)
{
	const struct seen *f, *bad = NULL;
	const char *why = NULL;

	for (f = l->firsts; f; f = f->next) {
		const struct dh_attr *at = &l->s->attrs[f->d.a];
		const char *w = NULL;

		if (!at->declared)
			w = flex ? NULL : "attribute not defined in the schema";
		else if (!type_fits(at, f->d.v.type))
			w = "value does not match the attribute's :db/valueType";
		if (w && (!bad || f->idx < bad->idx)) {
			bad = f;
			why = w;
		}
	}
	return bad ? datom_msg(l, &bad->d, bad->idx, why) : 0;
}

/*
 * Where a tree's datoms go: a builder when the tree is empty, else batches
 * of edits applied to it.  History-keyed trees may be handed the same
 * event twice (a dump can repeat a record); the copy is dropped.
 */
struct sink {
	struct dh_loader *l;
	struct dh_tree_ctx tc;
	struct dh_tree_root *root;
	struct dh_node_batch *batch;
	struct dh_tree_builder *b;
	struct dh_tree_edit *ed;
	size_t n, cap;
	struct dh_arena *ea;
	size_t apply_batch;        /* edits per apply: a share of the memory budget */
	int dedupe;
	const struct dh_datom *prev;
	struct dh_datom prevd;
	struct dh_arena *pa[2];
	int flip;
};

static int sink_init(struct sink *k, struct dh_loader *l, int tree, struct dh_tree_root *root,
	struct dh_node_batch *batch)
{
	int rc;

	memset(k, 0, sizeof(*k));
	k->l = l;
	k->tc.st = l->db->core->st;
	k->tc.ix = tree == TREE_LOG ? (enum dh_index)DH_TREE_LOG : (enum dh_index)(tree % 3);
	k->tc.history = tree >= 3;
	k->tc.rank = l->s->rank;
	k->tc.nrank = (size_t)l->s->max + 1;
	k->root = root;
	k->batch = batch;
	k->dedupe = tree >= 3;
	if (k->dedupe && ((rc = dh_arena_new(&k->pa[0])) || (rc = dh_arena_new(&k->pa[1]))))
		return rc;
	if (!root->hex[0])
		return dh_tree_builder_new(&k->b, &k->tc, LOAD_NODE_TARGET, batch);
	k->apply_batch = l->pool.max / 1024;
	if (k->apply_batch > APPLY_BATCH)
		k->apply_batch = APPLY_BATCH;
	if (k->apply_batch < 64)
		k->apply_batch = 64;
	return dh_arena_new(&k->ea);
}

static int sink_apply(struct sink *k)
{
	int rc;

	if (!k->n)
		return 0;
	/*
	 * Applying reads the tree's nodes, those of the batch before included:
	 * the store is this thread's again, and holds everything written.
	 */
	if ((rc = bg_wait(&k->l->w)) || (rc = dh_node_batch_write(k->batch)))
		return rc;
	rc = dh_tree_apply_sized(k->root, &k->tc, k->root, k->ed, k->n, k->batch, LOAD_NODE_TARGET);
	k->n = 0;
	dh_arena_reset(k->ea);
	return rc;
}

/* d: in key order; `stable`: d stays valid until the sink is finished. */
static int sink_put(struct sink *k, const struct dh_datom *d, int stable)
{
	struct dh_datom x = *d;
	int rc;

	if (k->dedupe) {
		if (k->prev && !dh_tree_cmp(&k->tc, k->prev, d))
			return 0;
		if (stable) {
			k->prev = d;
		} else {
			k->flip ^= 1;
			dh_arena_reset(k->pa[k->flip]);
			k->prevd = *d;
			if ((rc = dh_val_copy(&k->prevd.v, k->pa[k->flip], &d->v)))
				return rc;
			k->prev = &k->prevd;
		}
	}
	if (x.v.type == DH_DOUBLE && k->l->s->attrs[x.a].type == DH_VT_FLOAT)
		x.v.type = DH_FLOAT;
	if (k->b) {
		rc = dh_tree_builder_add(k->b, &x);
	} else {
		if ((rc = dh_grow((void **)&k->ed, &k->cap, k->n + 1, sizeof(*k->ed), 4096)))
			return rc;
		k->ed[k->n].d = x;
		k->ed[k->n].op = DH_EDIT_PUT;
		if ((rc = dh_val_copy(&k->ed[k->n].d.v, k->ea, &x.v)))
			return rc;
		rc = ++k->n >= k->apply_batch ? sink_apply(k) : 0;
	}
	if (!rc && dh_node_batch_size(k->batch) > BATCH_FLUSH)
		rc = bg_flush(&k->l->w, k->batch);
	return rc;
}

static int sink_finish(struct sink *k)
{
	int rc;

	if (k->b)
		return dh_tree_builder_finish(k->b, k->root);
	rc = sink_apply(k);
	/* the next sinks fill while this one is done: its buffers go now */
	free(k->ed);
	k->ed = NULL;
	k->cap = 0;
	dh_arena_free(k->ea);
	k->ea = NULL;
	return rc;
}

static void sink_release(struct sink *k)
{
	dh_tree_builder_free(k->b);
	dh_arena_free(k->ea);
	dh_arena_free(k->pa[0]);
	dh_arena_free(k->pa[1]);
	free(k->ed);
}

enum { SUB_AEVT, SUB_AVET, SUB_TAEVT, SUB_TAVET, SUB_LOG, NSUB };

struct build {
	struct dh_loader *l;
	struct commit *c;
	struct sink sk[NTREES + 1];    /* [TREE_LOG]: the log */
	struct dsort *sub[NSUB];
	int stable;                    /* datoms of l->all stay valid */
};

static int sub_add(struct build *bd, int which, const struct dh_datom *d)
{
	return bd->stable ? dsort_add_ref(bd->sub[which], d) : dsort_add(bd->sub[which], d);
}

/* The last event of an (e a v) decides: an assertion is current; the other events are history. */
static int group_event(struct build *bd, const struct dh_datom *d, int last)
{
	const struct dh_attr *at = &bd->l->s->attrs[d->a];
	int rc;

	if (last && d->added) {
		if ((rc = sink_put(&bd->sk[DH_EAVT], d, bd->stable)) || (rc = sub_add(bd, SUB_AEVT, d)) ||
		    (at->in_avet && (rc = sub_add(bd, SUB_AVET, d))))
			return rc;
		return bd->c->no_history ? sub_add(bd, SUB_LOG, d) : 0;
	}
	if (bd->c->no_history || at->no_history)
		return 0;
	if ((rc = sink_put(&bd->sk[3 + DH_EAVT], d, bd->stable)) || (rc = sub_add(bd, SUB_TAEVT, d)) ||
	    (at->in_avet && (rc = sub_add(bd, SUB_TAVET, d))))
		return rc;
	return 0;
}

static int drain(struct build *bd, int which, int tree)
{
	const struct dh_datom *d;
	int stable, rc;

	if ((rc = dsort_iter(bd->sub[which], 0)))
		return rc;
	stable = dsort_in_memory(bd->sub[which]);
	while ((rc = dsort_next(bd->sub[which], &d)) > 0)
		if ((rc = sink_put(&bd->sk[tree], d, stable)))
			return rc;
	return rc;
}

static int build_trees(struct build *bd)
{
	/* the subs are fed in EAVT order: AEVT and the log only need their first key sorted */
	static const struct dsort_order sub_orders[NSUB] = {
		{ DH_AEVT, 0, 1 }, { DH_AVET, 0, 0 }, { DH_AEVT, 1, 1 }, { DH_AVET, 1, 0 }, { DH_TREE_LOG, 1, 1 },
	};
	static const int sub_tree[NSUB] = { DH_AEVT, DH_AVET, 3 + DH_AEVT, 3 + DH_AVET, TREE_LOG };
	struct dh_loader *l = bd->l;
	struct dh_arena *pa[2] = { NULL, NULL };
	const struct dh_datom *d, *prev = NULL;
	struct dh_datom prevd;
	struct dh_tree_ctx g;
	int flip = 0, i, rc;

	/* the log: every event, in the order they came */
	if (!bd->c->no_history) {
		if ((rc = dsort_iter(l->all, 0)))
			return rc;
		bd->stable = dsort_in_memory(l->all);
		while ((rc = dsort_next(l->all, &d)) > 0)
			if ((rc = sink_put(&bd->sk[TREE_LOG], d, bd->stable)))
				return rc;
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < NSUB; i++)
		if ((rc = dsort_new(&bd->sub[i], &l->pool, l->s, &sub_orders[i], 1)))
			return rc;
	/* EAVT with history: group the events of each (e a v) */
	if ((rc = dsort_iter(l->all, 1)))
		return rc;
	bd->stable = dsort_in_memory(l->all);
	if (!bd->stable && ((rc = dh_arena_new(&pa[0])) || (rc = dh_arena_new(&pa[1]))))
		goto out;
	memset(&g, 0, sizeof(g));
	g.ix = DH_EAVT;
	g.rank = l->s->rank;
	g.nrank = (size_t)l->s->max + 1;
	while ((rc = dsort_next(l->all, &d)) > 0) {
		if (prev && (rc = group_event(bd, prev, dh_tree_cmp(&g, prev, d) != 0)))
			goto out;
		if (bd->stable) {
			prev = d;
		} else {
			flip ^= 1;
			dh_arena_reset(pa[flip]);
			prevd = *d;
			if ((rc = dh_val_copy(&prevd.v, pa[flip], &d->v)))
				goto out;
			prev = &prevd;
		}
	}
	if (rc < 0 || (prev && (rc = group_event(bd, prev, 1))))
		goto out;
	for (i = 0; i < NSUB; i++)
		if ((rc = drain(bd, i, sub_tree[i])) < 0)
			goto out;
	rc = 0;
out:
	dh_arena_free(pa[0]);
	dh_arena_free(pa[1]);
	return rc;
}

int dh_loader_finish(struct dh_loader *l, struct dh_tx_report **out)
{
	struct core *k = l->db->core;
	struct dh_node_batch *batch = NULL;
	struct dh_buf enc = DH_BUF_INIT, senc = DH_BUF_INIT;
	struct build bd;
	struct commit c;
	char hex[DH_HASH_HEX + 1];
	int t, nsinks = 0, rc;

	if (out)
		*out = NULL;
	memset(&c, 0, sizeof(c));
	memset(&bd, 0, sizeof(bd));
	if ((rc = tx_end(l)) || (rc = schema_finish(l->s)) || (rc = check_types(l, k->c.flex)))
		goto out;
	if ((rc = dh_node_batch_new(&batch, k->st)) || (rc = dh_node_batch_new(&l->w.b, k->st)))
		goto out;
	l->w.st = k->st;
	c = k->c;
	c.tail = NULL;
	/* the target's own tail goes into its trees first */
	if (k->ntail) {
		struct schema *ks = k->schema;

		if ((rc = absorb(&c, ks, k->st, k->tail, k->ntail, batch)) || (rc = dh_node_batch_write(batch)))
			goto out;
		c.ntail = 0;
		c.tail_datoms = 0;
	}
	bd.l = l;
	bd.c = &c;
	for (t = 0; t <= NTREES; t++, nsinks++)
		if ((rc = sink_init(&bd.sk[t], l, t, t < NTREES ? &c.roots[t] : &c.log, batch)))
			goto out;
	if (l->all && (rc = build_trees(&bd)))
		goto out;
	for (t = 0; t <= NTREES; t++)
		if ((rc = sink_finish(&bd.sk[t])))
			goto out;
	c.ndatoms = c.roots[0].count;
	c.nparents = 1;
	memcpy(c.parents[0], k->hex, DH_HASH_HEX + 1);
	c.max_eid = l->max_eid;
	c.max_tx = l->max_tx;
	c.instant_ms = l->instant;
	if ((rc = bg_wait(&l->w)))
		goto out;
	if (l->schema_changed) {
		if ((rc = schema_encode(&senc, l->s)) || (rc = dh_node_batch_add(batch, senc.data, senc.len, c.schema)))
			goto out;
		c.schema_bytes = senc.len <= SCHEMA_INLINE_MAX ? (const unsigned char *)senc.data : NULL;
		c.schema_len = senc.len;
	}
	dh_buf_reset(&enc);
	if ((rc = commit_encode(&enc, &c)) || (rc = dh_node_batch_add(batch, enc.data, enc.len, hex)) ||
	    (rc = dh_node_batch_write(batch)))
		goto out;
	rc = dh_head_cas(k->st, dh_db_branch(l->db) ? dh_db_branch(l->db) : DH_DEFAULT_BRANCH, k->hex, hex);
	if (rc == DH_ECONFLICT)
		rc = dh_error_set(DH_ECONFLICT, "the branch moved while loading (another writer); nothing committed");
	if (rc)
		goto out;
	if (out) {
		struct dh_tx_report *r = calloc(1, sizeof(*r));

		if (!r || dh_arena_new(&r->arena)) {
			free(r);
			rc = dh_error_set(DH_ENOMEM, "out of memory");
			goto out;
		}
		r->tx = l->max_tx;
		r->instant_ms = l->instant;
		memcpy(r->commit, hex, sizeof(hex));
		memcpy(r->parent, k->hex, DH_HASH_HEX + 1);
		r->nadded = l->nadded;
		r->nretracted = l->nretracted;
		*out = r;
	}
	rc = dh_conn_refresh(l->conn);
	l->db = NULL;
out:
	if (l->w.running) {
		/* failed with a batch on its way: let it land, keep the first error */
		pthread_join(l->w.th, NULL);
		l->w.running = 0;
	}
	dh_node_batch_free(l->w.b);
	l->w.b = NULL;
	for (t = 0; t < nsinks; t++)
		sink_release(&bd.sk[t]);
	for (t = 0; t < NSUB; t++)
		dsort_free(bd.sub[t]);
	dh_buf_release(&enc);
	dh_buf_release(&senc);
	dh_node_batch_free(batch);
	return rc;
}
