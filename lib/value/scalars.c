/*
 * scalars.c - text and binary forms of scalar values, shared by the codecs.
 *
 * EDN, JSON and CBOR disagree on how a double, a BigDecimal, an instant or
 * a UUID is written, but each form must be produced and parsed exactly one
 * way everywhere, so the conversions live here (see internal.h for the
 * contracts).  Floating-point text follows Java's Double.toString because
 * Datahike prints values the way Clojure does; decimal text follows
 * BigDecimal.toString for the same reason.
 */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- integers ------------------------------------------------------------ */

int dhv_put_long(struct dh_buf *out, int64_t i)
{
	char t[24];
	int n = sizeof(t);
	uint64_t m = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;

	do {
		t[--n] = (char)('0' + m % 10);
		m /= 10;
	} while (m);
	if (i < 0)
		t[--n] = '-';
	return dh_buf_add(out, t + n, sizeof(t) - (size_t)n);
}

/* ---- locale-independent strtod ------------------------------------------ */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

double dhv_strtod(const char *s, char **end)
{
	pthread_once(&c_locale_once, make_c_locale);
	if (c_locale)
		return strtod_l(s, end, c_locale);
	return strtod(s, end);
}

/* ---- Java-style floating-point text ------------------------------------- */

/* "%.*e" of d with the C locale's decimal point, whatever the locale. */
static void fmt_e(char *out, size_t size, int prec, double d)
{
	snprintf(out, size, "%.*e", prec, d);
	for (char *p = out; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == 'e' || *p == '-' || *p == '+'))
			*p = '.';
}

/* Whether d printed with p significant digits (into tmp) reads back. */
static int reads_back(char *tmp, size_t size, int p, double d, int is_float)
{
	double back;

	fmt_e(tmp, size, p - 1, d);
	back = dhv_strtod(tmp, NULL);
	return is_float ? (float)back == (float)d : back == d;
}

/*
 * Shortest decimal digits of d that read back to d: digits into dig (no
 * point, trailing zeros removed), returns the count; *exp10 gets the
 * decimal exponent of the first digit.
 */
static int shortest_digits(char *dig, int *exp10, double d, int is_float)
{
	char tmp[64];
	int p, n = 0, maxp = is_float ? 9 : 17;
	const char *q;

	/*
	 * Reading back is monotonic in the number of digits (p digits that
	 * read back are also p + 1 digits ending in 0, and the closest p + 1
	 * digits are no farther), so: short values by trying 1 to 3 digits,
	 * the rest by bisection up to 17 (9 for floats).
	 */
	for (p = 1; p <= 3; p++)
		if (reads_back(tmp, sizeof(tmp), p, d, is_float))
			break;
	if (p > 3) {
		int lo = 4, hi = maxp;

		while (lo < hi) {
			int mid = (lo + hi) / 2;

			if (reads_back(tmp, sizeof(tmp), mid, d, is_float))
				hi = mid;
			else
				lo = mid + 1;
		}
		p = lo;
		fmt_e(tmp, sizeof(tmp), p - 1, d);
	}
	if (p == 1) {
		/* Java shows at least two significant digits in E notation and
		 * takes the two closest to the value: 4.9E-324, not 5.0E-324 */
		char two[64];

		fmt_e(two, sizeof(two), 1, d);
		if (two[2] != '0')
			memcpy(tmp, two, sizeof(tmp));
	}
	q = tmp;
	if (*q == '-')
		q++;
	for (; *q && *q != 'e'; q++)
		if (*q >= '0' && *q <= '9')
			dig[n++] = *q;
	*exp10 = *q == 'e' ? atoi(q + 1) : 0;
	while (n > 1 && dig[n - 1] == '0')
		n--;
	dig[n] = '\0';
	return n;
}

int dhv_fmt_double(char *out, double d, int is_float)
{
	char dig[32];
	int n, e, len = 0, i;
	double ad = fabs(d);

	if (signbit(d))
		out[len++] = '-';
	if (d == 0) {
		memcpy(out + len, "0.0", 4);
		return len + 3;
	}
	n = shortest_digits(dig, &e, ad, is_float);
	if (ad >= 1e-3 && ad < 1e7) {
		if (e >= 0) {
			for (i = 0; i <= e; i++)
				out[len++] = i < n ? dig[i] : '0';
			out[len++] = '.';
			if (n > e + 1)
				for (i = e + 1; i < n; i++)
					out[len++] = dig[i];
			else
				out[len++] = '0';
		} else {
			out[len++] = '0';
			out[len++] = '.';
			for (i = 0; i < -e - 1; i++)
				out[len++] = '0';
			for (i = 0; i < n; i++)
				out[len++] = dig[i];
		}
	} else {
		out[len++] = dig[0];
		out[len++] = '.';
		if (n > 1)
			for (i = 1; i < n; i++)
				out[len++] = dig[i];
		else
			out[len++] = '0';
		len += sprintf(out + len, "E%d", e);
	}
	out[len] = '\0';
	return len;
}

