/*
 * test-edn.c - the EDN reader and printer: every literal, Clojure's
 * printing, round trips, positions in error messages, streaming from a
 * FILE, hostile input.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh.h"
#include "dh-value.h"
#include "tap.h"

static struct dh_arena *A;

static int parse(struct dh_val *v, const char *text)
{
	return dh_edn_parse(v, A, text, strlen(text), "t.edn");
}

static char *show(const struct dh_val *v)
{
	static char out[4096];
	struct dh_buf b = DH_BUF_INIT;

	if (dh_edn_print(&b, v))
		snprintf(out, sizeof(out), "<print error: %s>", dh_errmsg());
	else
		snprintf(out, sizeof(out), "%s", b.data ? b.data : "");
	dh_buf_release(&b);
	return out;
}

/* `text` reads and prints as `want`, and `want` reads back equal. */
static void rt(const char *text, const char *want)
{
	struct dh_val v, w;
	int rc = parse(&v, text);

	if (!ok(rc == 0, "read %s", text)) {
		tap_diag("  %s", dh_errmsg());
		return;
	}
	is_str(show(&v), want, "print %s", text);
	rc = parse(&w, want);
	ok(rc == 0 && dh_val_eq(&v, &w) && dh_val_cmp(&v, &w) == 0, "%s reads back equal", want);
}

/* `text` is rejected with a message equal to `msg`. */
static void bad(const char *text, const char *msg)
{
	struct dh_val v;
	int rc = parse(&v, text);

	ok(rc == DH_EINVAL, "reject %s", text);
	is_str(dh_errmsg(), msg, "message for %s", text);
}

