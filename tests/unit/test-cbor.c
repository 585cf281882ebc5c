/*
 * test-cbor.c - the CBOR codec: byte-level vectors derived from Datahike's
 * dump encoding, determinism, round trips of every type, the legacy 0.7
 * fixture, and hostile input (truncation, huge declared lengths, deep
 * nesting) without a crash or a large allocation.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh.h"
#include "dh-value.h"
#include "tap.h"

#ifndef FIXTURE_DIR
#endif

static struct dh_arena *A;

/*
 * Every allocation of the process is counted, libdh's included, to check
 * that decoding allocates from the arena and not per value.  glibc's own
 * allocator does the work.
 */
static long allocs;

#if defined(__SANITIZE_ADDRESS__)
#define COUNTING 0      /* the sanitizer owns malloc */
#else
#define COUNTING 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

void *malloc(size_t n) { allocs++; return __libc_malloc(n); }
void *calloc(size_t n, size_t m) { allocs++; return __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { allocs++; return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
#endif

static struct dh_val edn(const char *text)
{
	return tap_edn(A, text);
}

static const char *hex(const void *p, size_t n)
{
	static char out[2048];
	const unsigned char *b = p;
	size_t i, o = 0;

	for (i = 0; i < n && o + 4 < sizeof(out); i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%02x", i ? " " : "", b[i]);
	out[o] = '\0';
	return out;
}

static char *show(const struct dh_val *v)
{
	static char out[2048];
	struct dh_buf b = DH_BUF_INIT;

	dh_edn_print(&b, v);
	snprintf(out, sizeof(out), "%s", b.data ? b.data : "?");
	dh_buf_release(&b);
	return out;
}

/* The value `v` encodes to exactly the bytes `want`, which decode back to
 * a value equal to v. */
static void vec_val(const struct dh_val *v, const char *want, const char *what)
{
	struct dh_buf b = DH_BUF_INIT;
	struct dh_val back;
	size_t used;
	int rc = dh_cbor_encode(&b, v);
	char got[2048];

	snprintf(got, sizeof(got), "%s", rc ? dh_errmsg() : hex(b.data, b.len));
	is_str(got, want, "encode %s", what);
	rc = dh_cbor_decode(&back, A, (const unsigned char *)b.data, b.len, &used);
	ok(rc == 0 && used == b.len && dh_val_eq(&back, v), "decode %s back (%s)", what,
	   rc ? dh_errmsg() : show(&back));
	dh_buf_release(&b);
}

static void vec(const char *text, const char *want)
{
	struct dh_val v = edn(text);

	vec_val(&v, want, text);
}

/* Bytes given in hex decode to the value printed as `want`. */
static void dec(const char *hexin, const char *want)
{
	unsigned char buf[512];
	size_t n = 0, used;
	struct dh_val v;
	const char *p = hexin;
	int rc;

	while (*p) {
		unsigned x;

		if (*p == ' ') {
			p++;
			continue;
		}
		sscanf(p, "%2x", &x);
		buf[n++] = (unsigned char)x;
		p += 2;
	}
	rc = dh_cbor_decode(&v, A, buf, n, &used);
	if (!ok(rc == 0 && used == n, "decode %s", hexin))
		tap_diag("  %s", dh_errmsg());
	else
		is_str(show(&v), want, "%s is %s", hexin, want);
}

static int dec_bad(const unsigned char *b, size_t n, const char *msg, const char *what)
{
	struct dh_val v;
	size_t used;
	int rc = dh_cbor_decode(&v, A, b, n, &used);

	ok(rc == DH_ECORRUPT, "reject %s", what);
	if (msg)
		is_str(dh_errmsg(), msg, "message for %s", what);
	return rc;
}

static void vectors(void)
{
	struct dh_val v;

	vec(":db/ident", "d8 27 69 3a 64 62 2f 69 64 65 6e 74");
	vec(":a", "d8 27 62 3a 61");
	vec("foo", "d8 27 63 66 6f 6f");
	vec("?x", "d8 27 62 3f 78");
	vec("nil", "f6");
	vec("true", "f5");
	vec("false", "f4");
	vec("0", "00");
	vec("23", "17");
	vec("24", "18 18");
	vec("255", "18 ff");
	vec("256", "19 01 00");
	vec("65535", "19 ff ff");
	vec("65536", "1a 00 01 00 00");
	vec("4294967296", "1b 00 00 00 01 00 00 00 00");
	vec("9223372036854775807", "1b 7f ff ff ff ff ff ff ff");
	vec("-1", "20");
	vec("-24", "37");
	vec("-25", "38 18");
	vec("-500", "39 01 f3");
	vec("-9223372036854775808", "3b 7f ff ff ff ff ff ff ff");
	vec("1.5", "fb 3f f8 00 00 00 00 00 00");
	vec("0.0", "fb 00 00 00 00 00 00 00 00");
	vec("##Inf", "fb 7f f0 00 00 00 00 00 00");
	vec("##NaN", "fb 7f f8 00 00 00 00 00 00");
	v.type = DH_FLOAT;
	v.len = 0;
	v.u.d = 1.5;
	vec_val(&v, "fa 3f c0 00 00", "float 1.5 (always 4 bytes)");
	v.u.d = -NAN;
	{
		struct dh_buf b = DH_BUF_INIT;

		dh_cbor_encode(&b, &v);
		is_str(hex(b.data, b.len), "fa 7f c0 00 00", "float NaN is canonical");
		dh_buf_release(&b);
	}
	vec("\"\"", "60");
	vec("\"abc\"", "63 61 62 63");
	vec("\"\xc3\xa9\"", "62 c3 a9");
	vec("#bytes \"AQL/\"", "43 01 02 ff");
	vec("#inst \"1970-01-01T00:00:00Z\"",
	    "c0 74 31 39 37 30 2d 30 31 2d 30 31 54 30 30 3a 30 30 3a 30 30 5a");
	vec("#inst \"1970-01-01T00:00:00.001Z\"",
	    "c0 78 18 31 39 37 30 2d 30 31 2d 30 31 54 30 30 3a 30 30 3a 30 30 2e 30 30 31 5a");
	vec("#inst \"2021-03-04T05:06:07.890+01:00\"",
	    "c0 78 18 32 30 32 31 2d 30 33 2d 30 34 54 30 34 3a 30 36 3a 30 37 2e 38 39 30 5a");
	vec("#uuid \"11111111-2222-3333-4444-555555555555\"",
	    "d8 25 50 11 11 11 11 22 22 33 33 44 44 55 55 55 55 55 55");
	vec("0N", "c2 40");
	vec("1N", "c2 41 01");
	vec("-1N", "c3 40");
	vec("-2N", "c3 41 01");
	vec("18446744073709551616N", "c2 49 01 00 00 00 00 00 00 00 00");
	vec("-18446744073709551617N", "c3 49 01 00 00 00 00 00 00 00 00");
	vec("1.50M", "c4 82 21 18 96");
	vec("-1.50M", "c4 82 21 38 95");
	vec("1.5E+10M", "c4 82 09 0f");
	vec("0M", "c4 82 00 00");
	vec("123456789012345678901234567890.5M",
	    "c4 82 20 c2 4d 0f 95 1a 9f a3 a2 86 c9 4f 0e 76 6c 39");
	vec("[]", "80");
	vec("[1 \"a\" :b]", "83 01 61 61 d8 27 62 3a 62");
	vec("{}", "a0");
	vec("{:b 1 :a 2}", "a2 d8 27 62 3a 61 02 d8 27 62 3a 62 01");
	vec("#{2 1 3}", "d9 01 02 83 01 02 03");
	vec("\\x", "d8 1b 82 67 64 68 2f 63 68 61 72 61 78");
	vec("#my/tag 5", "d8 1b 82 66 6d 79 2f 74 61 67 05");
	vec("[1 :db/ident :name 536870913 true]",
	    "85 01 d8 27 69 3a 64 62 2f 69 64 65 6e 74 d8 27 65 3a 6e 61 6d 65 1a 20 00 00 01 f5");

	/* a list encodes as an array and comes back as an (equal) vector */
	v = edn("(1 2)");
	vec_val(&v, "82 01 02", "list (1 2)");

	/* accepted on input, never produced */
	dec("c1 1a 5f 5e 10 00", "#inst \"2020-09-13T12:26:40.000-00:00\"");
	dec("c1 fb 41 d7 d7 84 00 00 00 00", "#inst \"2020-09-13T12:26:40.000-00:00\"");
	dec("c1 fb 3f f8 00 00 00 00 00 00", "#inst \"1970-01-01T00:00:01.500-00:00\"");
	dec("c0 74 32 30 32 30 2d 30 31 2d 30 31 54 30 30 3a 30 30 3a 30 30 5a",
	    "#inst \"2020-01-01T00:00:00.000-00:00\"");
	dec("1b ff ff ff ff ff ff ff ff", "18446744073709551615N");
	dec("3b ff ff ff ff ff ff ff ff", "-18446744073709551616N");
	dec("c2 48 00 00 00 00 00 00 00 05", "5N");
	dec("f9 3c 00", "1.0");
	dec("9f 01 02 ff", "[1 2]");
	dec("bf 61 61 01 ff", "{\"a\" 1}");
	dec("7f 62 61 62 61 63 ff", "\"abc\"");
	dec("5f 41 01 41 02 ff", "#bytes \"AQI=\"");
	dec("d9 d9 f7 01", "1");
	dec("d8 25 78 24 31 31 31 31 31 31 31 31 2d 32 32 32 32 2d 33 33 33 33 2d 34 34 34 34 2d 35 35 35 35 35 35 35 35 35 35 35 35",
	    "#uuid \"11111111-2222-3333-4444-555555555555\"");
}

static void determinism(void)
{
	struct dh_val a = edn("{:z [1 2] :a #{:y :x \"s\"} \"k\" {:q 1 :p 2}}");
	struct dh_val b = edn("{\"k\" {:p 2 :q 1} :a #{\"s\" :x :y} :z [1 2]}");
	struct dh_buf x = DH_BUF_INIT, y = DH_BUF_INIT;

	dh_cbor_encode(&x, &a);
	dh_cbor_encode(&y, &b);
	ok(x.len == y.len && !memcmp(x.data, y.data, x.len), "equal maps and sets built in different orders encode the same");
	dh_buf_release(&x);
	dh_buf_release(&y);
}

static void roundtrip(void)
{
	static const char *texts[] = {
		"nil", "true", "-7", "9223372036854775807N", "-123456789012345678901234567890N",
		"3.25", "-0.0", "##-Inf", "1E-30M", "-0.000001M", "\\newline", "\\\xe2\x82\xac",
		"\"tab\\there \xf0\x9f\x98\x80\"", ":ns/name", "sym/bol", "#inst \"1900-02-03T04:05:06.007Z\"",
		"#inst \"9999-12-31T23:59:59.999Z\"", "#uuid \"00000000-0000-0000-0000-000000000000\"",
		"#bytes \"\"", "[[] {} #{} ()]", "{[1 2] {:a #{[3]}}}", "#a/b #c/d [1 #{2}]",
		"[1 :db/txInstant #inst \"2020-01-01T00:00:00Z\" 536870913 false]",
	};
	struct dh_val v, back;
	struct dh_buf b = DH_BUF_INIT;
	size_t i, used;

	for (i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
		v = edn(texts[i]);
		dh_buf_reset(&b);
		ok(dh_cbor_encode(&b, &v) == 0 &&
		   dh_cbor_decode(&back, A, (const unsigned char *)b.data, b.len, &used) == 0 &&
		   used == b.len && dh_val_eq(&v, &back) && dh_val_cmp(&v, &back) == 0,
		   "round trip %s", texts[i]);
	}
	/* the largest bigint EDN reads survives CBOR; one digit more is refused */
	{
		char *t = malloc(20002);

		memset(t, '9', 20000);
		t[20000] = 'N';
		t[20001] = '\0';
		v = edn(t);
		dh_buf_reset(&b);
		ok(v.type == DH_BIGINT && dh_cbor_encode(&b, &v) == 0 &&
		   dh_cbor_decode(&back, A, (unsigned char *)b.data, b.len, &used) == 0 && dh_val_eq(&v, &back),
		   "a 20000-digit bigint round trips (%zu bytes)", b.len);
		t[20000] = '9';
		ok(dh_edn_parse(&v, A, t, 20001, "t") == DH_EINVAL, "20001 digits are refused by EDN");
		free(t);
	}
	{
		/* 9000 bytes of bignum are refused, not converted */
		unsigned char *big = calloc(9010, 1);

		big[0] = 0xc2;
		big[1] = 0x59;
		big[2] = 9000 >> 8;
		big[3] = 9000 & 0xff;
		big[4] = 1;
		dec_bad(big, 9004, "cbor at byte 0: bignum of 9000 bytes is too large", "a 9000-byte bignum");
		free(big);
	}
	/* instants outside RFC 3339's years use tag 1 */
	v = dh_inst(-62167219200000LL - 86400000LL);
	dh_buf_reset(&b);
	dh_cbor_encode(&b, &v);
	ok((unsigned char)b.data[0] == 0xc1 && dh_cbor_decode(&back, A, (unsigned char *)b.data, b.len, &used) == 0 &&
	   back.type == DH_INST && back.u.i == v.u.i, "year -1 instant round trips through tag 1");
	v = dh_inst(253402300800123LL);
	dh_buf_reset(&b);
	dh_cbor_encode(&b, &v);
	ok(dh_cbor_decode(&back, A, (unsigned char *)b.data, b.len, &used) == 0 && back.u.i == v.u.i,
	   "year 10000 instant with milliseconds round trips");

	/* a sequence of items: used tells where the next starts */
	{
		static const unsigned char seq[] = { 0x01, 0x82, 0x02, 0x03, 0xf5 };
		size_t at = 0;
		int n = 0;

		while (dh_cbor_decode(&v, A, seq + at, sizeof(seq) - at, &used) == 0) {
			at += used;
			n++;
		}
		ok(n == 3 && at == sizeof(seq), "three items in a CBOR sequence");
		ok(dh_cbor_decode(&v, A, seq + at, 0, &used) == DH_ENOTFOUND, "end of input is DH_ENOTFOUND");
	}
	dh_buf_release(&b);
}

static void fixture(void)
{
	FILE *f = fopen(DH_TEST_FIXTURE, "rb");
	unsigned char *data;
	size_t len, at = 0, used;
	struct dh_val v, first = dh_nil(), last = dh_nil();
	int n = 0, shape = 1, added = 0, rc;
	struct dh_buf b = DH_BUF_INIT;

	if (!ok(f != NULL, "open the legacy fixture"))
		return;
	data = malloc(1 << 16);
	len = fread(data, 1, 1 << 16, f);
	fclose(f);
	while ((rc = dh_cbor_decode(&v, A, data + at, len - at, &used)) == 0) {
		if (v.type != DH_VECTOR || v.len != 5 || v.u.items[0].type != DH_LONG ||
		    v.u.items[1].type != DH_KEYWORD || v.u.items[3].type != DH_LONG ||
		    v.u.items[4].type != DH_BOOL)
			shape = 0;
		added += v.u.items[4].u.b;
		if (!n)
			first = v;
		last = v;
		at += used;
		n++;
	}
	ok(rc == DH_ENOTFOUND && at == len, "the whole fixture decodes (%s)", rc == DH_ENOTFOUND ? "end" : dh_errmsg());
	is_int(n, 44, "44 records");
	ok(shape, "every record is [e a v tx added]");
	is_int(added, 42, "42 assertions, 2 retractions");
	is_str(show(&first), "[1 :db/cardinality :db.cardinality/one 536870913 true]", "first record");
	is_str(show(&last), "[536870916 :db/txInstant #inst \"2026-08-12T10:23:06.843-00:00\" 536870916 true]",
	       "last record: tag 1 epoch seconds as an instant");
	/* values of every kind in the fixture */
	at = 0;
	while (dh_cbor_decode(&v, A, data + at, len - at, &used) == 0) {
		const struct dh_val *val = &v.u.items[2];

		at += used;
		if (dh_val_is_kw(&v.u.items[1], "born") && v.u.items[0].u.i == 8)
			is_str(show(val), "#inst \"1999-01-02T03:04:05.678-00:00\"", "Alice's born");
		if (dh_val_is_kw(&v.u.items[1], "born") && v.u.items[0].u.i == 9)
			is_str(show(val), "#inst \"2001-12-31T23:59:59.999-00:00\"", "Bob's born: float seconds round to the millisecond");
		if (dh_val_is_kw(&v.u.items[1], "uid") && v.u.items[0].u.i == 8)
			is_str(show(val), "#uuid \"11111111-2222-3333-4444-555555555555\"", "Alice's uid");
		if (dh_val_is_kw(&v.u.items[1], "score") && v.u.items[0].u.i == 9)
			is_str(show(val), "2.25", "Bob's score");
		if (dh_val_is_kw(&v.u.items[1], "name") && v.u.items[0].u.i == 8)
			is_str(show(val), "\"Alice\"", "Alice's name");
	}
	/* re-encoding gives the current format: tag 0 text instants */
	v = last.u.items[2];
	dh_cbor_encode(&b, &v);
	ok((unsigned char)b.data[0] == 0xc0, "instants re-encode as tag 0");
	dh_buf_release(&b);

	/* every truncation of the fixture's first 200 bytes fails cleanly */
	{
		size_t cut;
		int clean = 1;

		for (cut = 1; cut < 200; cut++) {
			size_t k = 0;

			while (k < cut && dh_cbor_decode(&v, A, data + k, cut - k, &used) == 0)
				k += used;
			if (k < cut && strncmp(dh_errmsg(), "cbor at byte ", 13))
				clean = 0;
		}
		ok(clean, "every truncated prefix is reported as corrupt cbor");
	}
	free(data);
}

static void hostile(void)
{
	unsigned char buf[4096];
	size_t before, i;
	struct dh_val v;

	static const unsigned char big_array[] = { 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const unsigned char big_bytes[] = { 0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const unsigned char big_map[] = { 0xbb, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01 };
	static const unsigned char big_text[] = { 0x7a, 0xff, 0xff, 0xff, 0xff, 0x61 };
	static const unsigned char short_array[] = { 0x83, 0x01, 0x02 };
	static const unsigned char bad_utf8[] = { 0x62, 0xc3, 0x28 };
	static const unsigned char undef[] = { 0xf7 };
	static const unsigned char brk[] = { 0xff };
	static const unsigned char reserved[] = { 0x1c };
	static const unsigned char dup_map[] = { 0xa2, 0x01, 0x02, 0x01, 0x03 };
	static const unsigned char dup_set[] = { 0xd9, 0x01, 0x02, 0x82, 0x01, 0x01 };
	static const unsigned char bad_tag[] = { 0xd8, 0x63, 0x01 };
	static const unsigned char bad_uuid[] = { 0xd8, 0x25, 0x41, 0x00 };
	static const unsigned char bad_inst[] = { 0xc0, 0x63, 0x61, 0x62, 0x63 };
	static const unsigned char bad_kw[] = { 0xd8, 0x27, 0x01 };
	static const unsigned char empty_kw[] = { 0xd8, 0x27, 0x60 };
	static const unsigned char odd_indef_map[] = { 0xbf, 0x01, 0xff };
	static const unsigned char unterminated_indef[] = { 0x9f, 0x01, 0x02 };
	static const unsigned char indef_chunk_bad[] = { 0x7f, 0x41, 0x00, 0xff };
	static const unsigned char bigdec_bad[] = { 0xc4, 0x82, 0x01, 0x61, 0x61 };

	before = dh_arena_used(A);
	dec_bad(big_array, sizeof(big_array),
	        "cbor at byte 0: array of 18446744073709551615 items does not fit in the 1 bytes left",
	        "array claiming 2^64-1 items");
	dec_bad(big_bytes, sizeof(big_bytes), "cbor at byte 0: truncated input", "byte string claiming 2^63 bytes");
	dec_bad(big_map, sizeof(big_map), NULL, "map claiming 2^62 entries");
	dec_bad(big_text, sizeof(big_text), "cbor at byte 0: truncated input", "text claiming 4 GiB");
	ok(dh_arena_used(A) - before < 64, "no allocation for the claimed sizes (%zu bytes)", dh_arena_used(A) - before);

	/* a chain of arrays each claiming nearly everything that is left */
	for (i = 0; i + 5 <= sizeof(buf); i += 5) {
		size_t claim = sizeof(buf) - i - 5;

		buf[i] = 0x9a;
		buf[i + 1] = (unsigned char)(claim >> 24);
		buf[i + 2] = (unsigned char)(claim >> 16);
		buf[i + 3] = (unsigned char)(claim >> 8);
		buf[i + 4] = (unsigned char)claim;
	}
	before = dh_arena_used(A);
	dec_bad(buf, sizeof(buf), NULL, "nested arrays each claiming the rest of the input");
	ok(dh_arena_used(A) - before < 64 * sizeof(buf), "allocation stays proportional to the input (%zu bytes)",
	   dh_arena_used(A) - before);

	dec_bad(short_array, sizeof(short_array),
	        "cbor at byte 0: array of 3 items does not fit in the 2 bytes left", "array with a missing item");
	dec_bad(bad_utf8, sizeof(bad_utf8), "cbor at byte 0: invalid UTF-8 in text string (byte 0 of it)", "bad UTF-8");
	dec_bad(undef, sizeof(undef), "cbor at byte 0: undefined is not a value", "undefined");
	dec_bad(brk, sizeof(brk), "cbor at byte 0: unexpected break", "stray break");
	dec_bad(reserved, sizeof(reserved), "cbor at byte 0: malformed item (initial byte 0x1c)", "reserved additional info");
	dec_bad(dup_map, sizeof(dup_map), "cbor at byte 0: map has a duplicate key", "duplicate map key");
	dec_bad(dup_set, sizeof(dup_set), "cbor at byte 0: set has a duplicate element", "duplicate set element");
	dec_bad(bad_tag, sizeof(bad_tag), "cbor at byte 0: unsupported tag 99", "unknown tag");
	dec_bad(bad_uuid, sizeof(bad_uuid), "cbor at byte 2: tag 37 needs 16 bytes", "short uuid");
	dec_bad(bad_inst, sizeof(bad_inst), "cbor at byte 0: tag 0 instant 'abc': malformed timestamp", "bad instant");
	dec_bad(bad_kw, sizeof(bad_kw), "cbor at byte 0: tag 39 needs a text string", "keyword of an integer");
	dec_bad(empty_kw, sizeof(empty_kw), "cbor at byte 0: tag 39 with an empty name", "empty keyword");
	dec_bad(odd_indef_map, sizeof(odd_indef_map), "cbor at byte 0: indefinite map with an odd number of items",
	        "indefinite map with a key and no value");
	dec_bad(unterminated_indef, sizeof(unterminated_indef), "cbor at byte 3: indefinite collection of 1 items does not fit in the 0 bytes left",
	        "unterminated indefinite array");
	dec_bad(indef_chunk_bad, sizeof(indef_chunk_bad),
	        "cbor at byte 1: chunk of an indefinite string is not a definite string", "byte chunk in a text string");
	dec_bad(bigdec_bad, sizeof(bigdec_bad), "cbor at byte 0: tag 4 mantissa is not an integer", "bigdec of a string");

	/* nesting: 512 arrays fine, 513 refused, 100000 refused without a crash */
	memset(buf, 0x81, 512);
	buf[512] = 0x01;
	ok(dh_cbor_decode(&v, A, buf, 513, &i) == 0, "512 nested arrays decode");
	memset(buf, 0x81, 513);
	buf[513] = 0x01;
	dec_bad(buf, 514, "cbor at byte 512: nesting deeper than 512 levels", "513 nested arrays");
	{
		size_t n = 100000;
		unsigned char *deep = malloc(n);

		memset(deep, 0x81, n);
		dec_bad(deep, n, NULL, "100000 nested arrays");
		memset(deep, 0xc1, n);
		dec_bad(deep, n, NULL, "100000 nested tags");
		for (i = 0; i + 2 < n; i += 3) {
			deep[i] = 0xd9;
			deep[i + 1] = 0xd9;
			deep[i + 2] = 0xf7;
		}
		dec_bad(deep, n, NULL, "33333 nested self-describe tags");
		free(deep);
	}
}

/* An index node's worth of datoms decodes without a malloc per value. */
static void no_malloc_per_value(void)
{
	struct dh_buf text = DH_BUF_INIT, enc = DH_BUF_INIT;
	struct dh_arena *a;
	struct dh_val v;
	size_t used;
	long before;
	int i, rc;

	dh_buf_adds(&text, "[");
	for (i = 0; i < 1000; i++)
		dh_buf_addf(&text, "[%d :person/name \"name-%d\" 536870913 true] [%d :person/age %d 536870913 true]"
		            " [%d :person/born #inst \"2001-01-01T00:00:00.%03dZ\" 536870914 false]",
		            100 + i, i, 100 + i, i, 100 + i, i);
	dh_buf_adds(&text, "]");
	dh_edn_parse(&v, A, text.data, text.len, "node");
	dh_cbor_encode(&enc, &v);
	dh_arena_new(&a);
	before = allocs;
	rc = dh_cbor_decode(&v, a, (unsigned char *)enc.data, enc.len, &used);
	ok(rc == 0 && v.len == 3000, "a node of 3000 datoms decodes");
	ok(!COUNTING || allocs - before <= 16, "with %ld mallocs into a fresh arena", allocs - before);
	/* the arena keeps its largest block: decoding node after node
	 * settles on no allocation at all */
	for (i = 0; i < 3; i++) {
		dh_arena_reset(a);
		before = allocs;
		rc = dh_cbor_decode(&v, a, (unsigned char *)enc.data, enc.len, &used);
	}
	ok(rc == 0 && (!COUNTING || allocs == before), "and none in a loop over a reset arena (%ld)",
	   allocs - before);
	dh_arena_free(a);
	dh_buf_release(&text);
	dh_buf_release(&enc);
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/*
 * Mutated encodings: every result is a value or a corruption error with a
 * byte offset, and every value decoded re-encodes to bytes that decode to
 * an equal value and encode again to the same bytes.
 */
static void mutations(void)
{
	struct dh_val v = edn("[[1 :db/ident :name 536870913 true] {:a [1.5 -7 \"s\" #{:x 3N}] \"k\" 2.5M}"
	                      " #inst \"2020-01-02T03:04:05.678Z\" #uuid \"11111111-2222-3333-4444-555555555555\""
	                      " #bytes \"AQID\" -123456789012345678901234567890N \\c #t/x (nil false) 1E-9M]");
	struct dh_buf enc = DH_BUF_INIT, re = DH_BUF_INIT, re2 = DH_BUF_INIT;
	unsigned char buf[512];
	int i, consistent = 1, clean = 1, valid = 0;

	dh_cbor_encode(&enc, &v);
	for (i = 0; i < 50000; i++) {
		size_t n = enc.len, used;
		struct dh_val w, x;
		int k, rc;

		memcpy(buf, enc.data, n);
		for (k = 0, rc = 1 + (int)rnd(3); k < rc && n > 1; k++) {
			size_t at = rnd((unsigned)n);

			switch (rnd(3)) {
			case 0: buf[at] = (unsigned char)rnd(256); break;
			case 1: buf[at] ^= (unsigned char)(1u << rnd(8)); break;
			default: memmove(buf + at, buf + at + 1, n - at - 1); n--; break;
			}
		}
		dh_arena_reset(A);
		rc = dh_cbor_decode(&w, A, buf, n, &used);
		if (rc == 0) {
			valid++;
			dh_buf_reset(&re);
			dh_buf_reset(&re2);
			if (dh_cbor_encode(&re, &w) ||
			    dh_cbor_decode(&x, A, (unsigned char *)re.data, re.len, &used) || !dh_val_eq(&w, &x) ||
			    dh_cbor_encode(&re2, &x) || re.len != re2.len || memcmp(re.data, re2.data, re.len)) {
				if (consistent)
					tap_diag("  %s", show(&w));
				consistent = 0;
			}
		} else if (rc != DH_ECORRUPT || strncmp(dh_errmsg(), "cbor at byte ", 13)) {
			if (clean)
				tap_diag("  %d %s", rc, dh_errmsg());
			clean = 0;
		}
	}
	ok(clean, "50000 mutated encodings: each a value or corruption at a byte offset");
	ok(consistent, "each value decoded from them re-encodes stably (%d of them)", valid);
	dh_buf_release(&enc);
	dh_buf_release(&re);
	dh_buf_release(&re2);
}

int main(void)
{
	dh_arena_new(&A);
	vectors();
	determinism();
	roundtrip();
	fixture();
	hostile();
	mutations();
	no_malloc_per_value();
	dh_arena_free(A);
	return done_testing();
}
