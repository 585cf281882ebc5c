/*
 * edn.c - the EDN reader and printer.
 *
 * EDN is dh's native text: transactions, queries, results, Datahike config
 * files.  The reader follows clojure.edn (which is what Datahike users feed
 * it): Clojure's number syntax (hex, octal, radix, N and M suffixes, longs
 * that overflow into bigints), ##Inf/##-Inf/##NaN, character names,
 * namespaced maps #:ns{}, #inst and #uuid, #_ discards and ; comments, and
 * it reads one top-level value at a time from memory or a FILE.  Errors
 * name the input, line and column.  `#bytes "base64"` is dh's literal for
 * byte arrays, which Clojure cannot print readably.
 *
 * The printer writes what Clojure's pr-str writes for the same value, so
 * that output can be pasted into a REPL and read back into an equal value.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CHUNK 65536

struct pos {
	int line, col;
};

struct dh_edn_reader {
	char *name;
	FILE *f;
	const char *buf;       /* input window: data for memory, rbuf for a FILE */
	char *rbuf;
	size_t pos, end;
	int line, col;         /* of the next character */
	struct pos start;      /* of the last value read */
	struct dh_buf tok;     /* scratch text of the token being read */
	struct dh_val *stack;  /* items of the collections being read */
	struct pos *spos;      /* where each of them started */
	size_t sp, scap;
	struct dh_arena *a;
	int ioerr;
	int started;           /* a byte order mark was looked for */
};

/* read_form()'s result when it consumed a #_ discard and produced nothing */
#define DISCARDED 1

/* ---- creation ------------------------------------------------------------ */

static int reader_new(struct dh_edn_reader **out, const char *name)
{
	struct dh_edn_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r || !(r->name = strdup(name ? name : "<input>"))) {
		free(r);
		return dh_error_set(DH_ENOMEM, "out of memory (edn reader)");
	}
	r->line = 1;
	r->col = 1;
	/* tok.data is never NULL, even for an empty token */
	if (dh_buf_grow(&r->tok, 64)) {
		free(r->name);
		free(r);
		return DH_ENOMEM;
	}
	*out = r;
	return 0;
}

int dh_edn_reader_mem(struct dh_edn_reader **out, const char *data, size_t len, const char *name)
{
	int rc = reader_new(out, name);

	if (rc)
		return rc;
	(*out)->buf = data;
	(*out)->end = len;
	return 0;
}

int dh_edn_reader_file(struct dh_edn_reader **out, FILE *f, const char *name)
{
	int rc = reader_new(out, name);

	if (rc)
		return rc;
	(*out)->f = f;
	(*out)->rbuf = malloc(CHUNK);
	if (!(*out)->rbuf) {
		dh_edn_reader_free(*out);
		*out = NULL;
		return dh_error_set(DH_ENOMEM, "out of memory (edn reader)");
	}
	(*out)->buf = (*out)->rbuf;
	return 0;
}

void dh_edn_reader_free(struct dh_edn_reader *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->rbuf);
	free(r->stack);
	free(r->spos);
	dh_buf_release(&r->tok);
	free(r);
}

void dh_edn_reader_pos(const struct dh_edn_reader *r, int *line, int *col)
{
	*line = r->start.line;
	*col = r->start.col;
}

/* ---- characters ---------------------------------------------------------- */

/*
 * Read more input behind what is left unread; returns 0 at the end.  It
 * stops after a newline, so that a value written to a pipe is read as soon
 * as its line is complete, without waiting for a whole chunk.
 */
static int fill(struct dh_edn_reader *r)
{
	size_t n, keep = r->end - r->pos;

	if (!r->f || r->ioerr || keep == CHUNK)
		return 0;
	memmove(r->rbuf, r->rbuf + r->pos, keep);
	for (n = keep; n < CHUNK;) {
		int c = getc_unlocked(r->f);

		if (c == EOF) {
			if (ferror(r->f))
				r->ioerr = errno ? errno : EIO;
			break;
		}
		r->rbuf[n++] = (char)c;
		if (c == '\n')
			break;
	}
	r->pos = 0;
	r->end = n;
	return n > keep;
}

static int peekc(struct dh_edn_reader *r)
{
	if (r->pos == r->end && !fill(r))
		return -1;
	return (unsigned char)r->buf[r->pos];
}

static int nextc(struct dh_edn_reader *r)
{
	int c = peekc(r);

	if (c < 0)
		return c;
	r->pos++;
	if (c == '\n') {
		r->line++;
		r->col = 1;
	} else if ((c & 0xC0) != 0x80) {
		r->col++;
	}
	return c;
}

static struct pos here(const struct dh_edn_reader *r)
{
	struct pos p = { r->line, r->col };

	return p;
}

static int fail(struct dh_edn_reader *r, struct pos p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct dh_edn_reader *r, struct pos p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (r->ioerr)
		return dh_error_set(DH_EIO, "%s: read error: %s", r->name, strerror(r->ioerr));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return dh_error_set(DH_EINVAL, "%s:%d:%d: %s", r->name, p.line, p.col, msg);
}

static int is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == ',';
}

static int is_delim(int c)
{
	return c < 0 || is_ws(c) || c == '"' || c == ';' || c == '(' || c == ')' || c == '[' ||
	       c == ']' || c == '{' || c == '}' || c == '\\' || c == '@' || c == '^' || c == '`' ||
	       c == '~';
}