/* ---- decimals ------------------------------------------------------------ */

int dhv_dec_parse(struct dhv_dec *d, char *tmp, const char *s, size_t len)
{
	size_t i = 0, nd = 0, nfrac = 0;
	int64_t exp = 0;
	int any = 0;

	d->neg = 0;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		d->neg = s[i++] == '-';
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, any = 1)
		if (nd || s[i] != '0')
			tmp[nd++] = s[i];
	if (!any)
		return -1;
	if (i < len && s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nfrac++)
			if (nd || s[i] != '0')
				tmp[nd++] = s[i];
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		int eneg = 0, edig = 0;

		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			eneg = s[i++] == '-';
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, edig++) {
			exp = exp * 10 + (s[i] - '0');
			if (exp > INT32_MAX)
				return -1;
		}
		if (!edig)
			return -1;
		if (eneg)
			exp = -exp;
	}
	if (i != len)
		return -1;
	if (!nd)
		tmp[nd++] = '0';
	tmp[nd] = '\0';
	d->digits = tmp;
	d->ndigits = nd;
	d->scale = (int64_t)nfrac - exp;
	if (d->scale > INT32_MAX || d->scale < INT32_MIN)
		return -1;
	return 0;
}

int dhv_dec_text(struct dh_buf *out, const struct dhv_dec *d)
{
	int64_t nd = (int64_t)d->ndigits, adjusted = -d->scale + (nd - 1);
	int rc = 0;

	if (d->neg && !(nd == 1 && d->digits[0] == '0'))
		rc = dh_buf_addc(out, '-');
	if (rc)
		return rc;
	if (d->scale >= 0 && adjusted >= -6) {
		if (d->scale == 0)
			return dh_buf_add(out, d->digits, nd);
		if (nd > d->scale) {
			rc = dh_buf_add(out, d->digits, nd - d->scale);
			if (!rc)
				rc = dh_buf_addc(out, '.');
			if (!rc)
				rc = dh_buf_add(out, d->digits + nd - d->scale, d->scale);
			return rc;
		}
		rc = dh_buf_adds(out, "0.");
		for (int64_t i = 0; !rc && i < d->scale - nd; i++)
			rc = dh_buf_addc(out, '0');
		if (!rc)
			rc = dh_buf_add(out, d->digits, nd);
		return rc;
	}
	rc = dh_buf_addc(out, d->digits[0]);
	if (!rc && nd > 1) {
		rc = dh_buf_addc(out, '.');
		if (!rc)
			rc = dh_buf_add(out, d->digits + 1, nd - 1);
	}
	if (!rc)
		rc = dh_buf_addf(out, "E%s%lld", adjusted > 0 ? "+" : "", (long long)adjusted);
	return rc;
}

/* ---- bigints ------------------------------------------------------------- */

