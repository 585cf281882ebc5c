/*
 * commit.c - the commit and log nodes of a database, reading them back into
 * a shared core, node children for sync/gc/verify, and absorption of the
 * log tail into the trees.
 *
 * A commit names its parents, the schema node, the roots of the six trees
 * (current EAVT AEVT AVET; temporal EAVT AEVT AVET holding retracted
 * assertions and retractions), and the log nodes of transactions the trees
 * have not absorbed yet (the tail).  A small transaction writes one log
 * node and one commit; when the tail grows past TAIL_MAX_NODES nodes or
 * TAIL_MAX_DATOMS datoms, the next commit absorbs it into the trees in one
 * sorted batch per tree.
 *
 * A seventh tree, the log, holds every datom in transaction order (only the
 * current ones when history is not kept), for export.
 *
 * commit: ["dh/commit", 1, [parent...], schema, [root x 6, log root], [log...],
 *          tail_datoms, max_eid, max_tx, instant_ms, flex, no_history, ndatoms]
 *   root: null or [name, level, count]
 *   Version 2 appends [cut...]: the commits where history stops (dh-gc
 *   --before dropped what lay beyond them; see dh_commit_cut).  Version 3
 *   appends [cut...] (possibly empty) and the bytes of the schema node when
 *   they are at most SCHEMA_INLINE_MAX: a reader opening the commit needs
 *   no request for the schema (S3 and GCS pay one per node).  The schema
 *   node is still written, and still a child of the commit.  A commit with
 *   a larger schema and no cut is written as version 1, with a cut as 2.
 * log:    ["dh/log", tx, n, (e a v tx added prev_tx) x n]
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/internal.h"

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cw_hash(struct dh_buf *b, const char *hex)
{
	unsigned char bin[DH_HASH_LEN];

	dh_unhex(bin, hex, DH_HASH_LEN);
	return dh_cw_bytes(b, bin, DH_HASH_LEN);
}

int commit_encode(struct dh_buf *b, const struct commit *c)
{
	size_t i;
	int rc;

	unsigned version = c->schema_bytes ? 3 : c->ncut ? 2 : 1;

	if ((rc = dh_cw_head(b, 4, 12 + version)) || (rc = dh_cw_text(b, "dh/commit", 9)) ||
	    (rc = dh_cw_uint(b, version)) || (rc = dh_cw_head(b, 4, c->nparents)))
		return rc;
	for (i = 0; i < c->nparents; i++)
		if ((rc = cw_hash(b, c->parents[i])))
			return rc;
	if ((rc = cw_hash(b, c->schema)) || (rc = dh_cw_head(b, 4, NTREES + 1)))
		return rc;
	for (i = 0; i <= NTREES; i++) {
		const struct dh_tree_root *r = i < NTREES ? &c->roots[i] : &c->log;

		if (!r->hex[0]) {
			rc = dh_cw_null(b);
		} else if (!(rc = dh_cw_head(b, 4, 3)) && !(rc = cw_hash(b, r->hex)) &&
			   !(rc = dh_cw_uint(b, r->level))) {
			rc = dh_cw_uint(b, r->count);
		}
		if (rc)
			return rc;
	}
	if ((rc = dh_cw_head(b, 4, c->ntail)))
		return rc;
	for (i = 0; i < c->ntail; i++)
		if ((rc = cw_hash(b, c->tail[i])))
			return rc;
	if ((rc = dh_cw_uint(b, c->tail_datoms)) || (rc = dh_cw_int(b, c->max_eid)) ||
	    (rc = dh_cw_int(b, c->max_tx)) || (rc = dh_cw_int(b, c->instant_ms)) ||
	    (rc = dh_cw_uint(b, (uint64_t)c->flex)) || (rc = dh_cw_uint(b, (uint64_t)c->no_history)) ||
	    (rc = dh_cw_uint(b, c->ndatoms)))
		return rc;
	if (version >= 2) {
		if ((rc = dh_cw_head(b, 4, c->ncut)))
			return rc;
		for (i = 0; i < c->ncut; i++)
			if ((rc = cw_hash(b, c->cut[i])))
				return rc;
	}
	if (version == 3)
		return dh_cw_bytes(b, c->schema_bytes, c->schema_len);
	return 0;
}

void commit_release(struct commit *c)
{
	free(c->tail);
	c->tail = NULL;
	c->ntail = 0;
}

static int is_arr(const struct dh_val *v)
{
	return v->type == DH_VECTOR || v->type == DH_LIST;
}

int commit_decode(struct commit *c, const struct dh_val *node, const char *key)
{
	const struct dh_val *f = node->u.items;
	int64_t x;
	size_t i;
	int rc;

	memset(c, 0, sizeof(*c));
	if (node->len < 13 || f[1].type != DH_LONG || f[1].u.i < 1 || f[1].u.i > 3 || node->len != 12 + (size_t)f[1].u.i ||
	    !is_arr(&f[2]) || f[2].len > DH_MAX_PARENTS || !is_arr(&f[4]) || f[4].len != NTREES + 1 || !is_arr(&f[5]))
		goto bad;
	if (node->len >= 14) {
		if (!is_arr(&f[13]) || f[13].len < (node->len == 14) || f[13].len > DH_MAX_CUT)
			goto bad;
		c->ncut = f[13].len;
		for (i = 0; i < c->ncut; i++)
			if (dh_cr_hash(&f[13].u.items[i], c->cut[i], key))
				goto bad;
	}
	c->nparents = f[2].len;
	for (i = 0; i < c->nparents; i++)
		if (dh_cr_hash(&f[2].u.items[i], c->parents[i], key))
			goto bad;
	if (dh_cr_hash(&f[3], c->schema, key))
		goto bad;
	if (node->len == 15) {
		char hex[DH_HASH_HEX + 1];

		if (f[14].type != DH_BYTES || f[14].len > SCHEMA_INLINE_MAX)
			goto bad;
		dh_node_name(hex, f[14].u.s, f[14].len);
		if (strcmp(hex, c->schema))
			return dh_error_set(DH_ECORRUPT, "commit '%s': its schema does not match its name", key);
		c->schema_bytes = (const unsigned char *)f[14].u.s;
		c->schema_len = f[14].len;
	}
	for (i = 0; i <= NTREES; i++) {
		const struct dh_val *r = &f[4].u.items[i];
		struct dh_tree_root *to = i < NTREES ? &c->roots[i] : &c->log;

		if (r->type == DH_NIL)
			continue;
		if (!is_arr(r) || r->len != 3 || dh_cr_hash(&r->u.items[0], to->hex, key) ||
		    r->u.items[1].type != DH_LONG || r->u.items[1].u.i < 0 || r->u.items[1].u.i > 32 ||
		    r->u.items[2].type != DH_LONG || r->u.items[2].u.i < 1)
			goto bad;
		to->level = (uint32_t)r->u.items[1].u.i;
		to->count = (uint64_t)r->u.items[2].u.i;
	}
	c->ntail = f[5].len;
	if (c->ntail) {
		c->tail = malloc(c->ntail * sizeof(*c->tail));
		if (!c->tail)
			return dh_error_set(DH_ENOMEM, "out of memory");
		for (i = 0; i < c->ntail; i++)
			if (dh_cr_hash(&f[5].u.items[i], c->tail[i], key))
				goto bad;
	}
	for (i = 6; i <= 12; i++)
		if (f[i].type != DH_LONG)
			goto bad;
	c->tail_datoms = (uint64_t)f[6].u.i;
	c->max_eid = f[7].u.i;
	c->max_tx = f[8].u.i;
	c->instant_ms = f[9].u.i;
	x = f[10].u.i;
	c->flex = x == 1;
	c->no_history = f[11].u.i == 1;
	c->ndatoms = (uint64_t)f[12].u.i;
	return 0;
bad:
	rc = dh_error_set(DH_ECORRUPT, "commit '%s' is malformed", key);
	commit_release(c);
	return rc;
}

int log_encode(struct dh_buf *b, int64_t tx, const struct event *ev, size_t n)
{
	size_t i;
	int rc;

	if ((rc = dh_cw_head(b, 4, 3 + 6 * (uint64_t)n)) || (rc = dh_cw_text(b, "dh/log", 6)) ||
	    (rc = dh_cw_int(b, tx)) || (rc = dh_cw_uint(b, n)))
		return rc;
	for (i = 0; i < n; i++) {
		const struct dh_datom *d = &ev[i].d;

		if ((rc = dh_cw_int(b, d->e)) || (rc = dh_cw_uint(b, d->a)) || (rc = dh_cbor_encode(b, &d->v)) ||
		    (rc = dh_cw_int(b, d->tx)) || (rc = dh_cw_bool(b, d->added)) || (rc = dh_cw_int(b, ev[i].prev_tx)))
			return rc;
	}
	return 0;
}

int log_decode(struct dh_arena *a, const struct dh_val *node, const char *key, struct event **ev, size_t *n)
{
	const struct dh_val *f = node->u.items;
	struct event *out;
	size_t i, m;

	if (node->len < 3 || f[1].type != DH_LONG || f[2].type != DH_LONG || f[2].u.i < 0 ||
	    node->len != 3 + 6 * (uint64_t)f[2].u.i)
		return dh_error_set(DH_ECORRUPT, "log node '%s' is malformed", key);
	m = (size_t)f[2].u.i;
	out = dh_arena_alloc(a, (m ? m : 1) * sizeof(*out));
	if (!out)
		return DH_ENOMEM;
	for (i = 0; i < m; i++) {
		const struct dh_val *g = &f[3 + 6 * i];

		if (g[0].type != DH_LONG || g[1].type != DH_LONG || g[1].u.i <= 0 || g[1].u.i > UINT32_MAX ||
		    g[3].type != DH_LONG || g[4].type != DH_BOOL || g[5].type != DH_LONG)
			return dh_error_set(DH_ECORRUPT, "log node '%s': malformed datom %zu", key, i);
		out[i].d.e = g[0].u.i;
		out[i].d.a = (dh_aid)g[1].u.i;
		out[i].d.v = g[2];
		out[i].d.tx = g[3].u.i;
		out[i].d.added = (uint8_t)g[4].u.b;
		out[i].prev_tx = g[5].u.i;
	}
	*ev = out;
	*n = m;
	return 0;
}

static const char *kind_of(const struct dh_val *v)
{
	static const char *const kinds[] = { "dh/commit", "dh/branch", "dh/leaf", "dh/log", "dh/schema" };
	size_t i;

	if (!is_arr(v) || v->len < 2 || v->u.items[0].type != DH_STRING)
		return NULL;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (v->u.items[0].len == strlen(kinds[i]) && !memcmp(v->u.items[0].u.s, kinds[i], v->u.items[0].len))
			return kinds[i] + 3;
	return NULL;
}

/* Decode the bytes of node `hex`, which must be of kind `kind`, into *out. */
static int node_decode(const void *data, size_t len, const char *hex, const char *kind, struct dh_arena *a,
	struct dh_val *out)
{
	char key[DH_NODE_KEY_LEN + 1];
	const char *k;
	size_t used;

