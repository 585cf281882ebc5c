/*
 * dh-dump.h - export and import in Datahike's dump formats.
 *
 * A dump is a stream of records [e a v tx added], one CBOR array per datom
 * (`a` a keyword, `added` a boolean), in three containers (dh-format(5)):
 *
 *  - DH_DUMP_SEQ: one RFC 8742 CBOR sequence (items concatenated, no
 *    framing) in a file or a pipe, optionally gzipped as a whole.  Values
 *    in Datahike's current dump encoding (dh_cbor_encode()).
 *  - DH_DUMP_LEGACY: the same container with the encodings released
 *    Datahike wrote up to mid-2026: instants as tag 1 epoch seconds, bigints
 *    that fit 64 bits as plain integers, records sorted by (tx, e).
 *  - DH_DUMP_CHUNKED: Datahike's current format, a directory of chunk files
 *    datoms-000001.cbor[.gz] (each a CBOR sequence, gzip as concatenated
 *    1 MiB members) and manifest.edn, written last as the commit marker,
 *    with each chunk's SHA-256 over its uncompressed bytes, an
 *    order-independent semantic digest, stats, the schema and the source
 *    configuration (:datahike.migrate/format-version 1).
 *
 * The layer below (this header's first half) knows bytes and records only;
 * dh_export() and dh_import() connect it to a database (dh-db.h).
 *
 * Input is hostile: every length is checked against a limit before memory
 * is reserved for it, nesting is bounded, and every failure names where it
 * happened as "<file>: record N (byte B): what".
 */
#ifndef DH_DUMP_H
#define DH_DUMP_H

#include <stdint.h>
#include <stdio.h>

#include "dh.h"
#include "dh-value.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dh_db;
struct dh_store;
struct dh_db_config;

enum dh_dump_format {
	DH_DUMP_AUTO = 0,     /* reading: detect; writing: not allowed */
	DH_DUMP_SEQ,
	DH_DUMP_LEGACY,
	DH_DUMP_CHUNKED,
};

/* "seq", "legacy", "chunked" (static), or NULL. */
const char *dh_dump_format_name(enum dh_dump_format f);
/* The inverse; DH_DUMP_AUTO for an unknown name. */
enum dh_dump_format dh_dump_format_parse(const char *name);

/* Largest record accepted on input, in encoded bytes. */
#define DH_DUMP_MAX_RECORD (64u << 20)
/* Datahike's default number of records per chunk. */
#define DH_DUMP_CHUNK_RECORDS 100000
/* The manifest format version this library reads and writes. */
#define DH_DUMP_FORMAT_VERSION 1

/* ---- records ----------------------------------------------------------- */

/* One datom as a dump holds it.  `a` is a DH_KEYWORD. */
struct dh_record {
	int64_t e;
	struct dh_val a;
	struct dh_val v;
	int64_t tx;
	int added;
};

/*
 * dh_record_encode() - append the CBOR encoding of `r` to `out`: the array
 * [e a v tx added] in Datahike's dump encoding, or with `legacy` set in the
 * legacy one (instants as tag 1 epoch seconds, 64-bit bigints as plain
 * integers; inside tuples too).  Returns 0, DH_EINVAL for a value that has
 * no dump encoding, DH_ENOMEM.
 */
int dh_record_encode(struct dh_buf *out, const struct dh_record *r, int legacy);

/*
 * dh_record_decode() - decode one record from exactly `len` bytes and check
 * its shape as Datahike's importer does: a 5-element array, e an integer
 * >= 0, a a keyword, v not nil, tx an integer >= 536870912, added a
 * boolean.  Values are allocated from `a`.  Returns 0, DH_ECORRUPT for
 * malformed bytes or a wrong shape (the message says which, with the byte
 * offset inside the record), DH_ENOMEM.
 */
int dh_record_decode(struct dh_record *out, struct dh_arena *a, const void *data, size_t len);

