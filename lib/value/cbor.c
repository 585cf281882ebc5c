/*
 * cbor.c - values as CBOR, in Datahike's dump encoding.
 *
 * One encoding serves nodes, export and import (DESIGN.md): integers in
 * shortest form, keyword and symbol as tag 39 text (keywords with their
 * leading colon), instants as tag 0 RFC 3339 UTC text, UUIDs as tag 37
 * over 16 bytes, bigints as tags 2/3, BigDecimals as tag 4 [exponent
 * mantissa], doubles always 8 bytes and floats always 4, sets as tag 258
 * arrays.  Characters and tagged literals, which dumps never contain, use
 * tag 27 (a serialised object): ["dh/char" "x"] and ["tag" value].
 *
 * Encoding is deterministic: the same value always gives the same bytes,
 * whatever order a map or set was built in (entries sorted by their
 * encoded keys, as RFC 8949 section 4.2.1 asks) and whatever NaN it holds.
 * Item heads are written here (a node encodes millions of them; a call
 * into libcbor for each cost more than the encoding), floats by libcbor's
 * cbor_encode_single/double; the ordering, canonical NaNs and the choice
 * of widths are done here.
 *
 * Decoding reads one item head at a time; the heads that make up datoms
 * (definite lengths, integers, tags, booleans, null, 4- and 8-byte floats)
 * are decoded by hand because they are the hot path (libcbor's callbacks
 * cost more than the decoding), the others (indefinite lengths, half
 * floats, other simple values, reserved bytes) by libcbor's
 * allocation-free cbor_stream_decode().  Values are built in the caller's
 * arena, with no malloc per value.  The input is hostile until proven otherwise: every
 * claimed length is checked against the bytes that remain before anything
 * is allocated (the items still owed by all open arrays and maps must fit
 * in the rest of the input, one byte each at least), and nesting is
 * limited.  Older Datahike dumps are accepted too: instants as tag 1
 * epoch seconds (integer or float), small bigints as plain integers.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "internal.h"

/* ---- encoding -------------------------------------------------------------- */

/* CBOR major types */
enum { M_UINT, M_NEGINT, M_BYTES, M_TEXT, M_ARRAY, M_MAP, M_TAG };

/* Append the shortest head of major type `major` with argument `v`. */
static int put(struct dh_buf *out, unsigned major, uint64_t v)
{
	unsigned char *h;
	size_t len;
	int rc = dh_buf_reserve(out, 9);

	if (rc)
		return rc;
	h = (unsigned char *)out->data + out->len;
	major <<= 5;
	if (v < 24) {
		h[0] = (unsigned char)(major | v);
		len = 1;
	} else if (v <= 0xff) {
		h[0] = (unsigned char)(major | 24);
		h[1] = (unsigned char)v;
		len = 2;
	} else if (v <= 0xffff) {
		h[0] = (unsigned char)(major | 25);
		h[1] = (unsigned char)(v >> 8);
		h[2] = (unsigned char)v;
		len = 3;
	} else if (v <= 0xffffffffu) {
		h[0] = (unsigned char)(major | 26);
		for (int i = 0; i < 4; i++)
			h[1 + i] = (unsigned char)(v >> (24 - 8 * i));
		len = 5;
	} else {
		h[0] = (unsigned char)(major | 27);
		for (int i = 0; i < 8; i++)
			h[1 + i] = (unsigned char)(v >> (56 - 8 * i));
		len = 9;
	}
	out->len += len;
	out->data[out->len] = '\0';
	return 0;
}

/* Append one byte: a simple value (null 0xf6, false 0xf4, true 0xf5). */
static int put_byte(struct dh_buf *out, unsigned char c)
{
	int rc = dh_buf_reserve(out, 1);

	if (rc)
		return rc;
	out->data[out->len++] = (char)c;
	out->data[out->len] = '\0';
	return 0;
}

static int put_text(struct dh_buf *out, unsigned major, const char *prefix, const void *s, size_t n)
{
	size_t np = prefix ? strlen(prefix) : 0;
	int rc = put(out, major, np + n);

	if (!rc && np)
		rc = dh_buf_add(out, prefix, np);
	return rc ? rc : dh_buf_add(out, s, n);
}

static int put_int(struct dh_buf *out, int64_t i)
{
	if (i >= 0)
		return put(out, M_UINT, (uint64_t)i);
	return put(out, M_NEGINT, (uint64_t)(-(i + 1)));
}

/* A bigint as tag 2 (n >= 0: magnitude) or tag 3 (n < 0: |n| - 1). */
static int put_bignum(struct dh_buf *out, const char *text, size_t len)
{
	struct dh_buf mag = DH_BUF_INIT;
	int neg = len && text[0] == '-', rc;

	rc = dhv_bigint_to_bytes(&mag, text + neg, len - (size_t)neg, neg);
	if (!rc)
		rc = put(out, M_TAG, neg ? 3 : 2);
	if (!rc)
		rc = put_text(out, M_BYTES, NULL, mag.data ? mag.data : "", mag.len);
	dh_buf_release(&mag);
	return rc;
}