static void skip_ws(struct dh_edn_reader *r)
{
	for (;;) {
		int c = peekc(r);

		if (is_ws(c)) {
			nextc(r);
		} else if (c == ';') {
			while ((c = peekc(r)) >= 0 && c != '\n')
				nextc(r);
		} else {
			return;
		}
	}
}

/* Read a token (up to a delimiter) into r->tok; the first character has
 * been appended already when `have_first`. */
static int read_token(struct dh_edn_reader *r, int have_first)
{
	if (!have_first)
		dh_buf_reset(&r->tok);
	for (;;) {
		size_t i;

		if (r->pos == r->end && !fill(r))
			return 0;
		for (i = r->pos; i < r->end && !is_delim((unsigned char)r->buf[i]); i++)
			if (((unsigned char)r->buf[i] & 0xC0) != 0x80)
				r->col++;
		if (i > r->pos && dh_buf_add(&r->tok, r->buf + r->pos, i - r->pos))
			return DH_ENOMEM;
		r->pos = i;
		if (i < r->end)
			return 0;
	}
}

/* ---- the value stack ----------------------------------------------------- */

static int push(struct dh_edn_reader *r, const struct dh_val *v, struct pos p)
{
	if (r->sp == r->scap) {
		size_t cap = r->scap ? r->scap * 2 : 64;
		struct dh_val *s = realloc(r->stack, cap * sizeof(*s));
		struct pos *q;

		if (!s)
			return dh_error_set(DH_ENOMEM, "out of memory (edn stack)");
		r->stack = s;
		q = realloc(r->spos, cap * sizeof(*q));
		if (!q)
			return dh_error_set(DH_ENOMEM, "out of memory (edn stack)");
		r->spos = q;
		r->scap = cap;
	}
	r->stack[r->sp] = *v;
	r->spos[r->sp++] = p;
	return 0;
}

/* Move stack[base..sp) into the arena as the items of a collection. */
static int pop_items(struct dh_edn_reader *r, size_t base, struct dh_val *out, enum dh_type t)
{
	size_t n = r->sp - base;
	struct dh_val *items = NULL;

	if (n > UINT32_MAX)
		return dh_error_set(DH_ENOMEM, "%s: collection of %zu items is too large", r->name, n);
	if (n) {
		items = dh_arena_alloc(r->a, n * sizeof(*items));
		if (!items)
			return DH_ENOMEM;
		memcpy(items, r->stack + base, n * sizeof(*items));
	}
	out->type = (uint8_t)t;
	out->len = (uint32_t)n;
	out->u.items = items;
	r->sp = base;
	return 0;
}

/* ---- forms ----------------------------------------------------------------- */

static int read_form(struct dh_edn_reader *r, struct dh_val *out, int depth);

static const char *type_name(enum dh_type t)
{
	switch (t) {
	case DH_LIST: return "list";
	case DH_VECTOR: return "vector";
	case DH_MAP: return "map";
	case DH_SET: return "set";
	default: return "form";
	}
}

/* Print a value into a short excerpt for messages. */
static const char *excerpt(char *buf, size_t size, const struct dh_val *v)
{
	struct dh_buf b = DH_BUF_INIT;

	if (dh_edn_print(&b, v) || !b.data) {
		snprintf(buf, size, "?");
	} else if (b.len >= size) {
		snprintf(buf, size, "%.*s...", (int)size - 4, b.data);
	} else {
		memcpy(buf, b.data, b.len + 1);
	}
	dh_buf_release(&b);
	return buf;
}

static int read_coll(struct dh_edn_reader *r, struct dh_val *out, enum dh_type t, int closer,
                     struct pos start, int depth)
{
	size_t base = r->sp;
	int rc;

	if (depth > DH_EDN_MAX_DEPTH)
		return fail(r, start, "nesting deeper than %d levels", DH_EDN_MAX_DEPTH);
	for (;;) {
		struct dh_val v;
		struct pos p;
		int c;

		skip_ws(r);
		p = here(r);
		c = peekc(r);
		if (c < 0) {
			rc = fail(r, start, "unterminated %s", type_name(t));
			goto out;
		}
		if (c == closer) {
			nextc(r);
			break;
		}
		if (c == ')' || c == ']' || c == '}') {
			rc = fail(r, p, "unexpected '%c' in %s starting at %d:%d", c, type_name(t),
			          start.line, start.col);
			goto out;
		}
		rc = read_form(r, &v, depth);
		if (rc == DISCARDED)
			continue;
		if (rc)
			goto out;
		rc = push(r, &v, p);
		if (rc)
			goto out;
	}
	if (t == DH_MAP && (r->sp - base) % 2) {
		rc = fail(r, start, "map literal must contain an even number of forms");
		goto out;
	}
	if (t == DH_MAP || t == DH_SET) {
		size_t stride = t == DH_MAP ? 2 : 1;
		/* the stack is NULL until the first push: no pointer arithmetic on it */
		long dup = r->sp > base ? dhv_find_dup(r->stack + base, (r->sp - base) / stride, stride) : -1;
		char ex[80];

		if (dup == -2) {
			rc = DH_ENOMEM;
			goto out;
		}
		if (dup >= 0) {
			size_t i = base + (size_t)dup * stride;

			rc = fail(r, r->spos[i], "duplicate %s %s", t == DH_MAP ? "map key" : "set element",
			          excerpt(ex, sizeof(ex), &r->stack[i]));
			goto out;
		}
	}
	return pop_items(r, base, out, t);
out:
	r->sp = base;
	return rc;
}

