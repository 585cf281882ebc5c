/*
 * builtins.c - the functions and predicates queries may call, and the
 * aggregates of :find.
 *
 * The set follows Datahike's and DataScript's built-ins: comparisons that
 * order values of any type (numbers numerically, otherwise by the index
 * order), arithmetic, strings, collections, regular expressions, and the
 * source functions get-else, get-some and missing?.  Differences forced by
 * C: there are no ratios, so an inexact (/ 7 2) is the double 3.5 (as in
 * DataScript); regular expressions are POSIX extended expressions after
 * translating the common Java syntax (\d \D \w \W \s \S, (?:...), a leading
 * (?i)); lazy quantifiers and look-around are refused with an error.
 */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "q.h"

/* ---- helpers ------------------------------------------------------------- */

static int is_num(const struct dh_val *v)
{
	return v->type == DH_LONG || v->type == DH_DOUBLE || v->type == DH_FLOAT || v->type == DH_BIGINT ||
	       v->type == DH_BIGDEC;
}

static double numd(const struct dh_val *v)
{
	switch (v->type) {
	case DH_LONG:
		return (double)v->u.i;
	case DH_DOUBLE:
	case DH_FLOAT:
		return v->u.d;
	case DH_BIGINT:
	case DH_BIGDEC:
		return strtod(v->u.s, NULL);
	default:
		return 0;
	}
}

static char tname_buf[64];

static const char *tname(const struct dh_val *v)
{
	static const char *n[] = { "nil", "boolean", "long", "bigint", "float", "double", "bigdec", "char",
	                           "string", "keyword", "symbol", "instant", "uuid", "bytes", "list", "vector",
	                           "map", "set", "tagged" };
	snprintf(tname_buf, sizeof(tname_buf), "%s", v->type < sizeof(n) / sizeof(*n) ? n[v->type] : "?");
	return tname_buf;
}

static int need_num(const char *fn, const struct dh_val *v)
{
	if (is_num(v))
		return 0;
	return dh_error_set(DH_EINVAL, "%s: expected a number, got %s", fn, tname(v));
}

int q_cmp(const struct dh_val *a, const struct dh_val *b)
{
	if (is_num(a) && is_num(b)) {
		if (a->type == DH_LONG && b->type == DH_LONG)
			return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
		double x = numd(a), y = numd(b);
		return x < y ? -1 : x > y;
	}
	return dh_val_cmp(a, b);
}

int q_truthy(const struct dh_val *v)
{
	return !(v->type == DH_NIL || (v->type == DH_BOOL && !v->u.b));
}

static struct dh_val *alloc_items(struct qctx *c, size_t n)
{
	return dh_arena_alloc(c->arena, (n ? n : 1) * sizeof(struct dh_val));
}

static int mkstr(struct qctx *c, struct dh_val *out, enum dh_type t, const char *s, size_t len)
{
	return dh_val_text(out, c->arena, t, s, len);
}

/* ---- comparisons ------------------------------------------------------------ */

#define ARGS struct qctx *c, const struct dh_val *a, int n, struct dh_val *out

static int f_eq(ARGS)
{
	(void)c;
	for (int i = 1; i < n; i++)
		if (!dh_val_eq(&a[0], &a[i]))
			return *out = dh_bool(0), 0;
	return *out = dh_bool(1), 0;
}

static int f_numeq(ARGS)
{
	(void)c;
	for (int i = 0; i < n; i++)
		if (need_num("==", &a[i]))
			return DH_EINVAL;
	for (int i = 1; i < n; i++)
		if (q_cmp(&a[0], &a[i]))
			return *out = dh_bool(0), 0;
	return *out = dh_bool(1), 0;
}

static int f_neq(ARGS)
{
	f_eq(c, a, n, out);
	out->u.b = !out->u.b;
	return 0;
}

static int cmpchain(const struct dh_val *a, int n, int (*ok)(int))
{
	for (int i = 0; i + 1 < n; i++)
		if (!ok(q_cmp(&a[i], &a[i + 1])))
			return 0;
	return 1;
}
static int lt(int r) { return r < 0; }
static int gt(int r) { return r > 0; }
static int le(int r) { return r <= 0; }
static int ge(int r) { return r >= 0; }
static int f_lt(ARGS) { (void)c; *out = dh_bool(cmpchain(a, n, lt)); return 0; }
static int f_gt(ARGS) { (void)c; *out = dh_bool(cmpchain(a, n, gt)); return 0; }
static int f_le(ARGS) { (void)c; *out = dh_bool(cmpchain(a, n, le)); return 0; }
static int f_ge(ARGS) { (void)c; *out = dh_bool(cmpchain(a, n, ge)); return 0; }

static int f_compare(ARGS)
{
	(void)c, (void)n;
	int r = q_cmp(&a[0], &a[1]);
	*out = dh_long(r < 0 ? -1 : r > 0);
	return 0;
}

static int f_max(ARGS)
{
	(void)c;
	*out = a[0];
	for (int i = 1; i < n; i++)
		if (q_cmp(&a[i], out) > 0)
			*out = a[i];
	return 0;
}

static int f_min(ARGS)
{
	(void)c;
	*out = a[0];
	for (int i = 1; i < n; i++)
		if (q_cmp(&a[i], out) < 0)
			*out = a[i];
	return 0;
}

/* ---- arithmetic -------------------------------------------------------------- */

static int all_long(const struct dh_val *a, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i].type != DH_LONG)
			return 0;
	return 1;
}

