/*
 * tree.c - persistent B+trees of datoms as content-addressed nodes (see
 * index.h for the encodings).
 *
 * Writing is batch-only: dh_tree_apply() takes a sorted run of edits and
 * walks down only into the children the edits fall in.  Each changed node's
 * new content is rebuilt as a flat array of items (datoms in leaves, child
 * entries in branches) and cut into nodes of about NODE_TARGET bytes;
 * undersized results are merged with a neighbour so the tree stays dense.
 * Applying a sorted run to the empty tree is the bottom-up bulk build: leaves
 * are cut from the run, then each level of branches from the one below.  A
 * build too large to hold as one run streams through the builder
 * (dh_tree_builder_*), which keeps only the nodes each level is filling.
 *
 * Reading is a cursor holding one decoded node per level in its own arena,
 * so iteration allocates nothing per datom.
 */
#include <stdlib.h>
#include <string.h>

#include "index/index.h"
#include "util/mem.h"

#define NODE_TARGET 4096   /* bytes a node is cut to */
#define NODE_MIN 1024      /* below this a rewritten node is merged with a neighbour */
#define MAX_LEVELS 32

struct titem {
	struct dh_datom k;         /* leaf: the datom; branch: the child's first datom */
	uint64_t count;            /* datoms below (1 in a leaf) */
	unsigned char child[DH_HASH_LEN];
};

struct ivec {
	struct titem *v;
	size_t n, cap;
};

static int ivec_push(struct ivec *iv, const struct titem *it)
{
	int rc = dh_grow((void **)&iv->v, &iv->cap, iv->n + 1, sizeof(*iv->v), 64);

	if (!rc)
		iv->v[iv->n++] = *it;
	return rc;
}

static void ivec_release(struct ivec *iv)
{
	free(iv->v);
	iv->v = NULL;
	iv->n = iv->cap = 0;
}

/* ---- ordering ---------------------------------------------------------- */

static int cmp_i64(int64_t x, int64_t y)
{
	return x < y ? -1 : x > y;
}

static int cmp_attr(const struct dh_tree_ctx *c, dh_aid x, dh_aid y)
{
	uint32_t rx, ry;

	if (x == y)
		return 0;
	rx = x < c->nrank ? c->rank[x] : UINT32_MAX - 1;
	ry = y < c->nrank ? c->rank[y] : UINT32_MAX - 1;
	if (rx != ry)
		return rx < ry ? -1 : 1;
	return x < y ? -1 : 1;
}

/* Compare component `i` (0-based, in index order) of x with the bound's. */
static int cmp_comp(const struct dh_tree_ctx *c, int i, const struct dh_datom *x, int64_t e, dh_aid a,
	const struct dh_val *v, int64_t tx)
{
	static const char order[3][4] = { { 'e', 'a', 'v', 't' }, { 'a', 'e', 'v', 't' }, { 'a', 'v', 'e', 't' } };

	switch (order[c->ix][i]) {
	case 'e': return cmp_i64(x->e, e);
	case 'a': return cmp_attr(c, x->a, a);
	case 'v': return dh_val_cmp(&x->v, v);
	default: return cmp_i64(x->tx, tx);
	}
}

static int log_cmp(const struct dh_tree_ctx *c, const struct dh_datom *x, const struct dh_datom *y, unsigned n)
{
	int r;

	if ((r = cmp_i64(x->tx, y->tx)) || n < 2)
		return r;
	if ((r = (x->e != x->tx) - (y->e != y->tx)) || (r = cmp_i64(x->e, y->e)) || n < 3)
		return r;
	if ((r = cmp_attr(c, x->a, y->a)) || n < 4)
		return r;
	if (n > 4 && (r = (int)x->added - (int)y->added))
		return r;
	return dh_val_cmp(&x->v, &y->v);
}

int dh_tree_cmp(const struct dh_tree_ctx *c, const struct dh_datom *x, const struct dh_datom *y)
{
	int i, r;

	if (c->ix == DH_TREE_LOG)
		return log_cmp(c, x, y, 5);

	for (i = 0; i < 3; i++)
		if ((r = cmp_comp(c, i, x, y->e, y->a, &y->v, y->tx)))
			return r;
	if (!c->history)
		return 0;
	if ((r = cmp_i64(x->tx, y->tx)))
		return r;
	return (int)x->added - (int)y->added;
}

int dh_bound_cmp(const struct dh_tree_ctx *c, const struct dh_datom *x, const struct dh_bound *b)
{
	unsigned i;
	int r;

	if (c->ix == DH_TREE_LOG) {
		struct dh_datom y = { .e = b->e, .a = b->a, .v = b->v, .tx = b->tx };

		return b->n ? log_cmp(c, x, &y, b->n > 4 ? 4 : b->n) : 0;
	}
	for (i = 0; i < b->n && i < 4; i++)
		if ((r = cmp_comp(c, (int)i, x, b->e, b->a, &b->v, b->tx)))
			return r;
	return 0;
}

/* ---- node encoding ----------------------------------------------------- */

static size_t val_est(const struct dh_val *v)
{
	size_t n = 3;
	uint32_t i;

	switch (v->type) {
	case DH_STRING: case DH_KEYWORD: case DH_SYMBOL: case DH_BYTES:
	case DH_BIGINT: case DH_BIGDEC:
		return n + v->len + 2;
	case DH_LIST: case DH_VECTOR: case DH_MAP: case DH_SET: case DH_TAGGED:
		for (i = 0; i < v->len; i++)
			n += val_est(&v->u.items[i]);
		return n;
	case DH_UUID: return 19;
	case DH_INST: return 28;
	default: return 9;
	}
}

static size_t item_est(const struct titem *it, int leaf)
{
	return (leaf ? 16 : 16 + 34 + 5) + val_est(&it->k.v);
}

static int enc_datom(struct dh_buf *b, const struct dh_datom *d)
{
	int rc;

	if ((rc = dh_cw_int(b, d->e)) || (rc = dh_cw_uint(b, d->a)) ||
	    (rc = dh_cbor_encode(b, &d->v)) || (rc = dh_cw_int(b, d->tx)) ||
	    (rc = dh_cw_bool(b, d->added)))
		return rc;
	return 0;
}

