/*
 * dh-value.h - values: the EDN data model, arenas, and the EDN, JSON and
 * CBOR codecs.
 *
 * A struct dh_val is a small tagged value (24 bytes).  Anything it points to
 * (text, bytes, items) lives in a struct dh_arena that the caller owns and
 * frees all at once, so decoding a node or reading a transaction costs a few
 * large allocations, not one per value.  Values are immutable once built.
 *
 * The one CBOR encoding of a value is Datahike's dump encoding (see
 * dh-format(5)): it serves nodes, export and import.
 */
#ifndef DH_VALUE_H
#define DH_VALUE_H

#include <stdint.h>
#include <stdio.h>

#include "dh.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- arenas ------------------------------------------------------------ */

struct dh_arena;

/* dh_arena_new() - an empty arena.  Returns 0 or DH_ENOMEM. */
int dh_arena_new(struct dh_arena **out);
/* Free the arena and everything allocated from it. */
void dh_arena_free(struct dh_arena *a);
/*
 * Free everything allocated from it but keep memory for reuse: one block
 * as large as what the arena held (up to 64 MiB), so repeating the same
 * work allocates nothing.
 */
void dh_arena_reset(struct dh_arena *a);
/*
 * Free everything allocated from it but keep every block for reuse as it
 * is, for work that fills the arena again to about the same size: no new
 * block, and no pages touched anew.
 */
void dh_arena_rewind(struct dh_arena *a);
/* `size` bytes aligned for any type, or NULL (with DH_ENOMEM set). */
void *dh_arena_alloc(struct dh_arena *a, size_t size);
/* A NUL-terminated copy of `len` bytes, or NULL. */
char *dh_arena_strndup(struct dh_arena *a, const char *s, size_t len);
/* Bytes allocated from the arena so far. */
size_t dh_arena_used(const struct dh_arena *a);

/* ---- values ------------------------------------------------------------ */

/*
 * Types, in the order of their tags.  Datahike's ordering of values across
 * types is dh_val_cmp()'s business, not this enum's.
 */
enum dh_type {
	DH_NIL = 0,
	DH_BOOL,
	DH_LONG,     /* int64 */
	DH_BIGINT,   /* arbitrary precision integer, EDN 12N */
	DH_FLOAT,    /* 32-bit float (stored widened in u.d, exactly) */
	DH_DOUBLE,   /* 64-bit float */
	DH_BIGDEC,   /* arbitrary precision decimal, EDN 1.50M */
	DH_CHAR,     /* a Unicode code point, EDN \a */
	DH_STRING,
	DH_KEYWORD,  /* text without the colon: "db/ident", "name" */
	DH_SYMBOL,   /* text: "foo/bar", "?x", "$", "..." */
	DH_INST,     /* milliseconds since the Unix epoch, UTC */
	DH_UUID,     /* 16 bytes */
	DH_BYTES,    /* byte string */
	DH_LIST,     /* ( ... ) */
	DH_VECTOR,   /* [ ... ] ; also tuples */
	DH_MAP,      /* { k v ... }: items[2i] key, items[2i+1] value */
	DH_SET,      /* #{ ... } */
	DH_TAGGED,   /* #tag value: items[0] the tag (a symbol), items[1] the value */
};

struct dh_val {
	uint8_t type;      /* enum dh_type */
	uint32_t len;      /* bytes of text/bytes; items of collections (map: 2 x entries) */
	union {
		int b;                       /* DH_BOOL */
		int64_t i;                   /* DH_LONG, DH_INST (ms), DH_CHAR (code point) */
		double d;                    /* DH_DOUBLE, DH_FLOAT */
		const char *s;               /* DH_STRING DH_KEYWORD DH_SYMBOL DH_BYTES; DH_BIGINT and
		                              * DH_BIGDEC as canonical decimal text ("-12", "1.50",
		                              * "1.5E+10"); NUL-terminated, len authoritative */
		const struct dh_val *items;  /* collections and DH_TAGGED */
		unsigned char uuid[16];      /* DH_UUID */
	} u;
};

