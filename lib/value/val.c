/*
 * val.c - what every layer asks of a value: copy, order, equality, hash and
 * map lookup.
 *
 * The order is the one Datahike's indices use (DataScript's value-compare,
 * which Datahike inherits), made total:
 *
 *  - Sequential values (vectors, lists and tuples alike) compare by length
 *    first, then element by element.
 *  - Numbers of any type compare numerically with each other and exactly
 *    (1 < 1.5 < 2N < 2.5M), like Clojure's compare.  Where Clojure's compare
 *    says 0 but `=` says no (1 and 1.0, 1N and 1.0M) the tie is broken by
 *    kind: integers, then floating point, then BigDecimals, so that
 *    dh_val_cmp() is 0 exactly when dh_val_eq() holds (an index needs that).
 *    NaN sorts after every other number and equals itself; -0.0 equals 0.0.
 *  - Strings compare as Java's String.compareTo does, by UTF-16 code unit;
 *    keywords and symbols as Clojure's: namespace first (none before any),
 *    then name.  Booleans false < true; characters by code point; instants
 *    by time; UUIDs as java.util.UUID.compareTo (the two 64-bit halves as
 *    signed numbers); byte arrays bytewise unsigned, then by length;
 *    tagged literals by tag, then value.  Maps and sets (not valid datom
 *    values in Datahike) compare by size, then as their sorted contents.
 *  - Values of unrelated types: DataScript falls back to comparing the
 *    class names, which this follows with the numbers kept together at the
 *    place of java.lang.Long (Clojure's order is not transitive across
 *    number classes otherwise):
 *
 *      nil < byte array ("[B") < keyword < map < set < list/vector
 *        < symbol < tagged literal < boolean < character < number
 *        < string < instant (java.util.Date) < uuid
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- construction and copies -------------------------------------------- */

int dh_val_text(struct dh_val *out, struct dh_arena *a, enum dh_type t, const char *s, size_t len)
{
	char *p;

	if (len > UINT32_MAX)
		return dh_error_set(DH_ENOMEM, "text of %zu bytes is too long for a value", len);
	p = dh_arena_strndup(a, s, len);
	if (!p)
		return DH_ENOMEM;
	*out = dh_text(t, p, (uint32_t)len);
	return 0;
}

int dh_val_copy(struct dh_val *out, struct dh_arena *a, const struct dh_val *v)
{
	struct dh_val *items;
	uint32_t i;
	int rc;

	switch (v->type) {
	case DH_BIGINT: case DH_BIGDEC: case DH_STRING: case DH_KEYWORD: case DH_SYMBOL:
	case DH_BYTES:
		return dh_val_text(out, a, (enum dh_type)v->type, v->u.s, v->len);
	case DH_LIST: case DH_VECTOR: case DH_MAP: case DH_SET: case DH_TAGGED:
		items = dh_arena_alloc(a, (size_t)v->len * sizeof(*items));
		if (!items)
			return DH_ENOMEM;
		for (i = 0; i < v->len; i++) {
			rc = dh_val_copy(&items[i], a, &v->u.items[i]);
			if (rc)
				return rc;
		}
		*out = *v;
		out->u.items = items;
		return 0;
	default:
		*out = *v;
		return 0;
	}
}

/* ---- numbers --------------------------------------------------------------- */

static int is_number(int t)
{
	return t == DH_LONG || t == DH_BIGINT || t == DH_FLOAT || t == DH_DOUBLE || t == DH_BIGDEC;
}

/* 0 integers, 1 binary floating point, 2 BigDecimal: Clojure's `=` groups */
static int num_kind(int t)
{
	return t == DH_LONG || t == DH_BIGINT ? 0 : t == DH_BIGDEC ? 2 : 1;
}

/*
 * A finite number as sign * 0.D * 10^exp, where D is the digit sequence
 * seg1 ++ seg2 (no leading or trailing zeros), or zero.
 */
struct numview {
	int neg, zero;
	const char *s1, *s2;
	size_t n1, n2;
	int64_t exp;
};

static char nv_digit(const struct numview *v, size_t i)
{
	return i < v->n1 ? v->s1[i] : v->s2[i - v->n1];
}

