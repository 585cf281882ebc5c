/*
 * test-value.c - arenas and what every layer asks of a value: order
 * (Datahike's index order, made total), Clojure equality, hashes
 * consistent with it, map lookup and deep copies.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh.h"
#include "dh-value.h"
#include "tap.h"

static struct dh_arena *A;

static struct dh_val edn(const char *text)
{
	return tap_edn(A, text);
}

static int cmp(const char *x, const char *y)
{
	struct dh_val a = edn(x), b = edn(y);

	return dh_val_cmp(&a, &b);
}

static void less(const char *x, const char *y)
{
	int r1 = cmp(x, y), r2 = cmp(y, x);

	ok(r1 < 0 && r2 > 0, "%s < %s", x, y);
}

static void same(const char *x, const char *y)
{
	struct dh_val a = edn(x), b = edn(y);

	ok(dh_val_eq(&a, &b) && dh_val_eq(&b, &a), "%s = %s", x, y);
	ok(dh_val_cmp(&a, &b) == 0, "compare %s %s is 0", x, y);
	ok(dh_val_hash(&a) == dh_val_hash(&b), "hash %s = hash %s", x, y);
}

static void differ(const char *x, const char *y)
{
	struct dh_val a = edn(x), b = edn(y);

	ok(!dh_val_eq(&a, &b) && dh_val_cmp(&a, &b) != 0, "%s != %s", x, y);
}

static void arena(void)
{
	struct dh_arena *a;
	void *p, *q;
	char *s;
	int i, aligned = 1;

	ok(dh_arena_new(&a) == 0, "arena");
	ok(dh_arena_used(a) == 0, "empty arena used 0");
	for (i = 0; i < 10000; i++) {
		p = dh_arena_alloc(a, (size_t)(i % 37) + 1);
		if ((uintptr_t)p % alignof(max_align_t))
			aligned = 0;
		memset(p, 0xab, (size_t)(i % 37) + 1);
	}
	ok(aligned, "allocations aligned for any type");
	s = dh_arena_strndup(a, "hello world", 5);
	is_str(s, "hello", "strndup copies len bytes and terminates");
	q = dh_arena_alloc(a, 10 << 20);
	ok(q != NULL, "a 10 MiB allocation");
	memset(q, 1, 10 << 20);
	ok(dh_arena_used(a) >= (10u << 20), "used counts it");
	dh_arena_reset(a);
	ok(dh_arena_used(a) == 0, "reset empties");
	p = dh_arena_alloc(a, 100);
	ok(p != NULL && (uintptr_t)p % alignof(max_align_t) == 0, "allocation after reset");
	ok(dh_arena_alloc(a, SIZE_MAX - 8) == NULL, "absurd size fails");
	ok(strstr(dh_errmsg(), "out of memory") != NULL, "with an out of memory message");
	p = dh_arena_alloc(a, 0);
	ok(p != NULL, "zero bytes give a pointer");
	dh_arena_free(a);
	dh_arena_free(NULL);
	{
		/* rewind keeps the blocks: filling again reuses the same memory */
		unsigned char *first[3], *again[3];
		size_t used0 = 0;
		int same = 1, clean = 1;

		dh_arena_new(&a);
		for (int round = 0; round < 3; round++) {
			for (i = 0; i < 100000; i++) {
				unsigned char *x = dh_arena_alloc(a, 40);

				if (i == 0 || i == 50000 || i == 99999)
					(round ? again : first)[i == 0 ? 0 : i == 50000 ? 1 : 2] = x;
				memset(x, round, 40);
			}
			if (round && memcmp(first, again, sizeof(first)))
				same = 0;
			if (!round)
				used0 = dh_arena_used(a);
			else if (dh_arena_used(a) != used0)
				clean = 0;
			dh_arena_rewind(a);
		}
		ok(same, "rewind: the same allocations land in the same blocks again");
		ok(clean && dh_arena_used(a) == 0, "rewind: used counts afresh");
		p = dh_arena_alloc(a, 5 << 20);
		ok(p != NULL, "rewind: a request larger than every kept block gets its own");
		dh_arena_reset(a);
		ok(dh_arena_alloc(a, 64) != NULL, "reset after rewind");
		dh_arena_free(a);
	}
}