/* Constructors for scalars that need no memory. */
static inline struct dh_val dh_nil(void) { struct dh_val v = { .type = DH_NIL }; return v; }
static inline struct dh_val dh_bool(int b) { struct dh_val v = { .type = DH_BOOL }; v.u.b = !!b; return v; }
static inline struct dh_val dh_long(int64_t i) { struct dh_val v = { .type = DH_LONG }; v.u.i = i; return v; }
static inline struct dh_val dh_double(double d) { struct dh_val v = { .type = DH_DOUBLE }; v.u.d = d; return v; }
static inline struct dh_val dh_inst(int64_t ms) { struct dh_val v = { .type = DH_INST }; v.u.i = ms; return v; }
/* Text values pointing at `s` (not copied: `s` must outlive the value). */
static inline struct dh_val dh_text(enum dh_type t, const char *s, uint32_t len)
{
	struct dh_val v = { .type = (uint8_t)t, .len = len };
	v.u.s = s;
	return v;
}

/*
 * dh_inst_text() - the RFC 3339 text of instant `ms` (epoch milliseconds)
 * in UTC with milliseconds, "2026-12-07T22:48:02.123Z", as JSON output
 * writes instants, into out (64 bytes).  Returns its length.
 */
int dh_inst_text(char out[64], int64_t ms);

/* Text values copied into `a`.  Return 0 or DH_ENOMEM. */
int dh_val_text(struct dh_val *out, struct dh_arena *a, enum dh_type t, const char *s, size_t len);
/* Deep copy of `v` into `a` (so it outlives the arena it came from). */
int dh_val_copy(struct dh_val *out, struct dh_arena *a, const struct dh_val *v);

/*
 * dh_val_cmp() - total order of values as Datahike orders them inside
 * indices: numbers of all types numerically (1 < 1.5 < 2N < 2.5M; ties
 * between kinds, 1 vs 1.0, broken integer < floating < decimal; NaN last),
 * strings as Java compares them (UTF-16 units), keywords and symbols by
 * namespace then name, sequences (vectors, lists) by length then element-
 * wise, and across types in a fixed order:
 *   nil < bytes < keyword < map < set < list/vector < symbol < tagged
 *   < boolean < char < number < string < inst < uuid
 * (val.c says why).  0 exactly when dh_val_eq().  Returns <0, 0, >0.
 */
int dh_val_cmp(const struct dh_val *a, const struct dh_val *b);
/*
 * dh_val_numcmp() - Clojure's compare, <, == on numbers: exact across all
 * numeric types (9007199254740993 > 9007199254740992.0, 10^30N < 1.0E31),
 * 1 and 1.0 and 1M compare equal (no tie-break by kind, unlike
 * dh_val_cmp()); NaN sorts after every number and equals itself.  When a
 * or b is not a number, the result is dh_val_cmp()'s.  Returns <0, 0, >0.
 */
int dh_val_numcmp(const struct dh_val *a, const struct dh_val *b);
/*
 * dh_val_eq() - Clojure's `=`: 1 (long) and 1.0 (double) are not equal, 1
 * and 1N are, and so are 1.0M and 1.00M, (1 2) and [1 2].  Unlike Clojure,
 * NaN equals NaN (an index must find what it stored).
 */
int dh_val_eq(const struct dh_val *a, const struct dh_val *b);
/* A hash consistent with dh_val_eq(), for hash joins. */
uint64_t dh_val_hash(const struct dh_val *v);
/* Map lookup by key; NULL when absent.  Borrowed from `map`. */
const struct dh_val *dh_map_get(const struct dh_val *map, const struct dh_val *key);
/* Map lookup by keyword text ("db/id"). */
const struct dh_val *dh_map_getk(const struct dh_val *map, const char *keyword);
/* 1 if `v` is the keyword `kw` (text without colon). */
int dh_val_is_kw(const struct dh_val *v, const char *kw);

/* ---- EDN --------------------------------------------------------------- */

/*
 * An EDN reader reads one top-level value at a time from memory or a FILE,
 * tracking line and column for messages of the form
 * "<name>:<line>:<col>: <what>" (name is the file name or "<stdin>").
 * Tags: #inst and #uuid become DH_INST and DH_UUID; other tags are kept as
 * DH_TAGGED.  Nesting deeper than DH_EDN_MAX_DEPTH is refused.
 */
#define DH_EDN_MAX_DEPTH 512

struct dh_edn_reader;

int dh_edn_reader_mem(struct dh_edn_reader **out, const char *data, size_t len, const char *name);
int dh_edn_reader_file(struct dh_edn_reader **out, FILE *f, const char *name);
void dh_edn_reader_free(struct dh_edn_reader *r);

