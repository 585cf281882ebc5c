/*
 * dh-store - read and write the raw keys of a store (plumbing).
 *
 * The store layer from the shell: get, put, list and delete keys, read and
 * compare-and-swap heads, and store or fetch verified nodes.  Scripts and
 * tests use it to look beneath the database tools.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

#define USAGE "dh-store [-cqvV0] URI COMMAND [ARG...]"

/* get or has of a missing key */
#define EXIT_ABSENT 4

static void __attribute__((noreturn)) help(void)
{
	printf("usage: " USAGE "\n"
	       "Read and write the raw keys of a dh store.\n"
	       "\n"
	       "Commands:\n"
	       "  get KEY              write the value of KEY to stdout\n"
	       "  put KEY [FILE]       store FILE (or stdin) under KEY\n"
	       "  has KEY              exit 0 if KEY exists, 4 if not\n"
	       "  del KEY              delete KEY\n"
	       "  list [PREFIX]        print every key starting with PREFIX\n"
	       "  cas KEY OLD NEW      set KEY to NEW if it holds OLD ('-': absent, or delete)\n"
	       "  head [BRANCH]        print the commit a branch names (default: db)\n"
	       "  heads                print every branch and its commit\n"
	       "  node-put [FILE]      store FILE (or stdin) as a node, print its name\n"
	       "  node-get NAME        write node NAME to stdout after checking its hash\n"
	       "\n"
	       "Options:\n"
	       "  -c, --create         create the store if it does not exist\n"
	       "  -0, --null           end listed keys with NUL, not newline\n"
	       "  -q, --quiet          print no diagnostics but errors\n"
	       "  -v, --verbose        say more\n"
	       "  -V, --version        print the version and exit\n"
	       "  -h, --help           print this help and exit\n"
	       "\n"
	       "Exit status: 0 success, 1 failure, 2 usage error, 3 conflict, 4 key absent.\n");
	exit(tool_finish(EXIT_OK));
}

static int read_input(const char *path, struct dh_buf *out)
{
	FILE *f = stdin;
	char chunk[65536];
	size_t n;
	int rc = 0;

	if (path && strcmp(path, "-")) {
		f = fopen(path, "rb");
		if (!f)
			return dh_error_set(DH_EIO, "cannot open '%s': %s", path, strerror(errno));
	}
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = dh_buf_add(out, chunk, n);
	if (!rc && ferror(f))
		rc = dh_error_set(DH_EIO, "cannot read '%s': %s", path ? path : "<stdin>", strerror(errno));
	if (f != stdin)
		fclose(f);
	return rc;
}

static char list_end = '\n';

static int print_key(const char *key, void *payload)
{
	(void)payload;
	printf("%s%c", key, list_end);
	return ferror(stdout) ? dh_error_set(DH_EIO, "write error: %s", strerror(errno)) : 0;
}

static int print_head(const char *branch, void *payload)
{
	struct dh_store *st = payload;
	char hash[DH_HASH_HEX + 1];
	int rc = dh_head_get(st, branch, hash);

	if (rc)
		return rc;
	printf("%s %s\n", hash, branch);
	return 0;
}

