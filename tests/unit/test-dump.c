/*
 * test-dump.c - the dump formats: record bytes against vectors derived by
 * hand from the format description (dh-format(5), Datahike's
 * datahike.migrate), CBOR framing of hostile input, the semantic digest,
 * gzip members, chunked dumps and their checks, the external sorter, the
 * legacy fixture, and every value type through a database round trip.
 *
 *   test-dump [FIXTURE]   (default: tests/data/datahike/legacy-dump-0.7.cbor
 *                          relative to the source tree, via DH_TOP)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dh-db.h"
#include "dh-dump.h"
#include "io/io.h"
#include "tap.h"

static char tmpdir[256];

static int unhex(unsigned char *out, const char *hex)
{
	int n = 0;

	while (*hex) {
		unsigned v;

		if (*hex == ' ') {
			hex++;
			continue;
		}
		sscanf(hex, "%2x", &v);
		out[n++] = (unsigned char)v;
		hex += 2;
	}
	return n;
}

static char *tohex(const void *p, size_t n)
{
	static char s[4096];
	const unsigned char *b = p;

	s[0] = '\0';
	for (size_t i = 0; i < n && i < 2000; i++)
		sprintf(s + 2 * i, "%02x", b[i]);
	return s;
}

static struct dh_arena *A;

static struct dh_val edn(const char *text)
{
	return tap_edn(A, text);
}

/* [1 :x V 536870913 true] must encode to prefix + vhex + suffix. */
static void vec(const struct dh_val *v, int legacy, const char *vhex, const char *what)
{
	struct dh_buf b = DH_BUF_INIT;
	struct dh_record r = { 1, dh_text(DH_KEYWORD, "x", 1), *v, 536870913, 1 };
	unsigned char want[512];
	char w[1200];
	int n;

	snprintf(w, sizeof(w), "8501d827623a78%s1a20000001f5", vhex);
	n = unhex(want, w);
	if (dh_record_encode(&b, &r, legacy)) {
		ok(0, "%s: encode: %s", what, dh_errmsg());
		return;
	}
	if (!ok(b.len == (size_t)n && !memcmp(b.data, want, (size_t)n), "%s encodes as %s", what, vhex))
		tap_diag("  got %s", tohex(b.data, b.len));
	/* and decodes back to an equal value */
	{
		struct dh_record d;

		if (!ok(!dh_record_decode(&d, A, b.data, b.len) && d.e == 1 && d.tx == 536870913 && d.added &&
		        dh_val_is_kw(&d.a, "x") && (legacy || dh_val_eq(&d.v, v)), "%s decodes back", what))
			tap_diag("  %s", dh_errmsg());
	}
	dh_buf_release(&b);
}