	dh_node_key(key, hex);
	if (dh_cbor_decode(out, a, data, len, &used) || used != len)
		return dh_error_set(DH_ECORRUPT, "node '%s' is not valid CBOR", key);
	k = kind_of(out);
	if (!k || strcmp(k, kind))
		return dh_error_set(DH_ECORRUPT, "node '%s' is not a %s node", key, kind);
	return 0;
}

int node_read(struct dh_store *st, const char *hex, const char *kind, struct dh_arena *a, struct dh_val *out)
{
	struct dh_buf raw = DH_BUF_INIT;
	char key[DH_NODE_KEY_LEN + 1];
	int rc;

	dh_node_key(key, hex);
	rc = dh_node_get(st, hex, &raw);
	if (rc == DH_ENOTFOUND)
		rc = dh_error_set(DH_ECORRUPT, "missing node '%s'", key);
	if (!rc)
		rc = node_decode(raw.data, raw.len, hex, kind, a, out);
	dh_buf_release(&raw);
	return rc;
}

const char *dh_node_kind(const void *data, size_t len)
{
	struct dh_arena *a = NULL;
	struct dh_val v;
	const char *k = NULL;
	size_t used;

	if (dh_arena_new(&a))
		return NULL;
	if (!dh_cbor_decode(&v, a, data, len, &used) && used == len)
		k = kind_of(&v);
	dh_arena_free(a);
	return k;
}

