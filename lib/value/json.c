/*
 * json.c - values as JSON, with Datahike's binding convention.
 *
 * Datahike's JSON API (and so dh's JSON input and output) maps JSON onto
 * EDN like this: object keys become keywords ("name" -> :name, a leading
 * ':' is dropped); a string value that starts with ':' is a keyword; a
 * string that starts with "\:" stands for a string starting with ':'
 * (generalised here so that every string survives a round trip: on input
 * one backslash is removed from a run of backslashes followed by ':', on
 * output one is added); integers are longs, other numbers doubles.
 *
 * Parsing is jansson's (one top-level value at a time, JSON_DECODE_ANY |
 * JSON_DISABLE_EOF_CHECK, fed from our own window over a FILE or memory so
 * that several values may follow each other, as in JSON Lines); the
 * jansson tree is converted into the caller's arena and freed.  Error
 * positions are jansson's (the last character of the offending token),
 * made absolute in the input.  Printing is
 * done here, straight into a dh_buf, in compact form.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"

#define CHUNK 65536

struct dh_json_reader {
	char *name;
	FILE *f;
	const char *data;     /* memory input, or rbuf */
	char *rbuf;
	size_t cap;
	size_t pos, end;      /* unread input is data[pos..end) */
	size_t feed;          /* how far jansson has been fed */
	int line, col;        /* of data[pos] */
	int ioerr;
	int started;          /* a byte order mark was looked for */
};

int dh_json_reader_mem(struct dh_json_reader **out, const char *data, size_t len, const char *name)
{
	struct dh_json_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r || !(r->name = strdup(name ? name : "<input>"))) {
		free(r);
		return dh_error_set(DH_ENOMEM, "out of memory (json reader)");
	}
	r->data = data;
	r->end = len;
	r->line = 1;
	r->col = 1;
	*out = r;
	return 0;
}

int dh_json_reader_file(struct dh_json_reader **out, FILE *f, const char *name)
{
	int rc = dh_json_reader_mem(out, NULL, 0, name);

	if (rc)
		return rc;
	(*out)->f = f;
	(*out)->rbuf = malloc(CHUNK);
	if (!(*out)->rbuf) {
		dh_json_reader_free(*out);
		*out = NULL;
		return dh_error_set(DH_ENOMEM, "out of memory (json reader)");
	}
	(*out)->cap = CHUNK;
	(*out)->data = (*out)->rbuf;
	return 0;
}

void dh_json_reader_free(struct dh_json_reader *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->rbuf);
	free(r);
}

/* More input at data[end..]: drop what was consumed, grow while a value
 * being parsed needs the room.  Returns 0 at the end of input.  It stops
 * after a newline, so a line written to a pipe is read without waiting
 * for more. */
static int more(struct dh_json_reader *r)
{
	size_t n;

	if (!r->f || r->ioerr)
		return 0;
	if (r->pos > 0) {
		memmove(r->rbuf, r->rbuf + r->pos, r->end - r->pos);
		r->end -= r->pos;
		r->feed -= r->pos;
		r->pos = 0;
	}
	if (r->end == r->cap) {
		char *p = realloc(r->rbuf, r->cap * 2);

		if (!p)
			return 0;
		r->rbuf = p;
		r->data = p;
		r->cap *= 2;
	}
	/* up to a newline, so that a line written to a pipe is read at once */
	for (n = 0; r->end < r->cap;) {
		int c = getc_unlocked(r->f);

		if (c == EOF) {
			if (ferror(r->f))
				r->ioerr = errno ? errno : EIO;
			break;
		}
		r->rbuf[r->end++] = (char)c;
		n++;
		if (c == '\n')
			break;
	}
	return n > 0;
}

static void advance(struct dh_json_reader *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)r->data[r->pos + i];

		if (c == '\n') {
			r->line++;
			r->col = 1;
		} else if ((c & 0xC0) != 0x80) {
			r->col++;
		}
	}
	r->pos += n;
}

static size_t feed(void *buffer, size_t buflen, void *data)
{
	struct dh_json_reader *r = data;
	size_t n;

	if (r->feed == r->end && !more(r))
		return 0;
	n = r->end - r->feed;
	if (n > buflen)
		n = buflen;
	memcpy(buffer, r->data + r->feed, n);
	r->feed += n;
	return n;
}

/* ---- JSON tree to values ---------------------------------------------------- */

struct conv {
	struct dh_json_reader *r;
	struct dh_arena *a;
	int line, col;
};

