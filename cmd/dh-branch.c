/*
 * dh-branch - list, create, move and delete the branches of a database.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "dh-db.h"
#include "tool.h"

#define USAGE "dh-branch [-dfqvV] URI [NAME [START]]"

static void __attribute__((noreturn)) help(void)
{
	printf("usage: " USAGE "\n"
	       "List the branches of the database at URI (name, head commit, its last\n"
	       "transaction and instant, tab-separated), or create branch NAME at START:\n"
	       "a branch (default: db) or a commit (64 hex digits, as dh-log prints them).\n"
	       "Every head moves by compare-and-swap.\n"
	       "\n"
	       "Options:\n"
	       "  -d, --delete         delete branch NAME; its own commits go at a later dh-gc\n"
	       "  -f, --force          move NAME to START when it exists; with -d, delete db\n"
	       "  -q, --quiet          print no diagnostics but errors\n"
	       "  -v, --verbose        say what was done\n"
	       "  -V, --version        print the version and exit\n"
	       "  -h, --help           print this help and exit\n"
	       "\n"
	       "Exit status: 0 success, 1 failure (no such branch or commit, NAME exists,\n"
	       "store), 2 usage error, 3 conflict (another writer moved the branch).\n");
	exit(tool_finish(EXIT_OK));
}

static int collect(const char *branch, void *payload)
{
	return dh_buf_add(payload, branch, strlen(branch) + 1);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One line per branch, by name: name, head, its last tx and instant.
 * Returns 0, 1 when a branch's head could not be read (reported), errors. */
static int list(struct dh_store *st)
{
	struct dh_buf names = DH_BUF_INIT;
	const char **v = NULL;
	size_t n = 0, i;
	int rc, failed = 0;

	if ((rc = dh_head_list(st, collect, &names)))
		goto out;
	for (i = 0; i < names.len; i += strlen(names.data + i) + 1)
		n++;
	if (n && !(v = malloc(n * sizeof(*v)))) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0, n = 0; i < names.len; i += strlen(names.data + i) + 1)
		v[n++] = names.data + i;
	qsort(v, n, sizeof(*v), cmp_name);
	for (i = 0; i < n; i++) {
		struct dh_commit_info ci;
		char head[DH_HASH_HEX + 1];

		if ((rc = dh_head_get(st, v[i], head)) == DH_ENOTFOUND)
			continue;   /* deleted meanwhile */
		if (rc || (rc = dh_commit_info(&ci, st, head))) {
			tool_warn("branch '%s': %s", v[i], dh_errmsg());
			failed = 1;   /* reported: the others are still listed */
			continue;
		}
		struct dh_buf when = DH_BUF_INIT;

		if (ci.max_tx > DH_TX0)
			rc = tool_instant(&when, ci.instant_ms);
		if (!rc)
			printf("%s\t%s\t%lld\t%s\n", v[i], head, (long long)ci.max_tx, when.data ? when.data : "");
		dh_buf_release(&when);
		if (rc)
			goto out;
	}
	rc = failed;
out:
	free(v);
	dh_buf_release(&names);
	return rc;
}

/* START: a commit of the store (64 hex digits), else a branch's head. */
static int resolve(struct dh_store *st, const char *start, char out[DH_HASH_HEX + 1])
{
	struct dh_commit_info ci;
	int rc;

	if (dh_is_node_name(start)) {
		memcpy(out, start, DH_HASH_HEX + 1);
	} else if ((rc = dh_branch_check(start))) {
		return dh_error_set(DH_EUSAGE, "'%s' is neither a commit (64 hex digits) nor a branch name", start);
	} else if ((rc = dh_head_get(st, start, out))) {
		return rc == DH_ENOTFOUND ? dh_error_set(DH_ENOTFOUND, "no branch '%s'", start) : rc;
	}
	if ((rc = dh_commit_info(&ci, st, out)) == DH_ENOTFOUND)
		return dh_error_set(DH_ENOTFOUND, "no commit %s in store '%s'", out, dh_store_uri(st));
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "delete", no_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dh_store *st = NULL;
	const char *name, *start;
	char *uri = NULL, cur[DH_HASH_HEX + 1], to[DH_HASH_HEX + 1];
	int del = 0, force = 0, c, rc = 0, status = EXIT_OK, exists;

	tool_init("dh-branch");
	while ((c = getopt_long(argc, argv, "dfqvVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': del = 1; break;
		case 'f': force = 1; break;
		case 'q': tool_quiet = 1; break;
		case 'v': tool_verbose++; break;
		case 'V': tool_version();
		case 'h': help();
		default: tool_usage_error(USAGE, NULL);
		}
	}
	if (optind >= argc)
		tool_usage_error(USAGE, "missing URI");
	if (argc - optind > (del ? 2 : 3))
		tool_usage_error(USAGE, "too many arguments");
	if (del && argc - optind < 2)
		tool_usage_error(USAGE, "-d needs the NAME of a branch");
	name = argc - optind > 1 ? argv[optind + 1] : NULL;
	start = argc - optind > 2 ? argv[optind + 2] : "db";
	if (name && dh_branch_check(name))
		tool_usage_error(USAGE, "%s", dh_errmsg());
	if (del && !strcmp(name, "db") && !force)
		tool_usage_error(USAGE, "db is the default branch: -f deletes it");
	if ((rc = dh_config_resolve(&uri, NULL, NULL, argv[optind])) ||
	    (rc = dh_store_open(&st, uri, name ? 0 : DH_STORE_RDONLY))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	if (!name) {
		if ((rc = list(st)) > 0)
			status = EXIT_FAIL;
		else if (rc)
			status = tool_fail(rc, NULL);
		goto out;
	}
	rc = dh_head_get(st, name, cur);
	if (rc && rc != DH_ENOTFOUND) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	exists = rc == 0;
	if (del) {
		if (!exists)
			rc = dh_error_set(DH_ENOTFOUND, "no branch '%s'", name);
		else
			rc = dh_head_cas(st, name, cur, NULL);
		if (rc)
			status = tool_fail(rc, NULL);
		else if (tool_verbose && !tool_quiet)
			fprintf(stderr, "%s: deleted branch '%s' (was %s)\n", tool_name, name, cur);
		goto out;
	}
	if ((rc = resolve(st, start, to))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	if (exists && !force) {
		rc = dh_error_set(DH_EEXISTS, "branch '%s' exists (at %s): -f moves it", name, cur);
		status = tool_fail(rc, NULL);
		goto out;
	}
	if ((rc = dh_head_cas(st, name, exists ? cur : NULL, to)))
		status = tool_fail(rc, NULL);
	else if (tool_verbose && !tool_quiet)
		fprintf(stderr, "%s: branch '%s' %s %s\n", tool_name, name, exists ? "moved to" : "created at", to);
out:
	dh_store_close(st);
	free(uri);
	return tool_finish(status);
}