int dh_node_children(const void *data, size_t len, dh_child_cb cb, void *payload)
{
	struct dh_arena *a = NULL;
	struct dh_val v;
	struct commit c;
	const char *k = NULL;
	size_t used, i;
	int rc;

	if ((rc = dh_arena_new(&a)))
		return rc;
	if (dh_cbor_decode(&v, a, data, len, &used) || used != len || !(k = kind_of(&v))) {
		rc = dh_error_set(DH_ECORRUPT, "not a dh node");
		goto out;
	}
	if (!strcmp(k, "branch") || !strcmp(k, "leaf")) {
		rc = dh_tree_children(data, len, cb, payload);
	} else if (!strcmp(k, "commit")) {
		if ((rc = commit_decode(&c, &v, "(commit)")))
			goto out;
		for (i = 0; !rc && i < c.nparents; i++)
			rc = cb(c.parents[i], payload);
		if (!rc)
			rc = cb(c.schema, payload);
		for (i = 0; !rc && i < NTREES; i++)
			if (c.roots[i].hex[0])
				rc = cb(c.roots[i].hex, payload);
		if (!rc && c.log.hex[0])
			rc = cb(c.log.hex, payload);
		for (i = 0; !rc && i < c.ntail; i++)
			rc = cb(c.tail[i], payload);
		commit_release(&c);
	}
out:
	dh_arena_free(a);
	return rc;
}

/*
 * The kind of a node from its first bytes: every node is a CBOR array
 * whose first item is its kind as a short text string.  NULL otherwise.
 */
static const char *peek_kind(const unsigned char *p, size_t len)
{
	static const char *const kinds[] = { "dh/commit", "dh/branch", "dh/leaf", "dh/log", "dh/schema" };
	size_t at = 1, n;

	if (len < 2 || p[0] >> 5 != 4)
		return NULL;
	if ((p[0] & 31) == 24)
		at = 2;
	else if ((p[0] & 31) == 25)
		at = 3;
	else if ((p[0] & 31) == 26)
		at = 5;
	else if ((p[0] & 31) > 23)
		return NULL;
	if (at >= len || p[at] >> 5 != 3 || (n = p[at] & 31) > 23 || len - at - 1 < n)
		return NULL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i]) == n && !memcmp(p + at + 1, kinds[i], n))
			return kinds[i] + 3;
	return NULL;
}

int dh_node_links(const void *data, size_t len, dh_child_cb cb, void *payload)
{
	const char *k = peek_kind(data, len);

	if (k && (!strcmp(k, "leaf") || !strcmp(k, "log") || !strcmp(k, "schema")))
		return 0;
	if (k && !strcmp(k, "branch"))
		return dh_tree_children(data, len, cb, payload);
	return dh_node_children(data, len, cb, payload);
}

/*
 * A commit that may have a cut starts with the array head of 14 or 15
 * items and the text "dh/commit" (deterministic CBOR, as commit_encode
 * writes it): the walks of sync, gc and verify ask every node, and only
 * these need decoding.
 */
