/*
 * internal.h - helpers shared by the files of the value layer (scalars.c,
 * val.c, edn.c, json.c, cbor.c) and nobody else.
 *
 * They convert between the textual and binary forms of the scalar types
 * that more than one codec needs: Java-style float text, canonical
 * BigDecimal and BigInteger text, RFC 3339 instants, UUIDs, base64 and
 * UTF-8.  None of them prints or allocates except where an arena or buffer
 * is passed in.  The symbols are hidden from the shared library's ABI.
 */
#ifndef DH_VALUE_INTERNAL_H
#define DH_VALUE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dh.h"
#include "dh-value.h"

#define DHV_HIDDEN __attribute__((visibility("hidden")))

/*
 * The largest bigint or bigdecimal the codecs convert between decimal text
 * and binary (digits).  The conversion is quadratic, so a hostile input must
 * not get to choose an unbounded size.
 */
#define DHV_MAX_BIG_DIGITS 20000

/* Append the decimal text of i (printf's %lld, without its cost). */
DHV_HIDDEN int dhv_put_long(struct dh_buf *out, int64_t i);

/* strtod in the C locale, whatever the program's locale is. */
DHV_HIDDEN double dhv_strtod(const char *s, char **end);

/*
 * dhv_fmt_double() - the text Java's Double.toString (is_float: Float's)
 * gives for a finite `d`: shortest digits that read back to the same value,
 * "1.0", "0.001", "1.0E7", "1.5E-4".  out needs 32 bytes.  Returns the
 * length.
 */
DHV_HIDDEN int dhv_fmt_double(char *out, double d, int is_float);

/*
 * A decimal number as sign * digits * 10^-scale, digits without leading
 * zeros ("0" for zero), as in Java's BigDecimal (unscaled value and scale).
 */
struct dhv_dec {
	int neg;
	const char *digits;
	size_t ndigits;
	int64_t scale;
};

/*
 * dhv_dec_parse() - parse [-+]digits[.digits][(e|E)[-+]digits] (no
 * suffix) into `d`; the digits are copied into `tmp`, which needs len + 1
 * bytes.  Returns 0 or -1 when the text is not such a number or the
 * exponent is out of the int32 range of a BigDecimal scale.
 */
DHV_HIDDEN int dhv_dec_parse(struct dhv_dec *d, char *tmp, const char *s, size_t len);
/* The canonical text of `d` as Java's BigDecimal.toString() gives it. */
DHV_HIDDEN int dhv_dec_text(struct dh_buf *out, const struct dhv_dec *d);

/*
 * dhv_bigint_from_bytes() - the decimal text of the unsigned big-endian
 * magnitude mag[0..n) (plus one when `plus_one`, for CBOR tag 3), with a
 * leading '-' when `neg`, as a NUL-terminated string in `a`.  Returns 0,
 * DH_ECORRUPT (with no message) when larger than DHV_MAX_BIG_DIGITS, or
 * DH_ENOMEM.
 */
DHV_HIDDEN int dhv_bigint_from_bytes(const char **out, uint32_t *outlen, struct dh_arena *a,
                                     const unsigned char *mag, size_t n, int neg, int plus_one);
/*
 * dhv_bigint_to_bytes() - the minimal big-endian magnitude of the decimal
 * digits d[0..nd) minus one when `minus_one` (the digits are then not
 * zero), appended to `out`.  Returns 0 or DH_ENOMEM.
 */
DHV_HIDDEN int dhv_bigint_to_bytes(struct dh_buf *out, const char *d, size_t nd, int minus_one);

/*
 * dhv_inst_parse() - parse RFC 3339 / Clojure #inst text ("2020",
 * "2020-01-02T03:04:05.123456+01:00", "...Z"; also ISO 8601 expanded
 * years "+12345-..." and "-0044-...") into milliseconds since the epoch
 * (fraction truncated to milliseconds).  Returns 0 or -1 with a short
 * reason in *why.
 */
DHV_HIDDEN int dhv_inst_parse(int64_t *ms, const char *s, size_t len, const char **why);
/*
 * dhv_inst_fmt() - "yyyy-MM-ddTHH:mm:ss.SSS" followed by `zone`, without
 * ".SSS" when neither `millis` nor the millisecond part is set.  Years
 * outside 0..9999 are written with a sign (ISO 8601 expanded: "+10000",
 * "-0001").  out needs 64 bytes.  Returns the length.
 */
DHV_HIDDEN int dhv_inst_fmt(char *out, int64_t ms, int millis, const char *zone);

/* Canonical lowercase 36-character text of a UUID; out needs 37 bytes. */
DHV_HIDDEN void dhv_uuid_fmt(char *out, const unsigned char u[16]);
/* Parse the 8-4-4-4-12 hex form (either case).  Returns 0 or -1. */
DHV_HIDDEN int dhv_uuid_parse(unsigned char u[16], const char *s, size_t len);

/*
 * dhv_quote() - append s[0..n) as a double-quoted string literal: `prefix`
 * (may be NULL) right after the opening quote, then the text with ", \\,
 * newline, tab, return, form feed and backspace escaped by a backslash and
 * other control characters as \\uXXXX.  DHV_QUOTE_EDN also escapes DEL and
 * writes the hex digits in upper case (as Clojure prints); without it the
 * escapes are JSON's.  Returns 0 or DH_ENOMEM.
 */
#define DHV_QUOTE_EDN 1
DHV_HIDDEN int dhv_quote(struct dh_buf *out, const char *prefix, const char *s, size_t n, int flags);

/* Append standard base64 (with padding) of b[0..n). */
DHV_HIDDEN int dhv_base64_enc(struct dh_buf *out, const unsigned char *b, size_t n);
/*
 * Decode base64 s[0..n) into out (which needs n / 4 * 3 + 3 bytes);
 * *outlen gets the length.  Returns 0 or -1 for bad input.
 */
DHV_HIDDEN int dhv_base64_dec(unsigned char *out, size_t *outlen, const char *s, size_t n);

/* Encode code point c as UTF-8 into out[4].  Returns the length. */
DHV_HIDDEN int dhv_utf8_put(char *out, uint32_t c);
/*
 * Decode one UTF-8 sequence from s[0..n): returns its length and sets *c,
 * or returns 0 for an invalid, overlong, surrogate or truncated sequence.
 */
DHV_HIDDEN int dhv_utf8_get(uint32_t *c, const unsigned char *s, size_t n);
/* 1 if s[0..n) is valid UTF-8; otherwise 0 and *bad gets the offset. */
DHV_HIDDEN int dhv_utf8_valid(const char *s, size_t n, size_t *bad);

/*
 * Duplicate detection for maps and sets: returns the index (in elements of
 * `stride` values, compared on their first value) of the first element
 * equal to an earlier one, or -1.  -2 (with DH_ENOMEM set) when out of
 * memory.
 */
DHV_HIDDEN long dhv_find_dup(const struct dh_val *items, size_t n, size_t stride);

#endif