static int hexdig(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits after \u; returns the code unit or -1. */
static long read_u4(struct dh_edn_reader *r)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int d = hexdig(peekc(r));

		if (d < 0)
			return -1;
		nextc(r);
		v = v * 16 + d;
	}
	return v;
}

static int read_string(struct dh_edn_reader *r, struct dh_val *out, struct pos start)
{
	size_t bad;
	int rc;

	dh_buf_reset(&r->tok);
	for (;;) {
		size_t i;
		struct pos p;
		int c;

		if (r->pos == r->end && !fill(r))
			return fail(r, start, "unterminated string");
		/* copy a run of plain characters at once */
		for (i = r->pos; i < r->end; i++) {
			unsigned char ch = (unsigned char)r->buf[i];

			if (ch == '"' || ch == '\\' || ch == '\n')
				break;
			if ((ch & 0xC0) != 0x80)
				r->col++;
		}
		if (i > r->pos && dh_buf_add(&r->tok, r->buf + r->pos, i - r->pos))
			return DH_ENOMEM;
		r->pos = i;
		if (i == r->end)
			continue;
		p = here(r);
		c = nextc(r);
		if (c == '"')
			break;
		if (c == '\n') {
			rc = dh_buf_addc(&r->tok, '\n');
			if (rc)
				return rc;
			continue;
		}
		/* a backslash */
		c = nextc(r);
		switch (c) {
		case 't': rc = dh_buf_addc(&r->tok, '\t'); break;
		case 'r': rc = dh_buf_addc(&r->tok, '\r'); break;
		case 'n': rc = dh_buf_addc(&r->tok, '\n'); break;
		case 'b': rc = dh_buf_addc(&r->tok, '\b'); break;
		case 'f': rc = dh_buf_addc(&r->tok, '\f'); break;
		case '\\': rc = dh_buf_addc(&r->tok, '\\'); break;
		case '"': rc = dh_buf_addc(&r->tok, '"'); break;
		case 'u': {
			long u = read_u4(r), lo;
			char enc[4];

			if (u < 0)
				return fail(r, p, "invalid unicode escape: \\u needs 4 hex digits");
			if (u >= 0xDC00 && u <= 0xDFFF)
				return fail(r, p, "invalid unicode escape '\\u%04lX' (lone surrogate)", u);
			if (u >= 0xD800 && u <= 0xDBFF) {
				if (peekc(r) != '\\')
					return fail(r, p, "invalid unicode escape '\\u%04lX' (lone surrogate)", u);
				nextc(r);
				if (nextc(r) != 'u' || (lo = read_u4(r)) < 0xDC00 || lo > 0xDFFF)
					return fail(r, p, "invalid unicode escape '\\u%04lX' (lone surrogate)", u);
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
			}
			rc = dh_buf_add(&r->tok, enc, (size_t)dhv_utf8_put(enc, (uint32_t)u));
			break;
		}
		case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
			int v = c - '0', k;
			char enc[4];

			for (k = 1; k < 3 && peekc(r) >= '0' && peekc(r) <= '7'; k++)
				v = v * 8 + (nextc(r) - '0');
			if (v > 0377)
				return fail(r, p, "octal escape out of range (\\0 to \\377)");
			rc = dh_buf_add(&r->tok, enc, (size_t)dhv_utf8_put(enc, (uint32_t)v));
			break;
		}
		case -1:
			return fail(r, start, "unterminated string");
		default:
			if (c < 0x80 && c >= 0x20)
				return fail(r, p, "unsupported escape character '\\%c'", c);
			return fail(r, p, "unsupported escape character");
		}
		if (rc)
			return rc;
	}
	if (!dhv_utf8_valid(r->tok.data, r->tok.len, &bad))
		return fail(r, start, "invalid UTF-8 in string (byte %zu)", bad);
	return dh_val_text(out, r->a, DH_STRING, r->tok.data, r->tok.len);
}

static int read_char(struct dh_edn_reader *r, struct dh_val *out, struct pos start)
{
	const char *t;
	size_t n;
	uint32_t cp;
	int c, k, rc;

	/* the first character is taken whatever it is: \( \" \; are chars */
	dh_buf_reset(&r->tok);
	c = nextc(r);
	if (c < 0)
		return fail(r, start, "unexpected end of input after '\\'");
	rc = dh_buf_addc(&r->tok, (char)c);
	/* the rest of a multibyte first character */
	while (!rc && (peekc(r) & 0xC0) == 0x80 && c >= 0xC0)
		rc = dh_buf_addc(&r->tok, (char)nextc(r));
	if (!rc)
		rc = read_token(r, 1);
	if (rc)
		return rc;
	t = r->tok.data;
	n = r->tok.len;
	k = dhv_utf8_get(&cp, (const unsigned char *)t, n);
	if (k && (size_t)k == n)
		goto done;
	if (n == 7 && !memcmp(t, "newline", 7)) { cp = '\n'; goto done; }
	if (n == 5 && !memcmp(t, "space", 5)) { cp = ' '; goto done; }
	if (n == 3 && !memcmp(t, "tab", 3)) { cp = '\t'; goto done; }
	if (n == 9 && !memcmp(t, "backspace", 9)) { cp = '\b'; goto done; }
	if (n == 8 && !memcmp(t, "formfeed", 8)) { cp = '\f'; goto done; }
	if (n == 6 && !memcmp(t, "return", 6)) { cp = '\r'; goto done; }
	if (n == 5 && t[0] == 'u') {
		int i;

		cp = 0;
		for (i = 1; i < 5 && hexdig(t[i]) >= 0; i++)
			cp = cp * 16 + (uint32_t)hexdig(t[i]);
		if (i == 5) {
			if (cp >= 0xD800 && cp <= 0xDFFF)
				return fail(r, start, "invalid character constant '\\%s' (surrogate)", t);
			goto done;
		}
	}
	if (n >= 2 && n <= 4 && t[0] == 'o') {
		size_t i;

		cp = 0;
		for (i = 1; i < n && t[i] >= '0' && t[i] <= '7'; i++)
			cp = cp * 8 + (uint32_t)(t[i] - '0');
		if (i == n) {
			if (cp > 0377)
				return fail(r, start, "octal character out of range (\\o0 to \\o377)");
			goto done;
		}
	}
	return fail(r, start, "unsupported character '\\%.*s'", (int)(n > 40 ? 40 : n), t);
done:
	out->type = DH_CHAR;
	out->len = 0;
	out->u.i = cp;
	return 0;
}