int dh_node_cut(const void *data, size_t len, dh_child_cb cb, void *payload)
{
	static const unsigned char head[] = "\x8e\x69" "dh/commit";
	const unsigned char *p = data;
	struct dh_arena *a = NULL;
	struct dh_val v;
	struct commit c;
	const char *k;
	size_t used, i;
	int rc;

	if (len < sizeof(head) - 1 || (p[0] != 0x8e && p[0] != 0x8f) || memcmp(p + 1, head + 1, sizeof(head) - 2))
		return 0;
	if ((rc = dh_arena_new(&a)))
		return rc;
	if (dh_cbor_decode(&v, a, data, len, &used) || used != len || !(k = kind_of(&v)) || strcmp(k, "commit")) {
		rc = dh_error_set(DH_ECORRUPT, "not a dh commit");
		goto out;
	}
	if ((rc = commit_decode(&c, &v, "(commit)")))
		goto out;
	for (i = 0; !rc && i < c.ncut; i++)
		rc = cb(c.cut[i], payload);
	commit_release(&c);
out:
	dh_arena_free(a);
	return rc;
}

/* Read and decode commit `hex`: like node_read, but a missing node is DH_ENOTFOUND. */
static int commit_read(struct commit *c, struct dh_store *st, const char *hex, struct dh_arena *a)
{
	struct dh_buf raw = DH_BUF_INIT;
	char key[DH_NODE_KEY_LEN + 1];
	struct dh_val v;
	const char *k;
	size_t used;
	int rc = dh_node_get(st, hex, &raw);

	if (rc)
		goto out;
	dh_node_key(key, hex);
	if (dh_cbor_decode(&v, a, (const unsigned char *)raw.data, raw.len, &used) || used != raw.len ||
	    !(k = kind_of(&v)) || strcmp(k, "commit")) {
		rc = dh_error_set(DH_ECORRUPT, "node '%s' is not a commit node", key);
		goto out;
	}
	rc = commit_decode(c, &v, key);
out:
	dh_buf_release(&raw);
	return rc;
}

int dh_commit_info(struct dh_commit_info *out, struct dh_store *st, const char *hex)
{
	struct dh_arena *a = NULL;
	struct commit c;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = dh_arena_new(&a)))
		return rc;
	if ((rc = commit_read(&c, st, hex, a)))
		goto out;
	out->nparents = c.nparents;
	for (i = 0; i < c.nparents; i++)
		memcpy(out->parents[i], c.parents[i], DH_HASH_HEX + 1);
	out->max_tx = c.max_tx;
	out->max_eid = c.max_eid;
	out->instant_ms = c.instant_ms;
	out->ndatoms = c.ndatoms;
	out->ncut = c.ncut;
	for (i = 0; i < c.ncut; i++)
		memcpy(out->cut[i], c.cut[i], DH_HASH_HEX + 1);
	commit_release(&c);
out:
	dh_arena_free(a);
	return rc;
}

int dh_commit_cut(char out[DH_HASH_HEX + 1], struct dh_store *st, const char *hex,
	const char (*cut)[DH_HASH_HEX + 1], size_t ncut, int dry_run)
{
	struct dh_arena *a = NULL;
	struct dh_buf b = DH_BUF_INIT;
	struct commit c;
	size_t i;
	int rc;

	if (ncut > DH_MAX_CUT)
		return dh_error_set(DH_EINVAL, "history cannot stop at more than %d commits", DH_MAX_CUT);
	if ((rc = dh_arena_new(&a)))
		return rc;
	if ((rc = commit_read(&c, st, hex, a))) {
		if (rc == DH_ENOTFOUND) {
			char key[DH_NODE_KEY_LEN + 1];

			dh_node_key(key, hex);
			rc = dh_error_set(DH_ECORRUPT, "commit '%s' missing from store '%s'", key, dh_store_uri(st));
		}
		goto out;
	}
	c.nparents = 1;
	memcpy(c.parents[0], hex, DH_HASH_HEX + 1);
	c.ncut = ncut;
	for (i = 0; i < ncut; i++)
		memcpy(c.cut[i], cut[i], DH_HASH_HEX + 1);
	rc = commit_encode(&b, &c);
	commit_release(&c);
	if (rc)
		goto out;
	if (dry_run)
		dh_node_name(out, b.data, b.len);
	else
		rc = dh_node_put(st, b.data, b.len, out);
out:
	dh_buf_release(&b);
	dh_arena_free(a);
	return rc;
}

/* ---- absorbing the tail ------------------------------------------------ */

/*
 * Sorting is most of the work of a large transaction, so it is done once:
 * edits are sorted by index (4-byte elements, not 64-byte edits) for EAVT;
 * AEVT is then EAVT's order regrouped by attribute with a counting sort
 * (a stable regrouping of (e a v) order is (a e v) order), and AVET is that
 * order with each attribute's run sorted by value.  Every step is stable,
 * so among equal keys the log's order stands and the last edit wins.
 */
struct sortctx {
	struct dh_tree_ctx tc;
	const struct dh_tree_edit *e;
};

static int by_key(const void *x, const void *y, void *arg)
{
	const struct sortctx *sc = arg;
	uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
	int r = dh_tree_cmp(&sc->tc, &sc->e[i].d, &sc->e[j].d);

	return r ? r : (i > j) - (i < j);
}