static int arith(const char *fn, char op, const struct dh_val *a, int n, struct dh_val *out)
{
	for (int i = 0; i < n; i++)
		if (need_num(fn, &a[i]))
			return DH_EINVAL;
	if (n == 0) {
		*out = dh_long(op == '*' ? 1 : 0);
		return 0;
	}
	if (all_long(a, n) && op != '/') {
		int64_t acc = a[0].u.i;
		if (n == 1 && op == '-') {
			if (acc == INT64_MIN)
				return dh_error_set(DH_EINVAL, "integer overflow in -");
			*out = dh_long(-acc);
			return 0;
		}
		for (int i = 1; i < n; i++) {
			int64_t x = a[i].u.i;
			int ovf = op == '+' ? __builtin_add_overflow(acc, x, &acc)
			        : op == '-' ? __builtin_sub_overflow(acc, x, &acc)
			                    : __builtin_mul_overflow(acc, x, &acc);
			if (ovf)
				return dh_error_set(DH_EINVAL, "integer overflow in %s", fn);
		}
		*out = dh_long(acc);
		return 0;
	}
	if (op == '/' && all_long(a, n)) {
		int64_t acc = a[0].u.i;
		int exact = 1;
		if (n == 1) {
			if (acc == 0)
				return dh_error_set(DH_EINVAL, "divide by zero");
			if (acc == 1 || acc == -1)
				return *out = dh_long(acc), 0;
			return *out = dh_double(1.0 / (double)acc), 0;
		}
		double d = (double)acc;
		for (int i = 1; i < n; i++) {
			if (a[i].u.i == 0)
				return dh_error_set(DH_EINVAL, "divide by zero");
			if (exact && acc % a[i].u.i == 0)
				acc /= a[i].u.i;
			else
				exact = 0;
			d /= (double)a[i].u.i;
		}
		*out = exact ? dh_long(acc) : dh_double(d);
		return 0;
	}
	double acc = numd(&a[0]);
	if (n == 1) {
		*out = dh_double(op == '-' ? -acc : op == '/' ? 1.0 / acc : acc);
		return 0;
	}
	for (int i = 1; i < n; i++) {
		double x = numd(&a[i]);
		if (op == '+')
			acc += x;
		else if (op == '-')
			acc -= x;
		else if (op == '*')
			acc *= x;
		else {
			if (x == 0 && a[i].type == DH_LONG && a[0].type == DH_LONG)
				return dh_error_set(DH_EINVAL, "divide by zero");
			acc /= x;
		}
	}
	*out = dh_double(acc);
	return 0;
}

static int f_add(ARGS) { (void)c; return arith("+", '+', a, n, out); }
static int f_sub(ARGS) { (void)c; return arith("-", '-', a, n, out); }
static int f_mul(ARGS) { (void)c; return arith("*", '*', a, n, out); }
static int f_div(ARGS) { (void)c; return arith("/", '/', a, n, out); }

static int intdiv(const char *fn, const struct dh_val *a, struct dh_val *out, int kind)
{
	if (need_num(fn, &a[0]) || need_num(fn, &a[1]))
		return DH_EINVAL;
	if (a[0].type == DH_LONG && a[1].type == DH_LONG) {
		int64_t x = a[0].u.i, y = a[1].u.i;
		if (y == 0)
			return dh_error_set(DH_EINVAL, "divide by zero");
		int64_t r = x % y;
		if (kind == 0)
			*out = dh_long(x / y);
		else if (kind == 1)
			*out = dh_long(r);
		else
			*out = dh_long(r != 0 && ((r < 0) != (y < 0)) ? r + y : r);
		return 0;
	}
	double x = numd(&a[0]), y = numd(&a[1]);
	if (kind == 0)
		*out = dh_double(trunc(x / y));
	else if (kind == 1)
		*out = dh_double(fmod(x, y));
	else {
		double r = fmod(x, y);
		*out = dh_double(r != 0 && ((r < 0) != (y < 0)) ? r + y : r);
	}
	return 0;
}

static int f_quot(ARGS) { (void)c, (void)n; return intdiv("quot", a, out, 0); }
static int f_rem(ARGS) { (void)c, (void)n; return intdiv("rem", a, out, 1); }
static int f_mod(ARGS) { (void)c, (void)n; return intdiv("mod", a, out, 2); }

static int f_inc(ARGS)
{
	struct dh_val one[2] = { a[0], dh_long(1) };
	(void)c, (void)n;
	return arith("inc", '+', one, 2, out);
}

static int f_dec(ARGS)
{
	struct dh_val one[2] = { a[0], dh_long(1) };
	(void)c, (void)n;
	return arith("dec", '-', one, 2, out);
}

static int f_abs(ARGS)
{
	(void)c, (void)n;
	if (need_num("abs", &a[0]))
		return DH_EINVAL;
	*out = a[0].type == DH_LONG ? dh_long(a[0].u.i < 0 ? -a[0].u.i : a[0].u.i) : dh_double(fabs(numd(&a[0])));
	return 0;
}

static int numpred(const char *fn, const struct dh_val *a, struct dh_val *out, int kind)
{
	if (need_num(fn, a))
		return DH_EINVAL;
	double d = numd(a);
	switch (kind) {
	case 0: *out = dh_bool(d == 0); break;
	case 1: *out = dh_bool(d > 0); break;
	case 2: *out = dh_bool(d < 0); break;
	case 3:
	case 4:
		if (a->type != DH_LONG)
			return dh_error_set(DH_EINVAL, "%s: expected an integer, got %s", fn, tname(a));
		*out = dh_bool((a->u.i % 2 == 0) == (kind == 3));
		break;
	}
	return 0;
}

static int f_zero(ARGS) { (void)c, (void)n; return numpred("zero?", a, out, 0); }
static int f_pos(ARGS) { (void)c, (void)n; return numpred("pos?", a, out, 1); }
static int f_neg(ARGS) { (void)c, (void)n; return numpred("neg?", a, out, 2); }
static int f_even(ARGS) { (void)c, (void)n; return numpred("even?", a, out, 3); }
static int f_odd(ARGS) { (void)c, (void)n; return numpred("odd?", a, out, 4); }

/* ---- logic and identity ---------------------------------------------------- */

static int f_true(ARGS) { (void)c, (void)n; *out = dh_bool(a[0].type == DH_BOOL && a[0].u.b); return 0; }
static int f_false(ARGS) { (void)c, (void)n; *out = dh_bool(a[0].type == DH_BOOL && !a[0].u.b); return 0; }
static int f_nil(ARGS) { (void)c, (void)n; *out = dh_bool(a[0].type == DH_NIL); return 0; }
static int f_some(ARGS) { (void)c, (void)n; *out = dh_bool(a[0].type != DH_NIL); return 0; }
static int f_not(ARGS) { (void)c, (void)n; *out = dh_bool(!q_truthy(&a[0])); return 0; }
static int f_identity(ARGS) { (void)c, (void)n; *out = a[0]; return 0; }