/* ---- numbers ------------------------------------------------------------- */

static int digit_in(int c, int base)
{
	int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'z' ? c - 'a' + 10 :
	        c >= 'A' && c <= 'Z' ? c - 'A' + 10 : 99;

	return d < base ? d : -1;
}

/* An integer in `base` from s[0..n) (digits validated by the caller). */
static int make_int(struct dh_edn_reader *r, struct dh_val *out, int neg, const char *s, size_t n,
                    int base, int big, struct pos start)
{
	uint64_t mag = 0;
	size_t i;
	int overflow = 0;

	for (i = 0; i < n && !overflow; i++) {
		uint64_t d = (uint64_t)digit_in(s[i], base);

		if (mag > (UINT64_MAX - d) / (uint64_t)base)
			overflow = 1;
		else
			mag = mag * (uint64_t)base + d;
	}
	if (!overflow && !big && (neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= INT64_MAX)) {
		*out = dh_long(neg ? (int64_t)(0 - mag) : (int64_t)mag);
		return 0;
	}
	if (n > DHV_MAX_BIG_DIGITS)
		return fail(r, start, "integer of more than %d digits", DHV_MAX_BIG_DIGITS);
	out->type = DH_BIGINT;
	if (base == 10) {
		char *p;

		while (n > 1 && s[0] == '0') {
			s++;
			n--;
		}
		neg = neg && !(n == 1 && s[0] == '0');
		p = dh_arena_alloc(r->a, n + 2);
		if (!p)
			return DH_ENOMEM;
		if (neg)
			p[0] = '-';
		memcpy(p + neg, s, n);
		p[n + neg] = '\0';
		out->u.s = p;
		out->len = (uint32_t)(n + neg);
		return 0;
	}
	{
		/* other radixes: accumulate big-endian bytes */
		size_t cap = n + 8, used = 0, k;
		unsigned char *b = calloc(cap, 1);
		int rc;

		if (!b)
			return dh_error_set(DH_ENOMEM, "out of memory (bigint)");
		for (i = 0; i < n; i++) {
			unsigned carry = (unsigned)digit_in(s[i], base);

			for (k = 0; k < used; k++) {
				unsigned cur = b[cap - 1 - k] * (unsigned)base + carry;

				b[cap - 1 - k] = (unsigned char)cur;
				carry = cur >> 8;
			}
			while (carry) {
				b[cap - 1 - used++] = (unsigned char)carry;
				carry >>= 8;
			}
		}
		rc = dhv_bigint_from_bytes(&out->u.s, &out->len, r->a, b + cap - used, used, neg, 0);
		free(b);
		if (rc == DH_ECORRUPT)
			return fail(r, start, "integer too large");
		return rc;
	}
}