static int by_value(const void *x, const void *y, void *arg)
{
	const struct sortctx *sc = arg;
	uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
	int r = dh_val_cmp(&sc->e[i].d.v, &sc->e[j].d.v);

	return r ? r : (i > j) - (i < j);
}

/*
 * Stable LSD radix sort of the n indices `ix` by the 64-bit keys key[ix[i]]
 * (`tmp` has room for n), skipping bytes in which no two keys differ.
 */
static void radix_ix(uint32_t *ix, uint32_t *tmp, size_t n, const uint64_t *key)
{
	uint64_t diff = 0;
	size_t i, pass;

	for (i = 1; i < n; i++)
		diff |= key[ix[i]] ^ key[ix[0]];
	for (pass = 0; pass < 8; pass++) {
		unsigned sh = 8 * (unsigned)pass;
		size_t count[257] = { 0 };

		if (!((diff >> sh) & 0xff))
			continue;
		for (i = 0; i < n; i++)
			count[((key[ix[i]] >> sh) & 0xff) + 1]++;
		for (i = 1; i < 257; i++)
			count[i] += count[i - 1];
		for (i = 0; i < n; i++)
			tmp[count[(key[ix[i]] >> sh) & 0xff]++] = ix[i];
		memcpy(ix, tmp, n * sizeof(*ix));
	}
}

/* A signed integer as an unsigned one of the same order. */
static uint64_t biased(int64_t v)
{
	return (uint64_t)v ^ ((uint64_t)1 << 63);
}

/*
 * Sort the indices `ix` of sc->e by full key, given that they are sorted
 * already by `key`, a prefix of it: insertion sort of each run of equal
 * prefixes (a run is one entity's datoms: a handful).
 */
static void sort_runs(const struct sortctx *sc, uint32_t *ix, size_t n, const uint64_t *key)
{
	size_t i, j, lo;

	for (lo = 0; lo < n; lo = i) {
		for (i = lo + 1; i < n && key[ix[i]] == key[ix[lo]]; i++)
			;
		for (j = lo + 1; j < i; j++) {
			uint32_t x = ix[j];
			size_t k = j;

			while (k > lo && by_key(&ix[k - 1], &x, (void *)sc) > 0) {
				ix[k] = ix[k - 1];
				k--;
			}
			ix[k] = x;
		}
	}
}

/*
 * Sort the indices 0..n-1 of sc->e by key, stably: a radix sort on the
 * leading integer components, then the full comparison within runs that
 * share them; a comparison sort when runs grow long (few distinct
 * entities, say), where insertion sort would not do.
 */
static void sort_ix(const struct sortctx *sc, uint32_t *ix, uint32_t *tmp, uint64_t *key, size_t n)
{
	size_t i, runs = 1;

	for (i = 0; i < n; i++)
		ix[i] = (uint32_t)i;
	if (sc->tc.ix == DH_EAVT) {
		for (i = 0; i < n; i++)
			key[i] = biased(sc->e[i].d.e);
		radix_ix(ix, tmp, n, key);
	} else if (sc->tc.ix == (enum dh_index)DH_TREE_LOG) {
		/* (tx, the tx entity first, e) */
		for (i = 0; i < n; i++)
			key[i] = biased(sc->e[i].d.e);
		radix_ix(ix, tmp, n, key);
		for (i = 0; i < n; i++)
			key[i] = sc->e[i].d.e != sc->e[i].d.tx;
		radix_ix(ix, tmp, n, key);
		for (i = 0; i < n; i++)
			key[i] = biased(sc->e[i].d.tx);
		radix_ix(ix, tmp, n, key);
		for (i = 0; i < n; i++)
			key[i] = (uint64_t)sc->e[i].d.tx * 0x9E3779B97F4A7C15u ^ biased(sc->e[i].d.e);
	} else {
		qsort_r(ix, n, sizeof(*ix), by_key, (void *)sc);
		return;
	}
	for (i = 1; i < n; i++)
		runs += key[ix[i]] != key[ix[i - 1]];
	if (n / runs > 64)
		qsort_r(ix, n, sizeof(*ix), by_key, (void *)sc);
	else
		sort_runs(sc, ix, n, key);
}

/*
 * Copy the edits `e` in the order `ix` (n indices) to `out`, keeping only
 * the last of each run of equal keys.  Returns the count.
 */
static size_t gather_dedupe(const struct sortctx *sc, const uint32_t *ix, size_t n, struct dh_tree_edit *out)
{
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		const struct dh_tree_edit *x = &sc->e[ix[i]];

		if (m && !dh_tree_cmp(&sc->tc, &out[m - 1].d, &x->d))
			out[m - 1] = *x;
		else
			out[m++] = *x;
	}
	return m;
}

/* Scratch memory of an absorb, for n edits. */
struct scratch {
	struct dh_tree_edit *tmp;
	uint32_t *ix, *ix2;
	uint64_t *key;
};

/* Sort the edits `e` by key and keep the last edit of each key; their count goes to *m. */
static void sort_dedupe(struct sortctx *sc, struct dh_tree_edit *e, size_t n, const struct scratch *w, size_t *m)
{
	sc->e = e;
	sort_ix(sc, w->ix, w->ix2, w->key, n);
	*m = gather_dedupe(sc, w->ix, n, w->tmp);
	memcpy(e, w->tmp, *m * sizeof(*e));
}