/* Parse [-]I[.F][(e|E)[+-]X], the forms that %lld, %e, BigInteger and
 * BigDecimal text take. */
static void nv_parse(struct numview *v, const char *s)
{
	const char *p = s;
	int64_t x = 0;
	int xneg = 0;

	memset(v, 0, sizeof(*v));
	if (*p == '-' || *p == '+')
		v->neg = *p++ == '-';
	v->s1 = p;
	while (*p >= '0' && *p <= '9')
		p++;
	v->n1 = (size_t)(p - v->s1);
	v->s2 = p;
	if (*p == '.') {
		v->s2 = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		v->n2 = (size_t)(p - v->s2);
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			xneg = *p++ == '-';
		while (*p >= '0' && *p <= '9')
			x = x * 10 + (*p++ - '0');
	}
	v->exp = (int64_t)v->n1 + (xneg ? -x : x);
	/* strip leading zeros */
	while (v->n1 && v->s1[0] == '0') {
		v->s1++;
		v->n1--;
		v->exp--;
	}
	if (!v->n1)
		while (v->n2 && v->s2[0] == '0') {
			v->s2++;
			v->n2--;
			v->exp--;
		}
	/* strip trailing zeros */
	while (v->n2 && v->s2[v->n2 - 1] == '0')
		v->n2--;
	if (!v->n2)
		while (v->n1 && v->s1[v->n1 - 1] == '0')
			v->n1--;
	v->zero = v->n1 + v->n2 == 0;
	if (v->zero)
		v->neg = 0;
}

static int nv_cmp(const struct numview *a, const struct numview *b)
{
	size_t i, na = a->n1 + a->n2, nb = b->n1 + b->n2;
	int sign;

	if (a->zero || b->zero) {
		if (a->zero && b->zero)
			return 0;
		if (a->zero)
			return b->neg ? 1 : -1;
		return a->neg ? -1 : 1;
	}
	if (a->neg != b->neg)
		return a->neg ? -1 : 1;
	sign = a->neg ? -1 : 1;
	if (a->exp != b->exp)
		return a->exp < b->exp ? -sign : sign;
	for (i = 0; i < na && i < nb; i++) {
		char x = nv_digit(a, i), y = nv_digit(b, i);

		if (x != y)
			return x < y ? -sign : sign;
	}
	if (na != nb)
		return na < nb ? -sign : sign;
	return 0;
}

/* Decimal text of a finite number value into buf (which holds 800 bytes). */
static const char *num_text(char *buf, const struct dh_val *v)
{
	switch (v->type) {
	case DH_LONG:
		snprintf(buf, 800, "%lld", (long long)v->u.i);
		return buf;
	case DH_FLOAT: case DH_DOUBLE:
		/* glibc prints the exact binary value given enough digits */
		snprintf(buf, 800, "%.770e", v->u.d);
		for (char *p = buf; *p; p++)
			if (*p != 'e' && *p != '-' && *p != '+' && (*p < '0' || *p > '9'))
				*p = '.';
		return buf;
	default:
		return v->u.s;
	}
}

/* Numeric order, ignoring kind; NaN after everything, equal to itself. */
static int num_cmp_value(const struct dh_val *a, const struct dh_val *b)
{
	int fa = a->type == DH_FLOAT || a->type == DH_DOUBLE;
	int fb = b->type == DH_FLOAT || b->type == DH_DOUBLE;
	char ba[800], bb[800];
	struct numview va, vb;

	if (a->type == DH_LONG && b->type == DH_LONG)
		return (a->u.i > b->u.i) - (a->u.i < b->u.i);
	if (fa && isnan(a->u.d))
		return fb && isnan(b->u.d) ? 0 : 1;
	if (fb && isnan(b->u.d))
		return -1;
	if (fa && fb)
		return (a->u.d > b->u.d) - (a->u.d < b->u.d);
	if (fa && isinf(a->u.d))
		return a->u.d > 0 ? 1 : -1;
	if (fb && isinf(b->u.d))
		return b->u.d > 0 ? -1 : 1;
	if ((a->type == DH_LONG && fb) || (fa && b->type == DH_LONG)) {
		int64_t l = a->type == DH_LONG ? a->u.i : b->u.i;
		double d = fa ? a->u.d : b->u.d;
		int r;

		if (d >= 9223372036854775808.0)
			r = -1;
		else if (d < -9223372036854775808.0)
			r = 1;
		else {
			int64_t t = (int64_t)d;

			if (l != t)
				r = l < t ? -1 : 1;
			else
				r = (d - (double)t > 0) ? -1 : (d - (double)t < 0) ? 1 : 0;
		}
		return a->type == DH_LONG ? r : -r;
	}
	nv_parse(&va, num_text(ba, a));
	nv_parse(&vb, num_text(bb, b));
	return nv_cmp(&va, &vb);
}