/* Decimal digits (optionally signed) to int64 when they fit. */
static int fits_long(int64_t *v, const char *s, size_t n)
{
	int neg = n && s[0] == '-';
	uint64_t m = 0;
	size_t i;

	for (i = (size_t)neg; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || m > (UINT64_MAX - d) / 10)
			return 0;
		m = m * 10 + d;
	}
	if (neg ? m > (uint64_t)INT64_MAX + 1 : m > INT64_MAX)
		return 0;
	*v = neg ? (int64_t)(0 - m) : (int64_t)m;
	return 1;
}

static int put_bigdec(struct dh_buf *out, const struct dh_val *v)
{
	struct dhv_dec d;
	char *tmp = malloc((size_t)v->len + 2), *m = NULL;
	int64_t small;
	int rc;

	if (!tmp)
		return dh_error_set(DH_ENOMEM, "out of memory (bigdec)");
	if (dhv_dec_parse(&d, tmp, v->u.s, v->len)) {
		rc = dh_error_set(DH_EINVAL, "malformed bigdec text '%.40s'", v->u.s);
		goto out;
	}
	rc = put(out, M_TAG, 4);
	if (!rc)
		rc = put(out, M_ARRAY, 2);
	if (!rc)
		rc = put_int(out, -d.scale);
	if (rc)
		goto out;
	m = malloc(d.ndigits + 2);
	if (!m) {
		rc = dh_error_set(DH_ENOMEM, "out of memory (bigdec)");
		goto out;
	}
	m[0] = '-';
	memcpy(m + 1, d.digits, d.ndigits);
	{
		const char *s = d.neg ? m : m + 1;
		size_t n = d.ndigits + (size_t)d.neg;

		rc = fits_long(&small, s, n) ? put_int(out, small) : put_bignum(out, s, n);
	}
out:
	free(tmp);
	free(m);
	return rc;
}

static int put_inst(struct dh_buf *out, int64_t ms)
{
	char t[64];
	int rc;

	/* years 0000 to 9999, the range of RFC 3339 */
	if (ms >= -62167219200000LL && ms < 253402300800000LL) {
		int n = dhv_inst_fmt(t, ms, 0, "Z");

		rc = put(out, M_TAG, 0);
		return rc ? rc : put_text(out, M_TEXT, NULL, t, (size_t)n);
	}
	/* RFC 3339 has four-digit years; beyond them, epoch seconds */
	rc = put(out, M_TAG, 1);
	if (rc)
		return rc;
	if (ms % 1000 == 0)
		return put_int(out, ms / 1000);
	rc = dh_buf_reserve(out, 9);
	if (!rc) {
		out->len += cbor_encode_double((double)ms / 1000.0, (unsigned char *)out->data + out->len, 9);
		out->data[out->len] = '\0';
	}
	return rc;
}

static int encode(struct dh_buf *out, const struct dh_val *v);

struct span {
	size_t start, keyend, end;
};

static int span_cmp(const void *x, const void *y, void *base)
{
	const struct span *a = x, *b = y;
	const unsigned char *d = base;
	size_t na = a->keyend - a->start, nb = b->keyend - b->start;
	int r = memcmp(d + a->start, d + b->start, na < nb ? na : nb);

	return r ? r : (na > nb) - (na < nb);
}

/* The entries of a map (stride 2) or elements of a set (stride 1), each
 * encoded, then put in the order of their encoded keys. */
static int encode_sorted(struct dh_buf *out, const struct dh_val *v, size_t stride)
{
	size_t n = v->len / stride, i, at = out->len;
	struct span stack[16], *sp = n <= 16 ? stack : malloc(n * sizeof(*sp));
	char *copy = NULL;
	int rc = 0;

	if (!sp)
		return dh_error_set(DH_ENOMEM, "out of memory (encoding %zu items)", n);
	for (i = 0; i < n && !rc; i++) {
		sp[i].start = out->len - at;
		rc = encode(out, &v->u.items[i * stride]);
		sp[i].keyend = out->len - at;
		if (!rc && stride == 2)
			rc = encode(out, &v->u.items[i * stride + 1]);
		sp[i].end = out->len - at;
	}
	if (rc || n < 2)
		goto out;
	copy = malloc(out->len - at);
	if (!copy) {
		rc = dh_error_set(DH_ENOMEM, "out of memory (encoding %zu items)", n);
		goto out;
	}
	memcpy(copy, out->data + at, out->len - at);
	qsort_r(sp, n, sizeof(*sp), span_cmp, copy);
	for (i = 0; i < n; i++) {
		memcpy(out->data + at, copy + sp[i].start, sp[i].end - sp[i].start);
		at += sp[i].end - sp[i].start;
	}
out:
	free(copy);
	if (sp != stack)
		free(sp);
	return rc;
}