struct abucket {
	uint64_t key;      /* rank << 32 | aid: the attribute's place in AEVT order */
	size_t count, at;
};

static int by_bucket(const void *x, const void *y)
{
	uint64_t a = ((const struct abucket *)x)->key, b = ((const struct abucket *)y)->key;

	return (a > b) - (a < b);
}

/*
 * The three current trees from the edits `e` (n of them, in log order):
 * each tree's edits, sorted and deduplicated, are applied in turn.
 */
static int absorb_current(struct commit *c, const struct schema *s, struct dh_store *st, struct dh_tree_edit *e,
	size_t n, const struct scratch *w, struct dh_node_batch *batch)
{
	struct dh_tree_edit *tmp = w->tmp;
	uint32_t *ix = w->ix, *ix2 = w->ix2;
	size_t target = n >= BULK_MIN_EDITS ? BULK_NODE_TARGET : 0;
	struct sortctx sc = { .tc = { .st = st, .ix = DH_EAVT, .rank = s->rank, .nrank = (size_t)s->max + 1 } };
	struct abucket *b = NULL;
	uint32_t *slot = NULL;     /* attribute id -> bucket + 1, for attributes the schema knows */
	size_t i, j, m, nb = 0, cap = 0;
	int rc;

	/* EAVT: one full sort */
	sc.e = e;
	sort_ix(&sc, ix, ix2, w->key, n);
	m = gather_dedupe(&sc, ix, n, tmp);
	if ((rc = dh_tree_apply_sized(&c->roots[DH_EAVT], &sc.tc, &c->roots[DH_EAVT], tmp, m, batch, target)))
		return rc;
	/* the deduplicated edits in EAVT order become the source of the other two */
	memcpy(e, tmp, m * sizeof(*e));
	n = m;
	sc.e = e;

	/* AEVT: a counting sort by attribute */
	slot = calloc((size_t)s->max + 2, sizeof(*slot));
	if (!slot)
		return dh_error_set(DH_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		dh_aid a = e[i].d.a;
		size_t k;

		if (a <= s->max && slot[a]) {
			b[slot[a] - 1].count++;
			continue;
		}
		for (k = 0; k < nb && (uint32_t)b[k].key != a; k++)
			;
		if (k == nb) {
			if (nb == cap) {
				struct abucket *nbk = realloc(b, (cap = cap ? 2 * cap : 16) * sizeof(*b));

				if (!nbk) {
					rc = dh_error_set(DH_ENOMEM, "out of memory");
					goto out;
				}
				b = nbk;
			}
			b[nb].key = (uint64_t)(a <= s->max ? s->rank[a] : UINT32_MAX - 1) << 32 | a;
			b[nb].count = 0;
			nb++;
		}
		b[k].count++;
		if (a <= s->max)
			slot[a] = (uint32_t)k + 1;
	}
	qsort(b, nb, sizeof(*b), by_bucket);
	for (i = 0, m = 0; i < nb; i++) {
		b[i].at = m;
		m += b[i].count;
		if ((dh_aid)b[i].key <= s->max)
			slot[(dh_aid)b[i].key] = (uint32_t)i + 1;
	}
	for (i = 0; i < n; i++) {
		dh_aid a = e[i].d.a;
		size_t k;

		if (a <= s->max) {
			k = slot[a] - 1;
		} else {
			for (k = 0; (uint32_t)b[k].key != a; k++)
				;
		}
		ix2[b[k].at++] = (uint32_t)i;
	}
	sc.tc.ix = DH_AEVT;
	for (i = 0; i < n; i++)
		tmp[i] = e[ix2[i]];
	if ((rc = dh_tree_apply_sized(&c->roots[DH_AEVT], &sc.tc, &c->roots[DH_AEVT], tmp, n, batch, target)))
		goto out;

	/* AVET: AEVT's runs of indexed attributes, each sorted by value */
	sc.tc.ix = DH_AVET;
	for (i = 0, j = 0, m = 0; i < nb; i++) {
		dh_aid a = (dh_aid)b[i].key;
		size_t len = b[i].count;

		if (a <= s->max && s->attrs[a].in_avet) {
			memcpy(ix + m, ix2 + j, len * sizeof(*ix));
			qsort_r(ix + m, len, sizeof(*ix), by_value, &sc);
			m += len;
		}
		j += len;
	}
	for (i = 0; i < m; i++)
		tmp[i] = e[ix[i]];
	rc = dh_tree_apply_sized(&c->roots[DH_AVET], &sc.tc, &c->roots[DH_AVET], tmp, m, batch,
				 m >= BULK_MIN_EDITS ? BULK_NODE_TARGET : 0);
out:
	free(slot);
	free(b);
	return rc;
}

void tree_ctx(struct dh_tree_ctx *tc, const struct core *k, int tree)
{
	tc->cache = k->cache;
	tc->values = NULL;
	tc->st = k->st;
	tc->ix = tree == TREE_LOG ? (enum dh_index)DH_TREE_LOG : (enum dh_index)(tree % 3);
	tc->history = tree >= 3;
	tc->rank = k->schema->rank;
	tc->nrank = (size_t)k->schema->max + 1;
}

/*
 * The log tree's edits for events: with history every event is kept; without,
 * the log holds the current datoms, so a retraction removes the assertion
 * it retracts (whose tx the event carries).
 */
