/*
 * test-json.c - JSON with Datahike's convention: keys and ":x" strings as
 * keywords, the "\:" escape, streaming several values, errors with
 * positions, printing and round trips.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh.h"
#include "dh-value.h"
#include "tap.h"

static struct dh_arena *A;

static char *edn_of(const struct dh_val *v)
{
	static char out[4096];
	struct dh_buf b = DH_BUF_INIT;

	dh_edn_print(&b, v);
	snprintf(out, sizeof(out), "%s", b.data ? b.data : "?");
	dh_buf_release(&b);
	return out;
}

static char *json_of(const struct dh_val *v)
{
	static char out[4096];
	struct dh_buf b = DH_BUF_INIT;

	if (dh_json_print(&b, v))
		snprintf(out, sizeof(out), "<error: %s>", dh_errmsg());
	else
		snprintf(out, sizeof(out), "%s", b.data ? b.data : "");
	dh_buf_release(&b);
	return out;
}

static int read1(struct dh_val *v, const char *text)
{
	struct dh_json_reader *r;
	int rc = dh_json_reader_mem(&r, text, strlen(text), "t.json");

	if (!rc)
		rc = dh_json_read(r, A, v);
	dh_json_reader_free(r);
	return rc;
}

/* JSON text reads as the EDN `want` and prints back as `json`. */
static void conv(const char *text, const char *want, const char *json)
{
	struct dh_val v, back;
	int rc = read1(&v, text);

	if (!ok(rc == 0, "read %s", text)) {
		tap_diag("  %s", dh_errmsg());
		return;
	}
	is_str(edn_of(&v), want, "%s is %s", text, want);
	is_str(json_of(&v), json, "%s prints as %s", want, json);
	ok(read1(&back, json) == 0 && dh_val_eq(&v, &back), "%s reads back equal", json);
}

static void bad(const char *text, const char *msg)
{
	struct dh_val v;

	ok(read1(&v, text) == DH_EINVAL, "reject %s", text);
	is_str(dh_errmsg(), msg, "message for %s", text);
}

static struct dh_val edn(const char *text)
{
	return tap_edn(A, text);
}

static uint64_t rng = 0x853c49e6748fea9bULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Mutated input: a value or a positioned error; values print and read back. */
static void mutations(void)
{
	static const char seed[] =
		"[{\"db/id\": -1, \"name\": \"Ivan\", \":age\": 37, \"tags\": [\":a\", \"\\\\:b\"],\n"
		" \"score\": 1.5e3, \"ok\": true, \"none\": null, \"s\": \"\\u00e9\\n\\ud83d\\ude00\"}, 0.25, -7]";
	static const char interesting[] = "[]{}\",:\\ 0123456789.eE+-tfnu\n";
	char buf[sizeof(seed) + 8];
	int i, consistent = 1, positioned = 1, valid = 0;

	for (i = 0; i < 20000; i++) {
		size_t n = sizeof(seed) - 1;
		struct dh_val v, w;
		int k, rc;

		memcpy(buf, seed, n + 1);
		for (k = 0, rc = 1 + (int)rnd(3); k < rc && n > 1; k++) {
			size_t at = rnd((unsigned)n);

			switch (rnd(4)) {
			case 0: buf[at] = interesting[rnd(sizeof(interesting) - 1)]; break;
			case 1: buf[at] = (char)(1 + rnd(255)); break;
			case 2: memmove(buf + at, buf + at + 1, n - at); n--; break;
			default: n = at; buf[n] = '\0'; break;
			}
		}
		dh_arena_reset(A);
		rc = read1(&v, buf);
		if (rc == 0) {
			struct dh_buf b = DH_BUF_INIT;

			valid++;
			if (dh_json_print(&b, &v) == 0 && (read1(&w, b.data) || !dh_val_eq(&v, &w))) {
				if (consistent)
					tap_diag("  %s\n  printed %s", buf, b.data);
				consistent = 0;
			}
			dh_buf_release(&b);
		} else if (rc == DH_ENOTFOUND) {
			/* only whitespace left */
		} else if (rc != DH_EINVAL || strncmp(dh_errmsg(), "t.json:", 7)) {
			if (positioned)
				tap_diag("  %d %s", rc, dh_errmsg());
			positioned = 0;
		}
	}
	ok(positioned, "20000 mutated inputs: each an error with a position or a value");
	ok(consistent, "every value read from them prints and reads back equal (%d of them)", valid);
}