static int f_and(ARGS)
{
	(void)c;
	*out = dh_bool(1);
	for (int i = 0; i < n; i++) {
		*out = a[i];
		if (!q_truthy(&a[i]))
			return 0;
	}
	return 0;
}

static int f_or(ARGS)
{
	(void)c;
	*out = dh_nil();
	for (int i = 0; i < n; i++) {
		*out = a[i];
		if (q_truthy(&a[i]))
			return 0;
	}
	return 0;
}

/* ---- strings ---------------------------------------------------------------- */

static int str_append(struct dh_buf *b, const struct dh_val *v)
{
	switch (v->type) {
	case DH_NIL:
		return 0;
	case DH_STRING:
		return dh_buf_add(b, v->u.s, v->len);
	case DH_CHAR: {
		char tmp[8];
		int64_t cp = v->u.i;
		size_t l = 0;
		if (cp < 0x80)
			tmp[l++] = (char)cp;
		else if (cp < 0x800)
			tmp[l++] = (char)(0xC0 | (cp >> 6)), tmp[l++] = (char)(0x80 | (cp & 0x3F));
		else if (cp < 0x10000)
			tmp[l++] = (char)(0xE0 | (cp >> 12)), tmp[l++] = (char)(0x80 | ((cp >> 6) & 0x3F)),
			tmp[l++] = (char)(0x80 | (cp & 0x3F));
		else
			tmp[l++] = (char)(0xF0 | (cp >> 18)), tmp[l++] = (char)(0x80 | ((cp >> 12) & 0x3F)),
			tmp[l++] = (char)(0x80 | ((cp >> 6) & 0x3F)), tmp[l++] = (char)(0x80 | (cp & 0x3F));
		return dh_buf_add(b, tmp, l);
	}
	default:
		return dh_edn_print(b, v);
	}
}

static int f_str(ARGS)
{
	struct dh_buf b = DH_BUF_INIT;
	int rc = 0;
	for (int i = 0; i < n && !rc; i++)
		rc = str_append(&b, &a[i]);
	if (!rc)
		rc = mkstr(c, out, DH_STRING, b.data ? b.data : "", b.len);
	dh_buf_release(&b);
	return rc;
}

static int f_prstr(ARGS)
{
	struct dh_buf b = DH_BUF_INIT;
	int rc = 0;
	for (int i = 0; i < n && !rc; i++) {
		if (i)
			rc = dh_buf_addc(&b, ' ');
		if (!rc)
			rc = dh_edn_print(&b, &a[i]);
	}
	if (!rc)
		rc = mkstr(c, out, DH_STRING, b.data ? b.data : "", b.len);
	dh_buf_release(&b);
	return rc;
}

/* Byte offset of code point `cp` in UTF-8 text s (len bytes), or -1 past the end. */
static long cp_offset(const char *s, size_t len, int64_t cp)
{
	size_t i = 0;
	int64_t k = 0;
	while (k < cp) {
		if (i >= len)
			return -1;
		unsigned char ch = (unsigned char)s[i];
		i += ch < 0x80 ? 1 : ch < 0xE0 ? 2 : ch < 0xF0 ? 3 : 4;
		k++;
	}
	return i <= len ? (long)i : -1;
}

static size_t cp_count(const char *s, size_t len)
{
	size_t k = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			k++;
	return k;
}

static int f_subs(ARGS)
{
	if (a[0].type != DH_STRING)
		return dh_error_set(DH_EINVAL, "subs: expected a string, got %s", tname(&a[0]));
	if (a[1].type != DH_LONG || (n > 2 && a[2].type != DH_LONG))
		return dh_error_set(DH_EINVAL, "subs: indices must be integers");
	long s = a[1].u.i < 0 ? -1 : cp_offset(a[0].u.s, a[0].len, a[1].u.i);
	long e = n > 2 ? (a[2].u.i < 0 ? -1 : cp_offset(a[0].u.s, a[0].len, a[2].u.i)) : (long)a[0].len;
	if (s < 0 || e < 0 || e < s)
		return dh_error_set(DH_EINVAL, "subs: index out of range");
	return mkstr(c, out, DH_STRING, a[0].u.s + s, (size_t)(e - s));
}

static int need_str(const char *fn, const struct dh_val *v)
{
	if (v->type == DH_STRING)
		return 0;
	return dh_error_set(DH_EINVAL, "%s: expected a string, got %s", fn, tname(v));
}

static int f_blank(ARGS)
{
	(void)c, (void)n;
	if (a[0].type == DH_NIL)
		return *out = dh_bool(1), 0;
	if (need_str("clojure.string/blank?", &a[0]))
		return DH_EINVAL;
	for (uint32_t i = 0; i < a[0].len; i++)
		if (!strchr(" \t\n\r\f\v", a[0].u.s[i]))
			return *out = dh_bool(0), 0;
	return *out = dh_bool(1), 0;
}

static int strpred(const char *fn, const struct dh_val *a, struct dh_val *out, int kind)
{
	if (need_str(fn, &a[0]) || need_str(fn, &a[1]))
		return DH_EINVAL;
	const char *s = a[0].u.s, *t = a[1].u.s;
	size_t sl = a[0].len, tl = a[1].len;
	int r = 0;
	if (kind == 0)
		r = tl == 0 || memmem(s, sl, t, tl) != NULL;
	else if (kind == 1)
		r = tl <= sl && !memcmp(s, t, tl);
	else
		r = tl <= sl && !memcmp(s + sl - tl, t, tl);
	*out = dh_bool(r);
	return 0;
}

static int f_includes(ARGS) { (void)c, (void)n; return strpred("clojure.string/includes?", a, out, 0); }
static int f_starts(ARGS) { (void)c, (void)n; return strpred("clojure.string/starts-with?", a, out, 1); }
static int f_ends(ARGS) { (void)c, (void)n; return strpred("clojure.string/ends-with?", a, out, 2); }

static int f_case(struct qctx *c, const struct dh_val *a, struct dh_val *out, int upper)
{
	if (need_str(upper ? "clojure.string/upper-case" : "clojure.string/lower-case", &a[0]))
		return DH_EINVAL;
	int rc = mkstr(c, out, DH_STRING, a[0].u.s, a[0].len);
	if (rc)
		return rc;
	char *s = (char *)out->u.s;
	for (uint32_t i = 0; i < out->len; i++)
		if ((unsigned char)s[i] < 0x80)
			s[i] = (char)(upper ? (s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i])
			                    : (s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]));
	return 0;
}