size_t log_edits(struct dh_tree_edit *e, const struct event *ev, size_t n, int no_history)
{
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		e[m].d = ev[i].d;
		e[m].op = DH_EDIT_PUT;
		if (no_history && !ev[i].d.added) {
			e[m].d.tx = ev[i].prev_tx;
			e[m].d.added = 1;
			e[m].op = DH_EDIT_DEL;
		}
		m++;
	}
	return m;
}

int absorb(struct commit *c, const struct schema *s, struct dh_store *st, const struct event *ev, size_t n,
	struct dh_node_batch *batch)
{
	struct dh_tree_edit *e = NULL;
	struct scratch w;
	struct sortctx sc = { 0 };
	size_t i, m, cap;
	int t, rc = 0;

	/* room for every event, and two edits per retraction in the temporal trees */
	for (i = 0, cap = n + 1; i < n; i++)
		cap += !ev[i].d.added;
	if (cap > UINT32_MAX)
		return dh_error_set(DH_EINVAL, "transaction too large: %zu datoms", n);
	e = malloc(cap * sizeof(*e));
	w.tmp = malloc(cap * sizeof(*w.tmp));
	w.ix = malloc(cap * sizeof(*w.ix));
	w.ix2 = malloc(cap * sizeof(*w.ix2));
	w.key = malloc(cap * sizeof(*w.key));
	if (!e || !w.tmp || !w.ix || !w.ix2 || !w.key) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		e[i].d = ev[i].d;
		e[i].op = ev[i].d.added ? DH_EDIT_PUT : DH_EDIT_DEL;
	}
	if ((rc = absorb_current(c, s, st, e, n, &w, batch)))
		goto out;
	for (t = 3; t < NTREES && !c->no_history; t++) {
		sc.tc.cache = NULL;
		sc.tc.st = st;
		sc.tc.ix = (enum dh_index)(t % 3);
		sc.tc.history = 1;
		sc.tc.rank = s->rank;
		sc.tc.nrank = (size_t)s->max + 1;
		m = 0;
		for (i = 0; i < n; i++) {
			const struct dh_datom *d = &ev[i].d;
			const struct dh_attr *at = d->a <= s->max ? &s->attrs[d->a] : NULL;

			if (t % 3 == DH_AVET && !(at && at->in_avet))
				continue;
			if (!d->added && !(at && at->no_history)) {
				e[m].d = *d;
				e[m].d.tx = ev[i].prev_tx;
				e[m].d.added = 1;
				e[m].op = DH_EDIT_PUT;
				m++;
				e[m].d = *d;
				e[m].op = DH_EDIT_PUT;
				m++;
			}
		}
		sort_dedupe(&sc, e, m, &w, &m);
		if ((rc = dh_tree_apply_sized(&c->roots[t], &sc.tc, &c->roots[t], e, m, batch,
					      m >= BULK_MIN_EDITS ? BULK_NODE_TARGET : 0)))
			goto out;
	}
	m = log_edits(e, ev, n, c->no_history);
	sc.tc.cache = NULL;
	sc.tc.st = st;
	sc.tc.ix = (enum dh_index)DH_TREE_LOG;
	sc.tc.history = 1;
	sc.tc.rank = s->rank;
	sc.tc.nrank = (size_t)s->max + 1;
	sort_dedupe(&sc, e, m, &w, &m);
	rc = dh_tree_apply_sized(&c->log, &sc.tc, &c->log, e, m, batch, m >= BULK_MIN_EDITS ? BULK_NODE_TARGET : 0);
out:
	free(e);
	free(w.tmp);
	free(w.ix);
	free(w.ix2);
	free(w.key);
	return rc;
}

/* ---- loading a commit -------------------------------------------------- */

void core_unref(struct core *k)
{
	if (!k || --k->refs > 0)
		return;
	commit_release(&k->c);
	dh_node_cache_free(k->cache);
	schema_free(k->schema);
	dh_arena_free(k->arena);
	free(k->branch);
	free(k);
}

/* The current trees whose roots core_read() fetches with the schema: entity and value lookups. */
static const int root_prefetch[] = { DH_EAVT, DH_AVET };

struct core_fetch {
	struct dh_buf *raw;   /* schema, tail nodes, EAVT root, AVET root */
	const size_t *slot;   /* key asked -> its place in raw */
};

static int core_read_cb(size_t i, const void *data, size_t len, void *payload)
{
	struct core_fetch *f = payload;
	struct dh_buf *b = &f->raw[f->slot[i]];

	dh_buf_reset(b);
	return dh_buf_add(b, data, len);
}

/*
 * Read what every reader of commit k->c needs next in one round trip: the
 * schema and the log tail into raw[0] and raw[1..ntail] (*rawp, an array
 * the caller releases with core_read_release), and the roots of the trees
 * point lookups start from, into the node cache.  A missing schema or log
 * node is corruption; a root that is missing or malformed is left for the
 * tree read that needs it to report.
 */