/*
 * dh_cbor_frame() - the length of the CBOR item starting at data[0..len),
 * found by reading item heads only (no values are built, no recursion).
 * Returns 1 with *need set to the item's length when it is complete; 0 with
 * *need set to a lower bound of the bytes the item needs when data ends
 * first; DH_ECORRUPT for a malformed head or nesting deeper than
 * DH_EDN_MAX_DEPTH (message gives the byte offset).
 */
int dh_cbor_frame(const void *data, size_t len, uint64_t *need);

/*
 * The semantic digest of Datahike's manifests: over every record, the first
 * 8 bytes (big-endian) of the SHA-256 of its encoded bytes, folded by xor
 * and by wrapping addition, and the record count.  Order-independent, so two
 * dumps with the same records compare equal however they are ordered.
 */
struct dh_digest {
	uint64_t x;
	uint64_t sum;
	uint64_t count;
};

void dh_digest_add(struct dh_digest *d, const void *rec, size_t len);
/* Its manifest form: {:algo :xor64+sum64 :xor "<16 hex>" :sum "<16 hex>" :count N}. */
int dh_digest_edn(struct dh_buf *out, const struct dh_digest *d);
/* dh_digest_eq() - 1 when equal. */
int dh_digest_eq(const struct dh_digest *a, const struct dh_digest *b);

/* ---- writing ----------------------------------------------------------- */

struct dh_dump_writer;

struct dh_dump_opts {
	enum dh_dump_format format;   /* SEQ, LEGACY or CHUNKED */
	int gzip;                     /* chunked: gzip chunks; seq/legacy: gzip the stream */
	uint64_t chunk_records;       /* records per chunk; 0: DH_DUMP_CHUNK_RECORDS */
	int force;                    /* chunked: replace an existing dump in the directory */
};

/*
 * dh_dump_writer_file() - a writer of a SEQ or LEGACY dump to `f` (not
 * closed by the writer; `name` is used in messages).
 * dh_dump_writer_dir() - a writer of a CHUNKED dump into directory `dir`,
 * created if missing.  A directory that holds anything else is refused
 * (DH_EEXISTS) unless o->force, which first removes manifest.edn (so the
 * old dump stops being one) and then the old chunk files.
 * Both return 0, DH_EUSAGE for a bad option, DH_EEXISTS, DH_EIO, DH_ENOMEM.
 */
int dh_dump_writer_file(struct dh_dump_writer **out, FILE *f, const char *name, const struct dh_dump_opts *o);
int dh_dump_writer_dir(struct dh_dump_writer **out, const char *dir, const struct dh_dump_opts *o);

/*
 * dh_dump_write_raw() - append one record already encoded (by
 * dh_record_encode() with the writer's legacy flag).  dh_dump_write()
 * encodes and appends.  Records go out in the order written.  Returns 0,
 * DH_EIO (message names the file), DH_ENOMEM.
 */
int dh_dump_write_raw(struct dh_dump_writer *w, const void *rec, size_t len);
int dh_dump_write(struct dh_dump_writer *w, const struct dh_record *r);

/*
 * What a chunked dump's manifest says besides its chunks and digest; EDN
 * text fragments are copied verbatim (NULL: nil / {} as fits).
 */
struct dh_dump_meta {
	int history;                  /* :history? */
	const char *requires_edn;     /* :requires, a vector */
	const char *source_config_edn;/* :source-config, a map */
	const char *schema_edn;       /* :schema, a map */
	int64_t max_eid, max_tx;      /* :stats */
	int64_t source_count;         /* :stats :source-datom-count; -1: unknown (nil) */
};

/*
 * dh_dump_writer_finish() - flush everything; for a chunked dump close the
 * last chunk and write manifest.edn (through a temporary file and a rename,
 * after every chunk is durable).  `m` may be NULL for SEQ and LEGACY.
 * Returns 0, DH_EIO, DH_ENOMEM.  After a failure the directory holds no
 * manifest, so it is no dump.
 */
