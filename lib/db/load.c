/*
 * load.c - bulk loading datoms that carry their own ids (import).
 *
 * The loader takes datoms in transaction order, interprets schema datoms at
 * each transaction boundary (so the data after them is checked against the
 * schema they define), and at the end sorts everything once per index and
 * builds the trees bottom-up: the current trees get each (e a v) whose last
 * event is an assertion; the temporal trees get every other event.  One
 * commit is written and the head moves by compare-and-swap.
 *
 * Memory: every datom is held until dh_loader_finish() (values in an arena,
 * 48 bytes of datom each).
 */
#include <stdlib.h>
#include <string.h>

#include "db/internal.h"

struct dh_loader {
	struct dh_conn *conn;
	struct dh_db *db;
	struct schema *s;
	struct dh_arena *a;
	struct dh_datom *d;
	size_t n, cap;
	int64_t last_tx, max_eid, max_tx, instant;
	size_t tx_start;           /* first datom of the current transaction */
	int schema_changed;
};

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
	if ((rc = dh_arena_new(&l->a)) || (rc = schema_clone(&l->s, l->db->core->schema))) {
		dh_loader_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

void dh_loader_free(struct dh_loader *l)
{
	if (!l)
		return;
	schema_free(l->s);
	dh_arena_free(l->a);
	free(l->d);
	free(l);
}

static int datom_msg(struct dh_loader *l, const struct dh_datom *d, const char *what)
{
	struct dh_buf b = DH_BUF_INIT;
	int rc;

	dh_edn_print(&b, &d->v);
	rc = dh_error_set(DH_EINVAL, "datom %zu [%lld :%s %s %lld %s]: %s", (size_t)(d - l->d) + 1, (long long)d->e,
		l->s->attrs[d->a].ident, b.data ? b.data : "?", (long long)d->tx, d->added ? "true" : "false", what);
	dh_buf_release(&b);
	return rc;
}

static int kw_is(const struct dh_val *v, const char *s)
{
	return v->type == DH_KEYWORD && v->len == strlen(s) && !memcmp(v->u.s, s, v->len);
}

/* Interpret the schema datoms of datoms [from, to): define attributes. */
static int schema_pass(struct dh_loader *l, size_t from, size_t to)
{
	size_t i, j;
	int rc;

	for (i = from; i < to; i++) {
		const struct dh_datom *d = &l->d[i];
		struct dh_attr *at;
		const struct dh_val *ident = NULL, *vt = NULL, *card = NULL;
		dh_aid aid;

		if (d->a != AID_IDENT || !d->added || d->v.type != DH_KEYWORD)
			continue;
		ident = &d->v;
		for (j = from; j < to; j++) {
			const struct dh_datom *x = &l->d[j];

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
			return datom_msg(l, d, "unknown :db/valueType");
		if ((rc = schema_add(l->s, ident->u.s, ident->len, &aid)))
			return rc;
		at = &l->s->attrs[aid];
		at->eid = d->e;
		at->declared = 1;
		at->type = value_type_from_kw(vt->u.s, vt->len);
		at->card = card && kw_is(card, "db.cardinality/many") ? DH_CARD_MANY : DH_CARD_ONE;
		for (j = from; j < to; j++) {
			const struct dh_datom *x = &l->d[j];

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

						if (t->type != DH_KEYWORD || (rc = schema_add(l->s, t->u.s, t->len, &ids[k])))
							return t->type != DH_KEYWORD ? datom_msg(l, x, "bad :db/tupleAttrs") : rc;
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
	}
	return schema_finish(l->s);
}

int dh_loader_add(struct dh_loader *l, int64_t e, const struct dh_val *attr, const struct dh_val *v, int64_t tx,
	int added)
{
	struct dh_datom *d;
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
		if ((rc = schema_pass(l, l->tx_start, l->n)))
			return rc;
		l->tx_start = l->n;
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
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		struct dh_datom *nd = realloc(l->d, cap * sizeof(*nd));

		if (!nd)
			return dh_error_set(DH_ENOMEM, "out of memory");
		l->d = nd;
		l->cap = cap;
	}
	d = &l->d[l->n];
	d->e = e;
	d->a = aid;
	d->tx = tx;
	d->added = (uint8_t)!!added;
	if ((rc = dh_val_copy(&d->v, l->a, v)))
		return rc;
	l->n++;
	if (e < DH_TX0 && e > l->max_eid)
		l->max_eid = e;
	if (tx > l->max_tx)
		l->max_tx = tx;
	if (aid == AID_TXINSTANT && d->v.type == DH_INST && d->added && d->v.u.i > l->instant)
		l->instant = d->v.u.i;
	return 0;
}

static struct dh_tree_ctx *lctx;

static int lcmp(const void *x, const void *y)
{
	const struct dh_tree_edit *a = x, *b = y;
	int r = dh_tree_cmp(lctx, &a->d, &b->d);

	if (r)
		return r;
	return a < b ? -1 : a > b;
}

static int check_types(struct dh_loader *l, int flex)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		struct dh_datom *d = &l->d[i];
		const struct dh_attr *at = &l->s->attrs[d->a];

		if (!at->declared) {
			if (!flex)
				return datom_msg(l, d, "attribute not defined in the schema");
			continue;
		}
		switch (at->type) {
		case DH_VT_STRING: if (d->v.type != DH_STRING) goto bad; break;
		case DH_VT_KEYWORD: case DH_VT_VALUETYPE: case DH_VT_CARDINALITY: case DH_VT_UNIQUE:
			if (d->v.type != DH_KEYWORD) goto bad;
			break;
		case DH_VT_SYMBOL: if (d->v.type != DH_SYMBOL) goto bad; break;
		case DH_VT_LONG: case DH_VT_REF: if (d->v.type != DH_LONG) goto bad; break;
		case DH_VT_DOUBLE: if (d->v.type != DH_DOUBLE) goto bad; break;
		case DH_VT_FLOAT:
			if (d->v.type == DH_DOUBLE)
				d->v.type = DH_FLOAT;
			if (d->v.type != DH_FLOAT) goto bad;
			break;
		case DH_VT_BOOLEAN: if (d->v.type != DH_BOOL) goto bad; break;
		case DH_VT_INSTANT: if (d->v.type != DH_INST) goto bad; break;
		case DH_VT_UUID: if (d->v.type != DH_UUID) goto bad; break;
		case DH_VT_BIGINT:
			if (d->v.type != DH_BIGINT && d->v.type != DH_LONG) goto bad;
			break;
		case DH_VT_BIGDEC: if (d->v.type != DH_BIGDEC) goto bad; break;
		case DH_VT_BYTES: if (d->v.type != DH_BYTES) goto bad; break;
		case DH_VT_TUPLE: if (d->v.type != DH_VECTOR && d->v.type != DH_LIST) goto bad; break;
		default: break;
		}
		continue;
bad:
		return datom_msg(l, d, "value does not match the attribute's :db/valueType");
	}
	return 0;
}

