/*
 * tap.c - see tap.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"

static int count, failed;

int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	count++;
	printf("%sok %d - ", cond ? "" : "not ", count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond) {
		failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

int done_testing(void)
{
	printf("1..%d\n", count);
	return failed ? 1 : 0;
}

struct dh_val tap_edn(struct dh_arena *a, const char *text)
{
	struct dh_val v;

	if (dh_edn_parse(&v, a, text, strlen(text), "test")) {
		tap_diag("cannot parse %s: %s", text, dh_errmsg());
		return dh_nil();
	}
	return v;
}
