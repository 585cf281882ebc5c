/*
 * tx.c - transaction processing with Datahike's semantics, and writing the
 * result as a log node and a commit.
 *
 * dh_transact() runs in three passes over the tx-data:
 *  1. expand: entity maps (nested maps, reverse refs, multi-values) and
 *     operation vectors become a flat list of operations whose entity
 *     references are still unresolved (tempids, lookup refs, idents);
 *  2. resolve: tempids that assert a unique-identity value already in the
 *     database upsert to that entity (tempids sharing such a value unify);
 *     the others get new entity ids in order of appearance;
 *  3. apply: each operation in order against the db plus the events so far,
 *     checking types, schema, uniqueness and :db/cas, dropping redundant
 *     assertions, replacing cardinality-one values, cascading retractEntity
 *     through components, and keeping the schema up to date as schema
 *     entities are transacted.  Composite tuples are maintained afterwards,
 *     then the transaction entity gets its :db/txInstant.
 * Any violation stops the transaction before anything is written, with a
 * message naming the operation.  Writing is one small log node plus a
 * commit, or, when the tail is long or the transaction large, a batch
 * absorption of the tail into the trees; the head moves last by CAS.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/internal.h"
#include "util/mem.h"

enum { OP_ADD, OP_RETRACT, OP_RETRACT_ATTR, OP_RETRACT_ENTITY, OP_CAS, OP_PURGE, OP_PURGE_ATTR,
	OP_PURGE_ENTITY, OP_PURGE_BEFORE };

enum { ER_EID, ER_TEMP, ER_LOOKUP, ER_IDENT, ER_TX, ER_VALUE };

/* An entity reference (or, ER_VALUE, a plain value) not yet resolved. */
struct eref {
	int kind;
	int64_t id;                /* ER_EID: the id; ER_TEMP: tempid index */
	struct dh_val v;           /* ER_LOOKUP / ER_IDENT / ER_VALUE */
};

struct op {
	int kind;
	struct eref e;
	dh_aid a;
	struct eref v;
	struct dh_val old;         /* :db/cas */
	int has_v, has_old;
	const struct dh_val *form; /* for messages */
	int form_end;              /* last op of its form: check schema entities */
};

struct tempid {
	struct dh_val key;         /* nil for entities without :db/id */
	int64_t eid;
	int alias;                 /* -1, or the tempid this one unified with */
	int as_entity;             /* appears as an entity, not only as a value */
};

struct tx {
	struct dh_db *db;          /* db before */
	struct core *k;
	struct schema *s;          /* working schema */
	int schema_changed;
	struct dh_arena *a;
	int64_t tx, max_eid, fresh_from;
	struct op *ops;
	size_t nops, capops;
	struct tempid *tids;
	size_t ntids, captids;
	size_t *tid_hash;          /* index+1 */
	size_t tid_hcap;
	struct event *ev;
	size_t nev, capev;
	/* event indexes: three multimaps (e a v), (e a), (a v) from a key to
	 * the chain of its events, newest first; slots and links hold index + 1 */
	struct mslot { uint32_t hash, idx; } *slot[3];
	uint32_t (*link)[3];
	size_t hcap, nkeys[3];
	int64_t *schema_ents;      /* entities whose schema attributes changed */
	size_t nschema_ents, capschema_ents;
	int purge;
	struct dh_buf msg;
	int64_t instant;
	int instant_given;
};

/* ---- messages ---------------------------------------------------------- */

static const char *form_text(struct tx *t, const struct dh_val *form)
{
	dh_buf_reset(&t->msg);
	if (!form || dh_edn_print(&t->msg, form))
		return "?";
	if (t->msg.len > 200) {
		t->msg.len = 197;
		dh_buf_adds(&t->msg, "...");
	}
	return t->msg.data;
}

static const char *val_text(const struct dh_val *v, char *buf, size_t size)
{
	struct dh_buf b = DH_BUF_INIT;

	if (dh_edn_print(&b, v)) {
		snprintf(buf, size, "?");
	} else {
		snprintf(buf, size, "%s%s", b.len > 120 ? "" : b.data, b.len > 120 ? "(long value)" : "");
	}
	dh_buf_release(&b);
	return buf;
}

static int datom_err(struct tx *t, int code, const char *what, int64_t e, dh_aid a, const struct dh_val *v, int added)
{
	char vb[160];

	return dh_error_set(code, "%s: [%s %lld :%s %s]", what, added ? ":db/add" : ":db/retract", (long long)e,
		t->s->attrs[a].ident, v ? val_text(v, vb, sizeof(vb)) : "");
}

/* ---- growable arrays: dh_grow() from 64 --------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	return dh_grow(p, cap, need, size, 64);
}

/* ---- event indexes ----------------------------------------------------- */

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

enum { K_EAV, K_EA, K_AV };

static uint64_t key_hash(int kind, int64_t e, dh_aid a, const struct dh_val *v)
{
	switch (kind) {
	case K_EAV: return mix(((uint64_t)e * 31 + a) ^ (dh_val_hash(v) * 0x9e3779b97f4a7c15ULL));
	case K_EA: return mix((uint64_t)e * 131 + a);
	default: return mix(((uint64_t)a * 0x9e3779b97f4a7c15ULL) ^ dh_val_hash(v));
	}
}

static int key_is(int kind, const struct dh_datom *d, int64_t e, dh_aid a, const struct dh_val *v)
{
	switch (kind) {
	case K_EAV: return d->e == e && d->a == a && dh_val_eq(&d->v, v);
	case K_EA: return d->e == e && d->a == a;
	default: return d->a == a && dh_val_eq(&d->v, v);
	}
}

/*
 * Where the probe for a key starts.  The (e a) and (e a v) keys of
 * neighbouring entities start near each other: a transaction names its
 * entities in order (fresh ids count up), and a large one would otherwise
 * miss the cache on nearly every probe.  Eight entities share a block of
 * 128 slots, placed at random by their id / 8; inside it an entity has 16
 * slots, one per attribute id modulo 16.  A random hash of the whole key
 * tells keys apart in the slot.  The many values of one card-many (e a)
 * start at the same slot, so an (e a v) key probes on by a stride of its
 * own (probe_step): linear probing would make them one long run, and a
 * transaction of 100,000 values on one entity quadratic.
 */
static size_t key_slot(int kind, int64_t e, dh_aid a, uint64_t h)
{
	if (kind == K_AV)
		return (size_t)h;
	return (size_t)((mix(((uint64_t)e >> 3) * 131 + (a >> 4)) & ~(uint64_t)127) | (((uint64_t)e & 7) << 4) | (a & 15));
}

/* The distance between probes: odd, so a probe visits every slot of the power-of-two table. */
static size_t probe_step(int kind, uint32_t hh)
{
	return kind == K_EAV ? ((size_t)hh << 1) | 1 : 1;
}

/* The newest event with this key (index + 1), or 0; follow t->link[i][kind] for older ones. */
static size_t mm_find(struct tx *t, int kind, int64_t e, dh_aid a, const struct dh_val *v)
{
	uint64_t h;
	uint32_t hh;
	size_t i;

	if (!t->hcap)
		return 0;
	h = key_hash(kind, e, a, v);
	hh = (uint32_t)(h >> 32);
	for (i = key_slot(kind, e, a, h) & (t->hcap - 1); t->slot[kind][i].idx;
	     i = (i + probe_step(kind, hh)) & (t->hcap - 1))
		if (t->slot[kind][i].hash == hh && key_is(kind, &t->ev[t->slot[kind][i].idx - 1].d, e, a, v))
			return t->slot[kind][i].idx;
	return 0;
}

static void mm_put(struct tx *t, int kind, size_t idx)
{
	const struct dh_datom *d = &t->ev[idx].d;
	uint64_t h = key_hash(kind, d->e, d->a, &d->v);
	uint32_t hh = (uint32_t)(h >> 32);
	size_t i;

	for (i = key_slot(kind, d->e, d->a, h) & (t->hcap - 1); t->slot[kind][i].idx;
	     i = (i + probe_step(kind, hh)) & (t->hcap - 1)) {
		struct mslot *sl = &t->slot[kind][i];

		if (sl->hash == hh && key_is(kind, &t->ev[sl->idx - 1].d, d->e, d->a, &d->v)) {
			t->link[idx][kind] = sl->idx;
			sl->idx = (uint32_t)idx + 1;
			return;
		}
	}
	t->link[idx][kind] = 0;
	t->slot[kind][i].hash = hh;
	t->slot[kind][i].idx = (uint32_t)idx + 1;
	t->nkeys[kind]++;
}

/*
 * Only values that someone looks up by (a v) are indexed that way: unique
 * attributes (upserts, lookup refs, constraints) and refs (retractEntity).
 * Schema changes within the transaction can make an attribute unique only
 * if it has no values (refresh_schema), so no event is missed.
 */
static int av_indexed(struct tx *t, dh_aid a)
{
	const struct dh_attr *at = &t->s->attrs[a];

	return at->unique || at->type == DH_VT_REF || at->type == DH_VT_ANY;
}

/* Rebuild the event indexes with room for `want` events. */
static int rehash(struct tx *t, size_t want)
{
	size_t cap = t->hcap ? t->hcap : 256, i;
	int k;

	while (cap < want * 2 + 16)
		cap *= 2;
	for (k = 0; k < 3; k++) {
		free(t->slot[k]);
		t->slot[k] = calloc(cap, sizeof(*t->slot[k]));
		if (!t->slot[k])
			return dh_error_set(DH_ENOMEM, "out of memory");
		t->nkeys[k] = 0;
	}
	t->hcap = cap;
	for (i = 0; i < t->nev; i++)
		for (k = 0; k < 3; k++)
			if (k != K_AV || av_indexed(t, t->ev[i].d.a))
				mm_put(t, k, i);
	return 0;
}

/*
 * Room for `n` events in all, made once: a large transaction would
 * otherwise rebuild its indexes at every doubling.
 */