static int f_upper(ARGS) { (void)n; return f_case(c, a, out, 1); }
static int f_lower(ARGS) { (void)n; return f_case(c, a, out, 0); }

static int f_keyword(ARGS)
{
	if (a[0].type == DH_KEYWORD)
		return *out = a[0], 0;
	if (n == 2) {
		if (need_str("keyword", &a[0]) || need_str("keyword", &a[1]))
			return DH_EINVAL;
		struct dh_buf b = DH_BUF_INIT;
		int rc = dh_buf_addf(&b, "%.*s/%.*s", (int)a[0].len, a[0].u.s, (int)a[1].len, a[1].u.s);
		if (!rc)
			rc = mkstr(c, out, DH_KEYWORD, b.data, b.len);
		dh_buf_release(&b);
		return rc;
	}
	if (a[0].type != DH_STRING && a[0].type != DH_SYMBOL)
		return dh_error_set(DH_EINVAL, "keyword: expected a string, got %s", tname(&a[0]));
	const char *s = a[0].u.s;
	size_t l = a[0].len;
	if (l && s[0] == ':')
		s++, l--;
	return mkstr(c, out, DH_KEYWORD, s, l);
}

static int f_name(ARGS)
{
	(void)n;
	if (a[0].type == DH_STRING)
		return *out = a[0], 0;
	if (a[0].type != DH_KEYWORD && a[0].type != DH_SYMBOL)
		return dh_error_set(DH_EINVAL, "name: expected a keyword, symbol or string, got %s", tname(&a[0]));
	const char *sl = memchr(a[0].u.s, '/', a[0].len);
	if (sl && a[0].len > 1)
		return mkstr(c, out, DH_STRING, sl + 1, a[0].len - (size_t)(sl + 1 - a[0].u.s));
	return mkstr(c, out, DH_STRING, a[0].u.s, a[0].len);
}

static int f_namespace(ARGS)
{
	(void)n;
	if (a[0].type != DH_KEYWORD && a[0].type != DH_SYMBOL)
		return dh_error_set(DH_EINVAL, "namespace: expected a keyword or symbol, got %s", tname(&a[0]));
	const char *sl = memchr(a[0].u.s, '/', a[0].len);
	if (!sl || a[0].len == 1)
		return *out = dh_nil(), 1;
	return mkstr(c, out, DH_STRING, a[0].u.s, (size_t)(sl - a[0].u.s));
}

/* ---- collections -------------------------------------------------------------- */

static int mkcoll(struct qctx *c, struct dh_val *out, enum dh_type t, const struct dh_val *a, int n)
{
	return q_mkvec(c->arena, out, t, a, (size_t)n);
}

static int f_vector(ARGS) { return mkcoll(c, out, DH_VECTOR, a, n); }
static int f_list(ARGS) { return mkcoll(c, out, DH_LIST, a, n); }

static int f_set(ARGS)
{
	(void)n;
	if (a[0].type != DH_VECTOR && a[0].type != DH_LIST && a[0].type != DH_SET)
		return dh_error_set(DH_EINVAL, "set: expected a collection, got %s", tname(&a[0]));
	struct dh_val *it = alloc_items(c, a[0].len);
	size_t k = 0;
	if (!it)
		return DH_ENOMEM;
	for (uint32_t i = 0; i < a[0].len; i++) {
		size_t j;
		for (j = 0; j < k; j++)
			if (dh_val_eq(&it[j], &a[0].u.items[i]))
				break;
		if (j == k)
			it[k++] = a[0].u.items[i];
	}
	*out = (struct dh_val){ .type = DH_SET, .len = (uint32_t)k };
	out->u.items = it;
	return 0;
}

static int f_hashmap(ARGS)
{
	if (n % 2)
		return dh_error_set(DH_EINVAL, "hash-map: needs an even number of arguments");
	return mkcoll(c, out, DH_MAP, a, n);
}

static int f_count(ARGS)
{
	(void)c, (void)n;
	switch (a[0].type) {
	case DH_NIL: *out = dh_long(0); return 0;
	case DH_STRING: *out = dh_long((int64_t)cp_count(a[0].u.s, a[0].len)); return 0;
	case DH_MAP: *out = dh_long(a[0].len / 2); return 0;
	case DH_VECTOR: case DH_LIST: case DH_SET: *out = dh_long(a[0].len); return 0;
	default: return dh_error_set(DH_EINVAL, "count: not supported on %s", tname(&a[0]));
	}
}

static int f_empty(ARGS)
{
	struct dh_val cnt;
	int rc = f_count(c, a, n, &cnt);
	if (!rc)
		*out = dh_bool(cnt.u.i == 0);
	return rc;
}

static int f_notempty(ARGS)
{
	struct dh_val cnt;
	int rc = f_count(c, a, n, &cnt);
	if (rc)
		return rc;
	if (cnt.u.i == 0)
		return *out = dh_nil(), 1;
	*out = a[0];
	return 0;
}

static int f_get(ARGS)
{
	(void)c;
	const struct dh_val *r = NULL;
	if (a[0].type == DH_MAP)
		r = dh_map_get(&a[0], &a[1]);
	else if ((a[0].type == DH_VECTOR) && a[1].type == DH_LONG && a[1].u.i >= 0 && a[1].u.i < a[0].len)
		r = &a[0].u.items[a[1].u.i];
	else if (a[0].type == DH_SET)
		for (uint32_t i = 0; i < a[0].len && !r; i++)
			if (dh_val_eq(&a[0].u.items[i], &a[1]))
				r = &a[0].u.items[i];
	if (r)
		return *out = *r, 0;
	if (n > 2)
		return *out = a[2], 0;
	return *out = dh_nil(), 1;
}

static int f_contains(ARGS)
{
	struct dh_val v;
	(void)n;
	if (a[0].type == DH_MAP || a[0].type == DH_SET || a[0].type == DH_VECTOR) {
		int rc = f_get(c, a, 2, &v);
		*out = dh_bool(rc == 0 && (a[0].type != DH_MAP || dh_map_get(&a[0], &a[1])));
		if (a[0].type == DH_SET)
			*out = dh_bool(rc == 0);
		return rc < 0 ? rc : 0;
	}
	*out = dh_bool(0);
	return 0;
}