int dhv_bigint_from_bytes(const char **out, uint32_t *outlen, struct dh_arena *a,
                          const unsigned char *mag, size_t n, int neg, int plus_one)
{
	uint32_t *limbs = NULL, stack[64];
	size_t nl, i, first = 0, maxd, nd = 0;
	char *digits = NULL, *text;
	int rc = 0;

	while (n && !mag[0]) {
		mag++;
		n--;
	}
	/* at most 2.41 decimal digits per byte; the bytes of the largest
	 * number of DHV_MAX_BIG_DIGITS digits are accepted */
	if (n > DHV_MAX_BIG_DIGITS * 10 / 24 + 2)
		return DH_ECORRUPT;
	maxd = n * 241 / 100 + 12;
	nl = (n + 3) / 4 + 1;
	limbs = nl <= 64 ? stack : malloc(nl * sizeof(*limbs));
	digits = malloc(maxd);
	if (!limbs || !digits) {
		rc = dh_error_set(DH_ENOMEM, "out of memory (bigint)");
		goto out;
	}
	/* little-endian 32-bit limbs */
	memset(limbs, 0, nl * sizeof(*limbs));
	for (i = 0; i < n; i++) {
		size_t bit = (n - 1 - i) * 8;

		limbs[bit / 32] |= (uint32_t)mag[i] << (bit % 32);
	}
	if (plus_one)
		for (i = 0; i < nl && ++limbs[i] == 0; i++)
			;
	/* repeated division by 10^9, least significant group first */
	for (;;) {
		uint64_t rem = 0;
		size_t top = nl;
		int k;

		while (top > first && !limbs[top - 1])
			top--;
		if (top == 0)
			break;
		for (i = top; i-- > 0;) {
			uint64_t cur = (rem << 32) | limbs[i];

			limbs[i] = (uint32_t)(cur / 1000000000u);
			rem = cur % 1000000000u;
		}
		for (k = 0; k < 9; k++) {
			digits[nd++] = (char)('0' + rem % 10);
			rem /= 10;
		}
		nl = top;
	}
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (nd == 0)
		digits[nd++] = '0';
	text = dh_arena_alloc(a, nd + 2);
	if (!text) {
		rc = DH_ENOMEM;
		goto out;
	}
	i = 0;
	if (neg && !(nd == 1 && digits[0] == '0'))  /* zero has no sign: -0N is 0N */
		text[i++] = '-';
	while (nd)
		text[i++] = digits[--nd];
	text[i] = '\0';
	*out = text;
	*outlen = (uint32_t)i;
out:
	if (limbs != stack)
		free(limbs);
	free(digits);
	return rc;
}

int dhv_bigint_to_bytes(struct dh_buf *out, const char *d, size_t nd, int minus_one)
{
	uint32_t *limbs = NULL, stack[64];
	size_t nl = nd / 9 + 2, used = 1, i;
	int rc = 0;

	limbs = nl <= 64 ? stack : calloc(nl, sizeof(*limbs));
	if (!limbs)
		return dh_error_set(DH_ENOMEM, "out of memory (bigint)");
	if (limbs == stack)
		memset(stack, 0, sizeof(stack));
	for (i = 0; i < nd;) {
		/* the first group takes the odd digits, the rest nine each */
		size_t take = i == 0 && nd % 9 ? nd % 9 : 9;
		uint64_t mul = 1, add = 0, carry;
		size_t k;

		for (k = 0; k < take; k++) {
			mul *= 10;
			add = add * 10 + (uint64_t)(d[i + k] - '0');
		}
		i += take;
		carry = add;
		for (k = 0; k < used; k++) {
			uint64_t cur = (uint64_t)limbs[k] * mul + carry;

			limbs[k] = (uint32_t)cur;
			carry = cur >> 32;
		}
		if (carry)
			limbs[used++] = (uint32_t)carry;
	}
	if (minus_one)
		for (i = 0; i < used && limbs[i]-- == 0; i++)
			;
	while (used > 0 && !limbs[used - 1])
		used--;
	{
		int started = 0;

		for (i = used; i-- > 0;) {
			for (int sh = 24; sh >= 0; sh -= 8) {
				unsigned char byte = (unsigned char)(limbs[i] >> sh);

				if (!started && !byte)
					continue;
				started = 1;
				rc = dh_buf_addc(out, (char)byte);
				if (rc)
					goto out;
			}
		}
	}
out:
	if (limbs != stack)
		free(limbs);
	return rc;
}