int dh_dump_writer_finish(struct dh_dump_writer *w, const struct dh_dump_meta *m);

/* The format the writer writes. */
enum dh_dump_format dh_dump_writer_format(const struct dh_dump_writer *w);

/* The digest (chunked dumps only; others count) and count of what was written so far.  Borrowed. */
const struct dh_digest *dh_dump_writer_digest(const struct dh_dump_writer *w);

/* Free the writer; an unfinished chunked dump's temporary files are removed. */
void dh_dump_writer_free(struct dh_dump_writer *w);

/* ---- reading ----------------------------------------------------------- */

struct dh_dump_reader;

/*
 * dh_dump_reader_open() - open a dump for reading: `path` a chunked dump's
 * directory (or its manifest.edn), a file, or NULL / "-" for stdin.  Files
 * and stdin may be gzipped (detected by their magic bytes).  `want` is
 * DH_DUMP_AUTO or the format the caller insists on.  A directory's manifest
 * is read and checked here: its format version (a newer one is refused),
 * compression, chunk names (no paths) and hashes.  Returns 0; DH_ENOTFOUND
 * (no such file; a directory without manifest.edn, which is an export that
 * did not finish); DH_EUNSUPPORTED (a newer format version, an unknown
 * compression, an attribute-refs dump); DH_ECORRUPT (a malformed manifest,
 * naming manifest.edn:line:column or the key); DH_EIO.
 */
int dh_dump_reader_open(struct dh_dump_reader **out, const char *path, enum dh_dump_format want);
void dh_dump_reader_free(struct dh_dump_reader *r);

/* The format: SEQ for any single-file dump until dh_dump_verify() saw a legacy one. */
enum dh_dump_format dh_dump_reader_format(const struct dh_dump_reader *r);

/* The parsed manifest of a chunked dump, or NULL.  Borrowed from r. */
const struct dh_val *dh_dump_reader_manifest(const struct dh_dump_reader *r);

/*
 * dh_dump_read() - the next record into *out, its values allocated from `a`
 * (the caller resets the arena as it likes).  When `raw` is not NULL it is
 * set to the record's encoded bytes (valid until the next call).  Returns 1
 * with a record, 0 at the end, or DH_ECORRUPT / DH_EIO / DH_ENOMEM with the
 * position in the message.  Chunk hashes are checked as each chunk ends.
 */
int dh_dump_read(struct dh_dump_reader *r, struct dh_arena *a, struct dh_record *out,
	const unsigned char **raw, size_t *rawlen);

/* Where the last record read started: "<file>: record N (byte B)".  Borrowed. */
const char *dh_dump_reader_where(struct dh_dump_reader *r);

/* What a full pass over a dump found. */
struct dh_dump_check {
	uint64_t records;
	uint64_t chunks;
	int64_t min_tx, max_tx, max_eid;
	int tx_ordered;               /* tx never decreases: loadable without sorting */
	int legacy;                   /* a tx entity's datoms came after its data: (tx, e) order */
	struct dh_digest digest;
};

/*
 * dh_dump_verify() - read the whole dump once without writing anything:
 * decode and check every record, every chunk's count and SHA-256, the
 * manifest's semantic digest and counts (a dump holding fewer records than
 * its source did, with no transform to explain it, is refused).  Then
 * rewind, so dh_dump_read() starts again at the first record; stdin is
 * copied to a temporary file on the way for that.  Returns 0 and fills
 * *out (may be NULL); DH_ECORRUPT naming the chunk file, record and byte;
 * DH_EIO; DH_ENOMEM.
 */
int dh_dump_verify(struct dh_dump_reader *r, struct dh_dump_check *out);

/*
 * dh_dump_reader_no_digest() - dh_dump_verify() need not compute the
 * semantic digest of a single-file dump, which has no manifest to check it
 * against (a chunked dump's is computed and checked regardless); the
 * check's digest then holds the record count only.  For callers that do not
 * report the digest: it costs a SHA-256 per record.
 */