static int encode(struct dh_buf *out, const struct dh_val *v)
{
	uint32_t i;
	int rc;

	switch (v->type) {
	case DH_NIL:
		return put_byte(out, 0xf6);
	case DH_BOOL:
		return put_byte(out, v->u.b ? 0xf5 : 0xf4);
	case DH_LONG:
		return put_int(out, v->u.i);
	case DH_BIGINT:
		return put_bignum(out, v->u.s, v->len);
	case DH_FLOAT: {
		float f = isnan(v->u.d) ? NAN : (float)v->u.d;

		rc = dh_buf_reserve(out, 5);
		if (!rc) {
			out->len += cbor_encode_single(f, (unsigned char *)out->data + out->len, 5);
			out->data[out->len] = '\0';
		}
		return rc;
	}
	case DH_DOUBLE: {
		double d = isnan(v->u.d) ? NAN : v->u.d;

		rc = dh_buf_reserve(out, 9);
		if (!rc) {
			out->len += cbor_encode_double(d, (unsigned char *)out->data + out->len, 9);
			out->data[out->len] = '\0';
		}
		return rc;
	}
	case DH_BIGDEC:
		return put_bigdec(out, v);
	case DH_CHAR: {
		char enc[4];

		rc = put(out, M_TAG, 27);
		if (!rc)
			rc = put(out, M_ARRAY, 2);
		if (!rc)
			rc = put_text(out, M_TEXT, NULL, "dh/char", 7);
		return rc ? rc : put_text(out, M_TEXT, NULL, enc, (size_t)dhv_utf8_put(enc, (uint32_t)v->u.i));
	}
	case DH_STRING:
		return put_text(out, M_TEXT, NULL, v->u.s, v->len);
	case DH_KEYWORD:
	case DH_SYMBOL:
		rc = put(out, M_TAG, 39);
		return rc ? rc : put_text(out, M_TEXT, v->type == DH_KEYWORD ? ":" : NULL, v->u.s, v->len);
	case DH_INST:
		return put_inst(out, v->u.i);
	case DH_UUID:
		rc = put(out, M_TAG, 37);
		return rc ? rc : put_text(out, M_BYTES, NULL, v->u.uuid, 16);
	case DH_BYTES:
		return put_text(out, M_BYTES, NULL, v->u.s, v->len);
	case DH_LIST:
	case DH_VECTOR:
		rc = put(out, M_ARRAY, v->len);
		for (i = 0; !rc && i < v->len; i++)
			rc = encode(out, &v->u.items[i]);
		return rc;
	case DH_MAP:
		rc = put(out, M_MAP, v->len / 2);
		return rc ? rc : encode_sorted(out, v, 2);
	case DH_SET:
		rc = put(out, M_TAG, 258);
		if (!rc)
			rc = put(out, M_ARRAY, v->len);
		return rc ? rc : encode_sorted(out, v, 1);
	case DH_TAGGED:
		rc = put(out, M_TAG, 27);
		if (!rc)
			rc = put(out, M_ARRAY, 2);
		if (!rc)
			rc = put_text(out, M_TEXT, NULL, v->u.items[0].u.s, v->u.items[0].len);
		return rc ? rc : encode(out, &v->u.items[1]);
	}
	return dh_error_set(DH_EINVAL, "cannot encode a value of unknown type %d", v->type);
}

int dh_cbor_encode(struct dh_buf *out, const struct dh_val *v)
{
	size_t at = out->len;
	int rc = encode(out, v);

	if (rc && out->data) {
		/* nothing half-written */
		out->len = at;
		out->data[at] = '\0';
	}
	return rc;
}

/* ---- decoding -------------------------------------------------------------- */

enum kind {
	K_NONE, K_UINT, K_NEGINT, K_BYTES, K_TEXT, K_BYTES_INDEF, K_TEXT_INDEF, K_ARRAY,
	K_ARRAY_INDEF, K_MAP, K_MAP_INDEF, K_TAG, K_F16, K_F32, K_F64, K_NULL, K_UNDEF,
	K_BOOL, K_BREAK,
};

/* What cbor_stream_decode() reported about one item head. */
struct head {
	enum kind kind;
	uint64_t u;
	double f;
	const unsigned char *p;
	size_t n;
};