static int num_cmp(const struct dh_val *a, const struct dh_val *b)
{
	int r = num_cmp_value(a, b), ka, kb;

	if (r)
		return r;
	ka = num_kind(a->type);
	kb = num_kind(b->type);
	return (ka > kb) - (ka < kb);
}

int dh_val_numcmp(const struct dh_val *a, const struct dh_val *b)
{
	if (!is_number(a->type) || !is_number(b->type))
		return dh_val_cmp(a, b);
	return num_cmp_value(a, b);
}

/* ---- text ---------------------------------------------------------------- */

/* Java's String.compareTo on UTF-8: code point order except that U+E000..
 * U+FFFF (lead bytes EE, EF) sort after the supplementary planes (F0..F4),
 * whose UTF-16 surrogates are D800..DFFF. */
static int utf16_cmp(const char *a, size_t na, const char *b, size_t nb)
{
	size_t i, n = na < nb ? na : nb;

	for (i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x == y)
			continue;
		if (x >= 0xEE && y >= 0xEE && (x >= 0xF0) != (y >= 0xF0))
			return x >= 0xF0 ? -1 : 1;
		return x < y ? -1 : 1;
	}
	return (na > nb) - (na < nb);
}

/* Split "ns/name" at the first '/', as clojure.lang.Symbol.intern does. */
static void split_name(const char *s, size_t n, size_t *nslen, const char **name, size_t *namelen)
{
	const char *slash = n > 1 ? memchr(s, '/', n) : NULL;

	if (!slash) {
		*nslen = (size_t)-1;
		*name = s;
		*namelen = n;
		return;
	}
	*nslen = (size_t)(slash - s);
	*name = slash + 1;
	*namelen = n - *nslen - 1;
}

static int named_cmp(const struct dh_val *a, const struct dh_val *b)
{
	size_t nsa, nsb, la, lb;
	const char *na, *nb;
	int r;

	split_name(a->u.s, a->len, &nsa, &na, &la);
	split_name(b->u.s, b->len, &nsb, &nb, &lb);
	if (nsa != (size_t)-1 || nsb != (size_t)-1) {
		if (nsa == (size_t)-1)
			return -1;
		if (nsb == (size_t)-1)
			return 1;
		r = utf16_cmp(a->u.s, nsa, b->u.s, nsb);
		if (r)
			return r;
	}
	return utf16_cmp(na, la, nb, lb);
}

/* ---- the order ----------------------------------------------------------- */

static int rank(int t)
{
	switch (t) {
	case DH_NIL: return 0;
	case DH_BYTES: return 1;
	case DH_KEYWORD: return 2;
	case DH_MAP: return 3;
	case DH_SET: return 4;
	case DH_LIST: case DH_VECTOR: return 5;
	case DH_SYMBOL: return 6;
	case DH_TAGGED: return 7;
	case DH_BOOL: return 8;
	case DH_CHAR: return 9;
	case DH_LONG: case DH_BIGINT: case DH_FLOAT: case DH_DOUBLE: case DH_BIGDEC: return 10;
	case DH_STRING: return 11;
	case DH_INST: return 12;
	case DH_UUID: return 13;
	}
	return 14;
}

static int cmp_items_sorted(const struct dh_val *a, const struct dh_val *b);