static void scalars(void)
{
	struct dh_val v;

	rt("nil", "nil");
	rt("true", "true");
	rt("  false ", "false");
	rt("42", "42");
	rt("-0", "0");
	rt("+7", "7");
	rt("9223372036854775807", "9223372036854775807");
	rt("-9223372036854775808", "-9223372036854775808");
	parse(&v, "9223372036854775807");
	ok(v.type == DH_LONG && v.u.i == INT64_MAX, "max long is a long");
	rt("9223372036854775808", "9223372036854775808N");
	parse(&v, "9223372036854775808");
	ok(v.type == DH_BIGINT, "long overflow becomes a bigint");
	rt("-9223372036854775809", "-9223372036854775809N");
	rt("12N", "12N");
	rt("-0N", "0N");
	rt("007N", "7N");
	rt("0x1F", "31");
	rt("-0xff", "-255");
	rt("0x10000000000000000", "18446744073709551616N");
	rt("017", "15");
	rt("2r1010", "10");
	rt("36rZZ", "1295");
	rt("16rFFFFFFFFFFFFFFFFFF", "4722366482869645213695N");
	rt("1.5", "1.5");
	rt("1.", "1.0");
	rt("-0.0", "-0.0");
	rt("1e3", "1000.0");
	rt("1E7", "1.0E7");
	rt("12345678.9", "1.23456789E7");
	rt("0.001", "0.001");
	rt("0.0001", "1.0E-4");
	rt("1.0E-5", "1.0E-5");
	rt("0.1", "0.1");
	rt("1.7976931348623157E308", "1.7976931348623157E308");
	rt("4.9E-324", "4.9E-324");
	rt("123456.789e3", "1.23456789E8");
	rt("1.50M", "1.50M");
	rt("1M", "1M");
	rt("-0.00M", "0.00M");
	rt("1.5e10M", "1.5E+10M");
	rt("1e-7M", "1E-7M");
	rt("0.000001M", "0.000001M");
	rt("0.0000001M", "1E-7M");
	rt("123.4567e2M", "12345.67M");
	rt("##Inf", "##Inf");
	rt("##-Inf", "##-Inf");
	rt("##NaN", "##NaN");
	parse(&v, "##NaN");
	ok(v.type == DH_DOUBLE && isnan(v.u.d), "##NaN is a NaN double");
	rt("\"\"", "\"\"");
	rt("\"a\\tb\\nc\\rd\\\\e\\\"f\\bg\\fh\"", "\"a\\tb\\nc\\rd\\\\e\\\"f\\bg\\fh\"");
	rt("\"\\u00e9\\u20AC\"", "\"\xc3\xa9\xe2\x82\xac\"");
	rt("\"\\uD83D\\uDE00\"", "\"\xf0\x9f\x98\x80\"");
	rt("\"\\101\\0\"", "\"A\\u0000\"");
	rt("\"line\nbreak\"", "\"line\\nbreak\"");
	rt("\"h\xc3\xa9llo\"", "\"h\xc3\xa9llo\"");
	rt("\\a", "\\a");
	rt("\\newline", "\\newline");
	rt("\\space", "\\space");
	rt("\\tab", "\\tab");
	rt("\\return", "\\return");
	rt("\\formfeed", "\\formfeed");
	rt("\\backspace", "\\backspace");
	rt("\\u0041", "\\A");
	rt("\\u00e9", "\\\xc3\xa9");
	rt("\\o101", "\\A");
	rt("\\\xc3\xa9", "\\\xc3\xa9");
	rt("\\(", "\\(");
	rt("\\\\", "\\\\");
	parse(&v, "\\newline");
	ok(v.type == DH_CHAR && v.u.i == '\n', "\\newline is 10");
	rt(":a", ":a");
	rt(":db/ident", ":db/ident");
	rt(":db.type/string", ":db.type/string");
	rt(":a-b?c*!", ":a-b?c*!");
	rt("foo", "foo");
	rt("foo/bar", "foo/bar");
	rt("?x", "?x");
	rt("$", "$");
	rt("...", "...");
	rt("/", "/");
	rt("clojure.core//", "clojure.core//");
	rt("-", "-");
	rt("+", "+");
	rt("-a", "-a");
	rt("a#b", "a#b");
	parse(&v, ":db/ident");
	ok(v.type == DH_KEYWORD && v.len == 8 && !strcmp(v.u.s, "db/ident"), "keyword text without colon");
	ok(dh_val_is_kw(&v, "db/ident"), "dh_val_is_kw");
	rt("#inst \"2020-01-02T03:04:05.123Z\"", "#inst \"2020-01-02T03:04:05.123-00:00\"");
	rt("#inst \"2020-01-02T03:04:05.123456789-01:30\"", "#inst \"2020-01-02T04:34:05.123-00:00\"");
	rt("#inst \"2020-01-02T03:04:05+02:00\"", "#inst \"2020-01-02T01:04:05.000-00:00\"");
	rt("#inst \"2020\"", "#inst \"2020-01-01T00:00:00.000-00:00\"");
	rt("#inst \"1969-12-31T23:59:59.999Z\"", "#inst \"1969-12-31T23:59:59.999-00:00\"");
	rt("#inst \"2000-02-29T00:00:00Z\"", "#inst \"2000-02-29T00:00:00.000-00:00\"");
	parse(&v, "#inst \"1970-01-01T00:00:01.5Z\"");
	ok(v.type == DH_INST && v.u.i == 1500, "#inst fraction .5 is 500 ms");
	parse(&v, "#inst \"1969-12-31T23:59:59.999Z\"");
	ok(v.u.i == -1, "#inst before the epoch is negative");
	rt("#uuid \"6F9619FF-8B86-D011-B42D-00CF4FC964FF\"", "#uuid \"6f9619ff-8b86-d011-b42d-00cf4fc964ff\"");
	parse(&v, "#uuid \"6f9619ff-8b86-d011-b42d-00cf4fc964ff\"");
	ok(v.type == DH_UUID && v.u.uuid[0] == 0x6f && v.u.uuid[15] == 0xff, "uuid bytes");
	rt("#bytes \"AAEC/w==\"", "#bytes \"AAEC/w==\"");
	parse(&v, "#bytes \"AAEC/w==\"");
	ok(v.type == DH_BYTES && v.len == 4 && (unsigned char)v.u.s[3] == 0xff, "#bytes decodes base64");
	rt("#my/tag [1 2]", "#my/tag [1 2]");
	parse(&v, "#my/tag [1 2]");
	ok(v.type == DH_TAGGED && v.u.items[0].type == DH_SYMBOL && v.u.items[1].type == DH_VECTOR,
	   "other tags are kept as DH_TAGGED");
}