/* ---- instants ------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int digits_at(const char *s, size_t len, size_t at, int n, int *val)
{
	int v = 0;

	if (at + (size_t)n > len)
		return -1;
	for (int i = 0; i < n; i++) {
		char c = s[at + i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*val = v;
	return 0;
}

int dhv_inst_parse(int64_t *ms, const char *s, size_t len, const char **why)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int month = 1, day = 1, hour = 0, min = 0, sec = 0, frac = 0, fd = 0;
	int off = 0, oh, om, ysign = 0;
	int64_t year = 0, t, dayms;
	size_t i = 0;

	*why = "malformed timestamp";
	/* four digits, or ISO 8601's expanded years: a sign and 4 to 9 digits */
	if (len && (s[0] == '+' || s[0] == '-'))
		ysign = s[i++] == '-' ? -1 : 1;
	for (; i < len && s[i] >= '0' && s[i] <= '9' && i < 10; i++)
		year = year * 10 + (s[i] - '0');
	if (ysign ? i < 5 : i != 4)
		return -1;
	if (ysign)
		year *= ysign;
	if (i < len && s[i] == '-') {
		if (digits_at(s, len, i + 1, 2, &month))
			return -1;
		i += 3;
		if (i < len && s[i] == '-') {
			if (digits_at(s, len, i + 1, 2, &day))
				return -1;
			i += 3;
			if (i < len && (s[i] == 'T' || s[i] == 't')) {
				if (digits_at(s, len, i + 1, 2, &hour))
					return -1;
				i += 3;
				if (i < len && s[i] == ':') {
					if (digits_at(s, len, i + 1, 2, &min))
						return -1;
					i += 3;
					if (i < len && s[i] == ':') {
						if (digits_at(s, len, i + 1, 2, &sec))
							return -1;
						i += 3;
						if (i < len && s[i] == '.') {
							i++;
							if (i >= len || s[i] < '0' || s[i] > '9')
								return -1;
							for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, fd++)
								if (fd < 3)
									frac = frac * 10 + (s[i] - '0');
							for (; fd < 3; fd++)
								frac *= 10;
						}
					}
				}
			}
		}
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		int neg = s[i] == '-';

		if (digits_at(s, len, i + 1, 2, &oh) || i + 3 >= len || s[i + 3] != ':' ||
		    digits_at(s, len, i + 4, 2, &om))
			return -1;
		if (oh > 23 || om > 59) {
			*why = "timezone offset out of range";
			return -1;
		}
		off = (oh * 60 + om) * (neg ? -1 : 1);
		i += 6;
	}
	if (i != len)
		return -1;
	if (month < 1 || month > 12) {
		*why = "month out of range";
		return -1;
	}
	if (day < 1 || day > mdays[month - 1] + (month == 2 && leap(year))) {
		*why = "day out of range";
		return -1;
	}
	if (hour > 23 || min > 59 || sec > 60 || (sec == 60 && min != 59)) {
		*why = "time out of range";
		return -1;
	}
	t = days_from_civil(year, (unsigned)month, (unsigned)day);
	/* milliseconds into the day (the offset included); for days before
	 * the epoch, count from the day after, so that the earliest instant
	 * (INT64_MIN ms) does not overflow on the way */
	dayms = ((int64_t)hour * 3600 + min * 60 + sec - off * 60) * 1000 + frac;
	if (t < 0) {
		t++;
		dayms -= 86400000;
	}
	if (__builtin_mul_overflow(t, 86400000, &t) || __builtin_add_overflow(t, dayms, &t)) {
		*why = "instant out of range";
		return -1;
	}
	*ms = t;
	return 0;
}

/* `v` in `width` decimal digits, zero-padded (v < 10^width). */
static int put_digits(char *out, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--, v /= 10)
		out[i] = (char)('0' + v % 10);
	return width;
}

int dhv_inst_fmt(char *out, int64_t ms, int millis, const char *zone)
{
	int64_t days = ms / 86400000, rem = ms % 86400000, y;
	unsigned m, d;
	int secs, msec, n;

	/* floor division, so instants before 1970 come out right */
	if (rem < 0) {
		rem += 86400000;
		days--;
	}
	secs = (int)(rem / 1000);
	msec = (int)(rem % 1000);
	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		n = sprintf(out, "%c%04lld", y < 0 ? '-' : '+', (long long)(y < 0 ? -y : y));
	else
		n = put_digits(out, (unsigned)y, 4);
	/* by hand, not sprintf: every instant of every node written comes through here */
	out[n++] = '-';
	n += put_digits(out + n, m, 2);
	out[n++] = '-';
	n += put_digits(out + n, d, 2);
	out[n++] = 'T';
	n += put_digits(out + n, (unsigned)secs / 3600, 2);
	out[n++] = ':';
	n += put_digits(out + n, (unsigned)secs / 60 % 60, 2);
	out[n++] = ':';
	n += put_digits(out + n, (unsigned)secs % 60, 2);
	if (millis || msec) {
		out[n++] = '.';
		n += put_digits(out + n, (unsigned)msec, 3);
	}
	while (*zone)
		out[n++] = *zone++;
	out[n] = '\0';
	return n;
}

/* ---- UUIDs --------------------------------------------------------------- */