static int f_range(ARGS)
{
	int64_t s = 0, e, st = 1;
	for (int i = 0; i < n; i++)
		if (a[i].type != DH_LONG)
			return dh_error_set(DH_EINVAL, "range: arguments must be integers");
	if (n == 1)
		e = a[0].u.i;
	else
		s = a[0].u.i, e = a[1].u.i;
	if (n == 3)
		st = a[2].u.i;
	if (st == 0)
		return dh_error_set(DH_EINVAL, "range: step must not be 0");
	int64_t cnt = st > 0 ? (e > s ? (e - s + st - 1) / st : 0) : (s > e ? (s - e - st - 1) / -st : 0);
	if (cnt > 10000000)
		return dh_error_set(DH_EINVAL, "range: too many elements (%lld)", (long long)cnt);
	struct dh_val *it = alloc_items(c, (size_t)cnt);
	if (!it)
		return DH_ENOMEM;
	for (int64_t i = 0; i < cnt; i++)
		it[i] = dh_long(s + i * st);
	*out = (struct dh_val){ .type = DH_VECTOR, .len = (uint32_t)cnt };
	out->u.items = it;
	return 0;
}

static int f_tuple(ARGS) { return mkcoll(c, out, DH_VECTOR, a, n); }

static int f_untuple(ARGS)
{
	(void)c, (void)n;
	if (!(a[0].type == DH_VECTOR || a[0].type == DH_LIST))
		return dh_error_set(DH_EINVAL, "untuple: expected a tuple, got %s", tname(&a[0]));
	*out = a[0];
	return 0;
}

/* ---- random ---------------------------------------------------------------- */

static uint64_t rnd(struct qctx *c)
{
	uint64_t x = c->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return c->rng = x;
}

static int f_rand(ARGS)
{
	double r = (double)(rnd(c) >> 11) / 9007199254740992.0;
	if (n == 1) {
		if (need_num("rand", &a[0]))
			return DH_EINVAL;
		r *= numd(&a[0]);
	}
	*out = dh_double(r);
	return 0;
}

static int f_randint(ARGS)
{
	(void)n;
	if (a[0].type != DH_LONG || a[0].u.i <= 0)
		return dh_error_set(DH_EINVAL, "rand-int: expected a positive integer");
	*out = dh_long((int64_t)(rnd(c) % (uint64_t)a[0].u.i));
	return 0;
}

/* ---- regular expressions ---------------------------------------------------- */

/*
 * Translate the Java syntax we support into POSIX ERE.  Groups are counted
 * so (?:...) does not shift the numbering seen by the caller: map[i] is the
 * POSIX group of Java group i.
 */
static int re_translate(const char *p, size_t len, struct dh_buf *out, int *icase, int *map, int *ngroups)
{
	int rc = 0, depth = 0, posix = 0, java = 0;
	int capturing[256];
	size_t i = 0;
	*icase = 0;
	if (len >= 4 && !memcmp(p, "(?i)", 4))
		*icase = 1, i = 4;
	int inclass = 0;
	for (; i < len && !rc; i++) {
		char ch = p[i];
		if (ch == '\\' && i + 1 < len) {
			char e = p[++i];
			const char *rep = NULL;
			switch (e) {
			case 'd': rep = inclass ? "0-9" : "[0-9]"; break;
			case 'D': rep = inclass ? NULL : "[^0-9]"; break;
			case 'w': rep = inclass ? "A-Za-z0-9_" : "[A-Za-z0-9_]"; break;
			case 'W': rep = inclass ? NULL : "[^A-Za-z0-9_]"; break;
			case 's': rep = inclass ? "[:space:]" : "[[:space:]]"; break;
			case 'S': rep = inclass ? NULL : "[^[:space:]]"; break;
			case 't': rep = "\t"; break;
			case 'n': rep = "\n"; break;
			case 'r': rep = "\r"; break;
			case 'b': case 'B': rep = inclass ? NULL : (e == 'b' ? "\\b" : "\\B"); break;
			default:
				if (inclass) {
					char tmp[2] = { e, 0 };
					rc = dh_buf_adds(out, e == ']' || e == '\\' || e == '^' || e == '-' ? "" : tmp);
					if (!rc && (e == ']' || e == '^' || e == '-' || e == '\\')) {
						/* position-dependent in POSIX classes: give up cleanly */
						return dh_error_set(DH_EINVAL, "regex: escaped '%c' inside [] is not supported", e);
					}
					continue;
				}
				if (e >= '0' && e <= '9')
					return dh_error_set(DH_EINVAL, "regex: back references are not supported");
				rc = dh_buf_addc(out, '\\');
				if (!rc)
					rc = dh_buf_addc(out, e);
				continue;
			}
			if (!rep)
				return dh_error_set(DH_EINVAL, "regex: \\%c inside [] is not supported", e);
			rc = dh_buf_adds(out, rep);
			continue;
		}
		if (inclass) {
			if (ch == ']' && inclass > 1)
				inclass = 0;
			else
				inclass++;
			rc = dh_buf_addc(out, ch);
			continue;
		}
		if (ch == '[') {
			inclass = 1;
			rc = dh_buf_addc(out, ch);
			if (!rc && i + 1 < len && p[i + 1] == '^')
				rc = dh_buf_addc(out, p[++i]);
			if (!rc && i + 1 < len && p[i + 1] == ']')
				rc = dh_buf_addc(out, p[++i]), inclass = 2;
			continue;
		}
		if (ch == '(') {
			if (depth >= 255)
				return dh_error_set(DH_EINVAL, "regex: nested too deeply");
			if (i + 1 < len && p[i + 1] == '?') {
				if (i + 2 < len && p[i + 2] == ':') {
					capturing[depth++] = 0;
					posix++;
					i += 2;
					rc = dh_buf_addc(out, '(');
					continue;
				}
				return dh_error_set(DH_EINVAL, "regex: (?%c...) is not supported", i + 2 < len ? p[i + 2] : ' ');
			}
			capturing[depth++] = 1;
			posix++;
			java++;
			if (java < 32)
				map[java] = posix;
			rc = dh_buf_addc(out, '(');
			continue;
		}
		if (ch == ')') {
			if (depth > 0)
				depth--;
			rc = dh_buf_addc(out, ')');
			continue;
		}
		if ((ch == '?' || ch == '+') && i > 0 && (p[i - 1] == '*' || p[i - 1] == '+' || p[i - 1] == '?' ||
		                                          p[i - 1] == '}') && !(i > 1 && p[i - 2] == '\\'))
			return dh_error_set(DH_EINVAL, "regex: lazy and possessive quantifiers are not supported");
		rc = dh_buf_addc(out, ch);
	}
	(void)capturing;
	*ngroups = java < 31 ? java : 31;
	return rc;
}