static int read_number(struct dh_edn_reader *r, struct dh_val *out, struct pos start)
{
	const char *t, *s;
	size_t n, i;
	int neg = 0, big = 0, rc;

	rc = read_token(r, 0);
	if (rc)
		return rc;
	t = r->tok.data;
	n = r->tok.len;
	s = t;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	n -= (size_t)(s - t);
	if (n && s[n - 1] == 'N') {
		big = 1;
		n--;
	}
	/* integers: 0, decimal, 0x hex, 0 octal, NNrDIGITS */
	if (n == 1 && s[0] == '0')
		return make_int(r, out, neg, s, 1, 10, big, start);
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (i = 2; i < n && digit_in(s[i], 16) >= 0; i++)
			;
		if (i == n)
			return make_int(r, out, neg, s + 2, n - 2, 16, big, start);
	} else if (n > 1 && s[0] == '0') {
		for (i = 1; i < n && digit_in(s[i], 8) >= 0; i++)
			;
		if (i == n)
			return make_int(r, out, neg, s + 1, n - 1, 8, big, start);
	} else if (n && s[0] >= '1' && s[0] <= '9') {
		for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == n)
			return make_int(r, out, neg, s, n, 10, big, start);
		if ((i == 1 || i == 2) && i + 1 < n && (s[i] == 'r' || s[i] == 'R')) {
			int radix = atoi(s);
			size_t j;

			if (radix >= 2 && radix <= 36) {
				for (j = i + 1; j < n && digit_in(s[j], radix) >= 0; j++)
					;
				if (j == n)
					return make_int(r, out, neg, s + i + 1, n - i - 1, radix, big, start);
			}
		}
	}
	if (big)
		goto bad;
	/* ratios are Clojure, not EDN */
	for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i && i < n && s[i] == '/') {
		size_t j;

		for (j = i + 1; j < n && s[j] >= '0' && s[j] <= '9'; j++)
			;
		if (j == n && j > i + 1)
			return fail(r, start, "ratios are not supported: '%s'", t);
	}
	/* floats: digits[.digits][e[+-]digits][M] */
	{
		int dec = n && s[n - 1] == 'M', fl = dec, ok;
		size_t m = n - (size_t)dec, j = 0;

		while (j < m && s[j] >= '0' && s[j] <= '9')
			j++;
		ok = j > 0;
		if (ok && j < m && s[j] == '.') {
			fl = 1;
			for (j++; j < m && s[j] >= '0' && s[j] <= '9'; j++)
				;
		}
		if (ok && j < m && (s[j] == 'e' || s[j] == 'E')) {
			size_t e0;

			fl = 1;
			j++;
			if (j < m && (s[j] == '+' || s[j] == '-'))
				j++;
			for (e0 = j; j < m && s[j] >= '0' && s[j] <= '9'; j++)
				;
			ok = j > e0;
		}
		if (!ok || j != m || !fl)
			goto bad;
		if (dec) {
			struct dhv_dec d;
			struct dh_buf txt = DH_BUF_INIT;
			char *tmp = malloc(m + 2);

			if (!tmp)
				return dh_error_set(DH_ENOMEM, "out of memory (decimal)");
			if (m > DHV_MAX_BIG_DIGITS || dhv_dec_parse(&d, tmp, t, (size_t)(s - t) + m)) {
				free(tmp);
				return fail(r, start, "decimal out of range: '%s'", t);
			}
			rc = dhv_dec_text(&txt, &d);
			free(tmp);
			if (!rc)
				rc = dh_val_text(out, r->a, DH_BIGDEC, txt.data, txt.len);
			dh_buf_release(&txt);
			return rc;
		}
		*out = dh_double(dhv_strtod(t, NULL));
		return 0;
	}
bad:
	return fail(r, start, "invalid number '%s'", t);
}

/* ---- symbols and keywords ----------------------------------------------- */

static int valid_name(const char *s, size_t n)
{
	const char *slash;

	if (!s || !n)
		return 0;
	if (n == 1 && s[0] == '/')
		return 1;
	if (s[n - 1] == ':' || memmem(s, n, "::", 2))
		return 0;
	slash = memchr(s, '/', n);
	if (slash) {
		size_t nslen = (size_t)(slash - s), namelen = n - nslen - 1;

		if (!nslen || !namelen)
			return 0;
		/* clojure.core// */
		if (namelen == 1 && slash[1] == '/')
			return 1;
		if (memchr(slash + 1, '/', namelen))
			return 0;
		if (slash[1] >= '0' && slash[1] <= '9')
			return 0;
	}
	return 1;
}

/*
 * Whether `name` (a symbol's, or a keyword's without its colon) reads back
 * as the same symbol or keyword on its own: the `_/` prefix in a namespaced
 * map strips a namespace that a name like `_/nil`, `_/+1` or `_/'q` needs.
 */
static int bare_name_ok(struct dh_arena *a, enum dh_type type, const char *name, size_t n)
{
	char *t = dh_arena_alloc(a, n + 2);
	struct dh_val v;

	if (!t)
		return 0;
	t[0] = ':';
	memcpy(t + 1, name, n);
	t[n + 1] = 0;
	if (type == DH_KEYWORD ? dh_edn_parse(&v, a, t, n + 1, "<name>") : dh_edn_parse(&v, a, t + 1, n, "<name>"))
		return 0;
	return v.type == type && v.len == n && !memcmp(v.u.s, name, n);
}

/* The characters of a symbol, keyword or namespaced map prefix `t`. */
static int check_name_chars(struct dh_edn_reader *r, struct pos start, const char *t, size_t n)
{
	size_t bad;

	if (!dhv_utf8_valid(t, n, &bad))
		return fail(r, start, "invalid UTF-8 in symbol");
	/* a byte order mark is skipped at the start of a text: a name holding one would not read back */
	if (memmem(t, n, "\xEF\xBB\xBF", 3))
		return fail(r, start, "byte order mark (U+FEFF) in a symbol or keyword");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			return fail(r, start, "invalid character 0x%02x in symbol", (unsigned char)t[i]);
	return 0;
}

static int read_symbolic(struct dh_edn_reader *r, struct dh_val *out, struct pos start)
{
	const char *t;
	size_t n;
	int rc = read_token(r, 0);

	if (rc)
		return rc;
	t = r->tok.data;
	n = r->tok.len;
	if ((rc = check_name_chars(r, start, t, n)))
		return rc;
	if (t[0] == ':') {
		if (n >= 2 && t[1] == ':')
			return fail(r, start, "auto-resolved keywords are not EDN: '%s'", t);
		if (!valid_name(t + 1, n - 1))
			return fail(r, start, "invalid keyword '%s'", t);
		return dh_val_text(out, r->a, DH_KEYWORD, t + 1, n - 1);
	}
	if (n == 3 && !memcmp(t, "nil", 3)) {
		*out = dh_nil();
		return 0;
	}
	if (n == 4 && !memcmp(t, "true", 4)) {
		*out = dh_bool(1);
		return 0;
	}
	if (n == 5 && !memcmp(t, "false", 5)) {
		*out = dh_bool(0);
		return 0;
	}
	/* ".5" is neither a number nor a symbol */
	if (!valid_name(t, n) || (t[0] == '.' && n > 1 && t[1] >= '0' && t[1] <= '9'))
		return fail(r, start, "invalid symbol '%s'", t);
	return dh_val_text(out, r->a, DH_SYMBOL, t, n);
}

