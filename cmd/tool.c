/*
 * tool.c - shared plumbing of the dh tools (see tool.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh-value.h"
#include "tool.h"

const char *tool_name = "dh";
int tool_verbose;
int tool_quiet;

void tool_init(const char *name)
{
	tool_name = name;
	/* a closed pipe is reported as a write error, not a silent death */
	signal(SIGPIPE, SIG_IGN);
}

void tool_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", tool_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int tool_status(int rc)
{
	switch (rc) {
	case 0: return EXIT_OK;
	case DH_EUSAGE: return EXIT_USAGE;
	case DH_ECONFLICT: return EXIT_CONFLICT;
	default: return EXIT_FAIL;
	}
}

int tool_fail(int rc, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", tool_name);
	if (fmt) {
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputs(": ", stderr);
	}
	fprintf(stderr, "%s\n", dh_errmsg());
	return tool_status(rc);
}

const char *tool_uri(const char *text)
{
	static char out[1024];
	char saved[1024];
	struct dh_uri *u = NULL;
	int code = DH_EINVAL;

	snprintf(saved, sizeof(saved), "%s", dh_errmsg());
	if (dh_uri_parse(&u, text) == 0)
		snprintf(out, sizeof(out), "%s", u->text);
	else
		snprintf(out, sizeof(out), "<unparsable URI>");
	dh_uri_free(u);
	dh_error_set(code, "%s", saved);
	return out;
}

void tool_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		fprintf(stderr, "%s: ", tool_name);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fprintf(stderr, "usage: %s\nTry '%s --help'.\n", usage, tool_name);
	exit(EXIT_USAGE);
}

void tool_version(void)
{
	printf("%s (dh) %s\n", tool_name, DH_VERSION);
	exit(tool_finish(EXIT_OK));
}

int tool_finish(int status)
{
	if (fflush(stdout) || ferror(stdout) || fclose(stdout)) {
		if (status == EXIT_OK) {
			fprintf(stderr, "%s: write error: %s\n", tool_name, strerror(errno ? errno : EIO));
			return EXIT_FAIL;
		}
	}
	return status;
}

int tool_timepoint(const char *t, int64_t *out, int *is_ms)
{
	char *end;
	errno = 0;
	long long n = strtoll(t, &end, 10);
	if (*t && !*end && !errno) {
		*out = n;
		*is_ms = n >= 100000000000LL;
		return 0;
	}
	struct dh_arena *a = NULL;
	struct dh_val v;
	struct dh_buf b = DH_BUF_INIT;
	int rc = dh_arena_new(&a);
	if (!rc)
		rc = dh_buf_addf(&b, "#inst \"%s\"", t);
	if (!rc)
		rc = dh_edn_parse(&v, a, b.data, b.len, "<time>");
	if (!rc && v.type != DH_INST)
		rc = DH_EINVAL;
	if (!rc) {
		*out = v.u.i;
		*is_ms = 1;
	} else {
		rc = dh_error_set(DH_EUSAGE, "bad time point '%s' (a tx id, epoch milliseconds or 2024-01-31T12:00:00Z)", t);
	}
	dh_buf_release(&b);
	dh_arena_free(a);
	return rc;
}

int tool_instant(struct dh_buf *b, int64_t ms)
{
	char t[64];

	return dh_buf_add(b, t, (size_t)dh_inst_text(t, ms));
}

static int progress_on;

void tool_progress_start(void)
{
	progress_on = !tool_quiet && isatty(STDERR_FILENO);
}

void tool_progress(const char *phase, uint64_t done, void *payload)
{
	(void)payload;
	if (progress_on)
		fprintf(stderr, "\r%s: %s: %llu datoms  ", tool_name, phase, (unsigned long long)done);
}

void tool_progress_end(void)
{
	if (progress_on)
		fputc('\n', stderr);
}