static void test_vectors(void)
{
	struct dh_val v;
	unsigned char u[16];

	v = dh_long(0);
	vec(&v, 0, "00", "long 0");
	v = dh_long(23);
	vec(&v, 0, "17", "long 23");
	v = dh_long(24);
	vec(&v, 0, "1818", "long 24 (one-byte form)");
	v = dh_long(256);
	vec(&v, 0, "190100", "long 256 (two-byte form)");
	v = dh_long(-1);
	vec(&v, 0, "20", "long -1");
	v = dh_long(-25);
	vec(&v, 0, "3818", "long -25");
	v = dh_long(INT64_C(4294967296));
	vec(&v, 0, "1b0000000100000000", "long 2^32 (eight-byte form)");
	v = dh_long(INT64_MIN);
	vec(&v, 0, "3b7fffffffffffffff", "long min");
	v = dh_text(DH_STRING, "Alice", 5);
	vec(&v, 0, "65416c696365", "string");
	v = dh_text(DH_STRING, "", 0);
	vec(&v, 0, "60", "empty string");
	v = edn(":a/b");
	vec(&v, 0, "d827643a612f62", "keyword: tag 39, text with the colon");
	v = edn("a/b");
	vec(&v, 0, "d82763612f62", "symbol: tag 39, text without colon");
	v = dh_bool(1);
	vec(&v, 0, "f5", "true");
	v = dh_bool(0);
	vec(&v, 0, "f4", "false");
	v = dh_double(1.5);
	vec(&v, 0, "fb3ff8000000000000", "double 1.5 in 8 bytes");
	v = dh_double(0.0);
	vec(&v, 0, "fb0000000000000000", "double 0.0 in 8 bytes (never narrowed)");
	v.type = DH_FLOAT;
	v.len = 0;
	v.u.d = 1.5;
	vec(&v, 0, "fa3fc00000", "float 1.5 in 4 bytes");
	v = edn("#inst \"2001-01-01T00:00:00.123Z\"");
	vec(&v, 0, "c07818323030312d30312d30315430303a30303a30302e3132335a", "instant with ms");
	v = edn("#inst \"2001-01-01T00:00:00.000Z\"");
	vec(&v, 0, "c074323030312d30312d30315430303a30303a30305a", "instant, whole second: no ms");
	v = edn("#uuid \"11111111-2222-3333-4444-555555555555\"");
	vec(&v, 0, "d8255011111111222233334444555555555555", "uuid: tag 37, 16 bytes");
	v = edn("18446744073709551616N");
	vec(&v, 0, "c249010000000000000000", "bigint 2^64: tag 2");
	v = edn("-18446744073709551617N");
	vec(&v, 0, "c349010000000000000000", "bigint -2^64-1: tag 3");
	v = edn("12N");
	vec(&v, 0, "c2410c", "small bigint stays tag 2");
	v = edn("1.50M");
	vec(&v, 0, "c482211896", "bigdec 1.50: tag 4 [-2 150]");
	unhex(u, "010203");
	v = dh_text(DH_BYTES, (const char *)u, 3);
	vec(&v, 0, "43010203", "bytes: a byte string");
	v = edn("[1 \"a\"]");
	vec(&v, 0, "82016161", "tuple: an array");

	/* legacy */
	v = edn("#inst \"2001-01-01T00:00:00.123Z\"");
	vec(&v, 1, "c1fb41cd27e4400fbe77", "legacy instant: tag 1 epoch seconds");
	v = edn("12N");
	vec(&v, 1, "0c", "legacy small bigint: a plain integer");
	v = edn("[#inst \"1970-01-01T00:00:01.000Z\" 7N]");
	vec(&v, 1, "82c1fb3ff000000000000007", "legacy encodings inside tuples");
	v = edn("18446744073709551616N");
	vec(&v, 1, "c249010000000000000000", "legacy large bigint keeps tag 2");

	/* a retraction */
	{
		struct dh_buf b = DH_BUF_INIT;
		struct dh_record r = { 8, edn(":tags"), edn(":b"), 536870915, 0 };
		unsigned char want[64];
		int n = unhex(want, "8508d827653a74616773d827623a621a20000003f4");

		dh_record_encode(&b, &r, 0);
		ok(b.len == (size_t)n && !memcmp(b.data, want, (size_t)n), "retraction [8 :tags :b 536870915 false]");
		dh_buf_release(&b);
	}
}

static void bad_record(const char *hex, const char *what, const char *msg)
{
	unsigned char b[1024];
	int n = unhex(b, hex);
	struct dh_record r;
	int rc = dh_record_decode(&r, A, b, (size_t)n);

	if (!ok(rc == DH_ECORRUPT && strstr(dh_errmsg(), msg), "refused: %s", what))
		tap_diag("  rc %d: %s", rc, dh_errmsg());
}

static void test_record_shapes(void)
{
	bad_record("8401d827623a78001a20000001", "4 elements", "not an array");
	bad_record("a0", "a map", "not an array");
	bad_record("856131d827623a78001a20000001f5", "e a string", "e is not");
	bad_record("850163783a78001a20000001f5", "a a string", "a is not a keyword");
	bad_record("8501d827623a78f61a20000001f5", "v nil", "v is nil");
	bad_record("8501d827623a780001f5", "tx below tx0", "tx is not");
	bad_record("8501d827623a78001a2000000101", "op 1 instead of true", "added is not a boolean");
	bad_record("8501d827623a78001a20000001f5f5", "trailing bytes", "stray");
	bad_record("8501d827623a78", "truncated", "cbor at byte");
}