static void collections(void)
{
	struct dh_val v;

	rt("()", "()");
	rt("[]", "[]");
	rt("{}", "{}");
	rt("#{}", "#{}");
	rt("(1 2 3)", "(1 2 3)");
	rt("[1,2,,3]", "[1 2 3]");
	rt("{:a 1 :b [2 3]}", "{:a 1, :b [2 3]}");
	rt("#{1 \"a\" :b}", "#{1 \"a\" :b}");
	rt("[1 ; comment\n 2]", "[1 2]");
	rt("[1 #_ 2 3]", "[1 3]");
	rt("[1 #_ #_ 2 3 4]", "[1 4]");
	rt("[#_[nested (discard)] 5]", "[5]");
	rt("{:a #_ :b 1}", "{:a 1}");
	rt("#:person{:name \"x\" :_/id 1 :other/k 2}", "{:person/name \"x\", :id 1, :other/k 2}");
	rt("[[[[]]]]", "[[[[]]]]");
	rt("{[1 2] #{3}}", "{[1 2] #{3}}");
	rt("#! shebang line\n[1]", "[1]");
	rt("\xef\xbb\xbf{:a 1}", "{:a 1}");
	bad("\xef\xbb\xbf  ]", "t.edn:1:3: unexpected ']'");
	rt("{1 :a 1.0 :b 1M :c}", "{1 :a, 1.0 :b, 1M :c}");
	bad("{1 :a 1N :c}", "t.edn:1:7: duplicate map key 1N");
	parse(&v, "{:db/id 1 :name \"x\"}");
	ok(v.type == DH_MAP && v.len == 4, "map of two entries has 4 items");
	ok(dh_map_getk(&v, "name") && dh_map_getk(&v, "name")->type == DH_STRING, "dh_map_getk");
	ok(!dh_map_getk(&v, "nope"), "dh_map_getk absent");
}