static int enc_node(struct dh_buf *b, const struct dh_tree_ctx *c, uint32_t level, const struct titem *it, size_t n)
{
	size_t i;
	int rc;

	dh_buf_reset(b);
	if (level == 0) {
		if ((rc = dh_cw_head(b, 4, 3 + 5 * (uint64_t)n)) || (rc = dh_cw_text(b, "dh/leaf", 7)) ||
		    (rc = dh_cw_uint(b, c->ix)) || (rc = dh_cw_uint(b, n)))
			return rc;
		for (i = 0; i < n; i++)
			if ((rc = enc_datom(b, &it[i].k)))
				return rc;
		return 0;
	}
	if ((rc = dh_cw_head(b, 4, 4 + 7 * (uint64_t)n)) || (rc = dh_cw_text(b, "dh/branch", 9)) ||
	    (rc = dh_cw_uint(b, c->ix)) || (rc = dh_cw_uint(b, level)) || (rc = dh_cw_uint(b, n)))
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = dh_cw_bytes(b, it[i].child, DH_HASH_LEN)) || (rc = dh_cw_uint(b, it[i].count)) ||
		    (rc = enc_datom(b, &it[i].k)))
			return rc;
	return 0;
}

struct tnode {
	uint32_t level;
	size_t n;
	struct titem *items;
};

/*
 * Node decoding reads one field at a time straight into the items: no
 * vector of every field is built first (it cost 120 bytes a datom, kept
 * as long as the node stays cached, and the time to fill it).
 */
struct rd {
	const unsigned char *p;
	size_t len, pos;
	struct dh_arena *a;
	const char *key;
};

static int rd_val(struct rd *r, struct dh_val *v)
{
	size_t used;
	int rc = dh_cbor_decode(v, r->a, r->p + r->pos, r->len - r->pos, &used);

	if (rc)
		return dh_error_prefix(DH_ECORRUPT, "node '%s'", r->key);
	r->pos += used;
	return 0;
}

/*
 * An integer that fits a long, read here (most fields of a node are one):
 * 1 when read, 0 when the next item is something else (nothing consumed).
 */
