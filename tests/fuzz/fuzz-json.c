/*
 * fuzz-json.c - the JSON reader on arbitrary bytes: read every top-level
 * value and print it back as JSON and as EDN.
 */
#include "dh-value.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dh_json_reader *r = NULL;
	struct dh_arena *a = NULL;
	struct dh_buf out = DH_BUF_INIT;
	struct dh_val v;
	int n = 0;

	if (dh_arena_new(&a) || dh_json_reader_mem(&r, (const char *)data, size, "<fuzz>"))
		goto out;
	while (n++ < 64 && dh_json_read(r, a, &v) == 0) {
		dh_buf_reset(&out);
		dh_json_print(&out, &v);
		dh_buf_reset(&out);
		dh_edn_print(&out, &v);
	}
out:
	dh_buf_release(&out);
	dh_json_reader_free(r);
	dh_arena_free(a);
	return 0;
}