static void errors(void)
{
	struct dh_val v;
	char deep[4000];
	int i;

	bad("[1 2", "t.edn:1:1: unterminated vector");
	bad("  (1\n  [2 3", "t.edn:2:3: unterminated vector");
	bad("(1 2]", "t.edn:1:5: unexpected ']' in list starting at 1:1");
	bad("]", "t.edn:1:1: unexpected ']'");
	bad("{:a 1 :b}", "t.edn:1:1: map literal must contain an even number of forms");
	bad("{:a 1\n :a 2}", "t.edn:2:2: duplicate map key :a");
	bad("#{1 2 1}", "t.edn:1:7: duplicate set element 1");
	bad("#{1 1N}", "t.edn:1:5: duplicate set element 1N");
	bad("\"abc", "t.edn:1:1: unterminated string");
	bad("[\"a\\qb\"]", "t.edn:1:4: unsupported escape character '\\q'");
	bad("\"\\u12\"", "t.edn:1:2: invalid unicode escape: \\u needs 4 hex digits");
	bad("\"\\uD800\"", "t.edn:1:2: invalid unicode escape '\\uD800' (lone surrogate)");
	bad("\"\\400\"", "t.edn:1:2: octal escape out of range (\\0 to \\377)");
	bad("\\foo", "t.edn:1:1: unsupported character '\\foo'");
	bad("\\uD800", "t.edn:1:1: invalid character constant '\\uD800' (surrogate)");
	bad("\\o400", "t.edn:1:1: octal character out of range (\\o0 to \\o377)");
	bad("08", "t.edn:1:1: invalid number '08'");
	bad("1.2.3", "t.edn:1:1: invalid number '1.2.3'");
	bad("1/2", "t.edn:1:1: ratios are not supported: '1/2'");
	bad("0x", "t.edn:1:1: invalid number '0x'");
	bad("12abc", "t.edn:1:1: invalid number '12abc'");
	bad("::a", "t.edn:1:1: auto-resolved keywords are not EDN: '::a'");
	bad(":", "t.edn:1:1: invalid keyword ':'");
	bad("a/", "t.edn:1:1: invalid symbol 'a/'");
	bad("/a", "t.edn:1:1: invalid symbol '/a'");
	bad("a/b/c", "t.edn:1:1: invalid symbol 'a/b/c'");
	bad("foo:", "t.edn:1:1: invalid symbol 'foo:'");
	bad(".5", "t.edn:1:1: invalid symbol '.5'");
	bad("##Foo", "t.edn:1:1: invalid symbolic value '##Foo'");
	bad("#inst \"2020-13-01\"", "t.edn:1:1: invalid #inst \"2020-13-01\": month out of range");
	bad("#inst \"2021-02-29\"", "t.edn:1:1: invalid #inst \"2021-02-29\": day out of range");
	bad("#inst \"2020-01-01T25:00:00Z\"", "t.edn:1:1: invalid #inst \"2020-01-01T25:00:00Z\": time out of range");
	bad("#inst \"yesterday\"", "t.edn:1:1: invalid #inst \"yesterday\": malformed timestamp");
	bad("#inst 5", "t.edn:1:1: #inst needs a string");
	bad("#uuid \"abc\"", "t.edn:1:1: invalid #uuid: needs a string of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
	bad("#bytes \"a\"", "t.edn:1:1: invalid base64 in #bytes");
	bad("#foo", "t.edn:1:1: expected a value after foo");
	bad("[#foo]", "t.edn:1:6: expected a value after foo, got ']'");
	bad("[1 #_]", "t.edn:1:6: expected a value after #_, got ']'");
	bad("#(+ 1 %)", "t.edn:1:1: unsupported dispatch '#('");
	bad("#\"re\"", "t.edn:1:1: unsupported dispatch '#\"'");
	bad("'a", "t.edn:1:1: reader macro ''' is not EDN");
	bad("@a", "t.edn:1:1: reader macro '@' is not EDN");
	bad("1 2", "t.edn:1:3: unexpected text after the value");
	bad("", "t.edn:1:1: expected a value, got end of input");
	bad("  ; only a comment", "t.edn:1:19: expected a value, got end of input");
	bad("\"\xff\"", "t.edn:1:1: invalid UTF-8 in string (byte 0)");
	bad("\n\n   \xc3\xa9\xc3\xa9 (", "t.edn:3:7: unterminated list");
	bad("#:a{:b 1 :a/b 2}", "t.edn:1:1: duplicate key in namespaced map");
	/* _/ strips the namespace only from names that read back without it */
	bad("#:k{o * _/'q ue}", "t.edn:1:1: key _/'q does not read back without its namespace");
	bad("#:k{_/nil 1}", "t.edn:1:1: key _/nil does not read back without its namespace");
	bad("#:k{_/+1 1}", "t.edn:1:1: key _/+1 does not read back without its namespace");
	bad("#:k{_/:a 1}", "t.edn:1:1: key _/:a does not read back without its namespace");
	rt("#:k{_/a'b 1 :_/c 2 d 3}", "{a'b 1, :c 2, k/d 3}");
	{
		struct dh_val nul;

		ok(dh_edn_parse(&nul, A, "[a\0b]", 5, "t.edn") == DH_EINVAL, "reject a NUL byte in a symbol");
		is_str(dh_errmsg(), "t.edn:1:2: invalid character 0x00 in symbol", "message for the NUL byte");
	}

	/* nesting: 512 levels are fine, 513 are not, 100000 do not crash */
	for (i = 0; i < 512; i++)
		deep[i] = '[';
	for (i = 0; i < 512; i++)
		deep[512 + i] = ']';
	deep[1024] = '\0';
	ok(parse(&v, deep) == 0, "512 nested vectors read");
	memmove(deep + 1, deep, 1025);
	deep[0] = '[';
	strcat(deep, "]");
	ok(parse(&v, deep) == DH_EINVAL, "513 nested vectors refused");
	is_str(dh_errmsg(), "t.edn:1:513: nesting deeper than 512 levels", "depth message");
	{
		size_t n = 100000;
		char *s = malloc(2 * n + 1);

		memset(s, '[', n);
		memset(s + n, ']', n);
		s[2 * n] = '\0';
		ok(parse(&v, s) == DH_EINVAL, "100000 nested vectors refused without a crash");
		memset(s, '#', n);
		for (size_t k = 1; k < n; k += 2)
			s[k] = '_';
		s[n] = '\0';
		ok(parse(&v, s) == DH_EINVAL, "50000 chained discards refused without a crash");
		for (size_t k = 0; k + 3 < n; k += 3)
			memcpy(s + k, "#a ", 3);
		ok(parse(&v, s) == DH_EINVAL, "chained tags refused without a crash");
		free(s);
	}
}

static void streaming(void)
{
	const char *text = "1 [2 3]\n; c\n#_ 9 {:a \"x\"}\n  :end";
	struct dh_edn_reader *r;
	struct dh_val v;
	int line, col, n = 0, rc;
	FILE *f;

	ok(dh_edn_reader_mem(&r, text, strlen(text), "<stdin>") == 0, "mem reader");
	while ((rc = dh_edn_read(r, A, &v)) == 0)
		n++;
	ok(rc == DH_ENOTFOUND && n == 4, "four values then end of input (%d)", n);
	dh_edn_reader_pos(r, &line, &col);
	dh_edn_reader_free(r);

	/* a FILE with values crossing the reader's 64 KiB chunks */
	f = tmpfile();
	for (int i = 0; i < 20000; i++)
		fprintf(f, "{:id %d :name \"person-%d\" :score -%d.5 :tags #{:a :b}}\n", i, i, i);
	fputs("[1 2", f);
	rewind(f);
	ok(dh_edn_reader_file(&r, f, "people.edn") == 0, "file reader");
	n = 0;
	while ((rc = dh_edn_read(r, A, &v)) == 0) {
		const struct dh_val *id = dh_map_getk(&v, "id"), *sc = dh_map_getk(&v, "score");

		if (!id || id->u.i != n || !sc || sc->u.d != -n - 0.5)
			break;
		n++;
		dh_arena_reset(A);
	}
	ok(n == 20000, "20000 maps read from a FILE (%d)", n);
	ok(rc == DH_EINVAL, "then the unterminated vector");
	is_str(dh_errmsg(), "people.edn:20001:1: unterminated vector", "error names the line of the FILE");
	dh_edn_reader_pos(r, &line, &col);
	ok(line == 20001 && col == 1, "reader position of the last value");
	dh_edn_reader_free(r);
	fclose(f);

	/* a pipe: each value is read as soon as its line is there */
	{
		int fds[2];

		if (pipe(fds) == 0) {
			FILE *in = fdopen(fds[0], "r");

			alarm(20);  /* a reader that waits for more input hangs here */
			write(fds[1], "[1 2]\n{:a 1}\n", 13);
			dh_edn_reader_file(&r, in, "<pipe>");
			ok(dh_edn_read(r, A, &v) == 0 && v.type == DH_VECTOR, "first value from a pipe left open");
			ok(dh_edn_read(r, A, &v) == 0 && v.type == DH_MAP, "second value from a pipe left open");
			write(fds[1], "3", 1);
			close(fds[1]);
			ok(dh_edn_read(r, A, &v) == 0 && v.type == DH_LONG && v.u.i == 3, "last value at the end of the pipe");
			ok(dh_edn_read(r, A, &v) == DH_ENOTFOUND, "then the end");
			alarm(0);
			dh_edn_reader_free(r);
			fclose(in);
		}
	}

	/* a sign at a chunk boundary */
	f = tmpfile();
	for (int i = 0; i < 65535; i++)
		fputc(' ', f);
	fputs("-5 -x", f);
	rewind(f);
	dh_edn_reader_file(&r, f, "edge.edn");
	ok(dh_edn_read(r, A, &v) == 0 && v.type == DH_LONG && v.u.i == -5, "-5 across a chunk boundary");
	ok(dh_edn_read(r, A, &v) == 0 && v.type == DH_SYMBOL, "-x is a symbol");
	dh_edn_reader_free(r);
	fclose(f);
}

static void printing(void)
{
	struct dh_val items[2], v;

	v = dh_double(100.0);
	is_str(show(&v), "100.0", "100.0");
	v = dh_double(1e21);
	is_str(show(&v), "1.0E21", "1e21");
	v = dh_double(-1.25e-10);
	is_str(show(&v), "-1.25E-10", "-1.25e-10");
	v.type = DH_FLOAT;
	v.u.d = (double)0.1f;
	is_str(show(&v), "0.1", "float 0.1 prints as Float.toString");
	v.u.d = (double)3.4028235e38f;
	is_str(show(&v), "3.4028235E38", "max float");
	v = dh_inst(0);
	is_str(show(&v), "#inst \"1970-01-01T00:00:00.000-00:00\"", "epoch");
	v.type = DH_CHAR;
	v.u.i = 7;
	is_str(show(&v), "\\u0007", "control char prints as \\uXXXX");
	v = dh_text(DH_STRING, "a\x01", 2);
	is_str(show(&v), "\"a\\u0001\"", "control char in string");
	items[0] = dh_text(DH_SYMBOL, "inst", 4);
	items[1] = dh_long(5);
	v.type = DH_TAGGED;
	v.len = 2;
	v.u.items = items;
	is_str(show(&v), "#inst 5", "tagged literal printing");
	/* years beyond 0..9999 print with a sign and read back */
	{
		static const int64_t ms[] = { INT64_MAX, INT64_MIN, 253402300800000LL, -62167219200001LL,
		                              -62135596800000LL };
		static const char *want[] = {
			"#inst \"+292278994-08-17T07:12:55.807-00:00\"",
			"#inst \"-292275055-05-16T16:47:04.192-00:00\"",
			"#inst \"+10000-01-01T00:00:00.000-00:00\"",
			"#inst \"-0001-12-31T23:59:59.999-00:00\"",
			"#inst \"0001-01-01T00:00:00.000-00:00\"",
		};

		for (int i = 0; i < 5; i++) {
			struct dh_val w;

			v = dh_inst(ms[i]);
			is_str(show(&v), want[i], "instant %lld ms", (long long)ms[i]);
			ok(parse(&w, want[i]) == 0 && w.type == DH_INST && w.u.i == ms[i], "%s reads back", want[i]);
		}
		bad("#inst \"+292278994-08-17T07:12:55.808Z\"",
		    "t.edn:1:1: invalid #inst \"+292278994-08-17T07:12:55.808Z\": instant out of range");
		bad("#inst \"+123-01-01\"", "t.edn:1:1: invalid #inst \"+123-01-01\": malformed timestamp");
	}
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/*
 * Mutated input: every result is a value or a positioned error, and every
 * value read prints as text that reads back equal.
 */
static void mutations(void)
{
	static const char seed[] =
		"[{:db/id -1 :name \"Ivan\" :age 37N :tags #{:a :b/c} :score 1.5e3 :d 0.25M}\n"
		" (sym ns/sym \\a \\newline \"esc\\t\\u00e9\") #inst \"2020-01-02T03:04:05.678+01:00\"\n"
		" #uuid \"11111111-2222-3333-4444-555555555555\" ; comment\n"
		" #_ [discarded] #my/tag {:k [1 2 3]} ##Inf 0x1F 36rZZ -9223372036854775808 nil true]";
	static const char interesting[] = "[]{}()#\\\":;^ ,0123456789NMe.+-/_:ux\n\t";
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
			case 1: buf[at] = (char)rnd(256); break;
			case 2: memmove(buf + at, buf + at + 1, n - at); n--; break;
			default: n = at; buf[n] = '\0'; break;
			}
		}
		dh_arena_reset(A);
		rc = dh_edn_parse(&v, A, buf, n, "t.edn");
		if (rc == 0) {
			struct dh_buf b = DH_BUF_INIT;

			valid++;
			if (dh_edn_print(&b, &v) == 0 &&
			    (dh_edn_parse(&w, A, b.data, b.len, "p") || !dh_val_eq(&v, &w))) {
				if (consistent)
					tap_diag("  %s\n  printed %s", buf, b.data);
				consistent = 0;
			}
			dh_buf_release(&b);
		} else if (rc != DH_EINVAL || strncmp(dh_errmsg(), "t.edn:", 6)) {
			if (positioned)
				tap_diag("  %d %s", rc, dh_errmsg());
			positioned = 0;
		}
	}
	ok(positioned, "20000 mutated inputs: each an error with a position or a value");
	ok(consistent, "every value read from them prints and reads back equal (%d of them)", valid);
}