static void test_frame(void)
{
	unsigned char b[2048];
	uint64_t need;
	int n;

	n = unhex(b, "8501d827623a78001a20000001f5");
	ok(dh_cbor_frame(b, (size_t)n, &need) == 1 && need == (uint64_t)n, "frame: a whole record");
	ok(dh_cbor_frame(b, 5, &need) == 0 && need > 5, "frame: a truncated record needs more");
	n = unhex(b, "9f0102ff00");
	ok(dh_cbor_frame(b, (size_t)n, &need) == 1 && need == 4, "frame: an indefinite array ends at break");
	n = unhex(b, "7b4000000000000000");
	ok(dh_cbor_frame(b, (size_t)n, &need) == 0 && need >= UINT64_C(0x4000000000000000),
	   "frame: a huge declared length is reported, not reserved");
	n = unhex(b, "9b4000000000000000");
	ok(dh_cbor_frame(b, (size_t)n, &need) == 0 && need >= UINT64_C(0x4000000000000000),
	   "frame: a huge declared array needs a byte per item");
	n = unhex(b, "ff");
	ok(dh_cbor_frame(b, (size_t)n, &need) == DH_ECORRUPT && strstr(dh_errmsg(), "break"),
	   "frame: a stray break is malformed");
	n = unhex(b, "1c");
	ok(dh_cbor_frame(b, (size_t)n, &need) == DH_ECORRUPT, "frame: reserved additional information");
	memset(b, 0x81, 1000);
	b[1000] = 0;
	ok(dh_cbor_frame(b, 1001, &need) == DH_ECORRUPT && strstr(dh_errmsg(), "nesting"),
	   "frame: nesting 1000 deep is refused");
}

static void test_digest(void)
{
	unsigned char r1[64], r2[64];
	int n1 = unhex(r1, "8501d827653a6e616d6565416c6963651a20000001f5");
	int n2 = unhex(r2, "8502d827653a6e616d6563426f621a20000001f5");
	struct dh_digest a = { 0, 0, 0 }, b = { 0, 0, 0 };
	struct dh_buf t = DH_BUF_INIT;

	dh_digest_add(&a, r1, (size_t)n1);
	dh_digest_add(&a, r2, (size_t)n2);
	dh_digest_add(&b, r2, (size_t)n2);
	dh_digest_add(&b, r1, (size_t)n1);
	ok(dh_digest_eq(&a, &b), "digest: order-independent");
	dh_digest_edn(&t, &a);
	is_str(t.data, "{:algo :xor64+sum64 :xor \"5a4fbd5406fd6087\" :sum \"a3503d54090176f7\" :count 2}",
	       "digest: xor and sum of the first 8 bytes of each record's SHA-256");
	dh_buf_release(&t);
}

static int write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		return -1;
	fwrite(p, 1, n, f);
	return fclose(f);
}

static int read_all(const char *path, uint64_t *count, char *err, size_t errlen)
{
	struct dh_dump_reader *r = NULL;
	struct dh_arena *a = NULL;
	struct dh_record rec;
	int rc;

	*count = 0;
	if ((rc = dh_dump_reader_open(&r, path, DH_DUMP_AUTO)) || (rc = dh_arena_new(&a)))
		goto out;
	while ((rc = dh_dump_read(r, a, &rec, NULL, NULL)) > 0) {
		(*count)++;
		dh_arena_reset(a);
	}
out:
	if (rc < 0 && err)
		snprintf(err, errlen, "%s", dh_errmsg());
	dh_arena_free(a);
	dh_dump_reader_free(r);
	return rc;
}