/* ---- dispatch (#) ----------------------------------------------------------- */

/* The next value, skipping discards; `what` names it for messages. */
static int read_next(struct dh_edn_reader *r, struct dh_val *out, int depth, struct pos start,
                     const char *what)
{
	for (;;) {
		struct pos p;
		int c, rc;

		skip_ws(r);
		p = here(r);
		c = peekc(r);
		if (c < 0)
			return fail(r, start, "expected a value after %s", what);
		if (c == ')' || c == ']' || c == '}')
			return fail(r, p, "expected a value after %s, got '%c'", what, c);
		rc = read_form(r, out, depth);
		if (rc != DISCARDED)
			return rc;
	}
}

static int read_tagged(struct dh_edn_reader *r, struct dh_val *out, struct pos start, int depth)
{
	struct dh_val tag, v, *items;
	char tagname[64];
	int rc;

	rc = read_token(r, 0);
	if (rc)
		return rc;
	if (!valid_name(r->tok.data, r->tok.len) || r->tok.len >= sizeof(tagname))
		return fail(r, start, "invalid tag '#%s'", r->tok.data);
	memcpy(tagname, r->tok.data, r->tok.len + 1);
	rc = dh_val_text(&tag, r->a, DH_SYMBOL, r->tok.data, r->tok.len);
	if (!rc)
		rc = read_next(r, &v, depth + 1, start, tagname);
	if (rc)
		return rc;
	if (!strcmp(tagname, "inst")) {
		const char *why;

		if (v.type != DH_STRING)
			return fail(r, start, "#inst needs a string");
		if (dhv_inst_parse(&out->u.i, v.u.s, v.len, &why))
			return fail(r, start, "invalid #inst \"%s\": %s", v.u.s, why);
		out->type = DH_INST;
		out->len = 0;
		return 0;
	}
	if (!strcmp(tagname, "uuid")) {
		if (v.type != DH_STRING || dhv_uuid_parse(out->u.uuid, v.u.s, v.len))
			return fail(r, start, "invalid #uuid: needs a string of the form "
			            "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
		out->type = DH_UUID;
		out->len = 0;
		return 0;
	}
	if (!strcmp(tagname, "bytes")) {
		unsigned char *b;
		size_t n;

		if (v.type != DH_STRING)
			return fail(r, start, "#bytes needs a base64 string");
		b = dh_arena_alloc(r->a, v.len / 4 * 3 + 4);
		if (!b)
			return DH_ENOMEM;
		if (dhv_base64_dec(b, &n, v.u.s, v.len))
			return fail(r, start, "invalid base64 in #bytes");
		b[n] = 0;
		*out = dh_text(DH_BYTES, (const char *)b, (uint32_t)n);
		return 0;
	}
	items = dh_arena_alloc(r->a, 2 * sizeof(*items));
	if (!items)
		return DH_ENOMEM;
	items[0] = tag;
	items[1] = v;
	out->type = DH_TAGGED;
	out->len = 2;
	out->u.items = items;
	return 0;
}

/* Whether text `t` reads back as the plain symbol `t` ("#x" or "nil" do not). */
static int reads_as_symbol(struct dh_edn_reader *r, const char *t, size_t n)
{
	struct dh_val v;

	return !dh_edn_parse(&v, r->a, t, n, "<prefix>") && v.type == DH_SYMBOL && v.len == n && !memcmp(v.u.s, t, n);
}

/* #:ns{...}: keys without a namespace get `ns`, :_/k loses its namespace. */
static int read_nsmap(struct dh_edn_reader *r, struct dh_val *out, struct pos start, int depth)
{
	char ns[256];
	size_t nslen;
	struct pos p;
	int rc;
	uint32_t i;

	rc = read_token(r, 0);
	if (rc || (rc = check_name_chars(r, start, r->tok.data, r->tok.len)))
		return rc;
	nslen = r->tok.len;
	/* the prefix becomes the namespace of symbol keys too: it must read as
	 * a symbol, so no leading digit ("#:1a{x 1}" would print 1a/x) */
	if (!nslen || nslen >= sizeof(ns) || r->tok.data[0] == ':' ||
	    memchr(r->tok.data, '/', nslen) || !valid_name(r->tok.data, nslen) ||
	    (r->tok.data[0] >= '0' && r->tok.data[0] <= '9') ||
	    (strchr("+-.", r->tok.data[0]) && r->tok.data[1] >= '0' && r->tok.data[1] <= '9') ||
	    !reads_as_symbol(r, r->tok.data, nslen))
		return fail(r, start, "invalid namespaced map prefix '#:%s'", r->tok.data);
	memcpy(ns, r->tok.data, nslen + 1);
	skip_ws(r);
	p = here(r);
	if (peekc(r) != '{')
		return fail(r, p, "namespaced map must be followed by '{'");
	nextc(r);
	rc = read_coll(r, out, DH_MAP, '}', p, depth + 1);
	if (rc)
		return rc;
	for (i = 0; i < out->len; i += 2) {
		struct dh_val *k = (struct dh_val *)&out->u.items[i];
		char *s;

		if (k->type != DH_KEYWORD && k->type != DH_SYMBOL)
			continue;
		if (k->len > 2 && !memcmp(k->u.s, "_/", 2)) {
			if (!bare_name_ok(r->a, k->type, k->u.s + 2, k->len - 2))
				return fail(r, start, "key %s%s does not read back without its namespace",
					    k->type == DH_KEYWORD ? ":" : "", k->u.s);
			k->u.s += 2;
			k->len -= 2;
			continue;
		}
		if (memchr(k->u.s, '/', k->len))
			continue;
		s = dh_arena_alloc(r->a, nslen + 1 + k->len + 1);
		if (!s)
			return DH_ENOMEM;
		memcpy(s, ns, nslen);
		s[nslen] = '/';
		memcpy(s + nslen + 1, k->u.s, k->len + 1);
		/* :5 is a keyword, :ns/5 is not */
		if (!valid_name(s, nslen + 1 + k->len))
			return fail(r, start, "key %s%s cannot take the namespace of '#:%s'",
				    k->type == DH_KEYWORD ? ":" : "", k->u.s, ns);
		k->u.s = s;
		k->len += (uint32_t)nslen + 1;
	}
	if (dhv_find_dup(out->u.items, out->len / 2, 2) >= 0)
		return fail(r, start, "duplicate key in namespaced map");
	return 0;
}

static int read_dispatch(struct dh_edn_reader *r, struct dh_val *out, struct pos start, int depth)
{
	int c;

	nextc(r); /* '#' */
	c = peekc(r);
	switch (c) {
	case '{':
		nextc(r);
		return read_coll(r, out, DH_SET, '}', start, depth + 1);
	case '_': {
		struct dh_val ignored;
		int rc;

		nextc(r);
		if (depth > DH_EDN_MAX_DEPTH)
			return fail(r, start, "nesting deeper than %d levels", DH_EDN_MAX_DEPTH);
		rc = read_next(r, &ignored, depth + 1, start, "#_");
		return rc ? rc : DISCARDED;
	}
	case '#': {
		const char *t;
		int rc;

		nextc(r);
		rc = read_token(r, 0);
		if (rc)
			return rc;
		t = r->tok.data;
		if (!strcmp(t, "Inf"))
			*out = dh_double(INFINITY);
		else if (!strcmp(t, "-Inf"))
			*out = dh_double(-INFINITY);
		else if (!strcmp(t, "NaN"))
			*out = dh_double(NAN);
		else
			return fail(r, start, "invalid symbolic value '##%s'", t);
		return 0;
	}
	case ':':
		nextc(r);
		if (depth > DH_EDN_MAX_DEPTH)
			return fail(r, start, "nesting deeper than %d levels", DH_EDN_MAX_DEPTH);
		return read_nsmap(r, out, start, depth);
	case '!':
		while ((c = peekc(r)) >= 0 && c != '\n')
			nextc(r);
		return DISCARDED;
	default:
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			if (depth > DH_EDN_MAX_DEPTH)
				return fail(r, start, "nesting deeper than %d levels", DH_EDN_MAX_DEPTH);
			return read_tagged(r, out, start, depth);
		}
		if (c < 0)
			return fail(r, start, "unexpected end of input after '#'");
		if (c >= 0x20 && c < 0x7f)
			return fail(r, start, "unsupported dispatch '#%c'", c);
		return fail(r, start, "unsupported dispatch after '#'");
	}
}