static int uuid_half_cmp(const unsigned char *a, const unsigned char *b)
{
	int64_t x = 0, y = 0;

	for (int i = 0; i < 8; i++) {
		x = (int64_t)((uint64_t)x << 8 | a[i]);
		y = (int64_t)((uint64_t)y << 8 | b[i]);
	}
	return (x > y) - (x < y);
}

int dh_val_cmp(const struct dh_val *a, const struct dh_val *b)
{
	int ra = rank(a->type), rb = rank(b->type), r;
	uint32_t i;

	if (ra != rb)
		return ra < rb ? -1 : 1;
	switch (ra) {
	case 0:
		return 0;
	case 1: {
		uint32_t n = a->len < b->len ? a->len : b->len;

		r = n ? memcmp(a->u.s, b->u.s, n) : 0;
		if (r)
			return r < 0 ? -1 : 1;
		return (a->len > b->len) - (a->len < b->len);
	}
	case 2: case 6:
		return named_cmp(a, b);
	case 3: case 4:
		if (a->len != b->len)
			return a->len < b->len ? -1 : 1;
		return cmp_items_sorted(a, b);
	case 5:
		if (a->len != b->len)
			return a->len < b->len ? -1 : 1;
		for (i = 0; i < a->len; i++) {
			r = dh_val_cmp(&a->u.items[i], &b->u.items[i]);
			if (r)
				return r;
		}
		return 0;
	case 7:
		r = dh_val_cmp(&a->u.items[0], &b->u.items[0]);
		return r ? r : dh_val_cmp(&a->u.items[1], &b->u.items[1]);
	case 8:
		return (a->u.b > b->u.b) - (a->u.b < b->u.b);
	case 9: case 12:
		return (a->u.i > b->u.i) - (a->u.i < b->u.i);
	case 10:
		return num_cmp(a, b);
	case 11:
		return utf16_cmp(a->u.s, a->len, b->u.s, b->len);
	case 13:
		r = uuid_half_cmp(a->u.uuid, b->u.uuid);
		return r ? r : uuid_half_cmp(a->u.uuid + 8, b->u.uuid + 8);
	}
	return 0;
}

/* Sorting maps' entries and sets' elements for comparison. */
struct sortctx {
	const struct dh_val *items;
	size_t stride;
};
static _Thread_local const struct sortctx *sort_ctx;

static int sort_cmp(const void *x, const void *y)
{
	const struct dh_val *items = sort_ctx->items;
	size_t i = *(const uint32_t *)x, j = *(const uint32_t *)y, s = sort_ctx->stride;
	int r = dh_val_cmp(&items[i * s], &items[j * s]);

	if (!r && s == 2)
		r = dh_val_cmp(&items[i * s + 1], &items[j * s + 1]);
	return r;
}

static int sort_idx(uint32_t *idx, const struct dh_val *v, size_t stride)
{
	struct sortctx ctx = { v->u.items, stride };
	const struct sortctx *saved = sort_ctx;
	size_t n = v->len / stride;

	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	sort_ctx = &ctx;
	qsort(idx, n, sizeof(*idx), sort_cmp);
	sort_ctx = saved;
	return 0;
}

static int cmp_items_sorted(const struct dh_val *a, const struct dh_val *b)
{
	size_t stride = a->type == DH_MAP ? 2 : 1, n = a->len / stride, i;
	uint32_t sa[32], sb[32], *ia = sa, *ib = sb;
	int r = 0;

	if (n > 32) {
		ia = malloc(n * sizeof(*ia));
		ib = malloc(n * sizeof(*ib));
		if (!ia || !ib) {
			/* no memory to sort: an arbitrary but consistent answer */
			uint64_t ha = dh_val_hash(a), hb = dh_val_hash(b);

			r = (ha > hb) - (ha < hb);
			goto out;
		}
	}
	sort_idx(ia, a, stride);
	sort_idx(ib, b, stride);
	for (i = 0; i < n && !r; i++) {
		r = dh_val_cmp(&a->u.items[ia[i] * stride], &b->u.items[ib[i] * stride]);
		if (!r && stride == 2)
			r = dh_val_cmp(&a->u.items[ia[i] * 2 + 1], &b->u.items[ib[i] * 2 + 1]);
	}
out:
	if (ia != sa)
		free(ia);
	if (ib != sb)
		free(ib);
	return r;
}