static int core_read(struct core *k, struct dh_buf **rawp)
{
	size_t n = 1 + k->c.ntail, m = 0, i;
	const char **names = malloc((n + 2) * sizeof(*names));
	size_t *slot = malloc((n + 2) * sizeof(*slot));
	struct dh_buf *raw = calloc(n + 2, sizeof(*raw));
	char key[DH_NODE_KEY_LEN + 1];
	int rc = 0;

	*rawp = raw;
	if (!names || !raw || !slot) {
		free(names);
		free(slot);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	/* a schema the commit carries costs no request */
	if (k->c.schema_bytes)
		rc = dh_buf_add(&raw[0], k->c.schema_bytes, k->c.schema_len);
	else
		slot[m] = 0, names[m++] = k->c.schema;
	for (i = 0; i < k->c.ntail; i++)
		slot[m] = 1 + i, names[m++] = k->c.tail[i];
	for (i = 0; i < 2; i++)
		if (k->c.roots[root_prefetch[i]].hex[0] && (i == 0 || k->prefetch_avet))
			slot[m] = n + i, names[m++] = k->c.roots[root_prefetch[i]].hex;
	if (!rc) {
		struct core_fetch f = { raw, slot };

		rc = dh_node_get_many(k->st, names, m, core_read_cb, &f);
	}
	for (i = 0; i < n && !rc; i++)
		if (!raw[i].data) {
			dh_node_key(key, i ? k->c.tail[i - 1] : k->c.schema);
			rc = dh_error_set(DH_ECORRUPT, "missing node '%s'", key);
		}
	for (i = 0; i < 2 && !rc; i++) {
		const struct dh_tree_root *r = &k->c.roots[root_prefetch[i]];

		if (r->hex[0] && raw[n + i].data)
			(void)dh_node_cache_add(k->cache, r->hex, root_prefetch[i], (int)r->level, raw[n + i].data,
				raw[n + i].len);
	}
	free(names);
	free(slot);
	return rc;
}

static void core_read_release(struct core *k, struct dh_buf *raw)
{
	for (size_t i = 0; raw && i < 3 + k->c.ntail; i++)
		dh_buf_release(&raw[i]);
	free(raw);
}

int core_keep_schema(struct core *k, const void *bytes, size_t len)
{
	char *p = dh_arena_strndup(k->arena, bytes, len);

	if (!p)
		return DH_ENOMEM;
	k->c.schema_bytes = (const unsigned char *)p;
	k->c.schema_len = len;
	return 0;
}

int core_load(struct core **out, struct dh_store *st, const char *hex, const char *branch)
{
	struct core *k = calloc(1, sizeof(*k));
	struct dh_buf *raw = NULL;
	struct dh_val v;
	char key[DH_NODE_KEY_LEN + 1];
	struct event *heap = NULL;
	size_t i, cap = 0;
	int rc;

	*out = NULL;
	if (!k)
		return dh_error_set(DH_ENOMEM, "out of memory");
	k->refs = 1;
	k->st = st;
	k->prefetch_avet = !(dh_store_flags(st) & DH_STORE_KEYWISE);
	memcpy(k->hex, hex, DH_HASH_HEX);
	k->hex[DH_HASH_HEX] = 0;
	if (branch && !(k->branch = strdup(branch))) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = dh_arena_new(&k->arena)) || (rc = dh_node_cache_new(&k->cache, CACHE_BYTES)))
		goto fail;
	dh_node_key(key, hex);
	if ((rc = node_read(st, hex, "commit", k->arena, &v)) || (rc = commit_decode(&k->c, &v, key)))
		goto fail;
	if ((rc = core_read(k, &raw)))
		goto fail;
	dh_node_key(key, k->c.schema);
	if ((rc = node_decode(raw[0].data, raw[0].len, k->c.schema, "schema", k->arena, &v)) ||
	    (rc = schema_decode(&k->schema, &v, key)))
		goto fail;
	/* a small schema read from its node: the next commit carries it */
	if (!k->c.schema_bytes && raw[0].len <= SCHEMA_INLINE_MAX) {
		if ((rc = core_keep_schema(k, raw[0].data, raw[0].len)))
			goto fail;
	}
	for (i = 0; i < k->c.ntail; i++) {
		struct event *ev;
		size_t n;

		dh_node_key(key, k->c.tail[i]);
		if ((rc = node_decode(raw[1 + i].data, raw[1 + i].len, k->c.tail[i], "log", k->arena, &v)) ||
		    (rc = log_decode(k->arena, &v, key, &ev, &n)))
			goto fail;
		if (k->ntail + n > cap) {
			struct event *nt;

			cap = (k->ntail + n) * 2;
			nt = realloc(heap, cap * sizeof(*nt));
			if (!nt) {
				rc = dh_error_set(DH_ENOMEM, "out of memory");
				goto fail;
			}
			heap = nt;
		}
		memcpy(heap + k->ntail, ev, n * sizeof(*ev));
		k->ntail += n;
	}
	/* the tail moves into the arena so that core_unref frees one thing */
	if (k->ntail) {
		k->tail = dh_arena_alloc(k->arena, k->ntail * sizeof(*k->tail));
		if (!k->tail) {
			rc = DH_ENOMEM;
			goto fail;
		}
		memcpy(k->tail, heap, k->ntail * sizeof(*k->tail));
	}
	free(heap);
	core_read_release(k, raw);
	*out = k;
	return 0;
fail:
	free(heap);
	core_read_release(k, raw);
	core_unref(k);
	return rc;
}