static void test_seq_files(void)
{
	char path[512], err[600];
	unsigned char b[4096];
	uint64_t n;
	int len, rc;

	snprintf(path, sizeof(path), "%s/t.cbor", tmpdir);
	len = unhex(b, "8501d827623a78001a20000001f5 8502d827623a78011a20000001f5 8503d827623a78021a20000001f5"
	            " 8504d827623a78031a20");
	write_file(path, b, (size_t)len);
	rc = read_all(path, &n, err, sizeof(err));
	ok(rc == DH_ECORRUPT && n == 3 && strstr(err, "record 4") && strstr(err, "byte 42") &&
	   strstr(err, "truncated"), "truncated 4th record: error names record and byte");
	tap_diag("  %s", err);

	len = unhex(b, "8501d827623a78001a20000001f5 8502d827623a787bffffffffffffff001a20000001f5");
	write_file(path, b, (size_t)len);
	rc = read_all(path, &n, err, sizeof(err));
	ok(rc == DH_ECORRUPT && n == 1 && strstr(err, "record 2") && strstr(err, "limit"),
	   "huge declared length: refused against the limit, nothing reserved");

	len = unhex(b, "8501d827623a78");
	memset(b + len, 0x81, 700);
	b[len + 700] = 0;
	write_file(path, b, (size_t)len + 701);
	rc = read_all(path, &n, err, sizeof(err));
	ok(rc == DH_ECORRUPT && strstr(err, "record 1") && strstr(err, "nesting"), "deep nesting: refused");

	write_file(path, "", 0);
	ok(read_all(path, &n, err, sizeof(err)) == 0 && n == 0, "an empty file is an empty dump");

	/* old Datahike wrote 0.0 as a half float: it is a double again */
	len = unhex(b, "8501d827623a78f900001a20000001f5 8502d827623a78fa3fc000001a20000001f5");
	write_file(path, b, (size_t)len);
	{
		struct dh_dump_reader *r = NULL;
		struct dh_record rec;
		int t1 = -1, t2 = -1;

		if (!dh_dump_reader_open(&r, path, DH_DUMP_AUTO)) {
			if (dh_dump_read(r, A, &rec, NULL, NULL) == 1)
				t1 = rec.v.type;
			if (dh_dump_read(r, A, &rec, NULL, NULL) == 1)
				t2 = rec.v.type;
		}
		ok(t1 == DH_DOUBLE && t2 == DH_FLOAT, "legacy half-float 0.0 reads as a double, a 4-byte float stays one");
		dh_dump_reader_free(r);
	}

	len = unhex(b, "1f8b0800000000000003");
	write_file(path, b, (size_t)len);
	rc = read_all(path, &n, err, sizeof(err));
	ok(rc == DH_ECORRUPT && strstr(err, "gzip"), "truncated gzip: refused (%s)", err);
}

/* Write n records [i :k "value i" tx true] through a writer. */
static int write_records(struct dh_dump_writer *w, int n)
{
	char s[64];
	int rc = 0;

	for (int i = 0; i < n && !rc; i++) {
		struct dh_record r;

		snprintf(s, sizeof(s), "value %d padded to be a little longer %d", i, i * 7);
		r.e = i + 1;
		r.a = dh_text(DH_KEYWORD, "k", 1);
		r.v = dh_text(DH_STRING, s, (uint32_t)strlen(s));
		r.tx = 536870913 + i / 1000;
		r.added = 1;
		rc = dh_dump_write(w, &r);
	}
	return rc;
}

static void test_gzip_seq(void)
{
	struct dh_dump_opts o = { DH_DUMP_SEQ, 1, 0, 0 };
	struct dh_dump_writer *w = NULL;
	char path[512], err[600];
	FILE *f;
	uint64_t n;
	struct stat sb;

	snprintf(path, sizeof(path), "%s/g.cbor.gz", tmpdir);
	f = fopen(path, "wb");
	ok(f && !dh_dump_writer_file(&w, f, path, &o) && !write_records(w, 60000) &&
	   !dh_dump_writer_finish(w, NULL), "gzip seq: 60000 records (several 1 MiB members) written");
	dh_dump_writer_free(w);
	fclose(f);
	ok(!read_all(path, &n, err, sizeof(err)) && n == 60000, "gzip seq: every record read back");
	stat(path, &sb);
	truncate(path, sb.st_size - 100);
	ok(read_all(path, &n, err, sizeof(err)) == DH_ECORRUPT && strstr(err, "gzip"),
	   "gzip seq: a cut stream is refused: %s", err);
}

