/*
 * node.c - content-addressed nodes over a store.
 *
 * A node is an immutable byte string whose name is the hex SHA-256 of its
 * bytes, stored under nodes/<2 hex>/<62 hex>.  Every read is hashed and
 * compared with the name, so corruption anywhere below (disk, network,
 * a hand-edited file) is reported as DH_ECORRUPT naming the key, never
 * returned as data.  dh_node_get_many() reads many nodes in few round
 * trips, checked the same way.  Batches let writers hand many nodes to the
 * backend at once (one LMDB transaction, one SQL statement, one sync of the
 * files).
 */
#include <stdlib.h>
#include <string.h>

#include "dh.h"

void dh_node_key(char out[DH_NODE_KEY_LEN + 1], const char *hex)
{
	memcpy(out, "nodes/", 6);
	out[6] = hex[0];
	out[7] = hex[1];
	out[8] = '/';
	memcpy(out + 9, hex + 2, DH_HASH_HEX - 2);
	out[DH_NODE_KEY_LEN] = '\0';
}

void dh_node_name(char out[DH_HASH_HEX + 1], const void *data, size_t len)
{
	unsigned char h[DH_HASH_LEN];

	dh_sha256(h, data, len);
	dh_hex(out, h, DH_HASH_LEN);
}

static int name_check(const char *hex)
{
	size_t i;

	for (i = 0; i < DH_HASH_HEX; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return dh_error_set(DH_EUSAGE, "'%.64s' is not a node name", hex);
	if (hex[DH_HASH_HEX])
		return dh_error_set(DH_EUSAGE, "'%s' is not a node name", hex);
	return 0;
}

int dh_node_put(struct dh_store *st, const void *data, size_t len, char name[DH_HASH_HEX + 1])
{
	char hex[DH_HASH_HEX + 1], key[DH_NODE_KEY_LEN + 1];

	dh_node_name(hex, data, len);
	dh_node_key(key, hex);
	if (name)
		memcpy(name, hex, sizeof(hex));
	return dh_store_put(st, key, data, len);
}

int dh_node_get(struct dh_store *st, const char *hex, struct dh_buf *out)
{
	char key[DH_NODE_KEY_LEN + 1], got[DH_HASH_HEX + 1];
	int rc = name_check(hex);

	if (rc)
		return rc;
	dh_node_key(key, hex);
	rc = dh_store_get(st, key, out);
	if (rc == DH_ENOTFOUND)
		return dh_error_set(rc, "node '%s' missing from store '%s'", key, dh_store_uri(st));
	if (rc)
		return rc;
	dh_node_name(got, out->data, out->len);
	if (memcmp(got, hex, DH_HASH_HEX)) {
		dh_buf_reset(out);
		return dh_error_set(DH_ECORRUPT, "node '%s' in store '%s' is corrupt: its bytes hash to %.12s...",
				    key, dh_store_uri(st), got);
	}
	return 0;
}

int dh_node_has(struct dh_store *st, const char *hex)
{
	char key[DH_NODE_KEY_LEN + 1];
	int rc = name_check(hex);

	if (rc)
		return rc;
	dh_node_key(key, hex);
	return dh_store_has(st, key);
}

struct many {
	struct dh_store *st;
	const char *const *hexes;
	dh_get_cb cb;
	void *payload;
};

static int many_check(size_t i, const void *data, size_t len, void *payload)
{
	struct many *m = payload;
	char got[DH_HASH_HEX + 1], key[DH_NODE_KEY_LEN + 1];

	dh_node_name(got, data, len);
	if (memcmp(got, m->hexes[i], DH_HASH_HEX)) {
		dh_node_key(key, m->hexes[i]);
		return dh_error_set(DH_ECORRUPT, "node '%s' in store '%s' is corrupt: its bytes hash to %.12s...",
				    key, dh_store_uri(m->st), got);
	}
	return m->cb(i, data, len, m->payload);
}

int dh_node_get_many(struct dh_store *st, const char *const *hexes, size_t n, dh_get_cb cb, void *payload)
{
	struct many m = { st, hexes, cb, payload };
	char (*keys)[DH_NODE_KEY_LEN + 1];
	const char **kp;
	size_t i;
	int rc = 0;

	if (!n)
		return 0;
	keys = malloc(n * sizeof(*keys));
	kp = malloc(n * sizeof(*kp));
	for (i = 0; keys && kp && i < n && !(rc = name_check(hexes[i])); i++) {
		dh_node_key(keys[i], hexes[i]);
		kp[i] = keys[i];
	}
	if (!keys || !kp)
		rc = dh_error_set(DH_ENOMEM, "out of memory");
	if (!rc)
		rc = dh_store_get_many(st, kp, n, many_check, &m);
	free(keys);
	free(kp);
	return rc;
}

struct batch_item {
	size_t off;
	size_t len;
	char key[DH_NODE_KEY_LEN + 1];
};

struct dh_node_batch {
	struct dh_store *st;
	struct dh_buf bytes;
	struct batch_item *items;
	size_t n, cap;
};

int dh_node_batch_new(struct dh_node_batch **out, struct dh_store *st)
{
	struct dh_node_batch *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (!b)
		return dh_error_set(DH_ENOMEM, "out of memory");
	b->st = st;
	*out = b;
	return 0;
}

int dh_node_batch_add(struct dh_node_batch *b, const void *data, size_t len, char name[DH_HASH_HEX + 1])
{
	char hex[DH_HASH_HEX + 1];
	struct batch_item *it;
	int rc;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		void *p = realloc(b->items, cap * sizeof(*b->items));

		if (!p)
			return dh_error_set(DH_ENOMEM, "out of memory");
		b->items = p;
		b->cap = cap;
	}
	dh_node_name(hex, data, len);
	it = &b->items[b->n];
	it->off = b->bytes.len;
	it->len = len;
	dh_node_key(it->key, hex);
	if ((rc = dh_buf_add(&b->bytes, data, len)))
		return rc;
	b->n++;
	if (name)
		memcpy(name, hex, sizeof(hex));
	return 0;
}

size_t dh_node_batch_size(const struct dh_node_batch *b)
{
	return b->bytes.len;
}

int dh_node_batch_write(struct dh_node_batch *b)
{
	struct dh_kv *kvs;
	size_t i;
	int rc;

	if (b->n == 0)
		return 0;
	kvs = malloc(b->n * sizeof(*kvs));
	if (!kvs)
		return dh_error_set(DH_ENOMEM, "out of memory");
	for (i = 0; i < b->n; i++) {
		kvs[i].key = b->items[i].key;
		kvs[i].data = b->bytes.data + b->items[i].off;
		kvs[i].len = b->items[i].len;
	}
	rc = dh_store_put_many(b->st, kvs, b->n);
	free(kvs);
	if (!rc) {
		b->n = 0;
		dh_buf_reset(&b->bytes);
	}
	return rc;
}

void dh_node_batch_swap(struct dh_node_batch *a, struct dh_node_batch *b)
{
	struct dh_node_batch t = *a;

	*a = *b;
	*b = t;
}

void dh_node_batch_free(struct dh_node_batch *b)
{
	if (!b)
		return;
	dh_buf_release(&b->bytes);
	free(b->items);
	free(b);
}