static void cb_u8(void *c, uint8_t v) { ((struct head *)c)->kind = K_UINT; ((struct head *)c)->u = v; }
static void cb_u16(void *c, uint16_t v) { ((struct head *)c)->kind = K_UINT; ((struct head *)c)->u = v; }
static void cb_u32(void *c, uint32_t v) { ((struct head *)c)->kind = K_UINT; ((struct head *)c)->u = v; }
static void cb_u64(void *c, uint64_t v) { ((struct head *)c)->kind = K_UINT; ((struct head *)c)->u = v; }
static void cb_n8(void *c, uint8_t v) { ((struct head *)c)->kind = K_NEGINT; ((struct head *)c)->u = v; }
static void cb_n16(void *c, uint16_t v) { ((struct head *)c)->kind = K_NEGINT; ((struct head *)c)->u = v; }
static void cb_n32(void *c, uint32_t v) { ((struct head *)c)->kind = K_NEGINT; ((struct head *)c)->u = v; }
static void cb_n64(void *c, uint64_t v) { ((struct head *)c)->kind = K_NEGINT; ((struct head *)c)->u = v; }

static void cb_bytes(void *c, cbor_data p, size_t n)
{
	struct head *h = c;

	h->kind = K_BYTES;
	h->p = p;
	h->n = n;
}

static void cb_text(void *c, cbor_data p, size_t n)
{
	struct head *h = c;

	h->kind = K_TEXT;
	h->p = p;
	h->n = n;
}

static void cb_bytes_indef(void *c) { ((struct head *)c)->kind = K_BYTES_INDEF; }
static void cb_text_indef(void *c) { ((struct head *)c)->kind = K_TEXT_INDEF; }
static void cb_array(void *c, size_t n) { ((struct head *)c)->kind = K_ARRAY; ((struct head *)c)->u = n; }
static void cb_array_indef(void *c) { ((struct head *)c)->kind = K_ARRAY_INDEF; }
static void cb_map(void *c, size_t n) { ((struct head *)c)->kind = K_MAP; ((struct head *)c)->u = n; }
static void cb_map_indef(void *c) { ((struct head *)c)->kind = K_MAP_INDEF; }
static void cb_tag(void *c, uint64_t v) { ((struct head *)c)->kind = K_TAG; ((struct head *)c)->u = v; }
static void cb_f16(void *c, float f) { ((struct head *)c)->kind = K_F16; ((struct head *)c)->f = f; }
static void cb_f32(void *c, float f) { ((struct head *)c)->kind = K_F32; ((struct head *)c)->f = f; }
static void cb_f64(void *c, double f) { ((struct head *)c)->kind = K_F64; ((struct head *)c)->f = f; }
static void cb_null(void *c) { ((struct head *)c)->kind = K_NULL; }
static void cb_undef(void *c) { ((struct head *)c)->kind = K_UNDEF; }
static void cb_bool(void *c, bool b) { ((struct head *)c)->kind = K_BOOL; ((struct head *)c)->u = b; }
static void cb_break(void *c) { ((struct head *)c)->kind = K_BREAK; }

/* libcbor's field names for the string callbacks are swapped in their
 * comments, not in use: byte_string is the definite one. */
static const struct cbor_callbacks callbacks = {
	.uint8 = cb_u8, .uint16 = cb_u16, .uint32 = cb_u32, .uint64 = cb_u64,
	.negint8 = cb_n8, .negint16 = cb_n16, .negint32 = cb_n32, .negint64 = cb_n64,
	.byte_string_start = cb_bytes_indef, .byte_string = cb_bytes,
	.string = cb_text, .string_start = cb_text_indef,
	.indef_array_start = cb_array_indef, .array_start = cb_array,
	.indef_map_start = cb_map_indef, .map_start = cb_map,
	.tag = cb_tag, .float2 = cb_f16, .float4 = cb_f32, .float8 = cb_f64,
	.undefined = cb_undef, .null = cb_null, .boolean = cb_bool, .indef_break = cb_break,
};

struct dec {
	const unsigned char *d;
	size_t len, pos;
	size_t owed;        /* items claimed by open arrays/maps/tags, not yet started */
	struct dh_arena *a;
};