struct re_entry {
	char *src;
	size_t len;
	regex_t re;
	int map[32];
	int ngroups;
};

static struct re_entry re_cache[16];
static int re_next;

static void re_cache_drop(int i)
{
	if (re_cache[i].src) {
		regfree(&re_cache[i].re);
		free(re_cache[i].src);
		re_cache[i].src = NULL;
	}
}

static void __attribute__((destructor)) re_cache_free(void)
{
	for (int i = 0; i < 16; i++)
		re_cache_drop(i);
}

static int re_get(const struct dh_val *pat, struct re_entry **out)
{
	const struct dh_val *p = pat;
	if (p->type == DH_TAGGED)
		p = &p->u.items[1];
	if (p->type != DH_STRING)
		return dh_error_set(DH_EINVAL, "regex: expected a pattern (string or re-pattern), got %s", tname(p));
	for (int i = 0; i < 16; i++)
		if (re_cache[i].src && re_cache[i].len == p->len && !memcmp(re_cache[i].src, p->u.s, p->len))
			return *out = &re_cache[i], 0;
	struct dh_buf b = DH_BUF_INIT;
	struct re_entry e = { 0 };
	int icase, rc;
	if ((rc = re_translate(p->u.s, p->len, &b, &icase, e.map, &e.ngroups))) {
		dh_buf_release(&b);
		return rc;
	}
	int err = regcomp(&e.re, b.data ? b.data : "", REG_EXTENDED | (icase ? REG_ICASE : 0));
	dh_buf_release(&b);
	if (err) {
		char msg[128];
		regerror(err, &e.re, msg, sizeof(msg));
		return dh_error_set(DH_EINVAL, "regex '%.*s': %s", (int)p->len, p->u.s, msg);
	}
	e.src = malloc(p->len + 1);
	if (!e.src) {
		regfree(&e.re);
		return DH_ENOMEM;
	}
	memcpy(e.src, p->u.s, p->len);
	e.src[p->len] = 0;
	e.len = p->len;
	int slot = re_next++ % 16;
	re_cache_drop(slot);
	re_cache[slot] = e;
	*out = &re_cache[slot];
	return 0;
}

/* The match value: the string, or [whole g1 g2 ...] when there are groups. */
static int re_value(struct qctx *c, struct re_entry *e, const char *s, regmatch_t *m, struct dh_val *out)
{
	if (!e->ngroups)
		return mkstr(c, out, DH_STRING, s + m[0].rm_so, (size_t)(m[0].rm_eo - m[0].rm_so));
	struct dh_val *it = alloc_items(c, (size_t)e->ngroups + 1);
	int rc = 0;
	if (!it)
		return DH_ENOMEM;
	for (int g = 0; g <= e->ngroups && !rc; g++) {
		int pg = g ? e->map[g] : 0;
		if (m[pg].rm_so < 0)
			it[g] = dh_nil();
		else
			rc = mkstr(c, &it[g], DH_STRING, s + m[pg].rm_so, (size_t)(m[pg].rm_eo - m[pg].rm_so));
	}
	*out = (struct dh_val){ .type = DH_VECTOR, .len = (uint32_t)e->ngroups + 1 };
	out->u.items = it;
	return rc;
}

static int f_repattern(ARGS)
{
	(void)n;
	struct re_entry *e;
	int rc;
	if (a[0].type == DH_TAGGED)
		return *out = a[0], 0;
	if ((rc = re_get(&a[0], &e)))
		return rc;
	struct dh_val *it = alloc_items(c, 2);
	if (!it)
		return DH_ENOMEM;
	it[0] = dh_text(DH_SYMBOL, "regex", 5);
	it[1] = a[0];
	*out = (struct dh_val){ .type = DH_TAGGED, .len = 2 };
	out->u.items = it;
	return 0;
}

static int re_run(struct qctx *c, const struct dh_val *a, struct dh_val *out, int kind)
{
	struct re_entry *e;
	regmatch_t m[33];
	int rc;
	if ((rc = re_get(&a[0], &e)))
		return rc;
	if (a[1].type != DH_STRING)
		return dh_error_set(DH_EINVAL, "re-find: expected a string, got %s", tname(&a[1]));
	const char *s = a[1].u.s;
	if (kind == 0 || kind == 1) {
		if (regexec(&e->re, s, 33, m, 0))
			return *out = dh_nil(), 1;
		if (kind == 1 && (m[0].rm_so != 0 || (size_t)m[0].rm_eo != a[1].len))
			return *out = dh_nil(), 1;
		return re_value(c, e, s, m, out);
	}
	/* re-seq */
	struct dh_val tmp[1024];
	size_t k = 0, off = 0;
	while (k < 1024 && off <= a[1].len && !regexec(&e->re, s + off, 33, m, off ? REG_NOTBOL : 0)) {
		if ((rc = re_value(c, e, s + off, m, &tmp[k++])))
			return rc;
		off += m[0].rm_eo > m[0].rm_so ? (size_t)m[0].rm_eo : (size_t)m[0].rm_eo + 1;
	}
	if (!k)
		return *out = dh_nil(), 1;
	return q_mkvec(c->arena, out, DH_VECTOR, tmp, k);
}

static int f_refind(ARGS) { (void)n; return re_run(c, a, out, 0); }
static int f_rematches(ARGS) { (void)n; return re_run(c, a, out, 1); }
static int f_reseq(ARGS) { (void)n; return re_run(c, a, out, 2); }

/* ---- source functions -------------------------------------------------------- */

struct first {
	struct dh_val v;
	int found;
};

static int first_cb(const struct dh_qdatom *d, void *payload)
{
	struct first *f = payload;
	if (!d->added)
		return 0;
	f->v = d->v;
	f->found = 1;
	return 1;
}