/* ---- equality ------------------------------------------------------------ */

static const struct dh_val *find_item(const struct dh_val *coll, const struct dh_val *x, size_t stride)
{
	for (uint32_t i = 0; i < coll->len; i += (uint32_t)stride)
		if (dh_val_eq(&coll->u.items[i], x))
			return &coll->u.items[i];
	return NULL;
}

int dh_val_eq(const struct dh_val *a, const struct dh_val *b)
{
	uint32_t i;

	if (a->type == b->type) {
		switch (a->type) {
		case DH_NIL:
			return 1;
		case DH_BOOL:
			return a->u.b == b->u.b;
		case DH_LONG: case DH_INST: case DH_CHAR:
			return a->u.i == b->u.i;
		case DH_STRING: case DH_KEYWORD: case DH_SYMBOL: case DH_BYTES: case DH_BIGINT:
			return a->len == b->len && (!a->len || !memcmp(a->u.s, b->u.s, a->len));
		case DH_UUID:
			return !memcmp(a->u.uuid, b->u.uuid, 16);
		case DH_MAP:
			if (a->len != b->len)
				return 0;
			for (i = 0; i < a->len; i += 2) {
				const struct dh_val *k = find_item(b, &a->u.items[i], 2);

				if (!k || !dh_val_eq(&a->u.items[i + 1], k + 1))
					return 0;
			}
			return 1;
		case DH_SET:
			if (a->len != b->len)
				return 0;
			for (i = 0; i < a->len; i++)
				if (!find_item(b, &a->u.items[i], 1))
					return 0;
			return 1;
		default:
			break;
		}
	}
	if (rank(a->type) != rank(b->type))
		return 0;
	if (is_number(a->type) && num_kind(a->type) != num_kind(b->type))
		return 0;
	if (a->type == DH_MAP || a->type == DH_SET)
		return 0;
	if ((a->type == DH_LIST || a->type == DH_VECTOR)) {
		if (a->len != b->len)
			return 0;
		for (i = 0; i < a->len; i++)
			if (!dh_val_eq(&a->u.items[i], &b->u.items[i]))
				return 0;
		return 1;
	}
	return dh_val_cmp(a, b) == 0;
}

/* ---- hashing ------------------------------------------------------------- */

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = mix(seed ^ (n * 0x9e3779b97f4a7c15ULL));

	while (n >= 8) {
		uint64_t w;

		memcpy(&w, s, 8);
		h = mix(h ^ w) * 0x9e3779b97f4a7c15ULL;
		s += 8;
		n -= 8;
	}
	if (n) {
		uint64_t w = 0;

		memcpy(&w, s, n);
		h = mix(h ^ w ^ 0xa5);
	}
	return h;
}

static uint64_t hash_long(int64_t i)
{
	return mix((uint64_t)i ^ 0x51ed270b27d3a3c7ULL);
}

static uint64_t hash_num(const struct dh_val *v)
{
	if (v->type == DH_LONG)
		return hash_long(v->u.i);
	if (v->type == DH_BIGINT) {
		char *end;
		long long l;

		/* equal to a long when it fits one */
		if (v->len <= 20) {
			errno = 0;
			l = strtoll(v->u.s, &end, 10);
			if (!errno && *end == '\0')
				return hash_long(l);
		}
		return hash_bytes(v->u.s, v->len, 3);
	}
	if (v->type == DH_FLOAT || v->type == DH_DOUBLE) {
		double d = v->u.d;
		uint64_t bits;

		if (d == 0)
			d = 0.0;
		if (isnan(d))
			d = NAN;
		memcpy(&bits, &d, 8);
		return mix(bits ^ 0x2545f4914f6cdd1dULL);
	}
	{
		/* BigDecimal: of the value, so 1.0M and 1.00M agree */
		struct numview nv;
		uint64_t h;

		nv_parse(&nv, v->u.s);
		h = mix((uint64_t)nv.exp ^ (uint64_t)nv.neg << 63 ^ 0x1234567);
		h = hash_bytes(nv.s1, nv.n1, h);
		return hash_bytes(nv.s2, nv.n2, h);
	}
}

