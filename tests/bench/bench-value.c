/*
 * bench-value.c - throughput of the value codecs next to peers in the same
 * process.
 *
 *   bench-value [DATOMS]
 *
 * The data is DATOMS records of Datahike's dump shape [e a v tx added]
 * (string, long and instant values, a third each).  Measured: CBOR decode
 * into an arena next to libcbor's own cbor_load() of the same bytes (a
 * malloc per item); CBOR encode next to libcbor's cbor_serialize_alloc() of
 * that tree; EDN and JSON reading next to jansson's json_loadb() of the
 * same records as JSON; EDN and JSON printing next to jansson's
 * json_dumpb().  Prints datoms/s and the ratio to the peer.
 * Target: CBOR decode at least 2x cbor_load().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cbor.h>
#include <jansson.h>

#include "dh.h"
#include "dh-value.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void line(const char *what, size_t n, double secs, const char *peer, double psecs)
{
	printf("%-28s %12.0f datoms/s   %-28s %12.0f datoms/s   ratio %.2f\n", what, (double)n / secs, peer,
	       (double)n / psecs, psecs / secs);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)atol(argv[1]) : 100000, i, used;
	struct dh_buf edn = DH_BUF_INIT, json = DH_BUF_INIT, cb = DH_BUF_INIT, out = DH_BUF_INIT;
	struct dh_arena *a;
	struct dh_val v;
	double t0 = 0, t1, p0 = 0, p1;
	int reps = 5, r;

	/* every loop below runs once untimed first (r = -1), so that the
	 * arena and malloc's pools are warm for both sides */

	dh_arena_new(&a);
	dh_buf_adds(&edn, "[");
	for (i = 0; i < n; i++) {
		size_t e = 1000 + i / 3;

		switch (i % 3) {
		case 0:
			dh_buf_addf(&edn, "[%zu :person/name \"name-%zu\" 536870913 true]", e, i);
			break;
		case 1:
			dh_buf_addf(&edn, "[%zu :person/age %zu 536870913 true]", e, i % 90);
			break;
		default:
			dh_buf_addf(&edn, "[%zu :person/born #inst \"2001-01-01T00:00:00.%03zuZ\" 536870913 true]", e,
			            i % 1000);
		}
	}
	dh_buf_adds(&edn, "]");
	if (dh_edn_parse(&v, a, edn.data, edn.len, "bench")) {
		fprintf(stderr, "bench-value: %s\n", dh_errmsg());
		return 1;
	}
	dh_cbor_encode(&cb, &v);
	dh_json_print(&json, &v);
	printf("%zu datoms: %zu bytes CBOR, %zu bytes EDN, %zu bytes JSON\n", n, cb.len, edn.len, json.len);

	/* CBOR decode vs cbor_load */
	for (r = -1; r < reps; r++) {
		if (r == 0)
			t0 = now();
		dh_arena_reset(a);
		dh_cbor_decode(&v, a, (unsigned char *)cb.data, cb.len, &used);
	}
	t1 = now();
	for (r = -1; r < reps; r++) {
		if (r == 0)
			p0 = now();
		struct cbor_load_result res;
		cbor_item_t *item = cbor_load((cbor_data)cb.data, cb.len, &res);

		cbor_decref(&item);
	}
	p1 = now();
	line("dh_cbor_decode", n * reps, t1 - t0, "libcbor cbor_load", p1 - p0);

	/* CBOR encode vs cbor_serialize_alloc */
	for (r = -1; r < reps; r++) {
		if (r == 0)
			t0 = now();
		dh_buf_reset(&out);
		dh_cbor_encode(&out, &v);
	}
	t1 = now();
	{
		struct cbor_load_result res;
		cbor_item_t *item = cbor_load((cbor_data)cb.data, cb.len, &res);

		for (r = -1; r < reps; r++) {
			if (r == 0)
				p0 = now();
			unsigned char *buf = NULL;
			size_t size = 0;

			cbor_serialize_alloc(item, &buf, &size);
			free(buf);
		}
		p1 = now();
		cbor_decref(&item);
	}
	line("dh_cbor_encode", n * reps, t1 - t0, "libcbor cbor_serialize_alloc", p1 - p0);

	/* reading text vs jansson */
	for (r = -1; r < reps; r++) {
		if (r == 0)
			p0 = now();
		json_error_t err;
		json_t *j = json_loadb(json.data, json.len, 0, &err);

		json_decref(j);
	}
	p1 = now();
	for (r = -1; r < reps; r++) {
		if (r == 0)
			t0 = now();
		dh_arena_reset(a);
		dh_edn_parse(&v, a, edn.data, edn.len, "bench");
	}
	t1 = now();
	line("dh_edn_parse", n * reps, t1 - t0, "jansson json_loadb", p1 - p0);
	for (r = -1; r < reps; r++) {
		if (r == 0)
			t0 = now();
		struct dh_json_reader *jr;

		dh_arena_reset(a);
		dh_json_reader_mem(&jr, json.data, json.len, "bench");
		dh_json_read(jr, a, &v);
		dh_json_reader_free(jr);
	}
	t1 = now();
	line("dh_json_read", n * reps, t1 - t0, "jansson json_loadb", p1 - p0);

	/* printing text vs jansson */
	dh_arena_reset(a);
	dh_edn_parse(&v, a, edn.data, edn.len, "bench");
	{
		json_error_t err;
		json_t *j = json_loadb(json.data, json.len, 0, &err);
		size_t size = json_dumpb(j, NULL, 0, JSON_COMPACT);
		char *buf = malloc(size);

		p0 = now();
		for (r = 0; r < reps; r++)
			json_dumpb(j, buf, size, JSON_COMPACT);
		p1 = now();
		free(buf);
		json_decref(j);
	}
	for (r = -1; r < reps; r++) {
		if (r == 0)
			t0 = now();
		dh_buf_reset(&out);
		dh_edn_print(&out, &v);
	}
	t1 = now();
	line("dh_edn_print", n * reps, t1 - t0, "jansson json_dumpb", p1 - p0);
	for (r = -1; r < reps; r++) {
		if (r == 0)
			t0 = now();
		dh_buf_reset(&out);
		dh_json_print(&out, &v);
	}
	t1 = now();
	line("dh_json_print", n * reps, t1 - t0, "jansson json_dumpb", p1 - p0);

	dh_buf_release(&edn);
	dh_buf_release(&json);
	dh_buf_release(&cb);
	dh_buf_release(&out);
	dh_arena_free(a);
	return 0;
}
