/*
 * cbor.c - the few CBOR writing and reading helpers the index and db layers
 * need for their own node structure (arrays, integers, node names).  Datom
 * values inside nodes go through the value layer's dh_cbor_encode(), so
 * there is one encoding of values everywhere.  Everything written here is
 * deterministic: shortest-form heads, definite lengths.
 */
#include <string.h>

#include "index/index.h"

int dh_cw_head(struct dh_buf *b, unsigned major, uint64_t n)
{
	unsigned char *h;
	size_t len;
	int rc = dh_buf_reserve(b, 9);

	if (rc)
		return rc;
	h = (unsigned char *)b->data + b->len;
	major <<= 5;
	if (n < 24) {
		h[0] = (unsigned char)(major | n);
		len = 1;
	} else if (n <= 0xff) {
		h[0] = (unsigned char)(major | 24);
		h[1] = (unsigned char)n;
		len = 2;
	} else if (n <= 0xffff) {
		h[0] = (unsigned char)(major | 25);
		h[1] = (unsigned char)(n >> 8);
		h[2] = (unsigned char)n;
		len = 3;
	} else if (n <= 0xffffffffu) {
		h[0] = (unsigned char)(major | 26);
		for (int i = 0; i < 4; i++)
			h[1 + i] = (unsigned char)(n >> (24 - 8 * i));
		len = 5;
	} else {
		h[0] = (unsigned char)(major | 27);
		for (int i = 0; i < 8; i++)
			h[1 + i] = (unsigned char)(n >> (56 - 8 * i));
		len = 9;
	}
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int dh_cw_uint(struct dh_buf *b, uint64_t n)
{
	return dh_cw_head(b, 0, n);
}

int dh_cw_int(struct dh_buf *b, int64_t n)
{
	if (n >= 0)
		return dh_cw_head(b, 0, (uint64_t)n);
	return dh_cw_head(b, 1, (uint64_t)(-(n + 1)));
}

int dh_cw_text(struct dh_buf *b, const char *s, size_t len)
{
	int rc = dh_cw_head(b, 3, len);

	return rc ? rc : dh_buf_add(b, s, len);
}

int dh_cw_bytes(struct dh_buf *b, const void *p, size_t len)
{
	int rc = dh_cw_head(b, 2, len);

	return rc ? rc : dh_buf_add(b, p, len);
}

int dh_cw_bool(struct dh_buf *b, int v)
{
	return dh_buf_addc(b, v ? (char)0xf5 : (char)0xf4);
}

int dh_cw_null(struct dh_buf *b)
{
	return dh_buf_addc(b, (char)0xf6);
}

int dh_cr_int(const struct dh_val *v, int64_t *out, const char *what)
{
	if (!v || v->type != DH_LONG)
		return dh_error_set(DH_ECORRUPT, "%s: expected an integer", what);
	*out = v->u.i;
	return 0;
}

int dh_cr_hash(const struct dh_val *v, char hex[DH_HASH_HEX + 1], const char *what)
{
	if (!v || v->type != DH_BYTES || v->len != DH_HASH_LEN)
		return dh_error_set(DH_ECORRUPT, "%s: expected a node name", what);
	dh_hex(hex, (const unsigned char *)v->u.s, DH_HASH_LEN);
	return 0;
}