static int read_form(struct dh_edn_reader *r, struct dh_val *out, int depth)
{
	struct pos start = here(r);
	int c = peekc(r), c2;

	switch (c) {
	case '(':
		nextc(r);
		return read_coll(r, out, DH_LIST, ')', start, depth + 1);
	case '[':
		nextc(r);
		return read_coll(r, out, DH_VECTOR, ']', start, depth + 1);
	case '{':
		nextc(r);
		return read_coll(r, out, DH_MAP, '}', start, depth + 1);
	case ')': case ']': case '}':
		return fail(r, start, "unexpected '%c'", c);
	case '"':
		nextc(r);
		return read_string(r, out, start);
	case '\\':
		nextc(r);
		return read_char(r, out, start);
	case '#':
		return read_dispatch(r, out, start, depth);
	case '@': case '^': case '`': case '~': case '\'':
		return fail(r, start, "reader macro '%c' is not EDN", c);
	}
	if (c >= '0' && c <= '9')
		return read_number(r, out, start);
	if (c == '+' || c == '-') {
		/* a sign followed by a digit starts a number */
		if (r->pos + 1 >= r->end)
			fill(r);
		c2 = r->pos + 1 < r->end ? (unsigned char)r->buf[r->pos + 1] : -1;
		if (c2 >= '0' && c2 <= '9')
			return read_number(r, out, start);
	}
	return read_symbolic(r, out, start);
}

int dh_edn_read(struct dh_edn_reader *r, struct dh_arena *a, struct dh_val *out)
{
	r->a = a;
	r->sp = 0;
	if (!r->started) {
		/* a UTF-8 byte order mark, as some editors write, is not text */
		r->started = 1;
		if (peekc(r) == 0xEF && r->end - r->pos >= 3 && !memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3))
			r->pos += 3;
	}
	for (;;) {
		int c, rc;

		skip_ws(r);
		r->start = here(r);
		c = peekc(r);
		if (c < 0) {
			if (r->ioerr)
				return dh_error_set(DH_EIO, "%s: read error: %s", r->name, strerror(r->ioerr));
			return DH_ENOTFOUND;
		}
		rc = read_form(r, out, 0);
		if (rc != DISCARDED)
			return rc;
	}
}