static void test_chunked(void)
{
	struct dh_dump_opts o = { DH_DUMP_CHUNKED, 0, 2, 0 };
	struct dh_dump_writer *w = NULL;
	struct dh_dump_reader *r = NULL;
	struct dh_dump_check c;
	struct dh_digest wd;
	char dir[512], p[600], err[600];
	int rc;

	snprintf(dir, sizeof(dir), "%s/chunked", tmpdir);
	ok(!dh_dump_writer_dir(&w, dir, &o) && !write_records(w, 5) && !dh_dump_writer_finish(w, NULL),
	   "chunked: 5 records in chunks of 2");
	wd = *dh_dump_writer_digest(w);
	dh_dump_writer_free(w);
	snprintf(p, sizeof(p), "%s/datoms-000003.cbor", dir);
	ok(!access(p, F_OK), "chunked: three chunks, six-digit names");
	ok(!dh_dump_reader_open(&r, dir, DH_DUMP_AUTO) && !dh_dump_verify(r, &c) && c.records == 5 &&
	   c.chunks == 3 && dh_digest_eq(&c.digest, &wd), "chunked: verifies, digest as written");
	dh_dump_reader_free(r);
	r = NULL;

	o.force = 0;
	rc = dh_dump_writer_dir(&w, dir, &o);
	ok(rc == DH_EEXISTS, "chunked: a non-empty directory is refused without force");
	dh_dump_writer_free(w);
	w = NULL;

	/* flip one byte of chunk 2: its hash no longer matches */
	{
		FILE *f;
		int ch;

		snprintf(p, sizeof(p), "%s/datoms-000002.cbor", dir);
		f = fopen(p, "r+b");
		fseek(f, 20, SEEK_SET);
		ch = fgetc(f);
		fseek(f, 20, SEEK_SET);
		fputc(ch ^ 1, f);
		fclose(f);
	}
	rc = dh_dump_reader_open(&r, dir, DH_DUMP_AUTO);
	if (!rc)
		rc = dh_dump_verify(r, &c);
	snprintf(err, sizeof(err), "%s", dh_errmsg());
	ok(rc == DH_ECORRUPT && strstr(err, "datoms-000002.cbor") && strstr(err, "checksum"),
	   "chunked: a changed byte is a checksum mismatch naming the chunk: %s", err);
	dh_dump_reader_free(r);
	r = NULL;

	snprintf(p, sizeof(p), "%s/manifest.edn", dir);
	unlink(p);
	rc = dh_dump_reader_open(&r, dir, DH_DUMP_AUTO);
	ok(rc == DH_ENOTFOUND && strstr(dh_errmsg(), "manifest"), "chunked: no manifest, no dump");
	dh_dump_reader_free(r);
}

static void test_sorter(void)
{
	struct sorter *s = NULL;
	const unsigned char *rec;
	size_t len;
	uint64_t n = 0, sum_in = 0, sum_out = 0;
	int64_t ltx = -1, le = -1;
	int sorted = 1, rc;

	srand(7);
	ok(!sorter_new(&s, 256 << 10, tmpdir), "sorter: 256 KiB budget");
	for (int i = 0; i < 50000; i++) {
		struct dh_record r;
		struct dh_buf b = DH_BUF_INIT;
		struct sort_key k;

		r.e = rand() % 1000 + 1;
		r.a = dh_text(DH_KEYWORD, "k", 1);
		r.v = dh_long(i);
		r.tx = 536870913 + rand() % 500;
		r.added = 1;
		dh_record_encode(&b, &r, 0);
		memset(&k, 0, sizeof(k));
		record_key(&k, (unsigned char *)b.data, b.len, r.e, r.tx, 1);
		k.cls = 1;
		sorter_add(s, &k, b.data, b.len);
		sum_in += (uint64_t)i;
		dh_buf_release(&b);
	}
	ok(!sorter_done(s) && sorter_runs(s) > 5, "sorter: spilled %zu runs", sorter_runs(s));
	while ((rc = sorter_next(s, &rec, &len)) > 0) {
		struct dh_record r;

		dh_arena_reset(A);
		if (dh_record_decode(&r, A, rec, len)) {
			sorted = 0;
			break;
		}
		if (r.tx < ltx || (r.tx == ltx && r.e < le))
			sorted = 0;
		ltx = r.tx;
		le = r.e;
		sum_out += (uint64_t)r.v.u.i;
		n++;
	}
	ok(rc == 0 && n == 50000 && sum_in == sum_out, "sorter: every record out once");
	ok(sorted, "sorter: in (tx, e) order");
	sorter_free(s);

	/* a run that cannot be written: an error naming the folder, not a crash */
	ok(!sorter_new(&s, 4096, "/nonexistent/dh-runs"), "sorter: 4 KiB budget in a missing folder");
	rc = 0;
	for (int i = 0; i < 1000 && !rc; i++) {
		struct dh_record r = { .e = i + 1, .a = dh_text(DH_KEYWORD, "k", 1), .v = dh_long(i), .tx = 536870913,
				       .added = 1 };
		struct dh_buf b = DH_BUF_INIT;
		struct sort_key k;

		dh_record_encode(&b, &r, 0);
		memset(&k, 0, sizeof(k));
		record_key(&k, (unsigned char *)b.data, b.len, r.e, r.tx, 1);
		rc = sorter_add(s, &k, b.data, b.len);
		dh_buf_release(&b);
	}
	ok(rc == DH_EIO && strstr(dh_errmsg(), "/nonexistent/dh-runs"), "sorter: %s", dh_errmsg());
	sorter_free(s);
}

