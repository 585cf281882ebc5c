/*
 * fuzz-cbor-dump.c - the CBOR dump reader on arbitrary bytes: frame records
 * as the single-file reader does (dh_cbor_frame), decode each with
 * dh_record_decode and the generic dh_cbor_decode, and re-encode what
 * decoded; then the same bytes as a whole dump file through
 * dh_dump_reader_open/dh_dump_read (a memfd, so no disk is touched).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dh-dump.h"
#include "dh-value.h"
#include "fuzz.h"

static void whole_file(const uint8_t *data, size_t size)
{
	struct dh_dump_reader *r = NULL;
	struct dh_arena *a = NULL;
	struct dh_record rec;
	char path[64];
	int fd = memfd_create("dump", 0), n = 0;

	if (fd < 0)
		return;
	if (write(fd, data, size) != (ssize_t)size)
		goto out;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (dh_arena_new(&a) || dh_dump_reader_open(&r, path, DH_DUMP_AUTO))
		goto out;
	while (n++ < 256 && dh_dump_read(r, a, &rec, NULL, NULL) > 0)
		;
out:
	dh_dump_reader_free(r);
	dh_arena_free(a);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dh_arena *a = NULL;
	struct dh_buf out = DH_BUF_INIT;
	size_t off = 0;
	int n = 0;

	if (dh_arena_new(&a))
		return 0;
	while (off < size && n++ < 256) {
		uint64_t need = 0;
		struct dh_record rec;
		struct dh_val v;
		size_t used;

		if (dh_cbor_frame(data + off, size - off, &need) != 1 || need == 0 || need > size - off)
			break;
		if (dh_record_decode(&rec, a, data + off, (size_t)need) == 0) {
			dh_buf_reset(&out);
			dh_record_encode(&out, &rec, 0);
		}
		if (dh_cbor_decode(&v, a, data + off, (size_t)need, &used) == 0) {
			dh_buf_reset(&out);
			dh_cbor_encode(&out, &v);
		}
		off += (size_t)need;
	}
	dh_buf_release(&out);
	dh_arena_free(a);
	whole_file(data, size);
	return 0;
}
