/*
 * io.h - what the files of lib/io share and nobody else needs: the
 * external sorter that puts dump records in transaction order with
 * bounded memory.
 */
#ifndef DH_IO_INTERNAL_H
#define DH_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Datahike's tx0: every transaction id is above it. */
#define DH_DUMP_TX0 INT64_C(536870912)

/*
 * Where a record sorts.  Order: tx, cls, e, arank, the attribute's bytes
 * (when arank is 0), added (retraction first), the value's bytes.  The
 * offsets locate the attribute and value inside the encoded record.
 */
struct sort_key {
	int64_t tx;
	int64_t e;
	uint32_t arank;
	uint8_t cls;
	uint8_t added;
	uint32_t a_off, a_len;
	uint32_t v_off, v_len;
};

struct sorter;

/*
 * sorter_new() - a sorter holding at most about `mem` bytes of records and
 * keys in memory; sorted runs beyond that go to unlinked temporary files
 * in `tmpdir` (NULL: $TMPDIR, else /tmp).  Returns 0 or DH_ENOMEM.
 */
int sorter_new(struct sorter **out, size_t mem, const char *tmpdir);
/* Add one encoded record (copied).  Returns 0, DH_EIO, DH_ENOMEM. */
int sorter_add(struct sorter *s, const struct sort_key *k, const void *rec, size_t len);
/* No more records: prepare the merge.  Returns 0, DH_EIO, DH_ENOMEM. */
int sorter_done(struct sorter *s);
/*
 * sorter_next() - the next record in order: 1 with *rec / *len set (valid
 * until the next call), 0 at the end, or DH_EIO / DH_ENOMEM.
 */
int sorter_next(struct sorter *s, const unsigned char **rec, size_t *len);
/* Runs spilled to disk so far. */
size_t sorter_runs(const struct sorter *s);
void sorter_free(struct sorter *s);

/*
 * record_key() - fill the offsets and e/tx/added of *k from an encoded
 * record (as dh_record_encode() writes it and dh_record_decode() checked
 * it); arank and cls are left to the caller.  Returns 0 or DH_ECORRUPT.
 */
int record_key(struct sort_key *k, const unsigned char *rec, size_t len, int64_t e, int64_t tx, int added);

#endif
