/*
 * dh-sync - copy a database from one store to another, incrementally.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh-io.h"
#include "tool.h"

#define USAGE "dh-sync [-fnqvV] [-b BRANCH] [--stats] SRC DST"

static void __attribute__((noreturn)) help(void)
{
	printf("usage: " USAGE "\n"
	       "Copy the database(s) of store SRC into store DST: every node DST lacks,\n"
	       "children first, then move DST's heads by compare-and-swap.\n"
	       "\n"
	       "Options:\n"
	       "  -b, --branch BRANCH  copy one branch (default: every branch)\n"
	       "  -n, --dry-run        say what would be copied, write nothing\n"
	       "  -f, --force          move DST's heads even when not a fast-forward\n"
	       "      --stats          print a summary (also with -v)\n"
	       "  -q, --quiet          no progress, no summary\n"
	       "  -v, --verbose        print each branch moved and a summary\n"
	       "  -V, --version        print the version and exit\n"
	       "  -h, --help           print this help and exit\n"
	       "\n"
	       "Exit status: 0 success, 1 failure, 2 usage error, 3 not a fast-forward or\n"
	       "a head moved during the sync.\n");
	exit(tool_finish(EXIT_OK));
}

static int show_progress;

static void progress(const struct dh_sync_stats *s, void *payload)
{
	(void)payload;
	if (show_progress)
		fprintf(stderr, "\r%s: %llu nodes read, %llu copied (%.1f MiB), %llu present", tool_name,
			(unsigned long long)s->nodes_read, (unsigned long long)s->nodes_copied,
			(double)s->bytes_copied / (1024 * 1024), (unsigned long long)s->nodes_present);
}

static void branch_done(const char *branch, const char *old, const char *new, const char *what, void *payload)
{
	int *dry = payload;

	if (show_progress)
		fputc('\n', stderr);
	if (tool_verbose || *dry)
		fprintf(stderr, "%s: branch '%s' %s: %.12s -> %.12s\n", tool_name, branch, what,
			old ? old : "(none)", new);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "branch", required_argument, NULL, 'b' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ "stats", no_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dh_sync_opts o = { 0 };
	struct dh_sync_stats s;
	struct dh_store *src = NULL, *dst = NULL;
	char *srcuri = NULL, *dsturi = NULL;
	int c, rc, status, stats = 0;

	tool_init("dh-sync");
	while ((c = getopt_long(argc, argv, "b:nfqvVh", opts, NULL)) != -1) {
		switch (c) {
		case 'b': o.branch = optarg; break;
		case 'n': o.dry_run = 1; break;
		case 'f': o.force = 1; break;
		case 'S': stats = 1; break;
		case 'q': tool_quiet = 1; break;
		case 'v': tool_verbose++; break;
		case 'V': tool_version();
		case 'h': help();
		default: tool_usage_error(USAGE, NULL);
		}
	}
	if (argc - optind != 2)
		tool_usage_error(USAGE, argc - optind < 2 ? "missing store URI" : "too many arguments");
	if (o.branch && dh_branch_check(o.branch))
		tool_usage_error(USAGE, "%s", dh_errmsg());
	show_progress = !tool_quiet && isatty(2);
	o.progress = progress;
	o.branch_done = branch_done;
	o.payload = &o.dry_run;
	if ((rc = dh_config_resolve(&srcuri, NULL, NULL, argv[optind])) ||
	    (rc = dh_config_resolve(&dsturi, NULL, NULL, argv[optind + 1]))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	if ((rc = dh_store_open(&src, srcuri, 0))) {
		status = tool_fail(rc, "cannot open source");
		goto out;
	}
	if ((rc = dh_store_open(&dst, dsturi, o.dry_run ? 0 : DH_STORE_CREATE))) {
		status = tool_fail(rc, "cannot open destination");
		goto out;
	}
	rc = dh_sync(src, dst, &o, &s);
	if (show_progress)
		fputc('\n', stderr);
	status = rc ? tool_fail(rc, NULL) : EXIT_OK;
	if ((stats || tool_verbose || o.dry_run) && !tool_quiet)
		fprintf(stderr,
			"%s: %s%llu nodes (%llu bytes) %s, %llu already present, %llu read; %llu head%s %s, %llu current\n",
			tool_name, o.dry_run ? "dry run: " : "", (unsigned long long)s.nodes_copied,
			(unsigned long long)s.bytes_copied, o.dry_run ? "would be copied" : "copied",
			(unsigned long long)s.nodes_present, (unsigned long long)s.nodes_read,
			(unsigned long long)s.heads_moved, s.heads_moved == 1 ? "" : "s",
			o.dry_run ? "would move" : "moved", (unsigned long long)s.heads_current);
out:
	dh_store_close(src);
	dh_store_close(dst);
	free(srcuri);
	free(dsturi);
	return tool_finish(status);
}