static int fail(const struct dec *s, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(const struct dec *s, size_t at, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return dh_error_set(DH_ECORRUPT, "cbor at byte %zu: %s", at, msg);
}

/* Read the head at s->pos. */
static int next_head(struct dec *s, struct head *h)
{
	static const enum kind major[] = { K_UINT, K_NEGINT, K_BYTES, K_TEXT, K_ARRAY, K_MAP, K_TAG };
	struct cbor_decoder_result r;
	size_t at = s->pos;
	unsigned ib, ai;

	if (at >= s->len)
		return fail(s, at, "truncated input");
	/*
	 * The heads that make up a datom (definite-length items, booleans,
	 * null, 4- and 8-byte floats) are decoded here, as they are the hot
	 * path; the rest (indefinite lengths, half floats, other simple
	 * values, reserved bytes) by libcbor.
	 */
	ib = s->d[at];
	ai = ib & 31;
	if (ib < 0xe0 && ai <= 27) {
		size_t hl = ai < 24 ? 1 : 1 + ((size_t)1 << (ai - 24)), k;
		uint64_t u = ai;

		if (hl > s->len - at)
			return fail(s, at, "truncated input");
		if (ai >= 24)
			for (u = 0, k = 1; k < hl; k++)
				u = u << 8 | s->d[at + k];
		h->kind = major[ib >> 5];
		h->u = u;
		if (h->kind == K_BYTES || h->kind == K_TEXT) {
			if (u > s->len - at - hl)
				return fail(s, at, "truncated input");
			h->p = s->d + at + hl;
			h->n = (size_t)u;
			hl += h->n;
		}
		s->pos += hl;
		return 0;
	}
	if (ib >= 0xf4 && ib <= 0xf6) {
		h->kind = ib == 0xf6 ? K_NULL : K_BOOL;
		h->u = ib == 0xf5;
		s->pos++;
		return 0;
	}
	if ((ib == 0xfa || ib == 0xfb) && s->len - at >= (ib == 0xfa ? 5u : 9u)) {
		uint64_t u = 0;
		size_t k, n = ib == 0xfa ? 4 : 8;

		for (k = 1; k <= n; k++)
			u = u << 8 | s->d[at + k];
		if (n == 4) {
			uint32_t w = (uint32_t)u;
			float f;

			memcpy(&f, &w, 4);
			h->kind = K_F32;
			h->f = f;
		} else {
			double d;

			memcpy(&d, &u, 8);
			h->kind = K_F64;
			h->f = d;
		}
		s->pos += 1 + n;
		return 0;
	}
	h->kind = K_NONE;
	r = cbor_stream_decode(s->d + at, s->len - at, &callbacks, h);
	if (r.status == CBOR_DECODER_NEDATA)
		return fail(s, at, "truncated input");
	if (r.status != CBOR_DECODER_FINISHED || h->kind == K_NONE)
		return fail(s, at, "malformed item (initial byte 0x%02x)", s->d[at]);
	s->pos += r.read;
	return 0;
}

/* Claim `n` more items that must follow; each needs at least one byte. */
static int owe(struct dec *s, uint64_t n, size_t at, const char *what)
{
	size_t left = s->len - s->pos;

	if (n > left || s->owed > left - n)
		return fail(s, at, "%s of %llu items does not fit in the %zu bytes left", what,
		            (unsigned long long)n, left);
	s->owed += (size_t)n;
	return 0;
}

/*
 * The bytes of a definite string, or of all chunks of an indefinite one
 * (concatenated in the arena), as *p / *n.  `h` is the head already read.
 */
static int string_bytes(struct dec *s, const struct head *h, const unsigned char **p, size_t *n)
{
	enum kind chunk = h->kind == K_BYTES_INDEF ? K_BYTES : K_TEXT;
	size_t start = s->pos, total = 0;
	unsigned char *buf;
	struct head c;
	int rc;

	if (h->kind == K_BYTES || h->kind == K_TEXT) {
		*p = h->p;
		*n = h->n;
		return 0;
	}
	for (;;) {
		size_t cat = s->pos;

		rc = next_head(s, &c);
		if (rc)
			return rc;
		if (c.kind == K_BREAK)
			break;
		if (c.kind != chunk)
			return fail(s, cat, "chunk of an indefinite string is not a definite string");
		total += c.n;
	}
	buf = dh_arena_alloc(s->a, total + 1);
	if (!buf)
		return DH_ENOMEM;
	s->pos = start;
	total = 0;
	for (;;) {
		next_head(s, &c);
		if (c.kind == K_BREAK)
			break;
		memcpy(buf + total, c.p, c.n);
		total += c.n;
	}
	*p = buf;
	*n = total;
	return 0;
}

static int text_value(struct dec *s, struct dh_val *out, enum dh_type t, const unsigned char *p,
                      size_t n, size_t at)
{
	size_t bad;

	if (n > UINT32_MAX)
		return fail(s, at, "string of %zu bytes is too long", n);
	if (t != DH_BYTES && !dhv_utf8_valid((const char *)p, n, &bad))
		return fail(s, at, "invalid UTF-8 in text string (byte %zu of it)", bad);
	return dh_val_text(out, s->a, t, (const char *)p, n);
}

static int item(struct dec *s, struct dh_val *out, int depth);

static int collection(struct dec *s, struct dh_val *out, const struct head *h, size_t at, int depth)
{
	int is_map = h->kind == K_MAP || h->kind == K_MAP_INDEF;
	int indef = h->kind == K_ARRAY_INDEF || h->kind == K_MAP_INDEF;
	size_t n = 0, i, cap = 0;
	struct dh_val *items = NULL, *tmp = NULL;
	int rc = 0;

	if (depth > DH_EDN_MAX_DEPTH)
		return fail(s, at, "nesting deeper than %d levels", DH_EDN_MAX_DEPTH);
	if (!indef) {
		uint64_t m = is_map ? h->u * 2 : h->u;

		if (is_map && h->u > UINT64_MAX / 2)
			return fail(s, at, "map of %llu entries does not fit in the input",
			            (unsigned long long)h->u);
		rc = owe(s, m, at, is_map ? "map" : "array");
		if (rc)
			return rc;
		if (m > UINT32_MAX)
			return fail(s, at, "collection of %llu items is too large", (unsigned long long)m);
		n = (size_t)m;
		if (n) {
			items = dh_arena_alloc(s->a, n * sizeof(*items));
			if (!items)
				return DH_ENOMEM;
		}
		for (i = 0; i < n && !rc; i++)
			rc = item(s, &items[i], depth);
		if (rc)
			return rc;
	} else {
		/* unknown length: gather in a scratch array, then into the arena */
		for (;;) {
			size_t iat = s->pos;

			if (iat < s->len && s->d[iat] == 0xFF) {
				s->pos++;
				break;
			}
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct dh_val *t = realloc(tmp, ncap * sizeof(*t));

				if (!t) {
					rc = dh_error_set(DH_ENOMEM, "out of memory (cbor collection)");
					goto out;
				}
				tmp = t;
				cap = ncap;
			}
			rc = owe(s, 1, iat, "indefinite collection");
			if (!rc)
				rc = item(s, &tmp[n], depth);
			if (rc)
				goto out;
			n++;
		}
		if (n > UINT32_MAX || (is_map && n % 2)) {
			rc = fail(s, at, is_map ? "indefinite map with an odd number of items" :
			          "collection too large");
			goto out;
		}
		if (n) {
			items = dh_arena_alloc(s->a, n * sizeof(*items));
			if (!items) {
				rc = DH_ENOMEM;
				goto out;
			}
			memcpy(items, tmp, n * sizeof(*items));
		}
	}
	if (is_map) {
		long dup = dhv_find_dup(items, n / 2, 2);

		if (dup == -2) {
			rc = DH_ENOMEM;
			goto out;
		}
		if (dup >= 0) {
			rc = fail(s, at, "map has a duplicate key");
			goto out;
		}
	}
	out->type = is_map ? DH_MAP : DH_VECTOR;
	out->len = (uint32_t)n;
	out->u.items = items;
out:
	free(tmp);
	return rc;
}