static int src_lookup(struct qctx *c, const struct dh_val *srcarg, const struct dh_val *e, const struct dh_val *attr,
                      struct first *f)
{
	int si = (int)srcarg->u.i;
	struct dh_query_source *s = si >= 0 && si < c->q->nsrcs ? c->srcs[si] : NULL;
	int64_t eid;
	f->found = 0;
	if (!s)
		return dh_error_set(DH_EINVAL, "expected a database source as first argument");
	if (attr->type != DH_KEYWORD)
		return dh_error_set(DH_EINVAL, "expected an attribute keyword, got %s", tname(attr));
	if (dh_query_resolve(s, e, &eid))
		return 0;
	struct dh_val ev = dh_long(eid);
	int rc = s->ops->scan(s, &ev, attr, NULL, NULL, first_cb, f);
	return rc == 1 ? 0 : rc;
}

static int f_getelse(ARGS)
{
	struct first f;
	(void)n;
	if (a[3].type == DH_NIL)
		return dh_error_set(DH_EINVAL, "get-else: nil default value is not supported");
	int rc = src_lookup(c, &a[0], &a[1], &a[2], &f);
	if (rc)
		return rc;
	*out = f.found ? f.v : a[3];
	return 0;
}

static int f_getsome(ARGS)
{
	struct first f;
	for (int i = 2; i < n; i++) {
		int rc = src_lookup(c, &a[0], &a[1], &a[i], &f);
		if (rc)
			return rc;
		if (f.found) {
			struct dh_val pair[2] = { a[i], f.v };
			return q_mkvec(c->arena, out, DH_VECTOR, pair, 2);
		}
	}
	*out = dh_nil();
	return 1;
}

static int f_missing(ARGS)
{
	struct first f;
	(void)n;
	int rc = src_lookup(c, &a[0], &a[1], &a[2], &f);
	if (rc)
		return rc;
	*out = dh_bool(!f.found);
	return 0;
}

/* ---- the table ------------------------------------------------------------------ */

static const struct builtin builtins[] = {
	{ "=", f_eq, 1, -1, 0 },
	{ "==", f_numeq, 1, -1, 0 },
	{ "not=", f_neq, 1, -1, 0 },
	{ "!=", f_neq, 1, -1, 0 },
	{ "<", f_lt, 1, -1, 0 },
	{ ">", f_gt, 1, -1, 0 },
	{ "<=", f_le, 1, -1, 0 },
	{ ">=", f_ge, 1, -1, 0 },
	{ "compare", f_compare, 2, 2, 0 },
	{ "+", f_add, 0, -1, 0 },
	{ "-", f_sub, 1, -1, 0 },
	{ "*", f_mul, 0, -1, 0 },
	{ "/", f_div, 1, -1, 0 },
	{ "quot", f_quot, 2, 2, 0 },
	{ "rem", f_rem, 2, 2, 0 },
	{ "mod", f_mod, 2, 2, 0 },
	{ "inc", f_inc, 1, 1, 0 },
	{ "dec", f_dec, 1, 1, 0 },
	{ "abs", f_abs, 1, 1, 0 },
	{ "max", f_max, 1, -1, 0 },
	{ "min", f_min, 1, -1, 0 },
	{ "zero?", f_zero, 1, 1, 0 },
	{ "pos?", f_pos, 1, 1, 0 },
	{ "neg?", f_neg, 1, 1, 0 },
	{ "even?", f_even, 1, 1, 0 },
	{ "odd?", f_odd, 1, 1, 0 },
	{ "true?", f_true, 1, 1, 0 },
	{ "false?", f_false, 1, 1, 0 },
	{ "nil?", f_nil, 1, 1, 0 },
	{ "some?", f_some, 1, 1, 0 },
	{ "not", f_not, 1, 1, 0 },
	{ "and", f_and, 0, -1, 0 },
	{ "or", f_or, 0, -1, 0 },
	{ "identity", f_identity, 1, 1, 0 },
	{ "identical?", f_eq, 2, 2, 0 },
	{ "ground", f_identity, 1, 1, 0 },
	{ "str", f_str, 0, -1, 0 },
	{ "pr-str", f_prstr, 0, -1, 0 },
	{ "subs", f_subs, 2, 3, 0 },
	{ "clojure.string/blank?", f_blank, 1, 1, 0 },
	{ "clojure.string/includes?", f_includes, 2, 2, 0 },
	{ "clojure.string/starts-with?", f_starts, 2, 2, 0 },
	{ "clojure.string/ends-with?", f_ends, 2, 2, 0 },
	{ "clojure.string/upper-case", f_upper, 1, 1, 0 },
	{ "clojure.string/lower-case", f_lower, 1, 1, 0 },
	{ "keyword", f_keyword, 1, 2, 0 },
	{ "name", f_name, 1, 1, 0 },
	{ "namespace", f_namespace, 1, 1, 0 },
	{ "vector", f_vector, 0, -1, 0 },
	{ "list", f_list, 0, -1, 0 },
	{ "set", f_set, 1, 1, 0 },
	{ "hash-map", f_hashmap, 0, -1, 0 },
	{ "array-map", f_hashmap, 0, -1, 0 },
	{ "count", f_count, 1, 1, 0 },
	{ "empty?", f_empty, 1, 1, 0 },
	{ "not-empty", f_notempty, 1, 1, 0 },
	{ "get", f_get, 2, 3, 0 },
	{ "contains?", f_contains, 2, 2, 0 },
	{ "range", f_range, 1, 3, 0 },
	{ "tuple", f_tuple, 0, -1, 0 },
	{ "untuple", f_untuple, 1, 1, 0 },
	{ "rand", f_rand, 0, 1, 0 },
	{ "rand-int", f_randint, 1, 1, 0 },
	{ "re-pattern", f_repattern, 1, 1, 0 },
	{ "re-find", f_refind, 2, 2, 0 },
	{ "re-matches", f_rematches, 2, 2, 0 },
	{ "re-seq", f_reseq, 2, 2, 0 },
	{ "get-else", f_getelse, 4, 4, 1 },
	{ "get-some", f_getsome, 3, -1, 1 },
	{ "missing?", f_missing, 3, 3, 1 },
};