static void test_fixture(const char *path)
{
	struct dh_dump_reader *r = NULL;
	struct dh_dump_check c;
	struct dh_record rec;
	uint64_t n = 0;
	int got_inst = 0, got_uuid = 0;

	if (!ok(!dh_dump_reader_open(&r, path, DH_DUMP_AUTO) && !dh_dump_verify(r, &c), "legacy fixture verifies")) {
		tap_diag("  %s", dh_errmsg());
		dh_dump_reader_free(r);
		return;
	}
	ok(c.records == 44 && c.legacy && c.tx_ordered && c.min_tx == 536870913 && c.max_tx == 536870916,
	   "legacy fixture: 44 records, (tx, e) order recognised");
	ok(dh_dump_reader_format(r) == DH_DUMP_LEGACY, "legacy fixture: format legacy");
	while (dh_dump_read(r, A, &rec, NULL, NULL) > 0) {
		n++;
		if (n == 23)
			got_inst = rec.e == 536870913 && dh_val_is_kw(&rec.a, "db/txInstant") &&
			           rec.v.type == DH_INST && rec.v.u.i == INT64_C(1786530186728);
		if (n == 31)
			got_uuid = rec.v.type == DH_UUID && rec.v.u.uuid[0] == 0x11 && rec.v.u.uuid[15] == 0x55;
	}
	ok(n == 44, "legacy fixture: read again after verification");
	ok(got_inst, "legacy fixture: tag 1 instant 1786530186.728 s is 1786530186728 ms");
	ok(got_uuid, "legacy fixture: uuid");
	dh_dump_reader_free(r);
}

