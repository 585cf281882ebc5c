/*
 * dh-gc - delete the nodes of a store that no head reaches, optionally
 * dropping history older than a given time first.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dh-io.h"
#include "tool.h"

#define USAGE "dh-gc [-nqvV] [-g DURATION] [--before TIME] URI"

static void __attribute__((noreturn)) help(void)
{
	printf("usage: " USAGE "\n"
	       "Delete the nodes of store URI that no head reaches and that have been\n"
	       "unreachable for at least the grace period (see dh-gc(1)).\n"
	       "\n"
	       "Options:\n"
	       "  -g, --grace DURATION  grace period: 0, or a number with s, m, h or d\n"
	       "                        (default 1h)\n"
	       "      --before TIME     first drop the commits older than TIME (the heads\n"
	       "                        stay): a tx id, epoch ms, an RFC 3339 instant,\n"
	       "                        a duration ago (30d, 12h) or now\n"
	       "  -n, --dry-run         say what would be cut and deleted, change nothing\n"
	       "  -q, --quiet           print no summary\n"
	       "  -v, --verbose         print each branch cut, each key deleted and a summary\n"
	       "  -V, --version         print the version and exit\n"
	       "  -h, --help            print this help and exit\n"
	       "\n"
	       "Exit status: 0 success, 1 failure, 2 usage error, 3 heads kept moving.\n");
	exit(tool_finish(EXIT_OK));
}

/* "0", "90", "90s", "15m", "2h", "7d" -> milliseconds, or -1. */
static int64_t parse_duration(const char *s)
{
	char *end;
	long long n;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || n < 0 || n > 100LL * 365 * 86400)
		return -1;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': n *= 60; break;
	case 'h': n *= 3600; break;
	case 'd': n *= 86400; break;
	default: return -1;
	}
	if (*end && end[1])
		return -1;
	return (int64_t)n * 1000;
}

/*
 * --before: "now", a duration ago ("30d": digits and a unit, as -g takes
 * it, so that a bare number stays a tx id or epoch ms), or a time point as
 * dh-query --as-of takes it.  Returns 0 or -1.
 */
static int parse_before(const char *s, struct dh_gc_opts *o)
{
	size_t n = strlen(s);
	int64_t t;
	int is_ms;

	if (!strcmp(s, "now") || (n > 1 && strchr("smhd", s[n - 1]) && isdigit((unsigned char)s[n - 2]))) {
		int64_t ago = strcmp(s, "now") ? parse_duration(s) : 0;
		struct timespec ts;

		if (ago < 0)
			return -1;
		clock_gettime(CLOCK_REALTIME, &ts);
		o->before_kind = DH_GC_BEFORE_MS;
		o->before = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - ago;
		return 0;
	}
	if (tool_timepoint(s, &t, &is_ms))
		return -1;
	o->before_kind = is_ms ? DH_GC_BEFORE_MS : DH_GC_BEFORE_TX;
	o->before = t;
	return 0;
}

static void deleted(const char *key, void *payload)
{
	int *dry = payload;

	if (tool_verbose || *dry)
		printf("%s%s\n", *dry ? "would delete " : "deleted ", key);
}

static void cut(const char *branch, const char *old, const char *new, uint64_t kept, void *payload)
{
	int *dry = payload;

	if (tool_verbose || *dry)
		printf("%s heads/%s %s -> %s, keeping %llu commit%s\n", *dry ? "would cut" : "cut", branch, old, new,
		       (unsigned long long)kept, kept == 1 ? "" : "s");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "grace", required_argument, NULL, 'g' },
		{ "before", required_argument, NULL, 'B' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dh_gc_opts o = { .grace_ms = -1 };
	struct dh_gc_stats s = { 0 };
	struct dh_store *st = NULL;
	char *uri = NULL;
	int c, rc, status;

	tool_init("dh-gc");
	while ((c = getopt_long(argc, argv, "g:nqvVh", opts, NULL)) != -1) {
		switch (c) {
		case 'g':
			o.grace_ms = parse_duration(optarg);
			if (o.grace_ms < 0)
				tool_usage_error(USAGE, "bad duration '%s' (examples: 0, 90s, 15m, 2h, 7d)", optarg);
			break;
		case 'B':
			if (parse_before(optarg, &o))
				tool_usage_error(USAGE, "bad time '%s' (examples: 536870950, 2026-01-02T03:04:05Z, 30d, now)",
						 optarg);
			break;
		case 'n': o.dry_run = 1; break;
		case 'q': tool_quiet = 1; break;
		case 'v': tool_verbose++; break;
		case 'V': tool_version();
		case 'h': help();
		default: tool_usage_error(USAGE, NULL);
		}
	}
	if (argc - optind != 1)
		tool_usage_error(USAGE, argc == optind ? "missing store URI" : "too many arguments");
	o.deleted = deleted;
	o.cut = cut;
	o.payload = &o.dry_run;
	if ((rc = dh_config_resolve(&uri, NULL, NULL, argv[optind])) || (rc = dh_store_open(&st, uri, 0))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	rc = dh_gc(st, &o, &s);
	status = rc ? tool_fail(rc, NULL) : EXIT_OK;
	if (!rc && !tool_quiet && (tool_verbose || o.dry_run))
		fprintf(stderr, "%s: %s%llu nodes, %llu reachable, %llu %s, %llu unreachable kept for the grace period\n",
			tool_name, !o.before_kind ? "" : !s.branches_cut ? "no history to cut, " :
			o.dry_run ? "history would be cut, " : "history cut, ",
			(unsigned long long)s.nodes, (unsigned long long)s.reachable,
			(unsigned long long)s.deleted, o.dry_run ? "would be deleted" : "deleted",
			(unsigned long long)s.pending);
out:
	dh_store_close(st);
	free(uri);
	return tool_finish(status);
}