/* The content of a tag whose content must be a string of kind `want`. */
static int tag_string(struct dec *s, const unsigned char **p, size_t *n, enum kind want,
                      uint64_t tag, size_t at)
{
	struct head h;
	int rc = next_head(s, &h);

	if (rc)
		return rc;
	s->owed--;
	if (h.kind != want && h.kind != (want == K_TEXT ? K_TEXT_INDEF : K_BYTES_INDEF))
		return fail(s, at, "tag %llu needs a %s string", (unsigned long long)tag,
		            want == K_TEXT ? "text" : "byte");
	return string_bytes(s, &h, p, n);
}

static int bignum(struct dec *s, struct dh_val *out, uint64_t tag, size_t at)
{
	const unsigned char *p;
	size_t n;
	int rc = tag_string(s, &p, &n, K_BYTES, tag, at);

	if (rc)
		return rc;
	out->type = DH_BIGINT;
	rc = dhv_bigint_from_bytes(&out->u.s, &out->len, s->a, p, n, tag == 3, tag == 3);
	if (rc == DH_ECORRUPT)
		return fail(s, at, "bignum of %zu bytes is too large", n);
	return rc;
}

static int bigdec(struct dec *s, struct dh_val *out, size_t at, int depth)
{
	struct dh_val pair;
	struct dhv_dec d;
	struct dh_buf txt = DH_BUF_INIT;
	const struct dh_val *e, *m;
	int rc = item(s, &pair, depth);

	if (rc)
		return rc;
	if (pair.type != DH_VECTOR || pair.len != 2)
		return fail(s, at, "tag 4 needs an array [exponent mantissa]");
	e = &pair.u.items[0];
	m = &pair.u.items[1];
	if (e->type != DH_LONG || e->u.i > INT32_MAX || e->u.i < -(int64_t)INT32_MAX)
		return fail(s, at, "tag 4 exponent is not an integer in range");
	if (m->type == DH_LONG) {
		char *t = dh_arena_alloc(s->a, 24);

		if (!t)
			return DH_ENOMEM;
		snprintf(t, 24, "%lld", (long long)m->u.i);
		d.digits = t;
	} else if (m->type == DH_BIGINT) {
		d.digits = m->u.s;
	} else {
		return fail(s, at, "tag 4 mantissa is not an integer");
	}
	d.neg = d.digits[0] == '-';
	d.digits += d.neg;
	d.ndigits = strlen(d.digits);
	d.scale = -e->u.i;
	rc = dhv_dec_text(&txt, &d);
	if (!rc)
		rc = dh_val_text(out, s->a, DH_BIGDEC, txt.data, txt.len);
	dh_buf_release(&txt);
	return rc;
}

