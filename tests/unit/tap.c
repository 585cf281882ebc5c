/*
 * tap.c - see tap.h.
 */
#include <stdarg.h>
#include <stdio.h>

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