int dh_loader_finish(struct dh_loader *l, struct dh_tx_report **out)
{
	struct core *k = l->db->core;
	struct dh_node_batch *batch = NULL;
	struct dh_tree_edit *ed = NULL, *cur = NULL, *tmp = NULL;
	struct dh_buf enc = DH_BUF_INIT;
	struct dh_tree_ctx tc = { 0 };
	struct commit c;
	char hex[DH_HASH_HEX + 1];
	size_t i, j, ncur = 0, ntmp = 0;
	int t, rc;

	if (out)
		*out = NULL;
	memset(&c, 0, sizeof(c));
	if ((rc = schema_pass(l, l->tx_start, l->n)) || (rc = check_types(l, k->c.flex)))
		goto out;
	if ((rc = dh_node_batch_new(&batch, k->st)))
		goto out;
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
	/* group every (e a v) by full key; the last event decides the current tree */
	ed = malloc((l->n + 1) * sizeof(*ed));
	cur = malloc((l->n + 1) * sizeof(*cur));
	tmp = malloc((l->n + 1) * sizeof(*tmp));
	if (!ed || !cur || !tmp) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < l->n; i++) {
		ed[i].d = l->d[i];
		ed[i].op = DH_EDIT_PUT;
	}
	tc.st = k->st;
	tc.ix = DH_EAVT;
	tc.history = 1;
	tc.rank = l->s->rank;
	tc.nrank = (size_t)l->s->max + 1;
	lctx = &tc;
	qsort(ed, l->n, sizeof(*ed), lcmp);
	tc.history = 0;
	for (i = 0; i < l->n; i = j) {
		for (j = i + 1; j < l->n && !dh_tree_cmp(&tc, &ed[i].d, &ed[j].d); j++)
			;
		if (ed[j - 1].d.added)
			cur[ncur++] = ed[j - 1];
		if (!c.no_history)
			for (size_t m = i; m < j; m++)
				if (m != j - 1 || !ed[m].d.added) {
					const struct dh_attr *at = &l->s->attrs[ed[m].d.a];

					if (!at->no_history)
						tmp[ntmp++] = ed[m];
				}
	}
	for (t = 0; t < NTREES; t++) {
		struct dh_tree_edit *src = t < 3 ? cur : tmp;
		size_t n = t < 3 ? ncur : ntmp, m = 0;

		if (t >= 3 && c.no_history)
			break;
		tc.ix = (enum dh_index)(t % 3);
		tc.history = t >= 3;
		for (i = 0; i < n; i++) {
			if (tc.ix == DH_AVET && !l->s->attrs[src[i].d.a].in_avet)
				continue;
			ed[m++] = src[i];
		}
		lctx = &tc;
		qsort(ed, m, sizeof(*ed), lcmp);
		if ((rc = dh_tree_apply(&c.roots[t], &tc, &c.roots[t], ed, m, batch)))
			goto out;
		if (dh_node_batch_size(batch) > (64u << 20) && (rc = dh_node_batch_write(batch)))
			goto out;
	}
	/* the log: every datom, or the current ones without history */
	{
		size_t m = 0;

		if (c.no_history) {
			memcpy(ed, cur, ncur * sizeof(*ed));
			m = ncur;
		} else {
			for (i = 0; i < l->n; i++) {
				ed[m].d = l->d[i];
				ed[m].op = DH_EDIT_PUT;
				m++;
			}
		}
		tc.ix = (enum dh_index)DH_TREE_LOG;
		tc.history = 1;
		lctx = &tc;
		qsort(ed, m, sizeof(*ed), lcmp);
		if ((rc = dh_tree_apply(&c.log, &tc, &c.log, ed, m, batch)))
			goto out;
	}
	c.ndatoms = c.roots[0].count;
	c.nparents = 1;
	memcpy(c.parents[0], k->hex, DH_HASH_HEX + 1);
	c.max_eid = l->max_eid;
	c.max_tx = l->max_tx;
	c.instant_ms = l->instant;
	if (l->schema_changed && ((rc = schema_encode(&enc, l->s)) || (rc = dh_node_batch_add(batch, enc.data, enc.len, c.schema))))
		goto out;
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
		for (i = 0; i < l->n; i++) {
			if (l->d[i].added)
				r->nadded++;
			else
				r->nretracted++;
		}
		*out = r;
	}
	rc = dh_conn_refresh(l->conn);
	l->db = NULL;
out:
	free(ed);
	free(cur);
	free(tmp);
	dh_buf_release(&enc);
	dh_node_batch_free(batch);
	return rc;
}