static void order(void)
{
	/* across types: the documented fixed order */
	static const char *ladder[] = {
		"nil", "#bytes \"AA==\"", ":kw", "{:a 1}", "#{1}", "[1]", "sym", "#t 1", "false",
		"\\a", "-5", "\"str\"", "#inst \"2020-01-01\"", "#uuid \"00000000-0000-0000-0000-000000000000\"",
	};
	size_t i, j;

	for (i = 0; i + 1 < sizeof(ladder) / sizeof(*ladder); i++)
		less(ladder[i], ladder[i + 1]);
	less("()", "[1]");

	/* numbers */
	less("1", "1.5");
	less("1.5", "2N");
	less("2N", "2.5M");
	less("-1", "0");
	less("-9223372036854775808", "9223372036854775807");
	less("-9223372036854775809N", "-9223372036854775808");
	less("9223372036854775807", "9223372036854775808N");
	less("9007199254740992.0", "9007199254740993");
	less("9007199254740993", "9007199254740994.0");
	less("-1E30", "-999999999999999999999999999999N");
	less("1000000000000000000000000000000N", "1.0000000000000001E30");
	less("0.1M", "0.1");
	less("0.1", "0.10000000000000001M");
	less("##-Inf", "-9223372036854775808");
	less("##-Inf", "-1E400M");
	less("1E400M", "##Inf");
	less("##Inf", "##NaN");
	less("1", "1.0");
	less("1.0", "1M");
	less("1N", "1.0");
	less("-0.5M", "-0.4");
	less("1.5M", "1.51M");
	less("-2.5M", "-2.45M");
	same("1", "1N");
	same("1.0", "1.00");
	same("1.0M", "1.00M");
	same("0.0", "-0.0");
	same("##NaN", "##NaN");
	same("100M", "1E+2M");
	differ("1", "1.0");
	differ("1", "1M");
	differ("1.0", "1.0M");
	{
		struct dh_val f = { .type = DH_FLOAT }, d = dh_double(1.5), tenth = dh_double(0.1);

		f.u.d = 1.5;
		ok(dh_val_eq(&f, &d) && dh_val_cmp(&f, &d) == 0 && dh_val_hash(&f) == dh_val_hash(&d),
		   "float 1.5 = double 1.5");
		f.u.d = (double)0.1f;
		ok(!dh_val_eq(&f, &tenth) && dh_val_cmp(&f, &tenth) > 0, "float 0.1 != double 0.1");
	}

	/* text */
	less("\"a\"", "\"b\"");
	less("\"a\"", "\"ab\"");
	less("\"\"", "\"a\"");
	less("\"Z\"", "\"a\"");
	less("\"\xf0\x9f\x98\x80\"", "\"\xef\xbf\xbf\"");   /* UTF-16: D83D < FFFF */
	less("\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"");
	less(":b", ":a/x");
	less(":a/z", ":b/a");
	less(":a/b", ":a/c");
	less(":a", ":ab");
	less(":a/c", ":a.b/c");
	less("b", "a/x");

	/* others */
	less("false", "true");
	less("\\a", "\\b");
	less("#inst \"1969-12-31T23:59:59.999Z\"", "#inst \"1970-01-01T00:00:00Z\"");
	less("#uuid \"80000000-0000-0000-0000-000000000000\"", "#uuid \"00000000-0000-0000-0000-000000000000\"");
	less("#uuid \"00000000-0000-0000-0000-000000000000\"", "#uuid \"7fffffff-ffff-ffff-ffff-ffffffffffff\"");
	less("#uuid \"00000000-0000-0000-8000-000000000000\"", "#uuid \"00000000-0000-0000-0000-000000000001\"");
	less("#bytes \"AQ==\"", "#bytes \"/w==\"");
	less("#bytes \"AQ==\"", "#bytes \"AQE=\"");
	less("#a 1", "#a 2");
	less("#a 9", "#b 1");

	/* sequences: length first, then elements (Datahike's seq-compare) */
	less("[5 6]", "[1 2 3]");
	less("[1 2]", "[1 3]");
	less("[1 nil]", "[1 0]");
	less("[[1] 2]", "[[1 1] 0]");
	same("(1 2)", "[1 2]");
	same("[1 [2 (3)]]", "(1 (2 [3]))");
	differ("[1]", "#{1}");

	/* maps and sets: order of construction does not matter */
	same("{:a 1 :b 2}", "{:b 2 :a 1}");
	same("#{1 2 3}", "#{3 1 2}");
	same("{:k #{[1 2] {:x 1 :y 2}}}", "{:k #{{:y 2 :x 1} (1 2)}}");
	same("{1 :a}", "{1N :a}");
	differ("{:a 1}", "{:a 2}");
	differ("{:a 1}", "{:b 1}");
	less("{:z 1}", "{:a 1 :b 2}");
	less("#{1 2}", "#{1 3}");
	less("{:a 1}", "{:a 2}");
	{
		/* larger than the sort's stack buffer */
		char x[2000], y[2000];
		size_t o = 0, p = 0;

		o += (size_t)snprintf(x + o, sizeof(x) - o, "#{");
		p += (size_t)snprintf(y + p, sizeof(y) - p, "#{");
		for (int k = 0; k < 100; k++) {
			o += (size_t)snprintf(x + o, sizeof(x) - o, "%d ", k);
			p += (size_t)snprintf(y + p, sizeof(y) - p, "%d ", 99 - k);
		}
		snprintf(x + o, sizeof(x) - o, "}");
		snprintf(y + p, sizeof(y) - p, "}");
		same(x, y);
	}

	/* a mixed bag: the order is total and consistent with = and hash */
	{
		static const char *bag[] = {
			"nil", "true", "false", "0", "-1", "1", "1N", "1.0", "1M", "1.00M", "-0.0", "0.0",
			"2.5", "2.5M", "##NaN", "##Inf", "##-Inf", "99999999999999999999N", "1E20",
			"\"\"", "\"a\"", "\"b\"", ":a", ":a/b", ":b", "a", "a/b", "\\a", "\\b",
			"[]", "[1]", "(1)", "[1 2]", "[1.0]", "{}", "{:a 1}", "#{}", "#{1}", "#{1N}",
			"#inst \"2020-01-01\"", "#inst \"1960-01-01\"", "#uuid \"ffffffff-0000-0000-0000-000000000000\"",
			"#uuid \"00000000-0000-0000-0000-000000000000\"", "#bytes \"\"", "#bytes \"AA==\"",
			"#x 1", "#x 1.0", "#y [1]", "[nil]", "[\"a\" :b]", "[:b \"a\"]",
		};
		enum { N = sizeof(bag) / sizeof(*bag) };
		struct dh_val v[N];
		int anti = 1, trans = 1, eqcons = 1, hashcons = 1;

		for (i = 0; i < N; i++)
			v[i] = edn(bag[i]);
		for (i = 0; i < N; i++)
			for (j = 0; j < N; j++) {
				int r = dh_val_cmp(&v[i], &v[j]), s = dh_val_cmp(&v[j], &v[i]);

				if ((r > 0) - (r < 0) != -((s > 0) - (s < 0)))
					anti = 0;
				if ((r == 0) != dh_val_eq(&v[i], &v[j]))
					eqcons = 0;
				if (dh_val_eq(&v[i], &v[j]) && dh_val_hash(&v[i]) != dh_val_hash(&v[j]))
					hashcons = 0;
				for (size_t k = 0; k < N; k++)
					if (r < 0 && dh_val_cmp(&v[j], &v[k]) < 0 && dh_val_cmp(&v[i], &v[k]) >= 0) {
						trans = 0;
						tap_diag("  not transitive: %s < %s < %s", bag[i], bag[j], bag[k]);
					}
			}
		ok(anti, "antisymmetric on %d mixed values", N);
		ok(trans, "transitive on %d mixed values", N);
		ok(eqcons, "compare is 0 exactly when = holds");
		ok(hashcons, "equal values hash alike");
	}
}

static int ncmp(const char *x, const char *y)
{
	struct dh_val a = edn(x), b = edn(y);
	int r = dh_val_numcmp(&a, &b);

	return (r > 0) - (r < 0);
}

static void numeric(void)
{
	is_int(ncmp("1", "1.0"), 0, "numcmp 1 1.0");
	is_int(ncmp("1", "1M"), 0, "numcmp 1 1M");
	is_int(ncmp("1.0", "1.00M"), 0, "numcmp 1.0 1.00M");
	is_int(ncmp("2N", "2"), 0, "numcmp 2N 2");
	is_int(ncmp("9007199254740993", "9007199254740992.0"), 1, "numcmp is exact for longs beyond 2^53");
	is_int(ncmp("1000000000000000000000000000000N", "1.0E31"), -1, "numcmp 10^30N < 1.0E31");
	is_int(ncmp("0.1M", "0.1"), -1, "numcmp 0.1M < 0.1 (the double is a little more)");
	is_int(ncmp("-1.5", "-2N"), 1, "numcmp -1.5 > -2N");
	is_int(ncmp("##NaN", "##Inf"), 1, "numcmp NaN after Inf");
	is_int(ncmp("##NaN", "##NaN"), 0, "numcmp NaN NaN");
	is_int(ncmp("##-Inf", "-9223372036854775808"), -1, "numcmp -Inf < min long");
	is_int(ncmp("1", ":a"), 1, "numcmp of a non-number falls back to the index order");
}

static void hashing(void)
{
	struct dh_val a = edn("\"abc\""), b = edn(":abc"), c = edn("abc");
	uint64_t h[6];
	int distinct = 1;

	h[0] = dh_val_hash(&a);
	h[1] = dh_val_hash(&b);
	h[2] = dh_val_hash(&c);
	a = edn("[1 2]");
	b = edn("[2 1]");
	c = edn("#{1 2}");
	h[3] = dh_val_hash(&a);
	h[4] = dh_val_hash(&b);
	h[5] = dh_val_hash(&c);
	for (int i = 0; i < 6; i++)
		for (int j = 0; j < i; j++)
			if (h[i] == h[j])
				distinct = 0;
	ok(distinct, "string, keyword, symbol, [1 2], [2 1], #{1 2} hash differently");
	{
		/* 100000 longs: no collisions in 64 bits */
		uint64_t *hs = malloc(100000 * sizeof(*hs));
		int coll = 0;

		for (int i = 0; i < 100000; i++) {
			struct dh_val v = dh_long(i);

			hs[i] = dh_val_hash(&v);
		}
		for (int i = 1; i < 100000; i++)
			if ((hs[i] & 0xfffff) == (hs[i - 1] & 0xfffff))
				coll++;
		ok(coll < 10, "neighbouring longs spread over the low bits (%d)", coll);
		free(hs);
	}
}

static void maps_and_copies(void)
{
	struct dh_val m = edn("{:db/id 5 \"s\" 1 [1 2] :vec 1 :one}"), k, copy;
	const struct dh_val *got;
	struct dh_arena *b;
	struct dh_buf out = DH_BUF_INIT;

	k = edn(":db/id");
	got = dh_map_get(&m, &k);
	ok(got && got->type == DH_LONG && got->u.i == 5, "dh_map_get keyword");
	k = edn("(1 2)");
	got = dh_map_get(&m, &k);
	ok(got && dh_val_is_kw(got, "vec"), "dh_map_get with a list finds the vector key");
	k = edn("1N");
	got = dh_map_get(&m, &k);
	ok(got && dh_val_is_kw(got, "one"), "dh_map_get with 1N finds 1");
	k = edn("1.0");
	ok(!dh_map_get(&m, &k), "1.0 does not find 1");
	ok(dh_map_getk(&m, "db/id") != NULL && !dh_map_getk(&m, "db/ident"), "dh_map_getk");
	k = dh_long(1);
	ok(!dh_map_get(&k, &k), "dh_map_get on a non-map is NULL");

	dh_arena_new(&b);
	{
		struct dh_val src = edn("{:a [1 \"two\" #{3.0 4N} #inst \"2020-01-01\"] :b #t (5.5M \\c #bytes \"AQI=\")}");

		ok(dh_val_copy(&copy, b, &src) == 0, "deep copy");
		dh_arena_reset(A);   /* the original is gone */
		src = edn("{:a [1 \"two\" #{3.0 4N} #inst \"2020-01-01\"] :b #t (5.5M \\c #bytes \"AQI=\")}");
		ok(dh_val_eq(&copy, &src), "the copy outlives its source arena");
		dh_edn_print(&out, &copy);
		is_str(out.data, "{:a [1 \"two\" #{3.0 4N} #inst \"2020-01-01T00:00:00.000-00:00\"], :b #t (5.5M \\c #bytes \"AQI=\")}",
		       "and prints the same");
	}
	{
		struct dh_val t;
		char s[] = "text";

		ok(dh_val_text(&t, b, DH_STRING, s, 4) == 0 && t.u.s != s && t.len == 4 && !strcmp(t.u.s, "text"),
		   "dh_val_text copies");
	}
	dh_buf_release(&out);
	dh_arena_free(b);
}

int main(void)
{
	dh_arena_new(&A);
	arena();
	order();
	numeric();
	hashing();
	maps_and_copies();
	dh_arena_free(A);
	return done_testing();
}