static int rd_int(struct rd *r, int64_t *out)
{
	const unsigned char *p = r->p + r->pos;
	size_t left = r->len - r->pos;
	uint64_t u;
	size_t hl;

	if (!left || *p >= 0x40)
		return 0;
	switch (*p & 31) {
	case 24:
		if (left < 2)
			return 0;
		u = p[1], hl = 2;
		break;
	case 25:
		if (left < 3)
			return 0;
		u = (uint64_t)p[1] << 8 | p[2], hl = 3;
		break;
	case 26:
		if (left < 5)
			return 0;
		u = (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 8 | p[4], hl = 5;
		break;
	case 27:
		if (left < 9)
			return 0;
		u = 0;
		for (hl = 1; hl < 9; hl++)
			u = u << 8 | p[hl];
		if (u > INT64_MAX)
			return 0;
		break;
	default:
		if ((*p & 31) > 27)
			return 0;
		u = *p & 31, hl = 1;
		break;
	}
	*out = *p >= 0x20 ? -1 - (int64_t)u : (int64_t)u;
	r->pos += hl;
	return 1;
}

static int rd_long(struct rd *r, int64_t *out, const char *what)
{
	struct dh_val v;
	int rc;

	if (rd_int(r, out))
		return 0;
	if ((rc = rd_val(r, &v)))
		return rc;
	if (v.type != DH_LONG)
		return dh_error_set(DH_ECORRUPT, "node '%s': %s is not an integer", r->key, what);
	*out = v.u.i;
	return 0;
}

static int dec_datom(struct rd *r, struct dh_datom *d)
{
	struct dh_val added;
	int64_t a, v;
	int rc;

	if ((rc = rd_long(r, &d->e, "a datom's entity")) || (rc = rd_long(r, &a, "a datom's attribute")))
		return rc;
	if (rd_int(r, &v))
		d->v = dh_long(v);  /* no need for the general decoder */
	else if ((rc = rd_val(r, &d->v)))
		return rc;
	if ((rc = rd_long(r, &d->tx, "a datom's transaction")))
		return rc;
	if (r->pos < r->len && (r->p[r->pos] == 0xf4 || r->p[r->pos] == 0xf5)) {
		added.type = DH_BOOL;
		added.u.b = r->p[r->pos++] == 0xf5;
	} else if ((rc = rd_val(r, &added))) {
		return rc;
	}
	if (added.type != DH_BOOL || a <= 0 || a > UINT32_MAX)
		return dh_error_set(DH_ECORRUPT, "node '%s': malformed datom", r->key);
	d->a = (dh_aid)a;
	d->added = (uint8_t)added.u.b;
	return 0;
}

/* The head of the node's outer array: its number of items. */
static int rd_array(struct rd *r, uint64_t *n)
{
	unsigned ib, ai;
	size_t hl, k;

	if (r->pos >= r->len)
		return dh_error_set(DH_ECORRUPT, "node '%s': empty", r->key);
	ib = r->p[r->pos];
	ai = ib & 31;
	if (ib >> 5 != 4 || ai > 27)
		return dh_error_set(DH_ECORRUPT, "node '%s': not an index node", r->key);
	hl = ai < 24 ? 1 : 1 + ((size_t)1 << (ai - 24));
	if (hl > r->len - r->pos)
		return dh_error_set(DH_ECORRUPT, "node '%s': truncated", r->key);
	*n = ai;
	if (ai >= 24)
		for (*n = 0, k = 1; k < hl; k++)
			*n = *n << 8 | r->p[r->pos + k];
	r->pos += hl;
	return 0;
}

/*
 * Decode node bytes into `out` (allocating from `a`, and the values of its
 * datoms from `va` when not NULL).  `ix` and `level` (-1: any) are checked.
 */
static int dec_node(struct tnode *out, struct dh_arena *a, struct dh_arena *va, const struct dh_buf *raw,
	const char *hex, int ix, int level)
{
	struct rd r = { (const unsigned char *)raw->data, raw->len, 0, va ? va : a, NULL };
	struct dh_val tag;
	uint64_t len = 0;
	int64_t nix, lev = 0, cnt;
	size_t i, n;
	char key[DH_NODE_KEY_LEN + 1];
	int rc, leaf;

	dh_node_key(key, hex);
	r.key = key;
	if ((rc = rd_array(&r, &len)) || len < 3 || (rc = rd_val(&r, &tag)))
		return rc ? rc : dh_error_set(DH_ECORRUPT, "node '%s': not an index node", key);
	if (tag.type == DH_STRING && tag.len == 7 && !memcmp(tag.u.s, "dh/leaf", 7))
		leaf = 1;
	else if (tag.type == DH_STRING && tag.len == 9 && !memcmp(tag.u.s, "dh/branch", 9))
		leaf = 0;
	else
		return dh_error_set(DH_ECORRUPT, "node '%s': not an index node", key);
	if ((rc = rd_long(&r, &nix, "the index")))
		return rc;
	if (ix >= 0 && nix != ix)
		return dh_error_set(DH_ECORRUPT, "node '%s': belongs to another index", key);
	if (!leaf && (rc = rd_long(&r, &lev, "the level")))
		return rc;
	if ((rc = rd_long(&r, &cnt, "the item count")))
		return rc;
	if (leaf) {
		if (cnt < 0 || len != 3 + 5 * (uint64_t)cnt)
			return dh_error_set(DH_ECORRUPT, "node '%s': wrong datom count", key);
	} else if (len < 4 || lev < 1 || lev > MAX_LEVELS || cnt < 1 || len != 4 + 7 * (uint64_t)cnt) {
		return dh_error_set(DH_ECORRUPT, "node '%s': malformed branch", key);
	}
	/* every item takes a byte at least: a count the bytes cannot hold is corrupt, not an allocation */
	if ((uint64_t)cnt > raw->len)
		return dh_error_set(DH_ECORRUPT, "node '%s': more items than bytes", key);
	out->level = (uint32_t)lev;
	if (level >= 0 && out->level != (uint32_t)level)
		return dh_error_set(DH_ECORRUPT, "node '%s': at level %u, expected %d", key, out->level, level);
	n = (size_t)cnt;
	out->n = n;
	out->items = dh_arena_alloc(a, (n ? n : 1) * sizeof(*out->items));
	if (!out->items)
		return DH_ENOMEM;
	for (i = 0; i < n; i++) {
		struct titem *it = &out->items[i];

		if (leaf) {
			it->count = 1;
		} else {
			struct dh_val child;
			int64_t count;

			if ((rc = rd_val(&r, &child)) || (rc = rd_long(&r, &count, "a child's count")))
				return rc;
			if (child.type != DH_BYTES || child.len != DH_HASH_LEN || count < 1)
				return dh_error_set(DH_ECORRUPT, "node '%s': malformed child entry", key);
			memcpy(it->child, child.u.s, DH_HASH_LEN);
			it->count = (uint64_t)count;
		}
		if ((rc = dec_datom(&r, &it->k)))
			return rc;
	}
	if (r.pos != r.len)
		return dh_error_set(DH_ECORRUPT, "node '%s': %zu bytes after its items", key, r.len - r.pos);
	return 0;
}

static int load_node(struct tnode *out, struct dh_arena *a, struct dh_buf *raw, const struct dh_tree_ctx *c,
	const char *hex, int level)
{
	int rc = dh_node_get(c->st, hex, raw);

	if (rc == DH_ENOTFOUND) {
		char key[DH_NODE_KEY_LEN + 1];

		dh_node_key(key, hex);
		return dh_error_set(DH_ECORRUPT, "missing node '%s'", key);
	}
	if (rc)
		return rc;
	return dec_node(out, a, c->cache ? NULL : c->values, raw, hex, c->ix, level);
}

int dh_tree_children(const void *data, size_t len, dh_child_cb cb, void *payload)
{
	struct dh_arena *a = NULL;
	struct dh_buf raw = { (char *)data, len, len };
	struct tnode nd;
	char hex[DH_HASH_HEX + 1];
	size_t i;
	int rc;

	if ((rc = dh_arena_new(&a)))
		return rc;
	memset(hex, '0', DH_HASH_HEX);
	hex[DH_HASH_HEX] = 0;
	if ((rc = dec_node(&nd, a, NULL, &raw, hex, -1, -1)))
		goto out;
	for (i = 0; nd.level > 0 && i < nd.n; i++) {
		dh_hex(hex, nd.items[i].child, DH_HASH_LEN);
		if ((rc = cb(hex, payload)))
			goto out;
	}
out:
	dh_arena_free(a);
	return rc;
}

/* ---- writing ----------------------------------------------------------- */

struct ap {
	const struct dh_tree_ctx *c;
	struct dh_node_batch *batch;
	struct dh_arena *arena;    /* loaded nodes; freed when the apply ends */
	struct dh_buf raw, enc;
	size_t target;             /* bytes a new node is cut to */
};

static int write_node(struct ap *ap, uint32_t level, const struct titem *it, size_t n, struct titem *entry)
{
	char hex[DH_HASH_HEX + 1];
	uint64_t count = 0;
	size_t i;
	int rc;

	if ((rc = enc_node(&ap->enc, ap->c, level, it, n)))
		return rc;
	if ((rc = dh_node_batch_add(ap->batch, ap->enc.data, ap->enc.len, hex)))
		return rc;
	for (i = 0; i < n; i++)
		count += it[i].count;
	entry->k = it[0].k;
	entry->count = count;
	dh_unhex(entry->child, hex, DH_HASH_LEN);
	return 0;
}

/*
 * Cut `n` items at `level` into nodes of about ap->target bytes, write
 * them, and append their entries (level + 1 items) to `out`.  The items of
 * the last node are copied to `last` when it is not NULL.
 */
static int flush(struct ap *ap, uint32_t level, const struct titem *it, size_t n, struct ivec *out,
	struct ivec *last)
{
	size_t total = 0, i, start = 0, acc = 0, k, j = 1;
	struct titem entry;
	int rc;

	if (last)
		last->n = 0;
	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		total += item_est(&it[i], level == 0);
	k = total <= 2 * ap->target ? 1 : (total + ap->target - 1) / ap->target;
	for (i = 0; i < n; i++) {
		acc += item_est(&it[i], level == 0);
		if ((j < k && acc * k >= total * j) || i == n - 1) {
			if ((rc = write_node(ap, level, it + start, i + 1 - start, &entry)) ||
			    (rc = ivec_push(out, &entry)))
				return rc;
			if (i == n - 1 && last) {
				size_t m;

				for (m = start; m <= i; m++)
					if ((rc = ivec_push(last, &it[m])))
						return rc;
			}
			start = i + 1;
			j++;
		}
	}
	return 0;
}

static size_t ivec_est(const struct ivec *iv, int leaf)
{
	size_t t = 0, i;

	for (i = 0; i < iv->n; i++)
		t += item_est(&iv->v[i], leaf);
	return t;
}

static int apply_node(struct ap *ap, const char *hex, uint32_t level, const struct dh_tree_edit *e, size_t n,
	struct ivec *out);

/* Append the merge of leaf items and edits to out. */
static int merge_leaf(struct ap *ap, const struct tnode *nd, const struct dh_tree_edit *e, size_t n, struct ivec *out)
{
	size_t i = 0, j = 0;
	struct titem t;
	int r, rc;

	memset(&t, 0, sizeof(t));
	t.count = 1;
	while (i < nd->n || j < n) {
		if (j == n)
			r = -1;
		else if (i == nd->n)
			r = 1;
		else
			r = dh_tree_cmp(ap->c, &nd->items[i].k, &e[j].d);
		if (r < 0) {
			rc = ivec_push(out, &nd->items[i++]);
		} else {
			if (r == 0)
				i++;
			if (e[j].op == DH_EDIT_PUT) {
				t.k = e[j].d;
				rc = ivec_push(out, &t);
			} else {
				rc = 0;
			}
			j++;
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int load_items(struct ap *ap, const struct titem *entry, uint32_t level, struct ivec *to)
{
	char hex[DH_HASH_HEX + 1];
	struct tnode nd;
	size_t i;
	int rc;

	dh_hex(hex, entry->child, DH_HASH_LEN);
	if ((rc = load_node(&nd, ap->arena, &ap->raw, ap->c, hex, (int)level)))
		return rc;
	for (i = 0; i < nd.n; i++)
		if ((rc = ivec_push(to, &nd.items[i])))
			return rc;
	return 0;
}

static int apply_branch(struct ap *ap, const struct tnode *nd, const struct dh_tree_edit *e, size_t n,
	struct ivec *out)
{
	struct ivec pend = { 0 }, tmp = { 0 }, last = { 0 };
	size_t i, j = 0, k;
	uint32_t cl = nd->level - 1;
	int last_is_new = 0, rc = 0;

	for (i = 0; i < nd->n; i++) {
		size_t from = j;

		if (i + 1 < nd->n)
			while (j < n && dh_tree_cmp(ap->c, &e[j].d, &nd->items[i + 1].k) < 0)
				j++;
		else
			j = n;
		if (from == j) {
			if (pend.n && ivec_est(&pend, cl == 0) < NODE_MIN) {
				if ((rc = load_items(ap, &nd->items[i], cl, &pend)))
					goto out;
				continue;
			}
			if (pend.n) {
				if ((rc = flush(ap, cl, pend.v, pend.n, out, &last)))
					goto out;
				pend.n = 0;
			}
			if ((rc = ivec_push(out, &nd->items[i])))
				goto out;
			last_is_new = 0;
			continue;
		}
		{
			char hex[DH_HASH_HEX + 1];

			dh_hex(hex, nd->items[i].child, DH_HASH_LEN);
			if ((rc = apply_node(ap, hex, cl, e + from, j - from, &pend)))
				goto out;
		}
		if (ivec_est(&pend, cl == 0) >= NODE_MIN) {
			if ((rc = flush(ap, cl, pend.v, pend.n, out, &last)))
				goto out;
			pend.n = 0;
			last_is_new = 1;
		}
	}
	if (pend.n && ivec_est(&pend, cl == 0) < NODE_MIN && out->n > 0) {
		/* Too small to stand alone: merge with the node before it. */
		struct titem prev = out->v[--out->n];

		if (last_is_new) {
			for (k = 0; k < last.n; k++)
				if ((rc = ivec_push(&tmp, &last.v[k])))
					goto out;
		} else if ((rc = load_items(ap, &prev, cl, &tmp))) {
			goto out;
		}
		for (k = 0; k < pend.n; k++)
			if ((rc = ivec_push(&tmp, &pend.v[k])))
				goto out;
		rc = flush(ap, cl, tmp.v, tmp.n, out, NULL);
	} else if (pend.n) {
		rc = flush(ap, cl, pend.v, pend.n, out, NULL);
	}
out:
	ivec_release(&last);
	ivec_release(&pend);
	ivec_release(&tmp);
	return rc;
}

static int apply_node(struct ap *ap, const char *hex, uint32_t level, const struct dh_tree_edit *e, size_t n,
	struct ivec *out)
{
	struct tnode nd;
	int rc;

	if ((rc = load_node(&nd, ap->arena, &ap->raw, ap->c, hex, (int)level)))
		return rc;
	if (level == 0)
		return merge_leaf(ap, &nd, e, n, out);
	return apply_branch(ap, &nd, e, n, out);
}

int dh_tree_apply(struct dh_tree_root *out, const struct dh_tree_ctx *c, const struct dh_tree_root *root,
	const struct dh_tree_edit *edits, size_t n, struct dh_node_batch *batch)
{
	return dh_tree_apply_sized(out, c, root, edits, n, batch, 0);
}

int dh_tree_apply_sized(struct dh_tree_root *out, const struct dh_tree_ctx *c, const struct dh_tree_root *root,
	const struct dh_tree_edit *edits, size_t n, struct dh_node_batch *batch, size_t node_target)
{
	struct ap ap = { .c = c, .batch = batch, .target = node_target ? node_target : NODE_TARGET };
	struct ivec items = { 0 }, up = { 0 };
	uint32_t level;
	size_t i;
	int rc;

	if (!n) {
		*out = *root;
		return 0;
	}
	if (!root->hex[0]) {
		/* a new tree: built bottom-up as it streams, never held whole */
		struct dh_tree_builder *b = NULL;

		if ((rc = dh_tree_builder_new(&b, c, ap.target, batch)))
			return rc;
		for (i = 0; i < n && !rc; i++)
			if (edits[i].op == DH_EDIT_PUT)
				rc = dh_tree_builder_add(b, &edits[i].d);
		if (!rc)
			rc = dh_tree_builder_finish(b, out);
		dh_tree_builder_free(b);
		return rc;
	}
	if ((rc = dh_arena_new(&ap.arena)))
		return rc;
	level = root->level;
	if ((rc = apply_node(&ap, root->hex, level, edits, n, &items)))
		goto out;
	/* items is the content of a node at `level`; build up until one node. */
	for (;;) {
		if (items.n == 0) {
			memset(out, 0, sizeof(*out));
			break;
		}
		if (level > 0 && items.n == 1) {
			dh_hex(out->hex, items.v[0].child, DH_HASH_LEN);
			out->level = level - 1;
			out->count = items.v[0].count;
			break;
		}
		up.n = 0;
		if ((rc = flush(&ap, level, items.v, items.n, &up, NULL)))
			goto out;
		if (up.n == 1) {
			dh_hex(out->hex, up.v[0].child, DH_HASH_LEN);
			out->level = level;
			out->count = up.v[0].count;
			break;
		}
		{
			struct ivec t = items;

			items = up;
			up = t;
		}
		if (++level > MAX_LEVELS) {
			rc = dh_error_set(DH_ENOMEM, "tree too deep");
			goto out;
		}
	}
out:
	ivec_release(&items);
	ivec_release(&up);
	dh_buf_release(&ap.raw);
	dh_buf_release(&ap.enc);
	dh_arena_free(ap.arena);
	return rc;
}

/* ---- bulk building ----------------------------------------------------- */

/*
 * The builder writes a tree bottom-up from datoms in key order without
 * holding it: each level keeps the encoded items of the nodes it is
 * filling (datoms in a leaf, child entries in a branch), and once they
 * reach twice the target it writes the first target's worth as a node and
 * passes the node's entry (name, count, first datom) up a level.  The
 * entry's datom is copied as bytes from the child's first item, so nothing
 * is decoded.  At the end every level is written out, the last two nodes
 * of a level balanced, so no node but a lone root is much under target.
 */
struct blevel {
	struct dh_buf body;        /* encoded items, concatenated */
	size_t *off;               /* item i starts at off[i] */
	size_t *doff;              /* and its datom at doff[i] */
	uint64_t *cnt;             /* datoms below item i */
	size_t n, cap;
	uint64_t nodes;            /* nodes written at this level */
};

struct dh_tree_builder {
	struct dh_tree_ctx c;
	struct dh_node_batch *batch;
	size_t target;
	struct blevel lv[MAX_LEVELS + 1];
	struct dh_buf node, entry;
};

int dh_tree_builder_new(struct dh_tree_builder **out, const struct dh_tree_ctx *c, size_t node_target,
	struct dh_node_batch *batch)
{
	struct dh_tree_builder *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (!b)
		return dh_error_set(DH_ENOMEM, "out of memory");
	b->c = *c;
	b->batch = batch;
	b->target = node_target ? node_target : NODE_TARGET;
	*out = b;
	return 0;
}

void dh_tree_builder_free(struct dh_tree_builder *b)
{
	if (!b)
		return;
	for (int i = 0; i <= MAX_LEVELS; i++) {
		dh_buf_release(&b->lv[i].body);
		free(b->lv[i].off);
		free(b->lv[i].doff);
		free(b->lv[i].cnt);
	}
	dh_buf_release(&b->node);
	dh_buf_release(&b->entry);
	free(b);
}

/* Room for one more item at level l. */
static int blevel_reserve(struct blevel *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		size_t *off = realloc(l->off, cap * sizeof(*off)), *doff;
		uint64_t *cnt;

		if (off)
			l->off = off;
		doff = off ? realloc(l->doff, cap * sizeof(*doff)) : NULL;
		if (doff)
			l->doff = doff;
		cnt = doff ? realloc(l->cnt, cap * sizeof(*cnt)) : NULL;
		if (!cnt)
			return dh_error_set(DH_ENOMEM, "out of memory");
		l->cnt = cnt;
		l->cap = cap;
	}
	return 0;
}

static size_t item_end(const struct blevel *l, size_t i)
{
	return i + 1 < l->n ? l->off[i + 1] : l->body.len;
}

/* Write items [0, k) of level `lv` as a node and pass its entry up. */
static int build_emit(struct dh_tree_builder *b, int lv, size_t k)
{
	struct blevel *l = &b->lv[lv], *up = &b->lv[lv + 1];
	size_t end = item_end(l, k - 1), i, dat;
	uint64_t count = 0;
	char hex[DH_HASH_HEX + 1];
	unsigned char name[DH_HASH_LEN];
	int rc;

	if (lv + 1 > MAX_LEVELS)
		return dh_error_set(DH_ENOMEM, "tree too deep");
	for (i = 0; i < k; i++)
		count += l->cnt[i];
	dh_buf_reset(&b->node);
	if (lv == 0) {
		if ((rc = dh_cw_head(&b->node, 4, 3 + 5 * (uint64_t)k)) || (rc = dh_cw_text(&b->node, "dh/leaf", 7)) ||
		    (rc = dh_cw_uint(&b->node, b->c.ix)) || (rc = dh_cw_uint(&b->node, k)))
			return rc;
	} else if ((rc = dh_cw_head(&b->node, 4, 4 + 7 * (uint64_t)k)) || (rc = dh_cw_text(&b->node, "dh/branch", 9)) ||
	           (rc = dh_cw_uint(&b->node, b->c.ix)) || (rc = dh_cw_uint(&b->node, (uint64_t)lv)) ||
	           (rc = dh_cw_uint(&b->node, k))) {
		return rc;
	}
	if ((rc = dh_buf_add(&b->node, l->body.data, end)) ||
	    (rc = dh_node_batch_add(b->batch, b->node.data, b->node.len, hex)))
		return rc;
	dh_unhex(name, hex, DH_HASH_LEN);
	dh_buf_reset(&b->entry);
	if ((rc = dh_cw_bytes(&b->entry, name, DH_HASH_LEN)) || (rc = dh_cw_uint(&b->entry, count)))
		return rc;
	dat = b->entry.len;
	if ((rc = dh_buf_add(&b->entry, l->body.data + l->doff[0], item_end(l, 0) - l->doff[0])) ||
	    (rc = blevel_reserve(up)))
		return rc;
	up->off[up->n] = up->body.len;
	up->doff[up->n] = up->body.len + dat;
	up->cnt[up->n] = count;
	if ((rc = dh_buf_add(&up->body, b->entry.data, b->entry.len)))
		return rc;
	up->n++;
	/* drop the written items */
	memmove(l->body.data, l->body.data + end, l->body.len - end);
	l->body.len -= end;
	for (i = k; i < l->n; i++) {
		l->off[i - k] = l->off[i] - end;
		l->doff[i - k] = l->doff[i] - end;
		l->cnt[i - k] = l->cnt[i];
	}
	l->n -= k;
	l->nodes++;
	return 0;
}

/* The first k items whose bytes reach `bytes`. */
static size_t build_cut(const struct blevel *l, size_t bytes)
{
	size_t k = 1;

	while (k < l->n && l->off[k] < bytes)
		k++;
	return k;
}

/* Write nodes while a level holds twice the target, up the levels. */
static int build_spill(struct dh_tree_builder *b, int lv)
{
	int rc;

	while (lv <= MAX_LEVELS && b->lv[lv].body.len >= 2 * b->target) {
		if ((rc = build_emit(b, lv, build_cut(&b->lv[lv], b->target))))
			return rc;
		lv++;
	}
	return 0;
}

int dh_tree_builder_add(struct dh_tree_builder *b, const struct dh_datom *d)
{
	struct blevel *l = &b->lv[0];
	int rc;

	if ((rc = blevel_reserve(l)))
		return rc;
	l->off[l->n] = l->doff[l->n] = l->body.len;
	l->cnt[l->n] = 1;
	if ((rc = enc_datom(&l->body, d)))
		return rc;
	l->n++;
	return l->body.len >= 2 * b->target ? build_spill(b, 0) : 0;
}

int dh_tree_builder_finish(struct dh_tree_builder *b, struct dh_tree_root *out)
{
	int lv, rc;

	memset(out, 0, sizeof(*out));
	for (lv = 0; lv <= MAX_LEVELS; lv++) {
		struct blevel *l = &b->lv[lv];

		if (!l->n)
			return 0;   /* nothing was added */
		if (lv > 0 && l->n == 1 && !l->nodes) {
			/* a lone entry: its child is the root */
			dh_hex(out->hex, (const unsigned char *)l->body.data + 2, DH_HASH_LEN);
			out->level = (uint32_t)lv - 1;
			out->count = l->cnt[0];
			return 0;
		}
		while (l->n && l->body.len >= 2 * b->target)
			if ((rc = build_emit(b, lv, build_cut(l, b->target))))
				return rc;
		if (l->n > 1 && l->body.len > b->target + b->target / 2) {
			size_t k = build_cut(l, l->body.len / 2);

			if (k < l->n && (rc = build_emit(b, lv, k)))
				return rc;
		}
		if (l->n && (rc = build_emit(b, lv, l->n)))
			return rc;
	}
	return dh_error_set(DH_ENOMEM, "tree too deep");
}

/* ---- the decoded-node cache --------------------------------------------- */

/*
 * Decoded nodes by name, shared by every reader of a store's trees: nodes
 * are immutable, so an entry never goes stale.  Iterators pin the entries
 * they stand on (the datoms they hand out point into them); unpinned entries
 * are evicted least recently used first once the cache holds more than its
 * byte budget.
 */
struct centry {
	char hex[DH_HASH_HEX + 1];
	struct tnode nd;
	struct dh_arena *arena;
	size_t bytes;
	int pins;
	struct centry *prev, *next;    /* LRU list, most recent first */
	struct centry *hnext;          /* hash chain */
};

struct dh_node_cache {
	int refs;
	size_t max, bytes, n, hcap;
	struct centry **hash;
	struct centry *head, *tail;
	struct dh_buf raw;
};

int dh_node_cache_new(struct dh_node_cache **out, size_t max_bytes)
{
	struct dh_node_cache *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c || !(c->hash = calloc(1024, sizeof(*c->hash)))) {
		free(c);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	c->refs = 1;
	c->hcap = 1024;
	c->max = max_bytes;
	*out = c;
	return 0;
}

struct dh_node_cache *dh_node_cache_ref(struct dh_node_cache *c)
{
	if (c)
		c->refs++;
	return c;
}

void dh_node_cache_free(struct dh_node_cache *c)
{
	struct centry *e, *n;

	if (!c || --c->refs > 0)
		return;
	for (e = c->head; e; e = n) {
		n = e->next;
		dh_arena_free(e->arena);
		free(e);
	}
	free(c->hash);
	dh_buf_release(&c->raw);
	free(c);
}

static size_t hex_slot(const struct dh_node_cache *c, const char *hex)
{
	size_t h = 0;
	int i;

	for (i = 0; i < 16; i++)
		h = h * 16 + (size_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
	return h & (c->hcap - 1);
}

static void lru_unlink(struct dh_node_cache *c, struct centry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_front(struct dh_node_cache *c, struct centry *e)
{
	e->next = c->head;
	e->prev = NULL;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void evict(struct dh_node_cache *c)
{
	struct centry *e = c->tail, *p;

	while (e && c->bytes > c->max) {
		p = e->prev;
		if (!e->pins) {
			struct centry **q = &c->hash[hex_slot(c, e->hex)];

			while (*q != e)
				q = &(*q)->hnext;
			*q = e->hnext;
			lru_unlink(c, e);
			c->bytes -= e->bytes;
			c->n--;
			dh_arena_free(e->arena);
			free(e);
		}
		e = p;
	}
}

static int cache_get(struct dh_node_cache *c, const struct dh_tree_ctx *tc, const char *hex, int level,
	struct centry **out)
{
	struct centry *e;
	int rc;

	for (e = c->hash[hex_slot(c, hex)]; e; e = e->hnext)
		if (!memcmp(e->hex, hex, DH_HASH_HEX)) {
			if (level >= 0 && e->nd.level != (uint32_t)level) {
				char key[DH_NODE_KEY_LEN + 1];

				dh_node_key(key, hex);
				return dh_error_set(DH_ECORRUPT, "node '%s': at level %u, expected %d", key, e->nd.level, level);
			}
			e->pins++;
			lru_unlink(c, e);
			lru_front(c, e);
			*out = e;
			return 0;
		}
	e = calloc(1, sizeof(*e));
	if (!e)
		return dh_error_set(DH_ENOMEM, "out of memory");
	if ((rc = dh_arena_new(&e->arena)) || (rc = load_node(&e->nd, e->arena, &c->raw, tc, hex, level))) {
		dh_arena_free(e->arena);
		free(e);
		return rc;
	}
	memcpy(e->hex, hex, DH_HASH_HEX + 1);
	e->bytes = dh_arena_used(e->arena) + sizeof(*e);
	e->pins = 1;
	e->hnext = c->hash[hex_slot(c, hex)];
	c->hash[hex_slot(c, hex)] = e;
	lru_front(c, e);
	c->bytes += e->bytes;
	c->n++;
	evict(c);
	*out = e;
	return 0;
}

int dh_node_cache_add(struct dh_node_cache *c, const char *hex, int ix, int level, const void *data, size_t len)
{
	struct dh_buf raw = { (char *)data, len, len };
	struct centry *e;
	int rc;

	for (e = c->hash[hex_slot(c, hex)]; e; e = e->hnext)
		if (!memcmp(e->hex, hex, DH_HASH_HEX))
			return 0;
	if (!(e = calloc(1, sizeof(*e))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	if ((rc = dh_arena_new(&e->arena)) || (rc = dec_node(&e->nd, e->arena, NULL, &raw, hex, ix, level))) {
		dh_arena_free(e->arena);
		free(e);
		return rc;
	}
	memcpy(e->hex, hex, DH_HASH_HEX);
	e->hex[DH_HASH_HEX] = '\0';
	e->bytes = dh_arena_used(e->arena) + sizeof(*e);
	e->hnext = c->hash[hex_slot(c, hex)];
	c->hash[hex_slot(c, hex)] = e;
	lru_front(c, e);
	c->bytes += e->bytes;
	c->n++;
	evict(c);
	return 0;
}

static void cache_put(struct centry *e)
{
	if (e)
		e->pins--;
}

/* ---- reading ----------------------------------------------------------- */

struct tlevel {
	struct dh_arena *arena;    /* without a cache */
	struct centry *ce;         /* with one: the pinned entry */
	struct tnode nd;
	char hex[DH_HASH_HEX + 1];
	size_t pos;
};

struct dh_tree_iter {
	struct dh_tree_ctx c;
	struct dh_tree_root root;
	struct dh_bound lo, hi;
	int has_hi;
	int done;
	int depth;                 /* levels in use: lv[0] root ... lv[depth-1] leaf */
	struct tlevel lv[MAX_LEVELS + 1];
	struct dh_buf raw;
	struct dh_arena *barena;   /* copies of bound values */
};

static int lv_load(struct dh_tree_iter *it, int d, const char *hex, int level)
{
	struct tlevel *l = &it->lv[d];
	int rc;

	if (l->hex[0] && !strcmp(l->hex, hex))
		return 0;
	if (it->c.cache) {
		struct centry *e = NULL;

		l->hex[0] = 0;
		if ((rc = cache_get(it->c.cache, &it->c, hex, level, &e)))
			return rc;
		if (l->ce)
			cache_put(l->ce);
		l->ce = e;
		l->nd = e->nd;
		memcpy(l->hex, hex, sizeof(l->hex));
		return 0;
	}
	if (!l->arena && (rc = dh_arena_new(&l->arena)))
		return rc;
	/* node after node of about one size: the same blocks, no pages touched anew */
	dh_arena_rewind(l->arena);
	l->hex[0] = 0;
	if ((rc = load_node(&l->nd, l->arena, &it->raw, &it->c, hex, level)))
		return rc;
	memcpy(l->hex, hex, sizeof(l->hex));
	return 0;
}

static int cache_has(const struct dh_node_cache *c, const char *hex)
{
	for (const struct centry *e = c->hash[hex_slot(c, hex)]; e; e = e->hnext)
		if (!memcmp(e->hex, hex, DH_HASH_HEX))
			return 1;
	return 0;
}

struct pair {
	struct dh_node_cache *cache;
	int ix;
	const char *const *names;
};

static int pair_add(size_t i, const void *data, size_t len, void *payload)
{
	struct pair *p = payload;

	(void)dh_node_cache_add(p->cache, p->names[i], p->ix, 0, data, len);
	return 0;
}

/*
 * An EAVT lookup whose entity goes on into the next leaf reads both leaves
 * in one round trip: the entity's other attributes are usually asked for
 * next (a pull, more clauses on it).  Failures are left for the read that
 * needs the leaf to report.
 */
static void leaf_pair(struct dh_tree_iter *it, const struct tnode *parent, size_t pos, const char *hex)
{
	char next[DH_HASH_HEX + 1];
	const char *names[2];
	struct pair p = { it->c.cache, it->c.ix, names };
	size_t n = 0;

	dh_hex(next, parent->items[pos + 1].child, DH_HASH_LEN);
	if (!cache_has(it->c.cache, hex))
		names[n++] = hex;
	if (n && !cache_has(it->c.cache, next))
		names[n++] = next;
	if (n == 2)
		(void)dh_node_get_many(it->c.st, names, n, pair_add, &p);
}

/* Position the cursor on the first datom >= b (prefix), from the root. */
static int descend(struct dh_tree_iter *it, const struct dh_bound *b)
{
	char hex[DH_HASH_HEX + 1];
	int d = 0, rc;
	uint32_t level = it->root.level;

	memcpy(hex, it->root.hex, sizeof(hex));
	for (;;) {
		struct tlevel *l;
		size_t lo, hi;

		if ((rc = lv_load(it, d, hex, (int)level)))
			return rc;
		l = &it->lv[d];
		if (level == 0) {
			lo = 0;
			hi = l->nd.n;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;

				if (dh_bound_cmp(&it->c, &l->nd.items[mid].k, b) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			l->pos = lo;
			it->depth = d + 1;
			return 0;
		}
		/* the last child whose first datom is < b, or the first */
		lo = 0;
		hi = l->nd.n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (dh_bound_cmp(&it->c, &l->nd.items[mid].k, b) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		l->pos = lo ? lo - 1 : 0;
		dh_hex(hex, l->nd.items[l->pos].child, DH_HASH_LEN);
		if (level == 1 && it->c.ix == DH_EAVT && it->c.cache && b->n >= 1 && l->pos + 1 < l->nd.n &&
		    l->nd.items[l->pos + 1].k.e == b->e)
			leaf_pair(it, &l->nd, l->pos, hex);
		level--;
		d++;
	}
}

static int bound_copy(struct dh_bound *to, const struct dh_bound *from, struct dh_arena *a)
{
	*to = *from;
	return from->n ? dh_val_copy(&to->v, a, &from->v) : 0;
}

int dh_tree_iter_new(struct dh_tree_iter **out, const struct dh_tree_ctx *c, const struct dh_tree_root *root,
	const struct dh_bound *lo, const struct dh_bound *hi)
{
	struct dh_tree_iter *it = calloc(1, sizeof(*it));
	int rc = 0;

	*out = NULL;
	if (!it)
		return dh_error_set(DH_ENOMEM, "out of memory");
	it->c = *c;
	it->root = *root;
	if ((rc = dh_arena_new(&it->barena)))
		goto out;
	if (lo && (rc = bound_copy(&it->lo, lo, it->barena)))
		goto out;
	if (hi) {
		if ((rc = bound_copy(&it->hi, hi, it->barena)))
			goto out;
		it->has_hi = 1;
	}
	if (!root->hex[0])
		it->done = 1;
	else
		rc = descend(it, &it->lo);
out:
	if (rc) {
		dh_tree_iter_free(it);
		return rc;
	}
	*out = it;
	return 0;
}

int dh_tree_iter_next(struct dh_tree_iter *it, const struct dh_datom **out)
{
	struct tlevel *leaf;
	int rc;

	if (it->done)
		return 0;
	leaf = &it->lv[it->depth - 1];
	while (leaf->pos >= leaf->nd.n) {
		/* climb to the first ancestor with a next child, then go down its left edge */
		int d = it->depth - 2;
		char hex[DH_HASH_HEX + 1];

		while (d >= 0 && it->lv[d].pos + 1 >= it->lv[d].nd.n)
			d--;
		/* the next subtree starts past the upper bound: done, without reading it */
		if (d < 0 || (it->has_hi && dh_bound_cmp(&it->c, &it->lv[d].nd.items[it->lv[d].pos + 1].k, &it->hi) > 0)) {
			it->done = 1;
			return 0;
		}
		it->lv[d].pos++;
		for (; d < it->depth - 1; d++) {
			dh_hex(hex, it->lv[d].nd.items[it->lv[d].pos].child, DH_HASH_LEN);
			if ((rc = lv_load(it, d + 1, hex, (int)(it->depth - 2 - d))))
				return rc;
			it->lv[d + 1].pos = 0;
		}
	}
	*out = &leaf->nd.items[leaf->pos].k;
	if (it->has_hi && dh_bound_cmp(&it->c, *out, &it->hi) > 0) {
		it->done = 1;
		return 0;
	}
	leaf->pos++;
	return 1;
}

int dh_tree_iter_seek(struct dh_tree_iter *it, const struct dh_bound *to)
{
	struct tlevel *leaf;

	if (it->done)
		return 0;
	leaf = &it->lv[it->depth - 1];
	if (leaf->pos < leaf->nd.n && dh_bound_cmp(&it->c, &leaf->nd.items[leaf->pos].k, to) >= 0)
		return 0;
	if (leaf->pos < leaf->nd.n && leaf->nd.n &&
	    dh_bound_cmp(&it->c, &leaf->nd.items[leaf->nd.n - 1].k, to) >= 0) {
		/* within this leaf */
		while (dh_bound_cmp(&it->c, &leaf->nd.items[leaf->pos].k, to) < 0)
			leaf->pos++;
		return 0;
	}
	return descend(it, to);
}

void dh_tree_iter_free(struct dh_tree_iter *it)
{
	int i;

	if (!it)
		return;
	for (i = 0; i <= MAX_LEVELS; i++) {
		dh_arena_free(it->lv[i].arena);
		cache_put(it->lv[i].ce);
	}
	dh_buf_release(&it->raw);
	dh_arena_free(it->barena);
	free(it);
}

/* ---- verification ------------------------------------------------------ */

struct vctx {
	const struct dh_tree_ctx *c;
	dh_problem_cb cb;
	void *payload;
	int bad;
	struct dh_buf raw;
	struct dh_datom prev;
	int have_prev;
	struct dh_arena *prev_arena[2];
	int flip;
};

static int problem(struct vctx *v, const char *hex, const char *what)
{
	char key[DH_NODE_KEY_LEN + 1], msg[DH_NODE_KEY_LEN + 200];

	dh_node_key(key, hex);
	snprintf(msg, sizeof(msg), "node '%s': %s", key, what);
	v->bad = 1;
	return v->cb ? v->cb(msg, v->payload) : 0;
}

static int verify_node(struct vctx *v, const char *hex, int level, const struct dh_datom *first, uint64_t count)
{
	struct dh_arena *a = NULL;
	struct tnode nd;
	uint64_t sum = 0;
	size_t i;
	int rc;

	if ((rc = dh_arena_new(&a)))
		return rc;
	rc = load_node(&nd, a, &v->raw, v->c, hex, level);
	if (rc == DH_ECORRUPT) {
		rc = problem(v, hex, dh_errmsg());
		goto out;
	}
	if (rc)
		goto out;
	if (nd.n == 0) {
		rc = problem(v, hex, "empty node");
		goto out;
	}
	if (first && dh_tree_cmp(v->c, first, &nd.items[0].k) != 0 &&
	    (rc = problem(v, hex, "first datom differs from its parent's separator")))
		goto out;
	for (i = 0; i < nd.n; i++) {
		if (level == 0) {
			if (v->have_prev && dh_tree_cmp(v->c, &v->prev, &nd.items[i].k) >= 0 &&
			    (rc = problem(v, hex, "datoms out of order")))
				goto out;
			/* keep a copy of the previous datom across leaves */
			v->flip ^= 1;
			dh_arena_reset(v->prev_arena[v->flip]);
			v->prev = nd.items[i].k;
			if ((rc = dh_val_copy(&v->prev.v, v->prev_arena[v->flip], &nd.items[i].k.v)))
				goto out;
			v->have_prev = 1;
			sum++;
		} else {
			char ch[DH_HASH_HEX + 1];

			if (i && dh_tree_cmp(v->c, &nd.items[i - 1].k, &nd.items[i].k) >= 0 &&
			    (rc = problem(v, hex, "separators out of order")))
				goto out;
			dh_hex(ch, nd.items[i].child, DH_HASH_LEN);
			if ((rc = verify_node(v, ch, level - 1, &nd.items[i].k, nd.items[i].count)))
				goto out;
			sum += nd.items[i].count;
		}
	}
	if (sum != count && (rc = problem(v, hex, "datom count differs from its parent's")))
		goto out;
out:
	dh_arena_free(a);
	return rc;
}

int dh_tree_verify(const struct dh_tree_ctx *c, const struct dh_tree_root *root, dh_problem_cb cb, void *payload)
{
	struct vctx v = { .c = c, .cb = cb, .payload = payload };
	int rc;

	if (!root->hex[0])
		return 0;
	if ((rc = dh_arena_new(&v.prev_arena[0])) || (rc = dh_arena_new(&v.prev_arena[1])))
		goto out;
	rc = verify_node(&v, root->hex, (int)root->level, NULL, root->count);
out:
	dh_arena_free(v.prev_arena[0]);
	dh_arena_free(v.prev_arena[1]);
	dh_buf_release(&v.raw);
	if (!rc && v.bad)
		rc = dh_error_set(DH_ECORRUPT, "tree problems found");
	return rc;
}