int dh_edn_parse(struct dh_val *out, struct dh_arena *a, const char *text, size_t len, const char *name)
{
	struct dh_edn_reader *r = NULL;
	struct dh_val extra;
	int rc = dh_edn_reader_mem(&r, text, len, name);

	if (rc)
		return rc;
	rc = dh_edn_read(r, a, out);
	if (rc == DH_ENOTFOUND) {
		rc = dh_error_set(DH_EINVAL, "%s:%d:%d: expected a value, got end of input", r->name,
		                  r->line, r->col);
		goto out;
	}
	if (rc)
		goto out;
	rc = dh_edn_read(r, a, &extra);
	if (rc == DH_ENOTFOUND) {
		rc = 0;
	} else if (rc == 0) {
		rc = dh_error_set(DH_EINVAL, "%s:%d:%d: unexpected text after the value", r->name,
		                  r->start.line, r->start.col);
	}
out:
	dh_edn_reader_free(r);
	return rc;
}

/* ---- printing ------------------------------------------------------------ */

static int print_string(struct dh_buf *out, const char *s, size_t n)
{
	return dhv_quote(out, NULL, s, n, DHV_QUOTE_EDN);
}

static int print_char(struct dh_buf *out, uint32_t c)
{
	char enc[8];

	switch (c) {
	case '\n': return dh_buf_adds(out, "\\newline");
	case ' ': return dh_buf_adds(out, "\\space");
	case '\t': return dh_buf_adds(out, "\\tab");
	case '\b': return dh_buf_adds(out, "\\backspace");
	case '\f': return dh_buf_adds(out, "\\formfeed");
	case '\r': return dh_buf_adds(out, "\\return");
	}
	if (c < 0x20 || c == 0x7f || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
		return dh_buf_addf(out, "\\u%04X", c > 0xFFFF ? 0xFFFD : c);
	enc[0] = '\\';
	return dh_buf_add(out, enc, 1 + (size_t)dhv_utf8_put(enc + 1, c));
}

static int print_double(struct dh_buf *out, double d, int is_float)
{
	char t[40];

	if (isnan(d))
		return dh_buf_adds(out, "##NaN");
	if (isinf(d))
		return dh_buf_adds(out, d > 0 ? "##Inf" : "##-Inf");
	return dh_buf_add(out, t, (size_t)dhv_fmt_double(t, d, is_float));
}

static int print_items(struct dh_buf *out, const struct dh_val *v, const char *open, char close)
{
	int rc = dh_buf_adds(out, open);
	uint32_t i;

	for (i = 0; !rc && i < v->len; i++) {
		if (i)
			rc = dh_buf_adds(out, v->type == DH_MAP && i % 2 == 0 ? ", " : " ");
		if (!rc)
			rc = dh_edn_print(out, &v->u.items[i]);
	}
	return rc ? rc : dh_buf_addc(out, close);
}

int dh_edn_print(struct dh_buf *out, const struct dh_val *v)
{
	char t[64];
	int rc;

	switch (v->type) {
	case DH_NIL:
		return dh_buf_adds(out, "nil");
	case DH_BOOL:
		return dh_buf_adds(out, v->u.b ? "true" : "false");
	case DH_LONG:
		return dhv_put_long(out, v->u.i);
	case DH_BIGINT:
		rc = dh_buf_add(out, v->u.s, v->len);
		return rc ? rc : dh_buf_addc(out, 'N');
	case DH_FLOAT:
	case DH_DOUBLE:
		return print_double(out, v->u.d, v->type == DH_FLOAT);
	case DH_BIGDEC:
		rc = dh_buf_add(out, v->u.s, v->len);
		return rc ? rc : dh_buf_addc(out, 'M');
	case DH_CHAR:
		return print_char(out, (uint32_t)v->u.i);
	case DH_STRING:
		return print_string(out, v->u.s, v->len);
	case DH_KEYWORD:
		rc = dh_buf_addc(out, ':');
		return rc ? rc : dh_buf_add(out, v->u.s, v->len);
	case DH_SYMBOL:
		return dh_buf_add(out, v->u.s, v->len);
	case DH_INST:
		dhv_inst_fmt(t, v->u.i, 1, "-00:00");
		return dh_buf_addf(out, "#inst \"%s\"", t);
	case DH_UUID:
		dhv_uuid_fmt(t, v->u.uuid);
		return dh_buf_addf(out, "#uuid \"%s\"", t);
	case DH_BYTES:
		rc = dh_buf_adds(out, "#bytes \"");
		if (!rc)
			rc = dhv_base64_enc(out, (const unsigned char *)v->u.s, v->len);
		return rc ? rc : dh_buf_addc(out, '"');
	case DH_LIST:
		return print_items(out, v, "(", ')');
	case DH_VECTOR:
		return print_items(out, v, "[", ']');
	case DH_MAP:
		return print_items(out, v, "{", '}');
	case DH_SET:
		return print_items(out, v, "#{", '}');
	case DH_TAGGED:
		rc = dh_buf_addc(out, '#');
		if (!rc)
			rc = dh_edn_print(out, &v->u.items[0]);
		if (!rc)
			rc = dh_buf_addc(out, ' ');
		return rc ? rc : dh_edn_print(out, &v->u.items[1]);
	}
	return dh_error_set(DH_EINVAL, "cannot print a value of unknown type %d", v->type);
}