static int reserve_events(struct tx *t, size_t n)
{
	uint32_t (*nl)[3];
	int rc;

	if ((rc = grow((void **)&t->ev, &t->capev, n, sizeof(*t->ev))))
		return rc;
	if (!(nl = realloc(t->link, t->capev * sizeof(*nl))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	t->link = nl;
	return n * 2 + 16 > t->hcap ? rehash(t, n) : 0;
}

static int push_event(struct tx *t, int64_t e, dh_aid a, const struct dh_val *v, int added, int64_t prev_tx)
{
	struct event *ev;
	size_t oldcap = t->capev;
	int rc, k;

	if ((rc = grow((void **)&t->ev, &t->capev, t->nev + 1, sizeof(*t->ev))))
		return rc;
	if (t->capev != oldcap || !t->link) {
		uint32_t (*nl)[3] = realloc(t->link, t->capev * sizeof(*nl));

		if (!nl)
			return dh_error_set(DH_ENOMEM, "out of memory");
		t->link = nl;
	}
	ev = &t->ev[t->nev];
	ev->d.e = e;
	ev->d.a = a;
	if ((rc = dh_val_copy(&ev->d.v, t->a, v)))
		return rc;
	ev->d.tx = t->tx;
	ev->d.added = (uint8_t)added;
	ev->prev_tx = prev_tx;
	t->nev++;
	if (t->nev * 2 + 16 > t->hcap)
		return rehash(t, t->nev);
	for (k = 0; k < 3; k++)
		if (k != K_AV || av_indexed(t, a))
			mm_put(t, k, t->nev - 1);
	return 0;
}

/* The last event on (e a v): its index, or -1. */
static long last_eav(struct tx *t, int64_t e, dh_aid a, const struct dh_val *v)
{
	return (long)mm_find(t, K_EAV, e, a, v) - 1;
}

/* ---- the working state: db plus events ---------------------------------- */

struct vals {
	struct dh_val *v;
	int64_t *tx;
	size_t n, cap;
};

static int vals_push(struct vals *vs, const struct dh_val *v, int64_t tx)
{
	int rc;

	if (vs->n == vs->cap) {
		size_t c = vs->cap ? vs->cap * 2 : 8;
		struct dh_val *nv = realloc(vs->v, c * sizeof(*nv));
		int64_t *nt;

		if (!nv)
			return dh_error_set(DH_ENOMEM, "out of memory");
		vs->v = nv;
		nt = realloc(vs->tx, c * sizeof(*nt));
		if (!nt)
			return dh_error_set(DH_ENOMEM, "out of memory");
		vs->tx = nt;
		vs->cap = c;
	}
	vs->v[vs->n] = *v;
	vs->tx[vs->n] = tx;
	vs->n++;
	(void)rc;
	return 0;
}

static void vals_release(struct vals *vs)
{
	free(vs->v);
	free(vs->tx);
	memset(vs, 0, sizeof(*vs));
}

/* The current values of (e a): db values not retracted in this tx, then values added in it. */
static int values(struct tx *t, int64_t e, dh_aid a, struct vals *out)
{
	size_t i;
	int rc;

	out->n = 0;
	if (e < t->fresh_from || e >= DH_TX0) {
		struct dh_iter *it = NULL;
		const struct dh_datom *d;
		struct dh_bound b = { .n = 2, .e = e, .a = a };

		if ((rc = dh_iter_new(&it, t->db, DH_EAVT, &b, &b)))
			return rc;
		while ((rc = dh_iter_next(it, &d)) > 0) {
			long l = last_eav(t, e, a, &d->v);
			struct dh_val cp;

			if (l >= 0 && !t->ev[l].d.added)
				continue;
			if (l >= 0)
				continue;   /* re-added in this tx: counted below */
			if ((rc = dh_val_copy(&cp, t->a, &d->v)) || (rc = vals_push(out, &cp, d->tx)))
				break;
		}
		dh_iter_free(it);
		if (rc < 0)
			return rc;
	}
	for (i = mm_find(t, K_EA, e, a, NULL); i; i = t->link[i - 1][K_EA]) {
		size_t idx = i - 1;
		const struct dh_datom *d = &t->ev[idx].d;
		size_t j;
		int dup = 0;

		if (!d->added || last_eav(t, e, a, &d->v) != (long)idx)
			continue;
		for (j = 0; j < out->n; j++)
			if (dh_val_eq(&out->v[j], &d->v))
				dup = 1;
		if (!dup && (rc = vals_push(out, &d->v, t->tx)))
			return rc;
	}
	return 0;
}

/* Is (e a v) current?  1 yes (with its tx in *tx), 0 no. */
static int present(struct tx *t, int64_t e, dh_aid a, const struct dh_val *v, int64_t *txo)
{
	long l = last_eav(t, e, a, v);
	struct dh_bound b = { .n = 3, .e = e, .a = a, .v = *v };
	struct dh_datom d;
	int rc;

	if (l >= 0) {
		*txo = t->ev[l].d.added ? t->tx : 0;
		return t->ev[l].d.added;
	}
	if (e >= t->fresh_from && e < DH_TX0)
		return 0;
	rc = db_first(t->db, DH_EAVT, &b, NULL, &d);
	if (rc > 0)
		*txo = d.tx;
	return rc;
}

/* The entities holding (a v) now (for unique attributes: at most one).  Calls back. */
static int holders(struct tx *t, dh_aid a, const struct dh_val *v, int64_t *out, size_t max, size_t *n)
{
	struct dh_iter *it = NULL;
	const struct dh_datom *d;
	struct dh_bound b = { .n = 2, .a = a, .v = *v };
	size_t i;
	int rc;

	*n = 0;
	if ((rc = dh_iter_new(&it, t->db, DH_AVET, &b, &b)))
		return rc;
	while ((rc = dh_iter_next(it, &d)) > 0 && *n < max) {
		long l = last_eav(t, d->e, a, v);

		if (l >= 0 && !t->ev[l].d.added)
			continue;
		out[(*n)++] = d->e;
	}
	dh_iter_free(it);
	if (rc < 0)
		return rc;
	for (i = mm_find(t, K_AV, 0, a, v); i && *n < max; i = t->link[i - 1][K_AV]) {
		size_t idx = i - 1, j;
		const struct dh_datom *ed = &t->ev[idx].d;
		int dup = 0;

		if (!ed->added || last_eav(t, ed->e, a, v) != (long)idx)
			continue;
		for (j = 0; j < *n; j++)
			if (out[j] == ed->e)
				dup = 1;
		if (!dup)
			out[(*n)++] = ed->e;
	}
	return 0;
}

/* ---- tempids ----------------------------------------------------------- */

static void hput(size_t *h, size_t cap, uint64_t hash, size_t idx)
{
	size_t i = hash & (cap - 1);

	while (h[i])
		i = (i + 1) & (cap - 1);
	h[i] = idx + 1;
}

static int tid_find(struct tx *t, const struct dh_val *key)
{
	size_t i;

	if (!t->tid_hcap)
		return -1;
	for (i = dh_val_hash(key) & (t->tid_hcap - 1); t->tid_hash[i]; i = (i + 1) & (t->tid_hcap - 1))
		if (dh_val_eq(&t->tids[t->tid_hash[i] - 1].key, key))
			return (int)(t->tid_hash[i] - 1);
	return -1;
}

static int tid_rehash(struct tx *t)
{
	size_t cap = t->tid_hcap ? t->tid_hcap * 2 : 256, i;

	while (cap < t->ntids * 3)
		cap *= 2;
	free(t->tid_hash);
	t->tid_hash = calloc(cap, sizeof(size_t));
	if (!t->tid_hash)
		return dh_error_set(DH_ENOMEM, "out of memory");
	t->tid_hcap = cap;
	for (i = 0; i < t->ntids; i++)
		if (t->tids[i].key.type != DH_NIL)
			hput(t->tid_hash, cap, dh_val_hash(&t->tids[i].key), i);
	return 0;
}

/* The index of tempid `key` (nil: a new anonymous one). */
static int tid_get(struct tx *t, const struct dh_val *key, int as_entity, int *out)
{
	int i = key->type == DH_NIL ? -1 : tid_find(t, key);
	int rc;

	if (i < 0) {
		if ((rc = grow((void **)&t->tids, &t->captids, t->ntids + 1, sizeof(*t->tids))))
			return rc;
		i = (int)t->ntids++;
		memset(&t->tids[i], 0, sizeof(t->tids[i]));
		t->tids[i].alias = -1;
		if ((rc = dh_val_copy(&t->tids[i].key, t->a, key)))
			return rc;
		if (key->type != DH_NIL) {
			if (t->ntids * 3 > t->tid_hcap) {
				if ((rc = tid_rehash(t)))
					return rc;
			} else {
				hput(t->tid_hash, t->tid_hcap, dh_val_hash(key), (size_t)i);
			}
		}
	}
	if (as_entity)
		t->tids[i].as_entity = 1;
	*out = i;
	return 0;
}

static int tid_root(struct tx *t, int i)
{
	while (t->tids[i].alias >= 0)
		i = t->tids[i].alias;
	return i;
}

/* ---- pass 1: expand ---------------------------------------------------- */

static int add_op(struct tx *t, const struct op *o)
{
	int rc = grow((void **)&t->ops, &t->capops, t->nops + 1, sizeof(*t->ops));

	if (rc)
		return rc;
	t->ops[t->nops++] = *o;
	return 0;
}

static int is_seq(const struct dh_val *v)
{
	return v->type == DH_VECTOR || v->type == DH_LIST;
}

/*
 * The transaction starts with the database's schema shared (a copy per
 * transaction was a tenth of a small one's work); it gets its own copy
 * before the first change.  Pointers into the schema taken before are
 * stale afterwards.
 */
static int own_schema(struct tx *t)
{
	struct schema *c;
	int rc;

	if (t->s->refs == 1)
		return 0;
	if ((rc = schema_clone(&c, t->s)))
		return rc;
	schema_free(t->s);
	t->s = c;
	return 0;
}

/* The attribute of keyword `kw`, added as undeclared if new (checked when applied). */
static int attr_of(struct tx *t, const struct dh_val *kw, dh_aid *out)
{
	const struct dh_attr *at = schema_find(t->s, kw->u.s, kw->len);
	int rc;

	if (at) {
		*out = at->aid;
		return 0;
	}
	if ((rc = own_schema(t)) || (rc = schema_add(t->s, kw->u.s, kw->len, out)))
		return rc;
	t->schema_changed = 1;
	return 0;
}

/* Turn an entity reference form into an eref. */
static int eref_of(struct tx *t, const struct dh_val *v, int as_entity, struct eref *out, const struct dh_val *form)
{
	int i, rc;

	memset(out, 0, sizeof(*out));
	switch (v->type) {
	case DH_LONG:
		if (v->u.i < 0) {
			if ((rc = tid_get(t, v, as_entity, &i)))
				return rc;
			out->kind = ER_TEMP;
			out->id = i;
		} else {
			out->kind = ER_EID;
			out->id = v->u.i;
		}
		return 0;
	case DH_STRING:
		if (v->len == 10 && !memcmp(v->u.s, "datomic.tx", 10)) {
			out->kind = ER_TX;
			return 0;
		}
		if ((rc = tid_get(t, v, as_entity, &i)))
			return rc;
		out->kind = ER_TEMP;
		out->id = i;
		return 0;
	case DH_KEYWORD:
		if (dh_val_is_kw(v, "db/current-tx")) {
			out->kind = ER_TX;
			return 0;
		}
		out->kind = ER_IDENT;
		out->v = *v;
		return 0;
	case DH_VECTOR:
	case DH_LIST:
		if (v->len == 2 && v->u.items[0].type == DH_KEYWORD) {
			out->kind = ER_LOOKUP;
			out->v = *v;
			return 0;
		}
		break;
	default:
		break;
	}
	return dh_error_set(DH_EINVAL, "expected an entity id, tempid, ident or lookup ref, got %s",
		form_text(t, form ? form : v));
}

static int expand_entity(struct tx *t, const struct dh_val *m, struct eref *self);

/* Values of attribute `a` in an entity map: one or many, refs made erefs. */
static int expand_value(struct tx *t, const struct dh_attr *at, const struct dh_val *v, struct eref *out,
	const struct dh_val *form)
{
	if (at->type == DH_VT_REF) {
		if (v->type == DH_MAP)
			return expand_entity(t, v, out);
		return eref_of(t, v, 0, out, form);
	}
	memset(out, 0, sizeof(*out));
	out->kind = ER_VALUE;
	out->v = *v;
	return 0;
}

/* Is `v` several values for attribute `at` (cardinality many, not a lookup ref)? */
static int multi(struct tx *t, const struct dh_attr *at, const struct dh_val *v)
{
	if (v->type == DH_SET)
		return 1;
	if (!is_seq(v))
		return 0;
	if (at->card != DH_CARD_MANY)
		return 0;
	if (at->type == DH_VT_REF && v->len == 2 && v->u.items[0].type == DH_KEYWORD) {
		const struct dh_attr *la = schema_find(t->s, v->u.items[0].u.s, v->u.items[0].len);

		if (la && la->unique)
			return 0;   /* a lookup ref */
	}
	if (at->type == DH_VT_TUPLE && (v->len == 0 || !is_seq(&v->u.items[0])))
		return 0;
	return 1;
}

static int expand_entity(struct tx *t, const struct dh_val *m, struct eref *self)
{
	const struct dh_val *id = dh_map_getk(m, "db/id");
	struct op o;
	uint32_t i, j;
	int rc, any = 0;

	if (id) {
		if ((rc = eref_of(t, id, 1, self, m)))
			return rc;
	} else {
		struct dh_val nil = dh_nil();
		int ti;

		if ((rc = tid_get(t, &nil, 1, &ti)))
			return rc;
		self->kind = ER_TEMP;
		self->id = ti;
	}
	for (i = 0; i < m->len; i += 2) {
		const struct dh_val *k = &m->u.items[i], *v = &m->u.items[i + 1];
		const char *name, *slash;
		int reverse = 0;
		dh_aid aid;

		if (k->type != DH_KEYWORD)
			return dh_error_set(DH_EINVAL, "entity map keys must be keywords: %s", form_text(t, m));
		if (dh_val_is_kw(k, "db/id"))
			continue;
		slash = memchr(k->u.s, '/', k->len);
		name = slash ? slash + 1 : k->u.s;
		if (*name == '_') {
			/* reverse ref :ns/_attr */
			char buf[512];
			size_t pre = (size_t)(name - k->u.s);
			struct dh_val fk;

			if (k->len >= sizeof(buf))
				return dh_error_set(DH_EINVAL, "attribute name too long");
			memcpy(buf, k->u.s, pre);
			memcpy(buf + pre, name + 1, k->len - pre - 1);
			fk = dh_text(DH_KEYWORD, buf, (uint32_t)(k->len - 1));
			if ((rc = attr_of(t, &fk, &aid)))
				return rc;
			reverse = 1;
		} else if ((rc = attr_of(t, k, &aid))) {
			return rc;
		}
		{
			const struct dh_attr *at = &t->s->attrs[aid];
			uint32_t n = 1;
			const struct dh_val *vs = v;

			if (reverse) {
				if (at->declared && at->type != DH_VT_REF)
					return dh_error_set(DH_EINVAL, "bad attribute :%.*s: reverse attribute name requires {:db/valueType :db.type/ref} in schema",
						(int)k->len, k->u.s);
				if (is_seq(v) && !(v->len == 2 && v->u.items[0].type == DH_KEYWORD) ) {
					n = v->len;
					vs = v->u.items;
				} else if (v->type == DH_SET) {
					n = v->len;
					vs = v->u.items;
				}
			} else if (multi(t, at, v)) {
				n = v->len;
				vs = v->u.items;
			}
			for (j = 0; j < n; j++) {
				memset(&o, 0, sizeof(o));
				o.kind = OP_ADD;
				o.form = m;
				o.has_v = 1;
				if (reverse) {
					struct eref other;

					if (vs[j].type == DH_MAP)
						rc = expand_entity(t, &vs[j], &other);
					else
						rc = eref_of(t, &vs[j], 1, &other, m);
					if (rc)
						return rc;
					o.e = other;
					o.a = aid;
					o.v = *self;
				} else {
					o.e = *self;
					o.a = aid;
					if ((rc = expand_value(t, at, &vs[j], &o.v, m)))
						return rc;
				}
				if ((rc = add_op(t, &o)))
					return rc;
				any = 1;
			}
		}
	}
	if (any)
		t->ops[t->nops - 1].form_end = 1;
	return 0;
}

static int op_kind(const struct dh_val *k)
{
	static const struct { const char *kw; int kind; } names[] = {
		{ "db/add", OP_ADD }, { "db/retract", OP_RETRACT },
		{ "db.fn/retractEntity", OP_RETRACT_ENTITY }, { "db/retractEntity", OP_RETRACT_ENTITY },
		{ "db.fn/retractAttribute", OP_RETRACT_ATTR }, { "db/retractAttribute", OP_RETRACT_ATTR },
		{ "db.fn/cas", OP_CAS }, { "db/cas", OP_CAS },
		{ "db/purge", OP_PURGE }, { "db.purge/attribute", OP_PURGE_ATTR },
		{ "db.purge/entity", OP_PURGE_ENTITY }, { "db.history.purge/before", OP_PURGE_BEFORE },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (dh_val_is_kw(k, names[i].kw))
			return names[i].kind;
	return -1;
}

static int expand_op(struct tx *t, const struct dh_val *f)
{
	const struct dh_val *it = f->u.items;
	struct op o;
	int kind, rc;
	uint32_t need;

	memset(&o, 0, sizeof(o));
	o.form = f;
	o.form_end = 1;
	if (f->len == 0 || it[0].type != DH_KEYWORD || (kind = op_kind(&it[0])) < 0)
		return dh_error_set(DH_EINVAL, "unknown operation %s", form_text(t, f));
	o.kind = kind;
	switch (kind) {
	case OP_ADD: need = 4; break;
	case OP_RETRACT: need = f->len == 3 ? 3 : 4; break;
	case OP_RETRACT_ENTITY: case OP_PURGE_ENTITY: case OP_PURGE_BEFORE: need = 2; break;
	case OP_RETRACT_ATTR: case OP_PURGE_ATTR: need = 3; break;
	case OP_CAS: need = 5; break;
	default: need = 4; break;
	}
	if (f->len != need)
		return dh_error_set(DH_EINVAL, "wrong number of arguments in %s", form_text(t, f));
	if (kind == OP_RETRACT && need == 3)
		o.kind = kind = OP_RETRACT_ATTR;
	if (kind == OP_PURGE_BEFORE) {
		if (it[1].type != DH_INST)
			return dh_error_set(DH_EINVAL, "%s needs an instant", form_text(t, f));
		o.v.kind = ER_VALUE;
		o.v.v = it[1];
		t->purge = 1;
		return add_op(t, &o);
	}
	if (kind >= OP_PURGE)
		t->purge = 1;
	if ((rc = eref_of(t, &it[1], kind == OP_ADD || kind == OP_CAS, &o.e, f)))
		return rc;
	if (kind == OP_RETRACT_ENTITY || kind == OP_PURGE_ENTITY)
		return add_op(t, &o);
	if (it[2].type != DH_KEYWORD)
		return dh_error_set(DH_EINVAL, "attribute must be a keyword in %s", form_text(t, f));
	if ((rc = attr_of(t, &it[2], &o.a)))
		return rc;
	if (kind == OP_RETRACT_ATTR || kind == OP_PURGE_ATTR)
		return add_op(t, &o);
	o.has_v = 1;
	{
		const struct dh_attr *at = &t->s->attrs[o.a];
		const struct dh_val *v = &it[kind == OP_CAS ? 4 : 3];

		if (at->type == DH_VT_REF) {
			if ((rc = eref_of(t, v, 0, &o.v, f)))
				return rc;
		} else {
			o.v.kind = ER_VALUE;
			o.v.v = *v;
		}
		if (kind == OP_CAS) {
			o.old = it[3];
			o.has_old = 1;
		}
	}
	return add_op(t, &o);
}

/* ---- pass 2: tempids ---------------------------------------------------- */

static int resolve_plain(struct tx *t, const struct eref *r, int64_t *out, const struct dh_val *form);

static int upserts(struct tx *t)
{
	size_t i;
	int rc;

	for (i = 0; i < t->nops; i++) {
		struct op *o = &t->ops[i];
		const struct dh_attr *at = &t->s->attrs[o->a];
		struct dh_val v;
		int64_t hold[2], ve;
		size_t n;
		int ti;

		if (o->kind != OP_ADD || o->e.kind != ER_TEMP || at->unique != DH_UNIQUE_IDENTITY)
			continue;
		if (o->v.kind == ER_VALUE) {
			v = o->v.v;
		} else if (o->v.kind == ER_EID || o->v.kind == ER_LOOKUP || o->v.kind == ER_IDENT) {
			if (resolve_plain(t, &o->v, &ve, o->form))
				continue;
			v = dh_long(ve);
		} else {
			continue;
		}
		ti = tid_root(t, (int)o->e.id);
		if ((rc = holders(t, o->a, &v, hold, 2, &n)))
			return rc;
		if (n) {
			if (t->tids[ti].eid && t->tids[ti].eid != hold[0]) {
				char vb[160];

				return dh_error_set(DH_EINVAL, "conflicting upserts: %s resolves both to %lld and %lld (via :%s %s)",
					form_text(t, &t->tids[ti].key), (long long)t->tids[ti].eid, (long long)hold[0],
					at->ident, val_text(&v, vb, sizeof(vb)));
			}
			t->tids[ti].eid = hold[0];
			continue;
		}
		/* tempids asserting the same new identity value become one entity */
		{
			size_t j;

			for (j = 0; j < i; j++) {
				struct op *p = &t->ops[j];

				if (p->kind == OP_ADD && p->e.kind == ER_TEMP && p->a == o->a && p->v.kind == ER_VALUE &&
				    o->v.kind == ER_VALUE && dh_val_eq(&p->v.v, &o->v.v)) {
					int pj = tid_root(t, (int)p->e.id);

					if (pj != ti) {
						if (t->tids[ti].eid && t->tids[pj].eid && t->tids[ti].eid != t->tids[pj].eid)
							return dh_error_set(DH_EINVAL, "conflicting upserts for :%s", at->ident);
						if (!t->tids[pj].eid)
							t->tids[pj].eid = t->tids[ti].eid;
						t->tids[ti].alias = pj;
					}
					break;
				}
			}
		}
	}
	return 0;
}

static int assign_ids(struct tx *t)
{
	size_t i;

	for (i = 0; i < t->ntids; i++) {
		int r = tid_root(t, (int)i);

		if (!t->tids[r].eid)
			t->tids[r].eid = ++t->max_eid;
	}
	for (i = 0; i < t->ntids; i++)
		t->tids[i].eid = t->tids[tid_root(t, (int)i)].eid;
	return 0;
}

/* ---- pass 3: apply ------------------------------------------------------ */

static int unique_owner(struct tx *t, dh_aid a, const struct dh_val *v, int64_t *out)
{
	int64_t hold[1];
	size_t n;
	int rc = holders(t, a, v, hold, 1, &n);

	if (rc)
		return rc;
	*out = n ? hold[0] : 0;
	return (int)n;
}

/* Resolve an entity reference to an id (against the db and this tx's events). */
static int resolve_plain(struct tx *t, const struct eref *r, int64_t *out, const struct dh_val *form)
{
	const struct dh_attr *at;
	int rc;

	switch (r->kind) {
	case ER_EID: *out = r->id; return 0;
	case ER_TEMP: *out = t->tids[r->id].eid; return 0;
	case ER_TX: *out = t->tx; return 0;
	case ER_IDENT:
		rc = unique_owner(t, AID_IDENT, &r->v, out);
		if (rc < 0)
			return rc;
		if (!rc)
			return dh_error_set(DH_EINVAL, "nothing found for entity id :%.*s in %s", (int)r->v.len, r->v.u.s,
				form_text(t, form));
		return 0;
	case ER_LOOKUP:
		at = schema_find(t->s, r->v.u.items[0].u.s, r->v.u.items[0].len);
		if (!at || !at->declared)
			return dh_error_set(DH_EINVAL, "lookup ref attribute :%s is not in the schema, in %s",
				r->v.u.items[0].u.s, form_text(t, form));
		if (!at->unique)
			return dh_error_set(DH_EINVAL, "lookup ref attribute :%s is not unique, in %s", at->ident,
				form_text(t, form));
		rc = unique_owner(t, at->aid, &r->v.u.items[1], out);
		if (rc < 0)
			return rc;
		if (!rc)
			return dh_error_set(DH_EINVAL, "nothing found for lookup ref %s in %s", form_text(t, &r->v),
				form_text(t, form));
		return 0;
	default:
		return dh_error_set(DH_EINVAL, "not an entity reference in %s", form_text(t, form));
	}
}

static int type_ok(enum dh_value_type ty, struct dh_val *v)
{
	switch (ty) {
	case DH_VT_ANY:
		/* collections other than tuples are not values in Datahike */
		return v->type != DH_NIL && v->type != DH_MAP && v->type != DH_SET && v->type != DH_TAGGED &&
		       v->type != DH_LIST;
	case DH_VT_STRING: return v->type == DH_STRING;
	case DH_VT_KEYWORD: case DH_VT_VALUETYPE: case DH_VT_CARDINALITY: case DH_VT_UNIQUE:
		return v->type == DH_KEYWORD;
	case DH_VT_SYMBOL: return v->type == DH_SYMBOL;
	case DH_VT_LONG: return v->type == DH_LONG;
	case DH_VT_DOUBLE: return v->type == DH_DOUBLE;
	case DH_VT_FLOAT:
		if (v->type == DH_DOUBLE) {
			/* EDN and JSON have no float literal: narrow a double */
			v->type = DH_FLOAT;
			v->u.d = (double)(float)v->u.d;
		}
		return v->type == DH_FLOAT;
	case DH_VT_BOOLEAN: return v->type == DH_BOOL;
	case DH_VT_INSTANT: return v->type == DH_INST;
	case DH_VT_UUID: return v->type == DH_UUID;
	case DH_VT_REF: return v->type == DH_LONG;
	case DH_VT_BIGINT: return v->type == DH_BIGINT || v->type == DH_LONG;
	case DH_VT_BIGDEC: return v->type == DH_BIGDEC;
	case DH_VT_BYTES: return v->type == DH_BYTES;
	case DH_VT_TUPLE: return v->type == DH_VECTOR || v->type == DH_LIST;
	case DH_VT_NUMBER:
		return v->type == DH_LONG || v->type == DH_DOUBLE || v->type == DH_FLOAT || v->type == DH_BIGINT ||
		       v->type == DH_BIGDEC;
	}
	return 0;
}

static int check_value(struct tx *t, const struct dh_attr *at, struct dh_val *v, int64_t e, int added)
{
	char msg[200];

	if (v->type == DH_NIL)
		return datom_err(t, DH_EINVAL, "cannot store nil as a value", e, at->aid, v, added);
	if (!type_ok(at->type, v)) {
		if (at->type == DH_VT_ANY)
			snprintf(msg, sizeof(msg),
				 "bad value for :%s: a map, set, list or tagged value is not a datom value "
				 "(a nested entity needs :db/valueType :db.type/ref)", at->ident);
		else
			snprintf(msg, sizeof(msg), "bad value for :%s, expected :%s", at->ident,
				 dh_value_type_name(at->type));
		return datom_err(t, DH_EINVAL, msg, e, at->aid, v, added);
	}
	if (at->type == DH_VT_VALUETYPE && value_type_from_kw(v->u.s, v->len) == DH_VT_ANY)
		return datom_err(t, DH_EINVAL, "unknown :db/valueType", e, at->aid, v, added);
	if (at->type == DH_VT_CARDINALITY && !dh_val_is_kw(v, "db.cardinality/one") && !dh_val_is_kw(v, "db.cardinality/many"))
		return datom_err(t, DH_EINVAL, "bad :db/cardinality", e, at->aid, v, added);
	if (at->type == DH_VT_UNIQUE && !dh_val_is_kw(v, "db.unique/identity") && !dh_val_is_kw(v, "db.unique/value"))
		return datom_err(t, DH_EINVAL, "bad :db/unique", e, at->aid, v, added);
	if (at->type == DH_VT_TUPLE && at->ntuple_types) {
		uint32_t i;

		if (v->len != at->ntuple_types)
			return datom_err(t, DH_EINVAL, "tuple has the wrong number of elements", e, at->aid, v, added);
		for (i = 0; i < v->len; i++) {
			struct dh_val x = v->u.items[i];

			if (x.type != DH_NIL && !type_ok(at->tuple_types[i], &x))
				return datom_err(t, DH_EINVAL, "tuple element has the wrong type", e, at->aid, v, added);
		}
	} else if (at->type == DH_VT_TUPLE && at->tuple_type != DH_VT_ANY) {
		uint32_t i;

		for (i = 0; i < v->len; i++) {
			struct dh_val x = v->u.items[i];

			if (x.type != DH_NIL && !type_ok(at->tuple_type, &x))
				return datom_err(t, DH_EINVAL, "tuple element has the wrong type", e, at->aid, v, added);
		}
	}
	if (at->type == DH_VT_TUPLE && v->len > 8 && at->ntuple_attrs == 0)
		return datom_err(t, DH_EINVAL, "tuples have at most 8 elements", e, at->aid, v, added);
	return 0;
}

static int note_schema_entity(struct tx *t, int64_t e)
{
	size_t i;
	int rc;

	for (i = 0; i < t->nschema_ents; i++)
		if (t->schema_ents[i] == e)
			return 0;
	if ((rc = grow((void **)&t->schema_ents, &t->capschema_ents, t->nschema_ents + 1, sizeof(int64_t))))
		return rc;
	t->schema_ents[t->nschema_ents++] = e;
	return 0;
}

static int do_retract(struct tx *t, int64_t e, dh_aid a, const struct dh_val *v)
{
	int64_t ptx;
	int rc = present(t, e, a, v, &ptx);

	if (rc <= 0)
		return rc;
	if (a < DH_AID_USER && a != AID_TXINSTANT && (rc = note_schema_entity(t, e)))
		return rc;
	return push_event(t, e, a, v, 0, ptx);
}

static int do_add(struct tx *t, int64_t e, dh_aid a, struct dh_val *v, int internal)
{
	const struct dh_attr *at = &t->s->attrs[a];
	struct vals cur = { 0 };
	int64_t owner = 0, ptx;
	size_t i;
	int rc;

	if (!internal && at->ntuple_attrs)
		return datom_err(t, DH_EINVAL, "cannot modify tuple attrs directly", e, a, v, 1);
	if ((rc = check_value(t, at, v, e, 1)))
		return rc;
	if (at->unique) {
		rc = unique_owner(t, a, v, &owner);
		if (rc < 0)
			return rc;
		if (rc && owner != e) {
			char vb[160];
			char msg[400];

			snprintf(msg, sizeof(msg), "unique constraint violation: :%s %s already belongs to entity %lld",
				at->ident, val_text(v, vb, sizeof(vb)), (long long)owner);
			return datom_err(t, DH_EINVAL, msg, e, a, v, 1);
		}
	}
	rc = present(t, e, a, v, &ptx);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return 0;   /* redundant */
	if (at->card == DH_CARD_ONE) {
		if ((rc = values(t, e, a, &cur)))
			goto out;
		for (i = 0; i < cur.n; i++)
			if ((rc = do_retract(t, e, a, &cur.v[i])))
				goto out;
	}
	if (a < DH_AID_USER && a != AID_TXINSTANT && (rc = note_schema_entity(t, e)))
		goto out;
	rc = push_event(t, e, a, v, 1, 0);
out:
	vals_release(&cur);
	return rc;
}

static int retract_entity(struct tx *t, int64_t e, int depth);

static int retract_all(struct tx *t, int64_t e, dh_aid a, int cascade, int depth)
{
	const struct dh_attr *at = &t->s->attrs[a];
	struct vals cur = { 0 };
	size_t i;
	int rc;

	if ((rc = values(t, e, a, &cur)))
		goto out;
	for (i = 0; i < cur.n; i++) {
		if ((rc = do_retract(t, e, a, &cur.v[i])))
			goto out;
		if (cascade && at->is_component && cur.v[i].type == DH_LONG &&
		    (rc = retract_entity(t, cur.v[i].u.i, depth + 1)))
			goto out;
	}
out:
	vals_release(&cur);
	return rc;
}

/* Attributes entity e has values for, from the db and this tx. */
static int attrs_of(struct tx *t, int64_t e, dh_aid **out, size_t *n)
{
	struct dh_iter *it = NULL;
	const struct dh_datom *d;
	struct dh_bound b = { .n = 1, .e = e };
	size_t cap = 0, i, j;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (e < t->fresh_from || e >= DH_TX0) {
		if ((rc = dh_iter_new(&it, t->db, DH_EAVT, &b, &b)))
			return rc;
		while ((rc = dh_iter_next(it, &d)) > 0) {
			if (*n && (*out)[*n - 1] == d->a)
				continue;
			if ((rc = grow((void **)out, &cap, *n + 1, sizeof(**out))))
				break;
			(*out)[(*n)++] = d->a;
		}
		dh_iter_free(it);
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < t->nev; i++) {
		if (t->ev[i].d.e != e || !t->ev[i].d.added)
			continue;
		for (j = 0; j < *n; j++)
			if ((*out)[j] == t->ev[i].d.a)
				break;
		if (j < *n)
			continue;
		if ((rc = grow((void **)out, &cap, *n + 1, sizeof(**out))))
			return rc;
		(*out)[(*n)++] = t->ev[i].d.a;
	}
	return 0;
}

static int retract_entity(struct tx *t, int64_t e, int depth)
{
	dh_aid *as = NULL, a;
	size_t n, i;
	int rc;

	if (depth > 64)
		return dh_error_set(DH_EINVAL, "component nesting too deep retracting entity %lld", (long long)e);
	if ((rc = attrs_of(t, e, &as, &n)))
		goto out;
	for (i = 0; i < n; i++)
		if ((rc = retract_all(t, e, as[i], 1, depth)))
			goto out;
	/* references to e */
	for (a = 1; a <= t->s->max; a++) {
		const struct dh_attr *at = &t->s->attrs[a];
		struct dh_val v = dh_long(e);
		int64_t hold[64];
		size_t m, j;

		if (!at->ident || at->type != DH_VT_REF)
			continue;
		do {
			if ((rc = holders(t, a, &v, hold, 64, &m)))
				goto out;
			for (j = 0; j < m; j++)
				if ((rc = do_retract(t, hold[j], a, &v)))
					goto out;
		} while (m == 64);
	}
out:
	free(as);
	return rc;
}

/* Rebuild attribute definitions of schema entities touched by this tx. */
/*
 * `final`: the end of the transaction.  Before it, a schema entity still
 * missing parts (built by separate :db/add operations) stays pending.
 */
static int refresh_schema(struct tx *t, const struct dh_val *form, int final)
{
	size_t i, keep = 0;
	int rc = own_schema(t);

	if (rc)
		return rc;

	for (i = 0; i < t->nschema_ents; i++) {
		int64_t e = t->schema_ents[i];
		struct vals v[AID_SYSTEM_END];
		const struct dh_attr *old;
		struct dh_attr *at;
		dh_aid aid, a;
		int present_any = 0;

		memset(v, 0, sizeof(v));
		for (a = 1; a < AID_SYSTEM_END; a++) {
			if (a == AID_TXINSTANT)
				continue;
			if ((rc = values(t, e, a, &v[a])))
				goto next;
			if (a != AID_IDENT && a != AID_DOC && v[a].n)
				present_any = 1;
		}
		if (!final && (!v[AID_IDENT].n || (present_any && (!v[AID_VALUETYPE].n || !v[AID_CARDINALITY].n)))) {
			t->schema_ents[keep++] = e;
			goto next;
		}
		if (!v[AID_IDENT].n) {
			if (present_any)
				rc = dh_error_set(DH_EINVAL, "schema attributes without :db/ident in %s", form_text(t, form));
			goto next;
		}
		if (!present_any) {
			/* an ident only (an enum value), or doc on one */
			goto next;
		}
		if (!v[AID_VALUETYPE].n || !v[AID_CARDINALITY].n) {
			rc = dh_error_set(DH_EINVAL, "incomplete schema transaction attributes, expected :db/ident, :db/valueType, :db/cardinality in %s",
				form_text(t, form));
			goto next;
		}
		{
			const struct dh_val *id = &v[AID_IDENT].v[0];
			struct dh_attr nw;
			enum dh_value_type vt = value_type_from_kw(v[AID_VALUETYPE].v[0].u.s, v[AID_VALUETYPE].v[0].len);

			old = schema_find(t->s, id->u.s, id->len);
			if (old && old->declared && old->aid < DH_AID_USER) {
				rc = dh_error_set(DH_EINVAL, "cannot redefine system attribute :%s", old->ident);
				goto next;
			}
			if (old && old->declared && old->eid != e) {
				rc = dh_error_set(DH_EINVAL, "attribute :%s is already defined by entity %lld", old->ident,
					(long long)old->eid);
				goto next;
			}
			memset(&nw, 0, sizeof(nw));
			nw.type = vt;
			nw.card = dh_val_is_kw(&v[AID_CARDINALITY].v[0], "db.cardinality/many") ? DH_CARD_MANY : DH_CARD_ONE;
			if (v[AID_UNIQUE].n)
				nw.unique = dh_val_is_kw(&v[AID_UNIQUE].v[0], "db.unique/identity") ? DH_UNIQUE_IDENTITY
												     : DH_UNIQUE_VALUE;
			nw.index = v[AID_INDEX].n && v[AID_INDEX].v[0].u.b;
			nw.is_component = v[AID_ISCOMPONENT].n && v[AID_ISCOMPONENT].v[0].u.b;
			nw.no_history = v[AID_NOHISTORY].n && v[AID_NOHISTORY].v[0].u.b;
			if (nw.is_component && vt != DH_VT_REF) {
				rc = dh_error_set(DH_EINVAL, "bad attribute specification for :%s: {:db/isComponent true} should also have {:db/valueType :db.type/ref}",
					id->u.s);
				goto next;
			}
			if (nw.unique && vt == DH_VT_TUPLE && 0) {
				goto next;
			}
			if (old && old->declared) {
				/* Datahike allows: one -> many (not unique), adding unique to cardinality one */
				const char *bad = NULL;

				if (old->type != nw.type)
					bad = ":db/valueType";
				else if (old->card != nw.card && !(old->card == DH_CARD_ONE && !nw.unique))
					bad = ":db/cardinality";
				else if (old->unique != nw.unique && !(old->unique == DH_UNIQUE_NONE && nw.card == DH_CARD_ONE))
					bad = ":db/unique";
				else if (old->is_component != nw.is_component)
					bad = ":db/isComponent";
				else if (old->index != nw.index)
					bad = ":db/index";
				else if (old->no_history != nw.no_history)
					bad = ":db/noHistory";
				if (bad) {
					rc = dh_error_set(DH_EINVAL, "update not supported for schema attribute %s of :%s", bad, old->ident);
					goto next;
				}
				if (old->unique != nw.unique) {
					/* existing values must become unique and enter AVET: refuse when there are any */
					struct dh_bound b = { .n = 1, .a = old->aid };
					struct dh_datom d;

					rc = db_first(t->db, DH_AEVT, &b, NULL, &d);
					if (rc > 0)
						rc = dh_error_set(DH_EUNSUPPORTED, "adding :db/unique to :%s, which has values, is not supported",
							old->ident);
					if (rc)
						goto next;
				}
			}
			if ((rc = schema_add(t->s, id->u.s, id->len, &aid)))
				goto next;
			at = &t->s->attrs[aid];
			at->type = nw.type;
			at->card = nw.card;
			at->unique = nw.unique;
			at->index = nw.index;
			at->is_component = nw.is_component;
			at->no_history = nw.no_history;
			at->eid = e;
			at->declared = 1;
			at->doc = v[AID_DOC].n ? dh_arena_strndup(t->s->arena, v[AID_DOC].v[0].u.s, v[AID_DOC].v[0].len) : NULL;
			at->tuple_attrs = NULL;
			at->ntuple_attrs = 0;
			at->tuple_types = NULL;
			at->ntuple_types = 0;
			at->tuple_type = DH_VT_ANY;
			if (v[AID_TUPLEATTRS].n) {
				const struct dh_val *ta = &v[AID_TUPLEATTRS].v[0];
				dh_aid *ids = dh_arena_alloc(t->s->arena, (ta->len ? ta->len : 1) * sizeof(*ids));
				uint32_t j;

				if (!ids) {
					rc = DH_ENOMEM;
					goto next;
				}
				if (vt != DH_VT_TUPLE || ta->len < 2) {
					rc = dh_error_set(DH_EINVAL, "bad :db/tupleAttrs of :%s", id->u.s);
					goto next;
				}
				for (j = 0; j < ta->len; j++) {
					const struct dh_attr *c;

					if (ta->u.items[j].type != DH_KEYWORD ||
					    !(c = schema_find(t->s, ta->u.items[j].u.s, ta->u.items[j].len)) || !c->declared) {
						rc = dh_error_set(DH_EINVAL, ":db/tupleAttrs of :%s names an unknown attribute", id->u.s);
						goto next;
					}
					if (c->card == DH_CARD_MANY || c->type == DH_VT_TUPLE) {
						rc = dh_error_set(DH_EINVAL, ":db/tupleAttrs of :%s: :%s must be a cardinality-one non-tuple attribute",
							id->u.s, c->ident);
						goto next;
					}
					ids[j] = c->aid;
				}
				at = &t->s->attrs[aid];
				at->tuple_attrs = ids;
				at->ntuple_attrs = ta->len;
			}
			if (v[AID_TUPLETYPES].n) {
				const struct dh_val *tt = &v[AID_TUPLETYPES].v[0];
				enum dh_value_type *ty = dh_arena_alloc(t->s->arena, (tt->len ? tt->len : 1) * sizeof(*ty));
				uint32_t j;

				if (!ty) {
					rc = DH_ENOMEM;
					goto next;
				}
				for (j = 0; j < tt->len; j++) {
					if (tt->u.items[j].type != DH_KEYWORD ||
					    (ty[j] = value_type_from_kw(tt->u.items[j].u.s, tt->u.items[j].len)) == DH_VT_ANY) {
						rc = dh_error_set(DH_EINVAL, "bad :db/tupleTypes of :%s", id->u.s);
						goto next;
					}
				}
				at->tuple_types = ty;
				at->ntuple_types = tt->len;
			}
			if (v[AID_TUPLETYPE].n) {
				const struct dh_val *tt = &v[AID_TUPLETYPE].v[0];

				at->tuple_type = value_type_from_kw(tt->u.s, tt->len);
				if (at->tuple_type == DH_VT_ANY) {
					rc = dh_error_set(DH_EINVAL, "bad :db/tupleType of :%s", id->u.s);
					goto next;
				}
			}
			if (!at->doc && v[AID_DOC].n) {
				rc = DH_ENOMEM;
				goto next;
			}
			t->schema_changed = 1;
			rc = schema_finish(t->s);
		}
next:
		for (a = 1; a < AID_SYSTEM_END; a++)
			vals_release(&v[a]);
		if (rc)
			return rc;
	}
	t->nschema_ents = keep;
	return 0;
}

static int check_attr(struct tx *t, const struct op *o)
{
	const struct dh_attr *at = &t->s->attrs[o->a];

	if (at->declared || t->k->c.flex)
		return 0;
	return dh_error_set(DH_EINVAL, "bad entity attribute :%s in %s, not defined in current schema", at->ident,
		form_text(t, o->form));
}

static int apply_op(struct tx *t, struct op *o)
{
	int64_t e, ve;
	struct dh_val v;
	int rc;

	if (o->kind >= OP_PURGE)
		return 0;   /* after the events, see purge() */
	if (o->kind != OP_RETRACT_ENTITY && (rc = check_attr(t, o)))
		return rc;
	rc = resolve_plain(t, &o->e, &e, o->form);
	if (rc) {
		if (o->kind == OP_ADD || o->kind == OP_CAS)
			return rc;
		return 0;   /* retracting from nothing */
	}
	if (e <= 0)
		return dh_error_set(DH_EINVAL, "bad entity id %lld in %s", (long long)e, form_text(t, o->form));
	switch (o->kind) {
	case OP_RETRACT_ENTITY:
		return retract_entity(t, e, 0);
	case OP_RETRACT_ATTR:
		return retract_all(t, e, o->a, 0, 0);
	default:
		break;
	}
	if (o->v.kind == ER_VALUE) {
		v = o->v.v;
	} else {
		if ((rc = resolve_plain(t, &o->v, &ve, o->form)))
			return o->kind == OP_RETRACT ? 0 : rc;
		v = dh_long(ve);
	}
	if (o->kind == OP_RETRACT) {
		if (t->s->attrs[o->a].type == DH_VT_FLOAT && v.type == DH_DOUBLE) {
			v.type = DH_FLOAT;
			v.u.d = (double)(float)v.u.d;
		}
		return do_retract(t, e, o->a, &v);
	}
	if (o->kind == OP_CAS) {
		const struct dh_attr *at = &t->s->attrs[o->a];
		struct vals cur = { 0 };
		struct dh_val old = o->old;
		size_t i;
		int ok = 0;

		if (at->type == DH_VT_REF && old.type != DH_NIL && old.type != DH_LONG) {
			struct eref r;
			int64_t oe;

			if ((rc = eref_of(t, &old, 0, &r, o->form)) || (rc = resolve_plain(t, &r, &oe, o->form)))
				return rc;
			old = dh_long(oe);
		}
		if (at->type == DH_VT_FLOAT && old.type == DH_DOUBLE) {
			old.type = DH_FLOAT;
			old.u.d = (double)(float)old.u.d;
		}
		if ((rc = values(t, e, o->a, &cur)))
			return rc;
		if (old.type == DH_NIL)
			ok = cur.n == 0;
		for (i = 0; i < cur.n && !ok; i++)
			ok = dh_val_eq(&cur.v[i], &old);
		if (!ok) {
			char vb[160], cb[160];

			rc = dh_error_set(DH_EINVAL, ":db.fn/cas failed on datom [%lld :%s %s], expected %s", (long long)e,
				at->ident, cur.n ? val_text(&cur.v[0], cb, sizeof(cb)) : "nil", val_text(&o->old, vb, sizeof(vb)));
			vals_release(&cur);
			return rc;
		}
		vals_release(&cur);
	}
	if (o->a == AID_TXINSTANT && e == t->tx) {
		if (v.type != DH_INST)
			return datom_err(t, DH_EINVAL, "bad value for :db/txInstant, expected :db.type/instant", e, o->a, &v, 1);
		t->instant_given = 1;
		t->instant = v.u.i;
	}
	if (e < DH_TX0 && e > t->max_eid)
		t->max_eid = e;
	return do_add(t, e, o->a, &v, 0);
}

/* Keep composite tuples in step with the attributes they are made of. */
static int upkeep_tuples(struct tx *t)
{
	size_t i, n = t->nev;
	int rc;

	for (i = 0; i < n; i++) {
		const struct dh_attr *at = &t->s->attrs[t->ev[i].d.a];
		int64_t e = t->ev[i].d.e;
		uint32_t j;

		for (j = 0; j < at->nin_tuples; j++) {
			const struct dh_attr *tu = &t->s->attrs[at->in_tuples[j]];
			struct dh_val *items, tv;
			struct vals cur = { 0 };
			uint32_t k;
			int nonnil = 0;
			size_t p;
			int done = 0;

			/* once per (e, tuple) */
			for (p = 0; p < i && !done; p++) {
				const struct dh_attr *pa = &t->s->attrs[t->ev[p].d.a];
				uint32_t q;

				if (t->ev[p].d.e != e)
					continue;
				for (q = 0; q < pa->nin_tuples; q++)
					if (pa->in_tuples[q] == tu->aid)
						done = 1;
			}
			if (done)
				continue;
			items = dh_arena_alloc(t->a, tu->ntuple_attrs * sizeof(*items));
			if (!items)
				return DH_ENOMEM;
			for (k = 0; k < tu->ntuple_attrs; k++) {
				if ((rc = values(t, e, tu->tuple_attrs[k], &cur))) {
					vals_release(&cur);
					return rc;
				}
				items[k] = cur.n ? cur.v[0] : dh_nil();
				if (cur.n)
					nonnil = 1;
			}
			tv.type = DH_VECTOR;
			tv.len = tu->ntuple_attrs;
			tv.u.items = items;
			if (nonnil) {
				rc = do_add(t, e, tu->aid, &tv, 1);
			} else {
				rc = retract_all(t, e, tu->aid, 0, 0);
			}
			vals_release(&cur);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* ---- purge -------------------------------------------------------------- */

struct purge_pat {
	int kind;
	int64_t e;
	dh_aid a;
	struct dh_val v;
	int64_t before_tx;
};

static int collect_purge(struct dh_store *st, const struct commit *c, const struct schema *s,
	const struct purge_pat *p, struct dh_arena *a, struct dh_tree_edit **ed, size_t *n, size_t *cap)
{
	struct dh_tree_ctx tc = { 0 };
	struct dh_tree_iter *it;
	const struct dh_datom *d;
	struct dh_bound b = { 0 };
	int tr, rc = 0;

	if (p->kind == OP_PURGE_BEFORE) {
		b.n = 0;
	} else {
		b.e = p->e;
		b.a = p->a;
		b.v = p->v;
		b.n = p->kind == OP_PURGE ? 3 : p->kind == OP_PURGE_ATTR ? 2 : 1;
	}
	for (tr = 0; tr < NTREES; tr += 3) {
		if (p->kind == OP_PURGE_BEFORE && tr == 0)
			continue;
		tc.st = st;
		tc.ix = DH_EAVT;
		tc.history = tr == 3;
		tc.rank = s->rank;
		tc.nrank = (size_t)s->max + 1;
		if ((rc = dh_tree_iter_new(&it, &tc, &c->roots[tr], &b, b.n ? &b : NULL)))
			return rc;
		while ((rc = dh_tree_iter_next(it, &d)) > 0) {
			if (p->kind == OP_PURGE_BEFORE && d->tx >= p->before_tx)
				continue;
			if ((rc = grow((void **)ed, cap, *n + 1, sizeof(**ed))))
				break;
			(*ed)[*n].d = *d;
			(*ed)[*n].op = tr;   /* which family: 0 current, 3 temporal */
			if ((rc = dh_val_copy(&(*ed)[*n].d.v, a, &d->v)))
				break;
			(*n)++;
		}
		dh_tree_iter_free(it);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static struct dh_tree_ctx *pctx;

static int pcmp(const void *x, const void *y)
{
	return dh_tree_cmp(pctx, &((const struct dh_tree_edit *)x)->d, &((const struct dh_tree_edit *)y)->d);
}

/* Delete purged datoms from every tree (the trees have absorbed the tail). */
static int purge_apply(struct tx *t, struct commit *c, struct dh_node_batch *batch, uint64_t *npurged)
{
	struct dh_tree_edit *found = NULL, *ed = NULL;
	size_t nf = 0, capf = 0, i, m;
	int tr, rc = 0;

	*npurged = 0;
	for (i = 0; i < t->nops; i++) {
		struct op *o = &t->ops[i];
		struct purge_pat p = { .kind = o->kind };

		if (o->kind < OP_PURGE)
			continue;
		if (o->kind == OP_PURGE_BEFORE) {
			struct dh_db *tmp = NULL;
			struct dh_db *asof = NULL;

			/* the first tx at or after the instant: purge everything before it */
			(void)tmp;
			(void)asof;
			{
				struct dh_iter *it = NULL;
				const struct dh_datom *d;
				struct dh_bound b = { .n = 1, .a = AID_TXINSTANT };

				p.before_tx = INT64_MAX;
				if ((rc = dh_iter_new(&it, t->db, DH_AVET, &b, &b)))
					goto out;
				while ((rc = dh_iter_next(it, &d)) > 0)
					if (d->v.u.i >= o->v.v.u.i && d->e < p.before_tx)
						p.before_tx = d->e;
				dh_iter_free(it);
				if (rc < 0)
					goto out;
				if (p.before_tx == INT64_MAX)
					p.before_tx = t->tx;
			}
		} else {
			if (resolve_plain(t, &o->e, &p.e, o->form))
				continue;
			p.a = o->a;
			if (o->kind == OP_PURGE) {
				if (o->v.kind == ER_VALUE) {
					p.v = o->v.v;
				} else {
					int64_t ve;

					if (resolve_plain(t, &o->v, &ve, o->form))
						continue;
					p.v = dh_long(ve);
				}
			}
		}
		if ((rc = collect_purge(t->k->st, c, t->s, &p, t->a, &found, &nf, &capf)))
			goto out;
	}
	ed = malloc((nf ? nf : 1) * sizeof(*ed));
	if (!ed) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	for (tr = 0; tr < NTREES; tr++) {
		struct dh_tree_ctx tc = { 0 };

		tc.st = t->k->st;
		tc.ix = (enum dh_index)(tr % 3);
		tc.history = tr >= 3;
		tc.rank = t->s->rank;
		tc.nrank = (size_t)t->s->max + 1;
		for (i = 0, m = 0; i < nf; i++) {
			if ((tr >= 3) != (found[i].op == 3))
				continue;
			if (tc.ix == DH_AVET && !t->s->attrs[found[i].d.a].in_avet)
				continue;
			ed[m].d = found[i].d;
			ed[m].op = DH_EDIT_DEL;
			m++;
		}
		if (tr < 3)
			*npurged += m && tr == 0 ? m : 0;
		else if (tr == 3)
			*npurged += m;
		pctx = &tc;
		qsort(ed, m, sizeof(*ed), pcmp);
		if ((rc = dh_tree_apply(&c->roots[tr], &tc, &c->roots[tr], ed, m, batch)))
			goto out;
		if (tr == 0)
			c->ndatoms -= m;
	}
	{
		struct dh_tree_ctx tc = { 0 };

		tc.st = t->k->st;
		tc.ix = (enum dh_index)DH_TREE_LOG;
		tc.history = 1;
		tc.rank = t->s->rank;
		tc.nrank = (size_t)t->s->max + 1;
		for (i = 0; i < nf; i++) {
			ed[i].d = found[i].d;
			ed[i].op = DH_EDIT_DEL;
		}
		pctx = &tc;
		qsort(ed, nf, sizeof(*ed), pcmp);
		rc = dh_tree_apply(&c->log, &tc, &c->log, ed, nf, batch);
	}
out:
	free(found);
	free(ed);
	return rc;
}

/* ---- the connection ---------------------------------------------------- */

struct dh_conn {
	struct dh_store *st;
	char *branch;
	struct dh_db *db;
	int creating;              /* the head does not exist yet */
};

int dh_conn_open(struct dh_conn **out, struct dh_store *st, const char *branch)
{
	struct dh_conn *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c)
		return dh_error_set(DH_ENOMEM, "out of memory");
	c->st = st;
	if (!branch)
		branch = DH_DEFAULT_BRANCH;
	if ((rc = dh_branch_check(branch)))
		goto fail;
	if (!(c->branch = strdup(branch))) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = db_open(&c->db, st, branch, 1)))
		goto fail;
	*out = c;
	return 0;
fail:
	dh_conn_close(c);
	return rc;
}

int dh_conn_open_at(struct dh_conn **out, struct dh_store *st, const char *branch, const char *hex)
{
	struct dh_db *db = NULL;
	int rc;

	*out = NULL;
	if ((rc = dh_conn_open(out, st, branch)))
		return rc;
	if (!strcmp(dh_db_commit((*out)->db), hex))
		return 0;
	if ((rc = dh_db_open_commit(&db, st, hex))) {
		dh_conn_close(*out);
		*out = NULL;
		return rc;
	}
	free(db->core->branch);
	db->core->branch = strdup((*out)->branch);
	dh_db_close((*out)->db);
	(*out)->db = db;
	return 0;
}

void dh_conn_close(struct dh_conn *conn)
{
	if (!conn)
		return;
	dh_db_close(conn->db);
	free(conn->branch);
	free(conn);
}

struct dh_db *dh_conn_db(struct dh_conn *conn)
{
	return conn->db;
}

int dh_conn_refresh(struct dh_conn *conn)
{
	struct dh_db *db;
	int rc = dh_db_open(&db, conn->st, conn->branch);

	if (rc)
		return rc;
	dh_db_close(conn->db);
	conn->db = db;
	return 0;
}

void dh_tx_report_free(struct dh_tx_report *r)
{
	if (!r)
		return;
	free(r->datoms);
	free(r->tempids);
	dh_arena_free(r->arena);
	free(r);
}

static void tx_release(struct tx *t)
{
	free(t->ops);
	free(t->tids);
	free(t->tid_hash);
	free(t->ev);
	free(t->slot[0]);
	free(t->slot[1]);
	free(t->slot[2]);
	free(t->link);
	free(t->schema_ents);
	dh_buf_release(&t->msg);
	schema_free(t->s);
}

/* Build a core for the new commit in memory, so the conn need not re-read the tail. */
static int core_after(struct core **out, struct dh_conn *conn, const struct commit *c, const char *hex,
	struct schema **s, const struct event *old, size_t nold, const struct event *ev, size_t nev, int absorbed)
{
	struct core *k = calloc(1, sizeof(*k));
	size_t i;
	int rc;

	*out = NULL;
	if (!k)
		return dh_error_set(DH_ENOMEM, "out of memory");
	k->refs = 1;
	k->st = conn->st;
	memcpy(k->hex, hex, DH_HASH_HEX + 1);
	if (!(k->branch = strdup(conn->branch)) || (rc = dh_arena_new(&k->arena))) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto fail;
	}
	k->c = *c;
	k->c.tail = NULL;
	if (c->ntail) {
		k->c.tail = malloc(c->ntail * sizeof(*k->c.tail));
		if (!k->c.tail) {
			rc = dh_error_set(DH_ENOMEM, "out of memory");
			goto fail;
		}
		memcpy(k->c.tail, c->tail, c->ntail * sizeof(*k->c.tail));
	}
	k->schema = *s;
	*s = NULL;
	k->prefetch_avet = conn->db->core->prefetch_avet;
	/* the schema bytes the commit carried live in the caller's buffers */
	if (c->schema_bytes && (rc = core_keep_schema(k, c->schema_bytes, c->schema_len)))
		goto fail;
	k->cache = dh_node_cache_ref(conn->db->core->cache);
	if (!absorbed) {
		k->ntail = nold + nev;
		k->tail = dh_arena_alloc(k->arena, (k->ntail ? k->ntail : 1) * sizeof(*k->tail));
		if (!k->tail) {
			rc = DH_ENOMEM;
			goto fail;
		}
		for (i = 0; i < k->ntail; i++) {
			k->tail[i] = i < nold ? old[i] : ev[i - nold];
			if ((rc = dh_val_copy(&k->tail[i].d.v, k->arena, &k->tail[i].d.v)))
				goto fail;
		}
	}
	*out = k;
	return 0;
fail:
	core_unref(k);
	return rc;
}

static int tx_once(struct dh_tx_report **out, struct dh_conn *conn, const struct dh_val *tx_data, unsigned flags)
{
	struct tx t;
	struct dh_tx_report *r = NULL;
	struct dh_node_batch *batch = NULL;
	struct dh_buf enc = DH_BUF_INIT, senc = DH_BUF_INIT;
	struct commit c;
	struct core *nk = NULL;
	char loghex[DH_HASH_HEX + 1], hex[DH_HASH_HEX + 1];
	size_t i, nadd = 0, nret = 0;
	int rc, absorbed = 0;
	uint64_t npurged = 0;

	memset(&t, 0, sizeof(t));
	memset(&c, 0, sizeof(c));
	t.db = conn->db;
	t.k = conn->db->core;
	t.tx = t.k->c.max_tx + 1;
	t.max_eid = t.k->c.max_eid;
	t.fresh_from = t.max_eid + 1;
	if (t.tx > DH_TXMAX)
		return dh_error_set(DH_EINVAL, "transaction ids exhausted");
	t.s = schema_share(t.k->schema);
	if ((rc = dh_arena_new(&t.a)))
		goto out;
	if (!tx_data || (tx_data->type != DH_VECTOR && tx_data->type != DH_LIST)) {
		rc = dh_error_set(DH_EINVAL, "tx-data must be a vector or list");
		goto out;
	}
	/* pass 1 */
	for (i = 0; i < tx_data->len; i++) {
		const struct dh_val *f = &tx_data->u.items[i];
		struct eref self;

		if (f->type == DH_MAP)
			rc = expand_entity(&t, f, &self);
		else if (is_seq(f))
			rc = expand_op(&t, f);
		else
			rc = dh_error_set(DH_EINVAL, "bad entity in tx-data (a map or an operation vector): %s", form_text(&t, f));
		if (rc)
			goto out;
	}
	if (t.purge && t.k->c.no_history) {
		rc = dh_error_set(DH_EUNSUPPORTED, "purge operations need history, which this database does not keep");
		goto out;
	}
	/* pass 2 */
	if ((rc = upserts(&t)) || (rc = assign_ids(&t)))
		goto out;
	for (i = 0; i < t.ntids; i++) {
		if (!t.tids[i].as_entity && t.tids[i].key.type != DH_NIL) {
			rc = dh_error_set(DH_EINVAL, "tempid %s is used only as a value in the transaction",
				form_text(&t, &t.tids[i].key));
			goto out;
		}
	}
	/* pass 3: about an event per operation */
	if ((rc = reserve_events(&t, t.nev + t.nops + 8)))
		goto out;
	for (i = 0; i < t.nops; i++) {
		if ((rc = apply_op(&t, &t.ops[i])))
			goto out;
		if (t.ops[i].form_end && t.nschema_ents && (rc = refresh_schema(&t, t.ops[i].form, 0)))
			goto out;
	}
	if (t.nschema_ents && (rc = refresh_schema(&t, t.nops ? t.ops[t.nops - 1].form : tx_data, 1)))
		goto out;
	if ((rc = upkeep_tuples(&t)))
		goto out;
	if (!t.instant_given) {
		struct dh_val inst;

		t.instant = now_ms();
		if (t.instant <= t.k->c.instant_ms)
			t.instant = t.k->c.instant_ms + 1;
		inst = dh_inst(t.instant);
		if ((rc = push_event(&t, t.tx, AID_TXINSTANT, &inst, 1, 0)))
			goto out;
	}
	/* the report */
	r = calloc(1, sizeof(*r));
	if (!r || (rc = dh_arena_new(&r->arena))) {
		rc = rc ? rc : dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	r->tx = t.tx;
	r->instant_ms = t.instant;
	memcpy(r->parent, t.k->hex, DH_HASH_HEX + 1);
	r->datoms = malloc((t.nev ? t.nev : 1) * sizeof(*r->datoms));
	r->tempids = malloc((t.ntids + 1) * sizeof(*r->tempids));
	if (!r->datoms || !r->tempids) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	/* txInstant first, as Datahike reports it */
	for (i = 0; i < t.nev; i++) {
		struct event *e = &t.ev[(i + t.nev - 1) % t.nev];

		if (t.instant_given)
			e = &t.ev[i];
		r->datoms[i] = e->d;
		if ((rc = dh_val_copy(&r->datoms[i].v, r->arena, &e->d.v)))
			goto out;
		if (e->d.added)
			nadd++;
		else
			nret++;
	}
	r->ndatoms = t.nev;
	r->nadded = nadd;
	r->nretracted = nret;
	for (i = 0; i < t.ntids; i++) {
		if (t.tids[i].key.type == DH_NIL)
			continue;
		r->tempids[r->ntempids].eid = t.tids[i].eid;
		if ((rc = dh_val_copy(&r->tempids[r->ntempids].tempid, r->arena, &t.tids[i].key)))
			goto out;
		r->ntempids++;
	}
	r->tempids[r->ntempids].tempid = dh_text(DH_KEYWORD, "db/current-tx", 13);
	r->tempids[r->ntempids].eid = t.tx;
	r->ntempids++;
	if (flags & DH_TX_NOWRITE) {
		memset(r->commit, 0, sizeof(r->commit));
		goto done;
	}
	/* write */
	if ((rc = dh_node_batch_new(&batch, conn->st)))
		goto out;
	c = t.k->c;
	c.tail = NULL;
	c.nparents = 1;
	memcpy(c.parents[0], t.k->hex, DH_HASH_HEX + 1);
	c.max_tx = t.tx;
	if (t.max_eid > c.max_eid)
		c.max_eid = t.max_eid;
	c.instant_ms = t.instant > t.k->c.instant_ms ? t.instant : t.k->c.instant_ms;
	c.ndatoms = t.k->c.ndatoms + nadd - nret;
	if (t.schema_changed) {
		if ((rc = schema_encode(&senc, t.s)) || (rc = dh_node_batch_add(batch, senc.data, senc.len, c.schema)))
			goto out;
		c.schema_bytes = senc.len <= SCHEMA_INLINE_MAX ? (const unsigned char *)senc.data : NULL;
		c.schema_len = senc.len;
	}
	if (t.purge || t.k->c.ntail + 1 > TAIL_MAX_NODES || t.k->c.tail_datoms + t.nev > TAIL_MAX_DATOMS) {
		/* absorb the tail and this transaction into the trees (with no
		 * tail, straight from this transaction's events: a large one's
		 * would be copied for nothing) */
		struct event *all = NULL;

		if (t.k->ntail) {
			if (!(all = malloc((t.k->ntail + t.nev + 1) * sizeof(*all)))) {
				rc = dh_error_set(DH_ENOMEM, "out of memory");
				goto out;
			}
			memcpy(all, t.k->tail, t.k->ntail * sizeof(*all));
			if (t.nev)
				memcpy(all + t.k->ntail, t.ev, t.nev * sizeof(*all));
		}
		rc = absorb(&c, t.s, conn->st, all ? all : t.ev, t.k->ntail + t.nev, batch);
		free(all);
		if (rc)
			goto out;
		c.ntail = 0;
		c.tail_datoms = 0;
		absorbed = 1;
		/* purge reads the absorbed trees: their nodes must be in the store */
		if (t.purge && ((rc = dh_node_batch_write(batch)) || (rc = purge_apply(&t, &c, batch, &npurged))))
			goto out;
	} else {
		dh_buf_reset(&enc);
		if ((rc = log_encode(&enc, t.tx, t.ev, t.nev)) || (rc = dh_node_batch_add(batch, enc.data, enc.len, loghex)))
			goto out;
		c.tail = malloc((t.k->c.ntail + 1) * sizeof(*c.tail));
		if (!c.tail) {
			rc = dh_error_set(DH_ENOMEM, "out of memory");
			goto out;
		}
		if (t.k->c.ntail)  /* tail is NULL when empty: memcpy must not see it */
			memcpy(c.tail, t.k->c.tail, t.k->c.ntail * sizeof(*c.tail));
		memcpy(c.tail[t.k->c.ntail], loghex, sizeof(loghex));
		c.ntail = t.k->c.ntail + 1;
		c.tail_datoms = t.k->c.tail_datoms + t.nev;
	}
	dh_buf_reset(&enc);
	if ((rc = commit_encode(&enc, &c)) || (rc = dh_node_batch_add(batch, enc.data, enc.len, hex)))
		goto out;
	if ((rc = dh_node_batch_write(batch)))
		goto out;
	rc = dh_head_cas(conn->st, conn->branch, conn->creating ? NULL : t.k->hex, hex);
	if (rc == DH_ECONFLICT) {
		rc = dh_error_set(DH_ECONFLICT, "branch '%s' moved while transacting (another writer); nothing committed",
			conn->branch);
		goto out;
	}
	if (rc)
		goto out;
	memcpy(r->commit, hex, sizeof(hex));
	if (!t.schema_changed)
		memcpy(c.schema, t.k->c.schema, sizeof(c.schema));
	if ((rc = core_after(&nk, conn, &c, hex, &t.s, t.k->tail, t.k->ntail, t.ev, t.nev, absorbed)))
		goto out;
	{
		struct dh_db *ndb;

		if ((rc = db_wrap(&ndb, nk)))
			goto out;
		dh_db_close(conn->db);
		conn->db = ndb;
		conn->creating = 0;
	}
done:
	(void)npurged;
	if (out) {
		*out = r;
		r = NULL;
	}
	rc = 0;
out:
	core_unref(nk);
	free(c.tail);
	dh_node_batch_free(batch);
	dh_buf_release(&enc);
	dh_buf_release(&senc);
	dh_tx_report_free(r);
	tx_release(&t);
	dh_arena_free(t.a);
	return rc;
}

int dh_transact(struct dh_tx_report **out, struct dh_conn *conn, const struct dh_val *tx_data, unsigned flags)
{
	int tries = 0, rc;

	if (out)
		*out = NULL;
	for (;;) {
		rc = tx_once(out, conn, tx_data, flags);
		if (rc != DH_ECONFLICT || !(flags & DH_TX_RETRY) || ++tries > 100)
			return rc;
		/* back off a little, randomly, so that racing writers spread out */
		{
			unsigned j = ((unsigned)getpid() * 2654435761u) ^ ((unsigned)tries * 40503u) ^ (unsigned)now_ms();
			struct timespec ts = { 0, (long)((j % (1u + (tries < 10 ? (unsigned)tries : 10u))) * 1000000L) };

			nanosleep(&ts, NULL);
		}
		if ((rc = dh_conn_refresh(conn)))
			return rc;
	}
}

/* ---- create ------------------------------------------------------------ */

int dh_db_create(struct dh_store *st, const struct dh_db_config *cfg)
{
	static const struct dh_db_config defaults;
	const char *branch;
	struct dh_buf b = DH_BUF_INIT, sb = DH_BUF_INIT;
	struct dh_node_batch *batch = NULL;
	struct schema *s = NULL;
	struct commit c;
	struct dh_conn *conn = NULL;
	char hex[DH_HASH_HEX + 1];
	int rc;

	if (!cfg)
		cfg = &defaults;
	branch = cfg->branch ? cfg->branch : DH_DEFAULT_BRANCH;
	memset(&c, 0, sizeof(c));
	if ((rc = dh_branch_check(branch)))
		return rc;
	rc = dh_head_get(st, branch, hex);
	if (rc == 0)
		return dh_error_set(DH_EEXISTS, "a database exists on branch '%s' of '%s'", branch, dh_store_uri(st));
	if (rc != DH_ENOTFOUND)
		return rc;
	rc = dh_store_get(st, "format", &b);
	if (rc == 0) {
		if (strcmp(b.data, DH_FORMAT_TEXT)) {
			rc = dh_error_set(DH_ECORRUPT, "'format' of '%s' is not '%.*s'", dh_store_uri(st),
				(int)strlen(DH_FORMAT_TEXT) - 1, DH_FORMAT_TEXT);
			goto out;
		}
	} else if (rc == DH_ENOTFOUND) {
		if ((rc = dh_store_put(st, "format", DH_FORMAT_TEXT, strlen(DH_FORMAT_TEXT))))
			goto out;
	} else {
		goto out;
	}
	if ((rc = schema_new_system(&s)) || (rc = dh_node_batch_new(&batch, st)))
		goto out;
	if ((rc = schema_encode(&sb, s)) || (rc = dh_node_batch_add(batch, sb.data, sb.len, c.schema)))
		goto out;
	c.schema_bytes = sb.len <= SCHEMA_INLINE_MAX ? (const unsigned char *)sb.data : NULL;
	c.schema_len = sb.len;
	c.max_eid = DH_E0;
	c.max_tx = DH_TX0;
	c.instant_ms = cfg->instant_ms;
	c.flex = cfg->flexibility == DH_SCHEMA_READ;
	c.no_history = !!cfg->no_history;
	dh_buf_reset(&b);
	if ((rc = commit_encode(&b, &c)) || (rc = dh_node_batch_add(batch, b.data, b.len, hex)) ||
	    (rc = dh_node_batch_write(batch)))
		goto out;
	/* the empty database in memory; the head is created by the first CAS */
	{
		struct core *k = NULL;

		conn = calloc(1, sizeof(*conn));
		if (!conn || !(conn->branch = strdup(branch))) {
			rc = dh_error_set(DH_ENOMEM, "out of memory");
			goto out;
		}
		conn->st = st;
		conn->creating = 1;
		if ((rc = core_load(&k, st, hex, branch)))
			goto out;
		rc = db_wrap(&conn->db, k);
		core_unref(k);
		if (rc)
			goto out;
	}
	if (cfg->initial_tx)
		rc = dh_transact(NULL, conn, cfg->initial_tx, 0);
	else
		rc = dh_head_cas(st, branch, NULL, hex);
	if (rc == DH_ECONFLICT)
		rc = dh_error_set(DH_EEXISTS, "a database was created on branch '%s' of '%s' meanwhile", branch,
			dh_store_uri(st));
out:
	dh_conn_close(conn);
	schema_free(s);
	dh_node_batch_free(batch);
	dh_buf_release(&b);
	dh_buf_release(&sb);
	return rc;
}