uint64_t dh_val_hash(const struct dh_val *v)
{
	uint64_t h;
	uint32_t i;

	switch (v->type) {
	case DH_NIL:
		return 0x6e696c;
	case DH_BOOL:
		return v->u.b ? 0x7472756531ULL : 0x66616c7365ULL;
	case DH_LONG: case DH_BIGINT: case DH_FLOAT: case DH_DOUBLE: case DH_BIGDEC:
		return hash_num(v);
	case DH_CHAR:
		return mix((uint64_t)v->u.i ^ 0xc4a2);
	case DH_INST:
		return mix((uint64_t)v->u.i ^ 0x1257);
	case DH_STRING: case DH_KEYWORD: case DH_SYMBOL: case DH_BYTES:
		return hash_bytes(v->u.s, v->len, 100 + v->type);
	case DH_UUID:
		return hash_bytes(v->u.uuid, 16, 200);
	case DH_LIST: case DH_VECTOR:
		h = 0x5e9;
		for (i = 0; i < v->len; i++)
			h = mix(h * 31 + dh_val_hash(&v->u.items[i]));
		return h;
	case DH_MAP:
		h = 0x3a9;
		for (i = 0; i + 1 < v->len; i += 2)
			h += mix(dh_val_hash(&v->u.items[i]) ^ (dh_val_hash(&v->u.items[i + 1]) * 0x9e3779b97f4a7c15ULL));
		return h;
	case DH_SET:
		h = 0x5e7;
		for (i = 0; i < v->len; i++)
			h += dh_val_hash(&v->u.items[i]);
		return h;
	case DH_TAGGED:
		return mix(dh_val_hash(&v->u.items[0]) * 31 + dh_val_hash(&v->u.items[1]));
	}
	return 0;
}

/* ---- maps ---------------------------------------------------------------- */

const struct dh_val *dh_map_get(const struct dh_val *map, const struct dh_val *key)
{
	uint32_t i;

	if (map->type != DH_MAP)
		return NULL;
	for (i = 0; i + 1 < map->len; i += 2)
		if (dh_val_eq(&map->u.items[i], key))
			return &map->u.items[i + 1];
	return NULL;
}

const struct dh_val *dh_map_getk(const struct dh_val *map, const char *keyword)
{
	size_t n = strlen(keyword);
	uint32_t i;

	if (map->type != DH_MAP)
		return NULL;
	for (i = 0; i + 1 < map->len; i += 2) {
		const struct dh_val *k = &map->u.items[i];

		if (k->type == DH_KEYWORD && k->len == n && !memcmp(k->u.s, keyword, n))
			return &map->u.items[i + 1];
	}
	return NULL;
}

int dh_val_is_kw(const struct dh_val *v, const char *kw)
{
	size_t n = strlen(kw);

	return v->type == DH_KEYWORD && v->len == n && !memcmp(v->u.s, kw, n);
}

/* ---- duplicates ---------------------------------------------------------- */

long dhv_find_dup(const struct dh_val *items, size_t n, size_t stride)
{
	size_t i, j, cap, mask;
	uint32_t *table;

	if (n <= 8) {
		for (i = 1; i < n; i++)
			for (j = 0; j < i; j++)
				if (dh_val_eq(&items[i * stride], &items[j * stride]))
					return (long)i;
		return -1;
	}
	for (cap = 16; cap < 2 * n; cap *= 2)
		;
	mask = cap - 1;
	table = malloc(cap * sizeof(*table));
	if (!table) {
		dh_error_set(DH_ENOMEM, "out of memory (duplicate check of %zu items)", n);
		return -2;
	}
	memset(table, 0xff, cap * sizeof(*table));
	for (i = 0; i < n; i++) {
		const struct dh_val *x = &items[i * stride];
		size_t h = (size_t)dh_val_hash(x) & mask;

		while (table[h] != UINT32_MAX) {
			if (dh_val_eq(&items[(size_t)table[h] * stride], x)) {
				free(table);
				return (long)i;
			}
			h = (h + 1) & mask;
		}
		table[h] = (uint32_t)i;
	}
	free(table);
	return -1;
}