const struct builtin *q_builtin(const char *name)
{
	for (size_t i = 0; i < sizeof(builtins) / sizeof(*builtins); i++)
		if (!strcmp(builtins[i].name, name))
			return &builtins[i];
	/* clojure.core/x and str/x aliases */
	if (!strncmp(name, "clojure.core/", 13))
		return q_builtin(name + 13);
	if (!strncmp(name, "str/", 4)) {
		char full[96];
		snprintf(full, sizeof(full), "clojure.string/%s", name + 4);
		return q_builtin(full);
	}
	return NULL;
}

/* ---- aggregates -------------------------------------------------------------------- */

static const char *aggs[] = { "count", "count-distinct", "sum", "avg", "min", "max", "median", "variance",
                              "stddev", "distinct", "rand", "sample" };

int q_is_aggregate(const char *name)
{
	for (size_t i = 0; i < sizeof(aggs) / sizeof(*aggs); i++)
		if (!strcmp(aggs[i], name))
			return 1;
	return 0;
}

static int cmp_asc(const void *x, const void *y) { return q_cmp(x, y); }
static int cmp_desc(const void *x, const void *y) { return q_cmp(y, x); }

static size_t distinct_inplace(struct dh_val *v, size_t n)
{
	/* sort, then drop neighbours that are = (cmp order puts equal values together) */
	qsort(v, n, sizeof(*v), cmp_asc);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int dup = 0;
		for (size_t j = k; j-- > 0 && !q_cmp(&v[j], &v[i]) && !dup;)
			dup = dh_val_eq(&v[j], &v[i]);
		if (!dup)
			v[k++] = v[i];
	}
	return k;
}

static int sum_vals(const char *fn, const struct dh_val *v, size_t n, struct dh_val *out)
{
	int64_t li = 0;
	double d = 0;
	int isd = 0;
	for (size_t i = 0; i < n; i++) {
		if (need_num(fn, &v[i]))
			return DH_EINVAL;
		if (v[i].type == DH_LONG && !isd) {
			if (__builtin_add_overflow(li, v[i].u.i, &li))
				return dh_error_set(DH_EINVAL, "integer overflow in %s", fn);
		} else {
			if (!isd)
				d = (double)li, isd = 1;
			d += numd(&v[i]);
		}
	}
	*out = isd ? dh_double(d) : dh_long(li);
	return 0;
}

int q_aggregate(struct qctx *c, const struct find_elem *fe, struct dh_val *vals, size_t n, struct dh_val *out)
{
	const char *f = fe->agg;
	int rc = 0;
	int64_t k = -1;
	if (fe->nconst > 0) {
		if (fe->cargs[0].type != DH_LONG || fe->cargs[0].u.i < 0)
			return dh_error_set(DH_EINVAL, "(%s n ?x): n must be a non-negative integer", f);
		k = fe->cargs[0].u.i;
	}
	if (!strcmp(f, "count")) {
		*out = dh_long((int64_t)n);
	} else if (!strcmp(f, "count-distinct")) {
		*out = dh_long((int64_t)distinct_inplace(vals, n));
	} else if (!strcmp(f, "sum")) {
		rc = sum_vals("sum", vals, n, out);
	} else if (!strcmp(f, "avg")) {
		struct dh_val s;
		if (!(rc = sum_vals("avg", vals, n, &s)))
			*out = dh_double(numd(&s) / (double)n);
	} else if (!strcmp(f, "min") || !strcmp(f, "max")) {
		int mx = f[1] == 'a';
		if (k < 0) {
			*out = vals[0];
			for (size_t i = 1; i < n; i++)
				if (mx ? q_cmp(&vals[i], out) > 0 : q_cmp(&vals[i], out) < 0)
					*out = vals[i];
		} else {
			qsort(vals, n, sizeof(*vals), mx ? cmp_desc : cmp_asc);
			rc = q_mkvec(c->arena, out, DH_VECTOR, vals, (size_t)k < n ? (size_t)k : n);
		}
	} else if (!strcmp(f, "median")) {
		for (size_t i = 0; i < n; i++)
			if (need_num("median", &vals[i]))
				return DH_EINVAL;
		qsort(vals, n, sizeof(*vals), cmp_asc);
		if (n % 2)
			*out = vals[n / 2];
		else {
			struct dh_val two[2] = { vals[n / 2 - 1], vals[n / 2] }, s;
			if (!(rc = arith("median", '+', two, 2, &s))) {
				struct dh_val d[2] = { s, dh_long(2) };
				rc = arith("median", '/', d, 2, out);
			}
		}
	} else if (!strcmp(f, "variance") || !strcmp(f, "stddev")) {
		double mean = 0, var = 0;
		for (size_t i = 0; i < n; i++) {
			if (need_num(f, &vals[i]))
				return DH_EINVAL;
			mean += numd(&vals[i]);
		}
		mean /= (double)n;
		for (size_t i = 0; i < n; i++)
			var += (numd(&vals[i]) - mean) * (numd(&vals[i]) - mean);
		var /= (double)n;
		*out = dh_double(f[0] == 's' ? sqrt(var) : var);
	} else if (!strcmp(f, "distinct")) {
		size_t m = distinct_inplace(vals, n);
		rc = q_mkvec(c->arena, out, DH_SET, vals, m);
	} else if (!strcmp(f, "rand")) {
		if (k < 0) {
			*out = vals[rnd(c) % n];
		} else {
			struct dh_val *it = alloc_items(c, (size_t)k);
			if (!it)
				return DH_ENOMEM;
			for (int64_t i = 0; i < k; i++)
				it[i] = vals[rnd(c) % n];
			rc = q_mkvec(c->arena, out, DH_VECTOR, it, (size_t)k);
		}
	} else if (!strcmp(f, "sample")) {
		size_t m = distinct_inplace(vals, n);
		for (size_t i = m; i > 1; i--) {
			size_t j = rnd(c) % i;
			struct dh_val t = vals[i - 1];
			vals[i - 1] = vals[j];
			vals[j] = t;
		}
		rc = q_mkvec(c->arena, out, DH_VECTOR, vals, (size_t)(k < 0 ? 1 : ((size_t)k < m ? (size_t)k : m)));
	} else {
		rc = dh_error_set(DH_EINVAL, "unknown aggregate '%s'", f);
	}
	return rc;
}