static int epoch_inst(struct dec *s, struct dh_val *out, size_t at, int depth)
{
	struct dh_val v;
	int rc = item(s, &v, depth);

	if (rc)
		return rc;
	if (v.type == DH_LONG) {
		if (v.u.i > INT64_MAX / 1000 || v.u.i < INT64_MIN / 1000)
			return fail(s, at, "tag 1 instant out of range");
		*out = dh_inst(v.u.i * 1000);
		return 0;
	}
	if (v.type == DH_DOUBLE || v.type == DH_FLOAT) {
		double ms = v.u.d * 1000.0;

		if (!isfinite(ms) || ms >= 9.2e18 || ms <= -9.2e18)
			return fail(s, at, "tag 1 instant out of range");
		*out = dh_inst(llround(ms));
		return 0;
	}
	return fail(s, at, "tag 1 needs a number of seconds");
}

static int tag27(struct dec *s, struct dh_val *out, size_t at, int depth)
{
	struct dh_val v, *items;
	uint32_t cp;
	int rc = item(s, &v, depth), k;

	if (rc)
		return rc;
	if (v.type != DH_VECTOR || v.len != 2 || v.u.items[0].type != DH_STRING || !v.u.items[0].len)
		return fail(s, at, "tag 27 needs an array [name value]");
	if (!strcmp(v.u.items[0].u.s, "dh/char")) {
		const struct dh_val *c = &v.u.items[1];

		if (c->type != DH_STRING ||
		    (k = dhv_utf8_get(&cp, (const unsigned char *)c->u.s, c->len)) == 0 ||
		    (uint32_t)k != c->len)
			return fail(s, at, "dh/char needs a one-character string");
		out->type = DH_CHAR;
		out->len = 0;
		out->u.i = cp;
		return 0;
	}
	items = (struct dh_val *)v.u.items;
	items[0].type = DH_SYMBOL;
	out->type = DH_TAGGED;
	out->len = 2;
	out->u.items = items;
	return 0;
}

static int tagged(struct dec *s, struct dh_val *out, uint64_t tag, size_t at, int depth)
{
	const unsigned char *p;
	const char *why;
	size_t n;
	int rc;

	if (depth > DH_EDN_MAX_DEPTH)
		return fail(s, at, "nesting deeper than %d levels", DH_EDN_MAX_DEPTH);
	rc = owe(s, 1, at, "tag");
	if (rc)
		return rc;
	switch (tag) {
	case 0:
		rc = tag_string(s, &p, &n, K_TEXT, tag, at);
		if (rc)
			return rc;
		out->type = DH_INST;
		out->len = 0;
		if (dhv_inst_parse(&out->u.i, (const char *)p, n, &why))
			return fail(s, at, "tag 0 instant '%.*s': %s", (int)(n > 40 ? 40 : n), p, why);
		return 0;
	case 1:
		return epoch_inst(s, out, at, depth);
	case 2:
	case 3:
		return bignum(s, out, tag, at);
	case 4:
		return bigdec(s, out, at, depth);
	case 27:
		return tag27(s, out, at, depth);
	case 37: {
		struct head h;
		size_t hat = s->pos;

		rc = next_head(s, &h);
		if (rc)
			return rc;
		s->owed--;
		out->type = DH_UUID;
		out->len = 0;
		if (h.kind == K_BYTES && h.n == 16) {
			memcpy(out->u.uuid, h.p, 16);
			return 0;
		}
		if (h.kind == K_TEXT && !dhv_uuid_parse(out->u.uuid, (const char *)h.p, h.n))
			return 0;
		return fail(s, hat, "tag 37 needs 16 bytes");
	}
	case 39:
		rc = tag_string(s, &p, &n, K_TEXT, tag, at);
		if (rc)
			return rc;
		if (n && p[0] == ':')
			rc = text_value(s, out, DH_KEYWORD, p + 1, n - 1, at);
		else
			rc = text_value(s, out, DH_SYMBOL, p, n, at);
		if (!rc && !out->len)
			return fail(s, at, "tag 39 with an empty name");
		return rc;
	case 258: {
		long dup;

		rc = item(s, out, depth);
		if (rc)
			return rc;
		if (out->type != DH_VECTOR)
			return fail(s, at, "tag 258 needs an array");
		out->type = DH_SET;
		dup = dhv_find_dup(out->u.items, out->len, 1);
		if (dup == -2)
			return DH_ENOMEM;
		if (dup >= 0)
			return fail(s, at, "set has a duplicate element");
		return 0;
	}
	case 55799: /* self-described CBOR */
		return item(s, out, depth);
	}
	return fail(s, at, "unsupported tag %llu", (unsigned long long)tag);
}

