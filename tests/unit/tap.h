/*
 * tap.h - a tiny Test Anything Protocol emitter for the C unit tests.
 * Each check prints "ok N - name" or "not ok N - name"; done_testing()
 * prints the plan and returns the exit status (non-zero if any failed).
 */
#ifndef DH_TAP_H
#define DH_TAP_H

#include <stdio.h>

#include "dh-value.h"

int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int done_testing(void);
/* The value `text` reads as in EDN, from arena a; nil (and a diagnostic line) if it does not read. */
struct dh_val tap_edn(struct dh_arena *a, const char *text);

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) \
	do { \
		long long g_ = (long long)(got), w_ = (long long)(want); \
		if (!tap_ok(g_ == w_, __FILE__, __LINE__, __VA_ARGS__)) \
			tap_diag("  got %lld, want %lld", g_, w_); \
	} while (0)
#define is_str(got, want, ...) \
	do { \
		const char *g_ = (got), *w_ = (want); \
		if (!tap_ok(g_ && w_ && !strcmp(g_, w_), __FILE__, __LINE__, __VA_ARGS__)) \
			tap_diag("  got '%s', want '%s'", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
	} while (0)

#endif
