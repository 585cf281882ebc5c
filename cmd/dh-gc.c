/*
 * dh-gc - delete the nodes of a store that no head reaches.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "dh-io.h"
#include "tool.h"

#define USAGE "dh-gc [-nqvV] [-g DURATION] URI"

static void __attribute__((noreturn)) help(void)
{
	printf("usage: " USAGE "\n"
	       "Delete the nodes of store URI that no head reaches and that have been\n"
	       "unreachable for at least the grace period (see dh-gc(1)).\n"
	       "\n"
	       "Options:\n"
	       "  -g, --grace DURATION  grace period: 0, or a number with s, m, h or d\n"
	       "                        (default 1h)\n"
	       "  -n, --dry-run         say what would be deleted, delete nothing\n"
	       "  -q, --quiet           print no summary\n"
	       "  -v, --verbose         print each deleted key and a summary\n"
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
	n = strtoll(s, &end, 10);
	if (n < 0 || n > 100LL * 365 * 86400)
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

static void deleted(const char *key, void *payload)
{
	int *dry = payload;

	if (tool_verbose || *dry)
		printf("%s%s\n", *dry ? "would delete " : "deleted ", key);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "grace", required_argument, NULL, 'g' },
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
	o.payload = &o.dry_run;
	if ((rc = dh_config_resolve(&uri, NULL, NULL, argv[optind])) || (rc = dh_store_open(&st, uri, 0))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	rc = dh_gc(st, &o, &s);
	status = rc ? tool_fail(rc, NULL) : EXIT_OK;
	if (!rc && !tool_quiet && (tool_verbose || o.dry_run))
		fprintf(stderr, "%s: %llu nodes, %llu reachable, %llu %s, %llu unreachable kept for the grace period\n",
			tool_name, (unsigned long long)s.nodes, (unsigned long long)s.reachable,
			(unsigned long long)s.deleted, o.dry_run ? "would be deleted" : "deleted",
			(unsigned long long)s.pending);
out:
	dh_store_close(st);
	free(uri);
	return tool_finish(status);
}