static void need_args(int argc, int min, int max, const char *cmd)
{
	if (argc < min || argc > max)
		tool_usage_error(USAGE, "wrong number of arguments for '%s'", cmd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "create", no_argument, NULL, 'c' },
		{ "null", no_argument, NULL, '0' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dh_store *st = NULL;
	struct dh_buf buf = DH_BUF_INIT;
	unsigned flags = 0;
	const char *cmd;
	int c, rc = 0, status;

	tool_init("dh-store");
	while ((c = getopt_long(argc, argv, "c0qvVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': flags |= DH_STORE_CREATE; break;
		case '0': list_end = '\0'; break;
		case 'q': tool_quiet = 1; break;
		case 'v': tool_verbose++; break;
		case 'V': tool_version();
		case 'h': help();
		default: tool_usage_error(USAGE, NULL);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		tool_usage_error(USAGE, argc ? "missing command" : "missing store URI");
	cmd = argv[1];
	if (strcmp(cmd, "get") && strcmp(cmd, "has") && strcmp(cmd, "list") && strcmp(cmd, "head") &&
	    strcmp(cmd, "heads") && strcmp(cmd, "node-get") &&
	    strcmp(cmd, "put") && strcmp(cmd, "del") && strcmp(cmd, "cas") && strcmp(cmd, "node-put"))
		tool_usage_error(USAGE, "unknown command '%s'", cmd);
	rc = dh_store_open(&st, argv[0], flags);
	if (rc)
		return tool_finish(tool_fail(rc, NULL));
	argc -= 2;
	argv += 2;
	if (!strcmp(cmd, "get")) {
		need_args(argc, 1, 1, cmd);
		rc = dh_store_get(st, argv[0], &buf);
		if (!rc && fwrite(buf.data, 1, buf.len, stdout) != buf.len)
			rc = dh_error_set(DH_EIO, "write error: %s", strerror(errno));
	} else if (!strcmp(cmd, "has")) {
		need_args(argc, 1, 1, cmd);
		rc = dh_store_has(st, argv[0]);
		if (rc >= 0) {
			dh_store_close(st);
			return tool_finish(rc ? EXIT_OK : EXIT_ABSENT);
		}
	} else if (!strcmp(cmd, "put")) {
		need_args(argc, 1, 2, cmd);
		rc = read_input(argc > 1 ? argv[1] : NULL, &buf);
		if (!rc)
			rc = dh_store_put(st, argv[0], buf.data ? buf.data : "", buf.len);
		if (!rc)
			rc = dh_store_flush(st);
	} else if (!strcmp(cmd, "del")) {
		need_args(argc, 1, 1, cmd);
		rc = dh_store_del(st, argv[0]);
		if (!rc)
			rc = dh_store_flush(st);
	} else if (!strcmp(cmd, "list")) {
		need_args(argc, 0, 1, cmd);
		rc = dh_store_list(st, argc ? argv[0] : "", print_key, NULL);
	} else if (!strcmp(cmd, "cas")) {
		need_args(argc, 3, 3, cmd);
		rc = dh_store_cas(st, argv[0], strcmp(argv[1], "-") ? argv[1] : NULL,
				  strcmp(argv[2], "-") ? argv[2] : NULL);
	} else if (!strcmp(cmd, "head")) {
		char hash[DH_HASH_HEX + 1];

		need_args(argc, 0, 1, cmd);
		rc = dh_head_get(st, argc ? argv[0] : "db", hash);
		if (!rc)
			printf("%s\n", hash);
	} else if (!strcmp(cmd, "heads")) {
		need_args(argc, 0, 0, cmd);
		rc = dh_head_list(st, print_head, st);
	} else if (!strcmp(cmd, "node-put")) {
		char name[DH_HASH_HEX + 1];

		need_args(argc, 0, 1, cmd);
		rc = read_input(argc ? argv[0] : NULL, &buf);
		if (!rc)
			rc = dh_node_put(st, buf.data ? buf.data : "", buf.len, name);
		if (!rc)
			rc = dh_store_flush(st);
		if (!rc)
			printf("%s\n", name);
	} else if (!strcmp(cmd, "node-get")) {
		need_args(argc, 1, 1, cmd);
		rc = dh_node_get(st, argv[0], &buf);
		if (!rc && fwrite(buf.data, 1, buf.len, stdout) != buf.len)
			rc = dh_error_set(DH_EIO, "write error: %s", strerror(errno));
	}
	status = rc ? tool_fail(rc, NULL) : EXIT_OK;
	if (rc == DH_ENOTFOUND && (!strcmp(cmd, "get") || !strcmp(cmd, "head") || !strcmp(cmd, "node-get")))
		status = EXIT_ABSENT;
	dh_buf_release(&buf);
	dh_store_close(st);
	return tool_finish(status);
}
