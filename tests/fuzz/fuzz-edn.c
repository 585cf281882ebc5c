/*
 * fuzz-edn.c - the EDN reader on arbitrary bytes: read every top-level value,
 * print each back (the printer must accept whatever the reader built) and
 * parse the printed text again, which must succeed.
 */
#include <stdlib.h>

#include "dh-value.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dh_edn_reader *r = NULL;
	struct dh_arena *a = NULL;
	struct dh_buf out = DH_BUF_INIT;
	struct dh_val v, back;
	int n = 0;

	if (dh_arena_new(&a) || dh_edn_reader_mem(&r, (const char *)data, size, "<fuzz>"))
		goto out;
	while (n++ < 64 && dh_edn_read(r, a, &v) == 0) {
		dh_buf_reset(&out);
		if (dh_edn_print(&out, &v) == 0 && dh_edn_parse(&back, a, out.data, out.len, "<printed>"))
			abort();  /* printed EDN the reader refuses */
	}
out:
	dh_buf_release(&out);
	dh_edn_reader_free(r);
	dh_arena_free(a);
	return 0;
}