void dh_dump_reader_no_digest(struct dh_dump_reader *r);

/*
 * dh_dump_reader_checked() - 1 and *out filled when dh_dump_verify()
 * already passed on this reader, else 0.
 */
int dh_dump_reader_checked(const struct dh_dump_reader *r, struct dh_dump_check *out);

/* ---- a database to a dump and back -------------------------------------- */

/* Progress: called now and then with the records done so far. */
typedef void (*dh_progress_cb)(const char *phase, uint64_t done, void *payload);

struct dh_export_opts {
	int history;                  /* every assertion and retraction, not the current state */
	const char *tmpdir;           /* for sort runs; NULL: $TMPDIR or /tmp */
	size_t sort_mem;              /* bytes for sorting in memory (records, keys, qsort); 0: 96 MiB */
	dh_progress_cb progress;
	void *payload;
};

/*
 * dh_export() - write every datom of `db` whose tx is a user transaction
 * (the current ones, or with o->history all of history) to `w`, ordered as
 * Datahike orders a dump: by tx, the transaction entity's datoms first,
 * then entity, attribute (by ident), retraction before assertion, value
 * (LEGACY: by tx, e, attribute).  When the log holds exactly the datoms
 * to write (dh_db_log_is_current()), they stream from it unsorted;
 * otherwise sorting spills runs to temporary files, so memory stays
 * bounded by o->sort_mem whatever the database size.  Then
 * finishes `w` with the manifest (schema, config, stats).  *count (may be
 * NULL) gets the records written.  Returns 0 or the first error (the
 * writer is left unfinished).
 */
int dh_export(struct dh_db *db, struct dh_dump_writer *w, const struct dh_export_opts *o, uint64_t *count);

enum dh_import_flags {
	DH_IMPORT_MERGE = 1 << 0,     /* allow a target that already holds transactions */
	DH_IMPORT_NO_VERIFY = 1 << 1, /* skip the verification pass (checksums still checked while loading) */
};

struct dh_import_opts {
	unsigned flags;
	const char *branch;           /* NULL: DH_DEFAULT_BRANCH */
	const struct dh_db_config *create;  /* config for a store without a database; NULL: from the dump */
	const char *tmpdir;           /* for sort runs and a copy of stdin; NULL: $TMPDIR or /tmp */
	size_t sort_mem;              /* bytes for sorting in memory (the loader's, and the records'
	                               * when the dump is not in tx order); 0: 128 MiB */
	dh_progress_cb progress;
	void *payload;
};

struct dh_import_report {
	uint64_t records;
	uint64_t txs;
	int64_t max_tx;
	int created;                  /* the database was created by the import */
	int sorted;                   /* the input needed sorting into tx order */
	enum dh_dump_format format;
	char commit[DH_HASH_HEX + 1];
};

/*
 * dh_import() - load the dump `r` into the database on branch o->branch of
 * `st`, keeping the dump's entity and transaction ids and its
 * :db/txInstant values.  First the whole dump is verified
 * (dh_dump_verify()), so a corrupt dump writes nothing at all.  A store
 * without a database gets one (o->create, else the dump's :source-config);
 * a database that already holds transactions is refused (DH_EEXISTS)
 * unless DH_IMPORT_MERGE.  Records reach the loader in tx order (sorted
 * externally when the dump is not), so schema transactions come before the
 * data that uses them; one commit is written at the end and the head moves
 * once, by compare-and-swap.  On any failure the head is as it was (a
 * database created by the import is removed again).  Returns 0 and fills
 * *rep (may be NULL); DH_ECORRUPT / DH_EINVAL naming the record; DH_EEXISTS;
 * DH_EUNSUPPORTED (config mismatch); DH_ECONFLICT; store errors.
 */
int dh_import(struct dh_store *st, struct dh_dump_reader *r, const struct dh_import_opts *o,
	struct dh_import_report *rep);

#ifdef __cplusplus
}
#endif

#endif