static int conv_fail(const struct conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int conv_fail(const struct conv *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return dh_error_set(DH_EINVAL, "%s:%d:%d: %s", c->r->name, c->line, c->col, msg);
}

/* A string value: keyword, or string with the \: convention undone. */
static int conv_string(struct conv *c, struct dh_val *out, const char *s, size_t n, int key)
{
	size_t bs = 0;

	if (n && s[0] == ':')
		return dh_val_text(out, c->a, DH_KEYWORD, s + 1, n - 1);
	if (key && n)
		return dh_val_text(out, c->a, DH_KEYWORD, s, n);
	while (bs < n && s[bs] == '\\')
		bs++;
	if (bs && bs < n && s[bs] == ':')
		return dh_val_text(out, c->a, DH_STRING, s + 1, n - 1);
	return dh_val_text(out, c->a, DH_STRING, s, n);
}

static int conv(struct conv *c, struct dh_val *out, json_t *j, int depth)
{
	struct dh_val *items;
	size_t i, n;
	int rc;

	switch (json_typeof(j)) {
	case JSON_NULL:
		*out = dh_nil();
		return 0;
	case JSON_TRUE:
		*out = dh_bool(1);
		return 0;
	case JSON_FALSE:
		*out = dh_bool(0);
		return 0;
	case JSON_INTEGER:
		*out = dh_long((int64_t)json_integer_value(j));
		return 0;
	case JSON_REAL:
		*out = dh_double(json_real_value(j));
		return 0;
	case JSON_STRING:
		return conv_string(c, out, json_string_value(j), json_string_length(j), 0);
	case JSON_ARRAY:
	case JSON_OBJECT:
		if (depth >= DH_EDN_MAX_DEPTH)
			return conv_fail(c, "nesting deeper than %d levels", DH_EDN_MAX_DEPTH);
		break;
	}
	n = json_is_array(j) ? json_array_size(j) : 2 * json_object_size(j);
	if (n > UINT32_MAX)
		return conv_fail(c, "collection of %zu items is too large", n);
	items = n ? dh_arena_alloc(c->a, n * sizeof(*items)) : NULL;
	if (n && !items)
		return DH_ENOMEM;
	if (json_is_array(j)) {
		for (i = 0; i < n; i++) {
			rc = conv(c, &items[i], json_array_get(j, i), depth + 1);
			if (rc)
				return rc;
		}
		out->type = DH_VECTOR;
	} else {
		const char *key;
		size_t keylen;
		json_t *v;
		long dup;

		i = 0;
		json_object_keylen_foreach(j, key, keylen, v) {
			rc = conv_string(c, &items[i], key, keylen, 1);
			if (!rc)
				rc = conv(c, &items[i + 1], v, depth + 1);
			if (rc)
				return rc;
			i += 2;
		}
		dup = dhv_find_dup(items, n / 2, 2);
		if (dup == -2)
			return DH_ENOMEM;
		if (dup >= 0)
			return conv_fail(c, "duplicate object key \"%s\"", items[2 * dup].u.s);
		out->type = DH_MAP;
	}
	out->len = (uint32_t)n;
	out->u.items = items;
	return 0;
}

int dh_json_read(struct dh_json_reader *r, struct dh_arena *a, struct dh_val *out)
{
	struct conv c = { r, a, 0, 0 };
	json_error_t err;
	json_t *j;
	int rc;

	if (!r->started) {
		/* a UTF-8 byte order mark, as some editors write, is not text */
		r->started = 1;
		if (r->pos == r->end)
			more(r);
		if (r->end - r->pos >= 3 && !memcmp(r->data + r->pos, "\xEF\xBB\xBF", 3))
			r->pos += 3;
	}
	/* whitespace between values is ours, so we can tell the end */
	for (;;) {
		if (r->pos == r->end && !more(r))
			break;
		while (r->pos < r->end && strchr(" \t\r\n", r->data[r->pos]) && r->data[r->pos])
			advance(r, 1);
		if (r->pos < r->end)
			break;
	}
	if (r->pos == r->end) {
		if (r->ioerr)
			return dh_error_set(DH_EIO, "%s: read error: %s", r->name, strerror(r->ioerr));
		return DH_ENOTFOUND;
	}
	c.line = r->line;
	c.col = r->col;
	r->feed = r->pos;
	j = json_load_callback(feed, r, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES |
	                       JSON_ALLOW_NUL, &err);
	if (!j) {
		int line = err.line < 1 ? 1 : err.line, col = err.column < 1 ? 1 : err.column;

		if (r->ioerr)
			return dh_error_set(DH_EIO, "%s: read error: %s", r->name, strerror(r->ioerr));
		if (line == 1)
			col += c.col - 1;
		return dh_error_set(DH_EINVAL, "%s:%d:%d: %s", r->name, c.line + line - 1, col, err.text);
	}
	rc = conv(&c, out, j, 0);
	json_decref(j);
	if (!rc)
		advance(r, (size_t)err.position);
	return rc;
}

/* ---- printing -------------------------------------------------------------- */

static int put_string(struct dh_buf *out, const char *s, size_t n, const char *prefix)
{
	return dhv_quote(out, prefix, s, n, 0);
}

/* A string value, escaped by the \: convention when it would read back
 * as a keyword. */
static int put_str_value(struct dh_buf *out, const char *s, size_t n)
{
	size_t bs = 0;

	while (bs < n && s[bs] == '\\')
		bs++;
	return put_string(out, s, n, bs < n && s[bs] == ':' ? "\\\\" : NULL);
}

static int print(struct dh_buf *out, const struct dh_val *v);

static int print_key(struct dh_buf *out, const struct dh_val *k)
{
	struct dh_buf t = DH_BUF_INIT;
	int rc;

	switch (k->type) {
	case DH_KEYWORD:
		/* reading drops one leading ':' from a key, and "" is a string */
		return put_string(out, k->u.s, k->len, !k->len || k->u.s[0] == ':' ? ":" : NULL);
	case DH_STRING:
	case DH_SYMBOL:
		return put_string(out, k->u.s, k->len, NULL);
	default:
		rc = dh_edn_print(&t, k);
		if (!rc)
			rc = put_string(out, t.data, t.len, NULL);
		dh_buf_release(&t);
		return rc;
	}
}

static int print_double(struct dh_buf *out, double d, int is_float)
{
	char t[40];

	if (!isfinite(d))
		return dh_error_set(DH_EINVAL, "cannot represent %s in JSON",
		                    isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
	return dh_buf_add(out, t, (size_t)dhv_fmt_double(t, d, is_float));
}

static int print(struct dh_buf *out, const struct dh_val *v)
{
	char t[64];
	uint32_t i;
	int rc = 0;

	switch (v->type) {
	case DH_NIL:
		return dh_buf_adds(out, "null");
	case DH_BOOL:
		return dh_buf_adds(out, v->u.b ? "true" : "false");
	case DH_LONG:
		return dhv_put_long(out, v->u.i);
	case DH_BIGINT:
	case DH_BIGDEC:
		return dh_buf_add(out, v->u.s, v->len);
	case DH_FLOAT:
	case DH_DOUBLE:
		return print_double(out, v->u.d, v->type == DH_FLOAT);
	case DH_CHAR: {
		char enc[4];

		return put_str_value(out, enc, (size_t)dhv_utf8_put(enc, (uint32_t)v->u.i));
	}
	case DH_STRING:
		return put_str_value(out, v->u.s, v->len);
	case DH_KEYWORD:
		return put_string(out, v->u.s, v->len, ":");
	case DH_SYMBOL:
		return put_str_value(out, v->u.s, v->len);
	case DH_INST:
		return put_string(out, t, (size_t)dh_inst_text(t, v->u.i), NULL);
	case DH_UUID:
		dhv_uuid_fmt(t, v->u.uuid);
		return put_string(out, t, 36, NULL);
	case DH_BYTES:
		rc = dh_buf_addc(out, '"');
		if (!rc)
			rc = dhv_base64_enc(out, (const unsigned char *)v->u.s, v->len);
		return rc ? rc : dh_buf_addc(out, '"');
	case DH_LIST:
	case DH_VECTOR:
	case DH_SET:
		rc = dh_buf_addc(out, '[');
		for (i = 0; !rc && i < v->len; i++) {
			if (i)
				rc = dh_buf_addc(out, ',');
			if (!rc)
				rc = print(out, &v->u.items[i]);
		}
		return rc ? rc : dh_buf_addc(out, ']');
	case DH_MAP:
		rc = dh_buf_addc(out, '{');
		for (i = 0; !rc && i + 1 < v->len; i += 2) {
			if (i)
				rc = dh_buf_addc(out, ',');
			if (!rc)
				rc = print_key(out, &v->u.items[i]);
			if (!rc)
				rc = dh_buf_addc(out, ':');
			if (!rc)
				rc = print(out, &v->u.items[i + 1]);
		}
		return rc ? rc : dh_buf_addc(out, '}');
	case DH_TAGGED:
		return print(out, &v->u.items[1]);
	}
	return dh_error_set(DH_EINVAL, "cannot print a value of unknown type %d", v->type);
}

int dh_inst_text(char out[64], int64_t ms)
{
	return dhv_inst_fmt(out, ms, 1, "Z");
}

int dh_json_print(struct dh_buf *out, const struct dh_val *v)
{
	size_t at = out->len;
	int rc = print(out, v);

	if (rc && out->data) {
		out->len = at;
		out->data[at] = '\0';
	}
	return rc;
}