static int item(struct dec *s, struct dh_val *out, int depth)
{
	size_t at = s->pos;
	const unsigned char *p;
	struct head h;
	size_t n;
	int rc = next_head(s, &h);

	if (rc)
		return rc;
	s->owed--;
	switch (h.kind) {
	case K_UINT:
		if (h.u <= INT64_MAX) {
			*out = dh_long((int64_t)h.u);
			return 0;
		} else {
			unsigned char be[8];

			for (int i = 0; i < 8; i++)
				be[i] = (unsigned char)(h.u >> (56 - 8 * i));
			out->type = DH_BIGINT;
			return dhv_bigint_from_bytes(&out->u.s, &out->len, s->a, be, 8, 0, 0);
		}
	case K_NEGINT:
		if (h.u <= INT64_MAX) {
			*out = dh_long(-1 - (int64_t)h.u);
			return 0;
		} else {
			unsigned char be[8];

			for (int i = 0; i < 8; i++)
				be[i] = (unsigned char)(h.u >> (56 - 8 * i));
			out->type = DH_BIGINT;
			return dhv_bigint_from_bytes(&out->u.s, &out->len, s->a, be, 8, 1, 1);
		}
	case K_BYTES:
	case K_BYTES_INDEF:
	case K_TEXT:
	case K_TEXT_INDEF:
		rc = string_bytes(s, &h, &p, &n);
		if (rc)
			return rc;
		return text_value(s, out, h.kind == K_BYTES || h.kind == K_BYTES_INDEF ? DH_BYTES : DH_STRING,
		                  p, n, at);
	case K_ARRAY:
	case K_ARRAY_INDEF:
	case K_MAP:
	case K_MAP_INDEF:
		return collection(s, out, &h, at, depth + 1);
	case K_TAG:
		return tagged(s, out, h.u, at, depth + 1);
	case K_F16:
	case K_F32:
		out->type = DH_FLOAT;
		out->len = 0;
		out->u.d = h.f;
		return 0;
	case K_F64:
		*out = dh_double(h.f);
		return 0;
	case K_NULL:
		*out = dh_nil();
		return 0;
	case K_BOOL:
		*out = dh_bool((int)h.u);
		return 0;
	case K_UNDEF:
		return fail(s, at, "undefined is not a value");
	case K_BREAK:
		return fail(s, at, "unexpected break");
	default:
		return fail(s, at, "malformed item");
	}
}

/*
 * The commonest values of an index leaf, a text under 256 bytes and a
 * keyword or symbol (tag 39) of one, without the general decoder: 1 when
 * decoded (*used set), 0 when `data` holds something else or something the
 * general decoder must report, DH_ENOMEM.
 */
static int short_text(struct dh_val *out, struct dh_arena *a, const unsigned char *data, size_t len, size_t *used)
{
	enum dh_type t = DH_STRING;
	size_t at = 0, hl, n, bad;
	const unsigned char *p;

	if (len > 2 && data[0] == 0xd8 && data[1] == 39)
		at = 2, t = DH_SYMBOL;
	if (data[at] >= 0x60 && data[at] <= 0x77)
		n = data[at] & 31, hl = 1;
	else if (data[at] == 0x78 && at + 1 < len)
		n = data[at + 1], hl = 2;
	else
		return 0;
	if (n > len - at - hl)
		return 0;
	p = data + at + hl;
	*used = at + hl + n;
	if (t == DH_SYMBOL && n && *p == ':')
		t = DH_KEYWORD, p++, n--;
	if ((t != DH_STRING && !n) || !dhv_utf8_valid((const char *)p, n, &bad))
		return 0;
	return dh_val_text(out, a, t, (const char *)p, n) ? DH_ENOMEM : 1;
}

int dh_cbor_decode(struct dh_val *out, struct dh_arena *a, const unsigned char *data, size_t len, size_t *used)
{
	struct dec s = { data, len, 0, 1, a };
	size_t n;
	int rc;

	if (used)
		*used = 0;
	if (!len)
		return DH_ENOTFOUND;
	if ((rc = short_text(out, a, data, len, &n))) {
		if (rc == 1 && used)
			*used = n;
		return rc == 1 ? 0 : rc;
	}
	rc = item(&s, out, 0);
	if (!rc && used)
		*used = s.pos;
	return rc;
}