/* Random doubles and floats print as text that reads back to the same bits. */
static void float_text(void)
{
	int i, dbl = 1, flt = 1, shortest = 1;

	for (i = 0; i < 30000; i++) {
		uint64_t bits = (uint64_t)rnd(1u << 31) << 33 ^ (uint64_t)rnd(1u << 31) << 2 ^ rnd(4);
		uint32_t fbits = (uint32_t)bits;
		double d, back;
		float f;
		struct dh_val v, w;
		char *t;

		memcpy(&d, &bits, 8);
		memcpy(&f, &fbits, 4);
		if (isfinite(d)) {
			v = dh_double(d);
			t = show(&v);
			if (parse(&w, t) || w.type != DH_DOUBLE || memcmp(&w.u.d, &d, 8)) {
				if (dbl)
					tap_diag("  %.17g printed %s", d, t);
				dbl = 0;
			}
			/* no more digits than %.17g needs */
			{
				char g[40];

				snprintf(g, sizeof(g), "%.17g", d);
				back = strtod(g, NULL);
				if (back == d && strlen(t) > strlen(g) + 6)
					shortest = 0;
			}
		}
		if (isfinite(f)) {
			v.type = DH_FLOAT;
			v.len = 0;
			v.u.d = f;
			t = show(&v);
			if (parse(&w, t) || (float)w.u.d != f) {
				if (flt)
					tap_diag("  float %.9g printed %s", (double)f, t);
				flt = 0;
			}
		}
	}
	ok(dbl, "30000 random doubles print and read back bit for bit");
	ok(flt, "30000 random floats print and read back");
	ok(shortest, "and no longer than needed");
}

int main(void)
{
	dh_arena_new(&A);
	scalars();
	collections();
	errors();
	streaming();
	printing();
	mutations();
	float_text();
	dh_arena_free(A);
	return done_testing();
}