int main(void)
{
	struct dh_val v;

	dh_arena_new(&A);

	conv("\xef\xbb\xbf{\"a\": 1}", "{:a 1}", "{\"a\":1}");
	bad("\xef\xbb\xbf  ]", "t.json:1:3: unexpected token near ']'");
	conv("null", "nil", "null");
	conv("true", "true", "true");
	conv("false", "false", "false");
	conv("42", "42", "42");
	conv("-9223372036854775808", "-9223372036854775808", "-9223372036854775808");
	conv("1.5", "1.5", "1.5");
	conv("1.0", "1.0", "1.0");
	conv("1e3", "1000.0", "1000.0");
	conv("1E10", "1.0E10", "1.0E10");
	conv("\"plain\"", "\"plain\"", "\"plain\"");
	conv("\":kw\"", ":kw", "\":kw\"");
	conv("\":db/ident\"", ":db/ident", "\":db/ident\"");
	conv("\"\\\\:not-kw\"", "\":not-kw\"", "\"\\\\:not-kw\"");
	conv("\"\\\\\\\\:x\"", "\"\\\\:x\"", "\"\\\\\\\\:x\"");
	conv("\"a\\\\:b\"", "\"a\\\\:b\"", "\"a\\\\:b\"");
	conv("\"\\\\\"", "\"\\\\\"", "\"\\\\\"");
	conv("\":\"", ":", "\":\"");
	conv("\"tab\\there \\u00e9 \\ud83d\\ude00 \\u0001\"", "\"tab\\there \xc3\xa9 \xf0\x9f\x98\x80 \\u0001\"",
	     "\"tab\\there \xc3\xa9 \xf0\x9f\x98\x80 \\u0001\"");
	conv("[]", "[]", "[]");
	conv("{}", "{}", "{}");
	conv("[1, \"a\", \":b\", null]", "[1 \"a\" :b nil]", "[1,\"a\",\":b\",null]");
	conv("{\"name\": \"Ivan\", \"db/id\": -1, \":age\": 3}", "{:name \"Ivan\", :db/id -1, :age 3}",
	     "{\"name\":\"Ivan\",\"db/id\":-1,\"age\":3}");
	conv("{\"a\": {\"b\": [{\"c\": \":d\"}]}}", "{:a {:b [{:c :d}]}}", "{\"a\":{\"b\":[{\"c\":\":d\"}]}}");
	conv("[{\"db/ident\": \":person/name\", \"db/valueType\": \":db.type/string\", \"db/cardinality\": \":db.cardinality/one\"}]",
	     "[{:db/ident :person/name, :db/valueType :db.type/string, :db/cardinality :db.cardinality/one}]",
	     "[{\"db/ident\":\":person/name\",\"db/valueType\":\":db.type/string\",\"db/cardinality\":\":db.cardinality/one\"}]");

	/* NUL inside strings is kept; jansson refuses it in keys */
	{
		const char text[] = "{\"ab\": \"c\\u0000d\"}";

		ok(read1(&v, text) == 0 && v.type == DH_MAP && v.u.items[1].len == 3 && v.u.items[1].u.s[1] == '\0',
		   "NUL inside a string is kept");
		is_str(json_of(&v), "{\"ab\":\"c\\u0000d\"}", "and printed back escaped");
		bad("{\"a\\u0000b\": 1}", "t.json:1:11: NUL byte in object key not supported near '\"a\\u0000b\"'");
	}

	/* printing of values JSON has no type for */
	v = edn("#{1}");
	is_str(json_of(&v), "[1]", "sets print as arrays");
	v = edn("(1 2)");
	is_str(json_of(&v), "[1,2]", "lists print as arrays");
	v = edn("#inst \"2020-01-02T03:04:05Z\"");
	is_str(json_of(&v), "\"2020-01-02T03:04:05.000Z\"", "instants print as RFC 3339 strings");
	v = edn("#uuid \"11111111-2222-3333-4444-555555555555\"");
	is_str(json_of(&v), "\"11111111-2222-3333-4444-555555555555\"", "uuids print as strings");
	v = edn("[12345678901234567890N 1.50M]");
	is_str(json_of(&v), "[12345678901234567890,1.50]", "bigints and bigdecs print as numbers");
	v = edn("#bytes \"AQI=\"");
	is_str(json_of(&v), "\"AQI=\"", "bytes print as base64");
	v = edn("{1 :a [1] :b :k/w :c \"s\" :d}");
	is_str(json_of(&v), "{\"1\":\":a\",\"[1]\":\":b\",\"k/w\":\":c\",\"s\":\":d\"}", "non-keyword keys print as text");
	v = edn("[\\c sym #t 5]");
	is_str(json_of(&v), "[\"c\",\"sym\",5]", "chars and symbols as strings, tagged as their value");
	v = edn("[1 ##NaN]");
	{
		struct dh_buf b = DH_BUF_INIT;

		dh_buf_adds(&b, "keep");
		ok(dh_json_print(&b, &v) == DH_EINVAL && !strcmp(b.data, "keep"),
		   "NaN cannot be printed, and nothing is half-written");
		is_str(dh_errmsg(), "cannot represent NaN in JSON", "NaN message");
		dh_buf_release(&b);
	}

	/* errors with positions */
	bad("[1, 2", "t.json:1:5: ']' expected near end of file");
	bad("{\"a\": 1,\n  \"b\" 2}", "t.json:2:7: ':' expected near '2'");
	bad("  [1, @]", "t.json:1:7: invalid token near '@'");
	bad("{\"a\": 1, \"a\": 2}", "t.json:1:12: duplicate object key near '\"a\"'");
	bad("{\"a\": 1, \":a\": 2}", "t.json:1:1: duplicate object key \"a\"");
	bad("[12345678901234567890]", "t.json:1:21: too big integer near '12345678901234567890'");
	bad("\"\\x\"", "t.json:1:3: invalid escape near '\"\\x'");
	bad("\n\n  tru", "t.json:3:5: invalid token near 'tru'");
	bad("\"\xff\"", "t.json:1:1: unable to decode byte 0xff near '\"'");
	{
		char deep[2000];

		memset(deep, '[', 600);
		memset(deep + 600, ']', 600);
		deep[1200] = '\0';
		bad(deep, "t.json:1:1: nesting deeper than 512 levels");
		memset(deep, '[', 512);
		memset(deep + 512, ']', 512);
		deep[1024] = '\0';
		ok(read1(&v, deep) == 0, "512 nested arrays read");
	}

	/* streaming: several values, then the end */
	{
		const char *text = "{\"a\": 1} [2]\n3 \"x\" 4.5\n\n{\"b\": \":c\"}  \n";
		struct dh_json_reader *r;
		struct dh_buf all = DH_BUF_INIT;
		int rc, n = 0;

		dh_json_reader_mem(&r, text, strlen(text), "s.json");
		while ((rc = dh_json_read(r, A, &v)) == 0) {
			dh_edn_print(&all, &v);
			dh_buf_addc(&all, ' ');
			n++;
		}
		ok(rc == DH_ENOTFOUND && n == 6, "six values then the end (%d, %d)", rc, n);
		is_str(all.data, "{:a 1} [2] 3 \"x\" 4.5 {:b :c} ", "the values in order");
		dh_json_reader_free(r);
		dh_buf_release(&all);
	}
	{
		/* from a FILE, with values crossing the reader's chunks */
		FILE *f = tmpfile();
		struct dh_json_reader *r;
		int rc, n = 0, good = 1;

		for (int i = 0; i < 20000; i++)
			fprintf(f, "{\"id\": %d, \"name\": \"person-%d\", \"tags\": [\":a\", \"\\\\:b\"]}\n", i, i);
		fputs("{\"broken\": ", f);
		rewind(f);
		dh_json_reader_file(&r, f, "people.json");
		while ((rc = dh_json_read(r, A, &v)) == 0) {
			const struct dh_val *id = dh_map_getk(&v, "id"), *tags = dh_map_getk(&v, "tags");

			if (!id || id->u.i != n || !tags || tags->len != 2 || tags->u.items[0].type != DH_KEYWORD ||
			    tags->u.items[1].type != DH_STRING)
				good = 0;
			n++;
			dh_arena_reset(A);
		}
		ok(n == 20000 && good, "20000 objects read from a FILE (%d)", n);
		ok(rc == DH_EINVAL, "then the broken one");
		is_str(dh_errmsg(), "people.json:20001:11: unexpected token near end of file", "error on the last line");
		dh_json_reader_free(r);
		fclose(f);
	}
	{
		/* a pipe: each value is read as soon as its line is there */
		int fds[2];
		struct dh_json_reader *r;

		if (pipe(fds) == 0) {
			FILE *in = fdopen(fds[0], "r");

			alarm(20);  /* a reader that waits for more input hangs here */
			write(fds[1], "[1,2]\n{\"a\":1}\n", 14);
			dh_json_reader_file(&r, in, "<pipe>");
			ok(dh_json_read(r, A, &v) == 0 && v.type == DH_VECTOR, "first value from a pipe left open");
			ok(dh_json_read(r, A, &v) == 0 && v.type == DH_MAP, "second value from a pipe left open");
			write(fds[1], "3", 1);
			close(fds[1]);
			ok(dh_json_read(r, A, &v) == 0 && v.type == DH_LONG && v.u.i == 3, "last value at the end of the pipe");
			ok(dh_json_read(r, A, &v) == DH_ENOTFOUND, "then the end");
			alarm(0);
			dh_json_reader_free(r);
			fclose(in);
		}
	}
	{
		/* one value larger than the reader's window */
		FILE *f = tmpfile();
		struct dh_json_reader *r;

		fputc('[', f);
		for (int i = 0; i < 50000; i++)
			fprintf(f, "%s\"item-%d\"", i ? "," : "", i);
		fputs("] 7", f);
		rewind(f);
		dh_json_reader_file(&r, f, "big.json");
		ok(dh_json_read(r, A, &v) == 0 && v.type == DH_VECTOR && v.len == 50000, "a 600 KB array");
		ok(dh_json_read(r, A, &v) == 0 && v.type == DH_LONG && v.u.i == 7, "and the value after it");
		ok(dh_json_read(r, A, &v) == DH_ENOTFOUND, "then the end");
		dh_json_reader_free(r);
		fclose(f);
	}

	mutations();
	dh_arena_free(A);
	return done_testing();
}