/*
 * dh_edn_read() - read the next top-level value into `out`, allocating from
 * `a`.  Returns 0; DH_ENOTFOUND at the end of input (only whitespace,
 * comments and discards left); DH_EINVAL for malformed input, the message
 * carrying name:line:column; DH_EIO when reading the FILE fails; DH_ENOMEM.
 * A FILE reader returns a value as soon as the line that ends it has been
 * read, so values written to a pipe one per line are read as they come.
 */
int dh_edn_read(struct dh_edn_reader *r, struct dh_arena *a, struct dh_val *out);
/* Line and column (1-based) where the last value read started. */
void dh_edn_reader_pos(const struct dh_edn_reader *r, int *line, int *col);

/* dh_edn_parse() - exactly one value from a string (trailing text is an error). */
int dh_edn_parse(struct dh_val *out, struct dh_arena *a, const char *text, size_t len, const char *name);

/*
 * dh_edn_print() - append the EDN text of `v` to `out`, as Clojure prints it
 * (so reading it back gives an equal value; byte arrays print as
 * #bytes "base64", instants outside the years 0-9999 with a signed year).
 * Returns 0 or DH_ENOMEM.
 */
int dh_edn_print(struct dh_buf *out, const struct dh_val *v);

/* ---- JSON (Datahike's convention) ------------------------------------- */

/*
 * Datahike's JSON binding: object keys become keywords; a string starting
 * with ':' is a keyword; a string starting with "\:" is a string starting
 * with ':'.  Integers are longs (beyond 64 bits they are refused), other
 * numbers doubles.  Reading is streaming: several top-level JSON values
 * may follow each other.
 */
struct dh_json_reader;

int dh_json_reader_mem(struct dh_json_reader **out, const char *data, size_t len, const char *name);
int dh_json_reader_file(struct dh_json_reader **out, FILE *f, const char *name);
void dh_json_reader_free(struct dh_json_reader *r);
/* Same contract as dh_edn_read(). */
int dh_json_read(struct dh_json_reader *r, struct dh_arena *a, struct dh_val *out);
/*
 * dh_json_print() - append the compact JSON text of `v` (the inverse
 * mapping: keywords as ":ns/name" strings, sets and lists as arrays,
 * instants, UUIDs, bytes (base64), characters and symbols as strings).
 * Returns 0; DH_EINVAL for NaN and infinities, which JSON cannot express
 * (nothing is appended then); DH_ENOMEM.
 */
int dh_json_print(struct dh_buf *out, const struct dh_val *v);

/* ---- CBOR (Datahike's dump encoding) ---------------------------------- */

/*
 * dh_cbor_encode() - append the deterministic CBOR encoding of `v`:
 * integers shortest form, keyword tag 39 ":ns/name", symbol tag 39
 * without colon, instant tag 0 RFC 3339 UTC (milliseconds only when not
 * zero; years outside 0-9999 as tag 1 epoch seconds), uuid tag 37 with 16
 * bytes, bigint tag 2/3, bigdec tag 4 [exponent mantissa], double 8 bytes,
 * float 4 bytes, bytes as a byte string, vectors and lists as arrays, maps
 * as maps and sets as tag 258 arrays (entries sorted by encoded key, so
 * equal maps encode alike), characters and tagged literals as tag 27.
 * Returns 0; DH_EINVAL for a malformed value (unknown type, bigdec text
 * that is not a number); DH_ENOMEM.  Nothing is appended on failure.
 */
int dh_cbor_encode(struct dh_buf *out, const struct dh_val *v);

/*
 * dh_cbor_decode() - decode one item from data[0..len) into `out`,
 * allocating from `a`; *used gets the bytes consumed.  Also accepts the
 * legacy encodings of older Datahike dumps (tag 1 epoch instants, plain
 * integers for small bigints).  Declared lengths larger than the input and
 * nesting deeper than DH_EDN_MAX_DEPTH are refused before allocating.
 * Returns 0, DH_ENOTFOUND when len is 0, DH_ECORRUPT for malformed or
 * truncated input (message gives the byte offset), DH_ENOMEM.
 */
int dh_cbor_decode(struct dh_val *out, struct dh_arena *a, const unsigned char *data, size_t len, size_t *used);

#ifdef __cplusplus
}
#endif

#endif