/* Every value type through create, transact, export, import, export. */
static void test_db_round_trip(void)
{
	static const char *schema =
		"[{:db/ident :s :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}"
		" {:db/ident :k :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}"
		" {:db/ident :sym :db/valueType :db.type/symbol :db/cardinality :db.cardinality/one}"
		" {:db/ident :l :db/valueType :db.type/long :db/cardinality :db.cardinality/many}"
		" {:db/ident :d :db/valueType :db.type/double :db/cardinality :db.cardinality/many}"
		" {:db/ident :f :db/valueType :db.type/float :db/cardinality :db.cardinality/one}"
		" {:db/ident :b :db/valueType :db.type/boolean :db/cardinality :db.cardinality/one}"
		" {:db/ident :i :db/valueType :db.type/instant :db/cardinality :db.cardinality/one}"
		" {:db/ident :u :db/valueType :db.type/uuid :db/cardinality :db.cardinality/one}"
		" {:db/ident :r :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}"
		" {:db/ident :bi :db/valueType :db.type/bigint :db/cardinality :db.cardinality/one}"
		" {:db/ident :bd :db/valueType :db.type/bigdec :db/cardinality :db.cardinality/one}"
		" {:db/ident :by :db/valueType :db.type/bytes :db/cardinality :db.cardinality/one}"
		" {:db/ident :t :db/valueType :db.type/tuple :db/tupleTypes [:db.type/long :db.type/string]"
		"  :db/cardinality :db.cardinality/one}]";
	static const char *data =
		"[{:db/id \"x\" :s \"h\\u00e9llo\" :k :a/b :sym foo/bar :l [0 -1 9007199254740993] "
		"  :d [1.5 0.0 -0.0 1e300] :b false :i #inst \"1999-12-31T23:59:59.999Z\""
		"  :u #uuid \"11111111-2222-3333-4444-555555555555\" :bi 123456789012345678901234567890N"
		"  :bd 1.50M :t [7 \"seven\"]}"
		" {:db/id \"y\" :s \"other\" :r \"x\" :bi -5N}]";
	struct dh_store *s1 = NULL, *s2 = NULL;
	struct dh_conn *conn = NULL;
	struct dh_db *db = NULL;
	struct dh_dump_writer *w = NULL;
	struct dh_dump_reader *r = NULL;
	struct dh_dump_opts o = { DH_DUMP_SEQ, 0, 0, 0 };
	struct dh_buf one = DH_BUF_INIT, two = DH_BUF_INIT;
	char p1[600], p2[600], p3[600];
	struct dh_val tx;
	FILE *f;
	int rc;

	snprintf(p1, sizeof(p1), "mem://dump-rt-a");
	snprintf(p2, sizeof(p2), "mem://dump-rt-b");
	snprintf(p3, sizeof(p3), "%s/rt.cbor", tmpdir);
	rc = dh_store_open(&s1, p1, DH_STORE_CREATE);
	if (!rc)
		rc = dh_db_create(s1, NULL);
	if (!rc)
		rc = dh_conn_open(&conn, s1, NULL);
	if (!rc) {
		tx = edn(schema);
		rc = dh_transact(NULL, conn, &tx, 0);
	}
	if (!rc) {
		tx = edn(data);
		rc = dh_transact(NULL, conn, &tx, 0);
	}
	if (!rc) {
		/* a float and bytes have no EDN literal: [:db/add "x"-entity ...] by hand */
		static struct dh_val op[4], ops[2], op2[4];
		static const unsigned char bytes[] = { 0, 1, 254, 255 };

		op[0] = edn(":db/add");
		op[1] = edn("[:s \"other\"]");
		op[2] = edn(":f");
		op[3].type = DH_FLOAT;
		op[3].len = 0;
		op[3].u.d = 0.25;
		op2[0] = op[0];
		op2[1] = op[1];
		op2[2] = edn(":by");
		op2[3] = dh_text(DH_BYTES, (const char *)bytes, sizeof(bytes));
		ops[0].type = DH_VECTOR;
		ops[0].len = 4;
		ops[0].u.items = op;
		ops[1].type = DH_VECTOR;
		ops[1].len = 4;
		ops[1].u.items = op2;
		tx.type = DH_VECTOR;
		tx.len = 2;
		tx.u.items = ops;
		rc = dh_transact(NULL, conn, &tx, 0);
	}
	if (!ok(!rc, "round trip: a database with every value type")) {
		tap_diag("  %s", dh_errmsg());
		goto out;
	}
	dh_conn_close(conn);
	conn = NULL;
	f = fopen(p3, "wb");
	rc = dh_db_open(&db, s1, NULL);
	if (!rc)
		rc = dh_dump_writer_file(&w, f, p3, &o);
	if (!rc)
		rc = dh_export(db, w, NULL, NULL);
	fclose(f);
	dh_dump_writer_free(w);
	w = NULL;
	dh_db_close(db);
	db = NULL;
	if (!ok(!rc, "round trip: exported"))
		tap_diag("  %s", dh_errmsg());
	rc = dh_store_open(&s2, p2, DH_STORE_CREATE);
	if (!rc)
		rc = dh_dump_reader_open(&r, p3, DH_DUMP_AUTO);
	if (!rc)
		rc = dh_import(s2, r, NULL, NULL);
	if (!ok(!rc, "round trip: imported into a fresh store"))
		tap_diag("  %s", dh_errmsg());
	dh_dump_reader_free(r);
	r = NULL;
	/* export both and compare bytes */
	for (int i = 0; i < 2; i++) {
		struct dh_buf *out = i ? &two : &one;
		char *mem = NULL;
		size_t ml = 0;

		f = open_memstream(&mem, &ml);
		rc = dh_db_open(&db, i ? s2 : s1, NULL);
		if (!rc)
			rc = dh_dump_writer_file(&w, f, "mem", &o);
		if (!rc)
			rc = dh_export(db, w, NULL, NULL);
		dh_dump_writer_free(w);
		w = NULL;
		dh_db_close(db);
		db = NULL;
		fclose(f);
		dh_buf_add(out, mem, ml);
		free(mem);
	}
	ok(one.len > 100 && one.len == two.len && !memcmp(one.data, two.data, one.len),
	   "round trip: the import exports byte for byte as the source (%zu bytes)", one.len);

	/* the same records in reverse order: the import sorts them into tx order */
	{
		struct dh_store *s3 = NULL;
		struct dh_import_report rep;
		struct dh_import_opts io = { 0 };
		struct dh_record rec;
		const unsigned char *raw;
		size_t rl, nrec = 0, cap = 64, off[4096];
		char p4[600];
		struct dh_buf all = DH_BUF_INIT, rev = DH_BUF_INIT, three = DH_BUF_INIT;
		char *mem = NULL;
		size_t ml = 0;

		(void)cap;
		snprintf(p4, sizeof(p4), "%s/rev.cbor", tmpdir);
		rc = dh_dump_reader_open(&r, p3, DH_DUMP_AUTO);
		while (!rc && dh_dump_read(r, A, &rec, &raw, &rl) > 0 && nrec < 4095) {
			off[nrec++] = all.len;
			dh_buf_add(&all, raw, rl);
		}
		off[nrec] = all.len;
		dh_dump_reader_free(r);
		r = NULL;
		for (size_t i = nrec; i-- > 0;)
			dh_buf_add(&rev, all.data + off[i], off[i + 1] - off[i]);
		write_file(p4, rev.data, rev.len);
		io.sort_mem = 1024;   /* a run every few records */
		io.tmpdir = tmpdir;
		rc = dh_store_open(&s3, "mem://dump-rt-c", DH_STORE_CREATE);
		if (!rc)
			rc = dh_dump_reader_open(&r, p4, DH_DUMP_AUTO);
		if (!rc)
			rc = dh_import(s3, r, &io, &rep);
		if (!ok(!rc && rep.sorted && rep.records == nrec, "reverse-ordered dump: sorted and imported"))
			tap_diag("  %s", dh_errmsg());
		dh_dump_reader_free(r);
		r = NULL;
		f = open_memstream(&mem, &ml);
		rc = dh_db_open(&db, s3, NULL);
		if (!rc)
			rc = dh_dump_writer_file(&w, f, "mem", &o);
		if (!rc)
			rc = dh_export(db, w, NULL, NULL);
		dh_dump_writer_free(w);
		w = NULL;
		dh_db_close(db);
		db = NULL;
		fclose(f);
		dh_buf_add(&three, mem, ml);
		free(mem);
		ok(three.len == one.len && !memcmp(three.data, one.data, one.len),
		   "reverse-ordered dump: exports as the source");
		dh_store_close(s3);
		dh_buf_release(&all);
		dh_buf_release(&rev);
		dh_buf_release(&three);
	}
out:
	dh_buf_release(&one);
	dh_buf_release(&two);
	dh_conn_close(conn);
	dh_store_close(s1);
	dh_store_close(s2);
}

int main(int argc, char **argv)
{
	char fixture[1024];

	snprintf(tmpdir, sizeof(tmpdir), "%s/test-dump-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	if (argc > 1)
		snprintf(fixture, sizeof(fixture), "%s", argv[1]);
	else
		snprintf(fixture, sizeof(fixture), "%s", DH_TEST_FIXTURE);
	dh_arena_new(&A);
	test_vectors();
	test_record_shapes();
	test_frame();
	test_digest();
	test_seq_files();
	test_gzip_seq();
	test_chunked();
	test_sorter();
	test_fixture(fixture);
	test_db_round_trip();
	dh_arena_free(A);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd))
			tap_diag("cannot remove %s", tmpdir);
	}
	return done_testing();
}
