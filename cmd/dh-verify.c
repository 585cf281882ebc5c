/*
 * dh-verify - check that a store is sound.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "dh-io.h"
#include "tool.h"

#define USAGE "dh-verify [-qvV] [-b BRANCH] URI"

/* problems were found */
#define EXIT_UNSOUND 4

static void __attribute__((noreturn)) help(void)
{
	printf("usage: " USAGE "\n"
	       "Walk everything reachable from the heads of store URI and check it: every\n"
	       "node present and hashing to its name, every node well-formed, every\n"
	       "commit's parents present (but those a history cut of dh-gc --before\n"
	       "names), every index tree sorted and consistent.\n"
	       "Each problem is printed on standard output, naming its key.\n"
	       "\n"
	       "Options:\n"
	       "  -b, --branch BRANCH  check one branch (default: every branch)\n"
	       "  -q, --quiet          print nothing; the exit status tells\n"
	       "  -v, --verbose        print what was checked\n"
	       "  -V, --version        print the version and exit\n"
	       "  -h, --help           print this help and exit\n"
	       "\n"
	       "Exit status: 0 sound, 1 failure, 2 usage error, 4 problems found.\n");
	exit(tool_finish(EXIT_OK));
}

static int print_problem(const char *msg, void *payload)
{
	(void)payload;
	if (!tool_quiet)
		printf("%s\n", msg);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "branch", required_argument, NULL, 'b' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dh_verify_stats s = { 0 };
	struct dh_store *st = NULL;
	const char *branch = NULL;
	char *uri = NULL;
	int c, rc, status;

	tool_init("dh-verify");
	while ((c = getopt_long(argc, argv, "b:qvVh", opts, NULL)) != -1) {
		switch (c) {
		case 'b': branch = optarg; break;
		case 'q': tool_quiet = 1; break;
		case 'v': tool_verbose++; break;
		case 'V': tool_version();
		case 'h': help();
		default: tool_usage_error(USAGE, NULL);
		}
	}
	if (argc - optind != 1)
		tool_usage_error(USAGE, argc == optind ? "missing store URI" : "too many arguments");
	if (branch && dh_branch_check(branch))
		tool_usage_error(USAGE, "%s", dh_errmsg());
	if ((rc = dh_config_resolve(&uri, NULL, NULL, argv[optind])) || (rc = dh_store_open(&st, uri, DH_STORE_RDONLY))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	rc = dh_verify(st, branch, print_problem, NULL, &s);
	if (rc == DH_ECORRUPT) {
		if (!tool_quiet)
			tool_warn("%s", dh_errmsg());
		status = EXIT_UNSOUND;
	} else if (rc) {
		status = tool_fail(rc, NULL);
	} else {
		status = EXIT_OK;
	}
	if (tool_verbose && !tool_quiet)
		fprintf(stderr, "%s: %llu heads, %llu commits, %llu nodes (%llu bytes) checked, %llu problems\n", tool_name,
			(unsigned long long)s.heads, (unsigned long long)s.commits, (unsigned long long)s.nodes,
			(unsigned long long)s.bytes, (unsigned long long)s.problems);
out:
	dh_store_close(st);
	free(uri);
	return tool_finish(status);
}