void dhv_uuid_fmt(char *out, const unsigned char u[16])
{
	static const char hex[] = "0123456789abcdef";
	int i, j = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[j++] = '-';
		out[j++] = hex[u[i] >> 4];
		out[j++] = hex[u[i] & 15];
	}
	out[j] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int dhv_uuid_parse(unsigned char u[16], const char *s, size_t len)
{
	size_t i, k = 0;

	if (len != 36)
		return -1;
	for (i = 0; i < 36;) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i++] != '-')
				return -1;
			continue;
		}
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		u[k++] = (unsigned char)(hi << 4 | lo);
		i += 2;
	}
	return 0;
}

/* ---- base64 -------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int dhv_base64_enc(struct dh_buf *out, const unsigned char *b, size_t n)
{
	size_t i;
	int rc = dh_buf_grow(out, (n + 2) / 3 * 4);

	if (rc)
		return rc;
	for (i = 0; i + 2 < n; i += 3) {
		char q[4] = { b64[b[i] >> 2], b64[(b[i] & 3) << 4 | b[i + 1] >> 4],
		              b64[(b[i + 1] & 15) << 2 | b[i + 2] >> 6], b64[b[i + 2] & 63] };

		dh_buf_add(out, q, 4);
	}
	if (n - i == 1) {
		char q[4] = { b64[b[i] >> 2], b64[(b[i] & 3) << 4], '=', '=' };

		dh_buf_add(out, q, 4);
	} else if (n - i == 2) {
		char q[4] = { b64[b[i] >> 2], b64[(b[i] & 3) << 4 | b[i + 1] >> 4],
		              b64[(b[i + 1] & 15) << 2], '=' };

		dh_buf_add(out, q, 4);
	}
	return 0;
}

static int b64val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

int dhv_base64_dec(unsigned char *out, size_t *outlen, const char *s, size_t n)
{
	size_t i, o = 0;

	if (n % 4)
		return -1;
	for (i = 0; i < n; i += 4) {
		int v[4], pad = 0;

		for (int k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad)
				return -1;
			v[k] = b64val(s[i + k]);
			if (v[k] < 0)
				return -1;
		}
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	*outlen = o;
	return 0;
}

/* ---- UTF-8 --------------------------------------------------------------- */

int dhv_utf8_put(char *out, uint32_t c)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | c >> 12);
		out[1] = (char)(0x80 | (c >> 6 & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | c >> 18);
	out[1] = (char)(0x80 | (c >> 12 & 0x3F));
	out[2] = (char)(0x80 | (c >> 6 & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

int dhv_utf8_get(uint32_t *c, const unsigned char *s, size_t n)
{
	uint32_t v;
	int len, i;

	if (!n)
		return 0;
	if (s[0] < 0x80) {
		*c = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2;
		v = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		v = s[0] & 0x0F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		v = s[0] & 0x07;
	} else {
		return 0;
	}
	if ((size_t)len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3F);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
	    (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*c = v;
	return len;
}

int dhv_utf8_valid(const char *s, size_t n, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		uint32_t c;
		int k;

		/* ASCII eight bytes at a time */
		while (n - i >= 8) {
			uint64_t w;

			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		k = dhv_utf8_get(&c, p + i, n - i);
		if (!k) {
			*bad = i;
			return 0;
		}
		i += (size_t)k;
	}
	return 1;
}

/* ---- quoted strings ------------------------------------------------------ */

int dhv_quote(struct dh_buf *out, const char *prefix, const char *s, size_t n, int flags)
{
	size_t i, run = 0;
	int rc = dh_buf_addc(out, '"');

	if (!rc && prefix)
		rc = dh_buf_adds(out, prefix);
	for (i = 0; !rc && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[8];

		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\t': esc = "\\t"; break;
		case '\r': esc = "\\r"; break;
		case '\f': esc = "\\f"; break;
		case '\b': esc = "\\b"; break;
		default:
			if (c < 0x20 || (c == 0x7f && (flags & DHV_QUOTE_EDN))) {
				if (flags & DHV_QUOTE_EDN)
					snprintf(u, sizeof(u), "\\u%04X", c);
				else
					snprintf(u, sizeof(u), "\\u%04x", c);
				esc = u;
			}
		}
		if (!esc)
			continue;
		if (i > run)
			rc = dh_buf_add(out, s + run, i - run);
		if (!rc)
			rc = dh_buf_adds(out, esc);
		run = i + 1;
	}
	if (!rc && n > run)
		rc = dh_buf_add(out, s + run, n - run);
	return rc ? rc : dh_buf_addc(out, '"');
}
