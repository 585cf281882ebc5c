/*
 * dh-create - create a database in a store.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "dh-db.h"
#include "tool.h"

#define USAGE "dh-create [-eqvV] [-b BRANCH] [-s read|write] [-H on|off] [-f FILE] URI"

static void __attribute__((noreturn)) help(void)
{
	printf("usage: " USAGE "\n"
	       "Create an empty database in the store at URI (created if missing).\n"
	       "URI may also be a Datahike config EDN file ({:store {:backend :file :path \"...\"} ...}).\n"
	       "\n"
	       "Options:\n"
	       "  -s, --schema-flexibility MODE  write (default: attributes must be declared) or read\n"
	       "  -H, --history on|off           keep history (default: on)\n"
	       "  -f, --schema FILE              transact FILE (EDN tx-data, or JSON if it ends in .json) first\n"
	       "  -b, --branch BRANCH            branch to create (default: db)\n"
	       "  -e, --exist-ok                 succeed without change if the database exists\n"
	       "  -q, --quiet                    print no diagnostics but errors\n"
	       "  -v, --verbose                  print the new commit\n"
	       "  -V, --version                  print the version and exit\n"
	       "  -h, --help                     print this help and exit\n"
	       "\n"
	       "Exit status: 0 success, 1 failure (a database exists: see -e), 2 usage error.\n");
	exit(tool_finish(EXIT_OK));
}

static int read_tx_file(const char *path, struct dh_arena *a, struct dh_val *out)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	size_t len = strlen(path);
	struct dh_val v, *items = NULL;
	size_t n = 0, cap = 0;
	int rc, json = len > 5 && !strcmp(path + len - 5, ".json");
	struct dh_edn_reader *er = NULL;
	struct dh_json_reader *jr = NULL;

	if (!f)
		return dh_error_set(DH_EIO, "cannot open '%s': %s", path, strerror(errno));
	rc = json ? dh_json_reader_file(&jr, f, name) : dh_edn_reader_file(&er, f, name);
	/* every top-level vector in the file, one after another, as one tx */
	while (!rc && !(rc = json ? dh_json_read(jr, a, &v) : dh_edn_read(er, a, &v))) {
		uint32_t i;

		if (v.type != DH_VECTOR && v.type != DH_LIST) {
			rc = dh_error_set(DH_EINVAL, "%s: tx-data must be a vector", name);
			break;
		}
		if (n + v.len > cap) {
			struct dh_val *ni;

			cap = (n + v.len) * 2 + 16;
			ni = dh_arena_alloc(a, cap * sizeof(*ni));
			if (!ni) {
				rc = DH_ENOMEM;
				break;
			}
			if (n)
				memcpy(ni, items, n * sizeof(*ni));
			items = ni;
		}
		for (i = 0; i < v.len; i++)
			items[n++] = v.u.items[i];
	}
	if (rc == DH_ENOTFOUND)
		rc = 0;
	dh_edn_reader_free(er);
	dh_json_reader_free(jr);
	if (f != stdin)
		fclose(f);
	if (rc)
		return rc;
	out->type = DH_VECTOR;
	out->len = (uint32_t)n;
	out->u.items = items;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "schema-flexibility", required_argument, NULL, 's' },
		{ "history", required_argument, NULL, 'H' },
		{ "schema", required_argument, NULL, 'f' },
		{ "branch", required_argument, NULL, 'b' },
		{ "exist-ok", no_argument, NULL, 'e' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dh_db_config cfg;
	struct dh_store *st = NULL;
	struct dh_arena *a = NULL;
	struct dh_val schema;
	const char *flex = NULL, *hist = NULL, *file = NULL, *branch = NULL;
	char *uri = NULL;
	int c, rc, exist_ok = 0, status = EXIT_OK;

	tool_init("dh-create");
	while ((c = getopt_long(argc, argv, "s:H:f:b:eqvVh", opts, NULL)) != -1) {
		switch (c) {
		case 's': flex = optarg; break;
		case 'H': hist = optarg; break;
		case 'f': file = optarg; break;
		case 'b': branch = optarg; break;
		case 'e': exist_ok = 1; break;
		case 'q': tool_quiet = 1; break;
		case 'v': tool_verbose++; break;
		case 'V': tool_version();
		case 'h': help();
		default: tool_usage_error(USAGE, NULL);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		tool_usage_error(USAGE, argc ? "too many arguments" : "missing store URI");
	if (flex && strcmp(flex, "read") && strcmp(flex, "write"))
		tool_usage_error(USAGE, "--schema-flexibility must be 'read' or 'write', not '%s'", flex);
	if (hist && strcmp(hist, "on") && strcmp(hist, "off"))
		tool_usage_error(USAGE, "--history must be 'on' or 'off', not '%s'", hist);
	if (dh_arena_new(&a))
		return tool_finish(tool_fail(DH_ENOMEM, NULL));
	if ((rc = dh_config_resolve(&uri, &cfg, a, argv[0]))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	if (flex)
		cfg.flexibility = !strcmp(flex, "read") ? DH_SCHEMA_READ : DH_SCHEMA_WRITE;
	if (hist)
		cfg.no_history = !strcmp(hist, "off");
	if (branch) {
		if ((rc = dh_branch_check(branch)))
			tool_usage_error(USAGE, "%s", dh_errmsg());
		cfg.branch = branch;
	}
	if (file) {
		if ((rc = read_tx_file(file, a, &schema))) {
			status = tool_fail(rc, NULL);
			goto out;
		}
		if (cfg.initial_tx && cfg.initial_tx->len) {
			tool_usage_error(USAGE, "both --schema and the config's :initial-tx given");
		}
		cfg.initial_tx = &schema;
	}
	if ((rc = dh_store_open(&st, uri, DH_STORE_CREATE))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	rc = dh_db_create(st, &cfg);
	if (rc == DH_EEXISTS && exist_ok) {
		rc = 0;
	} else if (!rc && tool_verbose) {
		char hex[DH_HASH_HEX + 1];

		if (!dh_head_get(st, cfg.branch ? cfg.branch : DH_DEFAULT_BRANCH, hex))
			printf("%s\n", hex);
	}
	if (!rc)
		rc = dh_store_flush(st);
	if (rc)
		status = tool_fail(rc, NULL);
out:
	dh_store_close(st);
	dh_arena_free(a);
	free(uri);
	return tool_finish(status);
}
