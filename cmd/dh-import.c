/*
 * dh-import - load a Datahike dump into a database.
 *
 * Detects the format (a directory is a chunked dump; a file or stdin a
 * CBOR sequence, current or legacy, plain or gzipped), verifies all of it
 * before writing anything, and loads it with its own entity and
 * transaction ids in one commit.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dh-db.h"
#include "dh-dump.h"
#include "tool.h"

#define USAGE "dh-import [-mnqvV] [-b BRANCH] [-f FORMAT] [-s read|write] [-H on|off] [-T DIR] URI [SRC]"

static void __attribute__((noreturn)) help(void)
{
	printf("usage: " USAGE "\n"
	       "Import a Datahike dump from SRC (a chunked dump's directory, a CBOR sequence file,\n"
	       "or stdin) into the database at URI, keeping its entity and transaction ids.\n"
	       "The whole dump is verified before anything is written.  A store without a\n"
	       "database gets one, configured as the dump's source was.\n"
	       "URI may also be a Datahike config EDN file.\n"
	       "\n"
	       "Options:\n"
	       "  -m, --merge                    import into a database that already has transactions\n"
	       "                                 (the dump's must all come after them)\n"
	       "  -n, --check                    verify the dump and print what it holds; write nothing\n"
	       "                                 (URI may then be left out)\n"
	       "  -f, --format FORMAT            insist on chunked, seq or legacy (default: detect)\n"
	       "  -s, --schema-flexibility MODE  write or read, for a database the import creates\n"
	       "  -H, --history on|off           keep history, for a database the import creates\n"
	       "  -b, --branch BRANCH            branch to load (default: db)\n"
	       "  -T, --tmpdir DIR               directory for sort runs and a copy of stdin\n"
	       "  -q, --quiet                    print no diagnostics but errors, and no progress\n"
	       "  -v, --verbose                  print what was imported\n"
	       "  -V, --version                  print the version and exit\n"
	       "  -h, --help                     print this help and exit\n"
	       "\n"
	       "Exit status: 0 success, 1 failure (corrupt dump, non-empty target, store error),\n"
	       "2 usage error, 3 conflict (another writer moved the branch).\n");
	exit(tool_finish(EXIT_OK));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "merge", no_argument, NULL, 'm' },
		{ "check", no_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'f' },
		{ "schema-flexibility", required_argument, NULL, 's' },
		{ "history", required_argument, NULL, 'H' },
		{ "branch", required_argument, NULL, 'b' },
		{ "tmpdir", required_argument, NULL, 'T' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dh_import_opts iopts = { 0 };
	struct dh_import_report rep;
	struct dh_db_config cfg;
	enum dh_dump_format want = DH_DUMP_AUTO;
	const char *flex = NULL, *hist = NULL, *src;
	struct dh_arena *a = NULL;
	struct dh_store *st = NULL;
	struct dh_dump_reader *r = NULL;
	char *uri = NULL;
	int c, rc, status = EXIT_OK, check = 0, cfgfile = 0;
	size_t n;

	tool_init("dh-import");
	while ((c = getopt_long(argc, argv, "mnf:s:H:b:T:qvVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': iopts.flags |= DH_IMPORT_MERGE; break;
		case 'n': check = 1; break;
		case 'f':
			if ((want = dh_dump_format_parse(optarg)) == DH_DUMP_AUTO)
				tool_usage_error(USAGE, "unknown format '%s' (chunked, seq, legacy)", optarg);
			break;
		case 's':
			if (strcmp(optarg, "read") && strcmp(optarg, "write"))
				tool_usage_error(USAGE, "schema flexibility is read or write, not '%s'", optarg);
			flex = optarg;
			break;
		case 'H':
			if (strcmp(optarg, "on") && strcmp(optarg, "off"))
				tool_usage_error(USAGE, "history is on or off, not '%s'", optarg);
			hist = optarg;
			break;
		case 'b':
			if (dh_branch_check(optarg))
				tool_usage_error(USAGE, "%s", dh_errmsg());
			iopts.branch = optarg;
			break;
		case 'T': iopts.tmpdir = optarg; break;
		case 'q': tool_quiet = 1; break;
		case 'v': tool_verbose++; break;
		case 'V': tool_version();
		case 'h': help();
		default: tool_usage_error(USAGE, NULL);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 && !check)
		tool_usage_error(USAGE, "missing URI");
	if (argc > 2)
		tool_usage_error(USAGE, "too many arguments");
	/* --check reads the dump only: a lone operand is SRC */
	src = argc == 2 ? argv[1] : check && argc == 1 ? argv[0] : NULL;
	if ((!src || !strcmp(src, "-")) && isatty(STDIN_FILENO))
		tool_usage_error(USAGE, "no SRC given and stdin is a terminal");
	tool_progress_start();
	iopts.progress = tool_progress;
	if (iopts.tmpdir)
		setenv("TMPDIR", iopts.tmpdir, 1);

	if ((rc = dh_dump_reader_open(&r, src, want))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	/* the whole dump is checked before the store is even opened */
	if (!check)
		dh_dump_reader_no_digest(r);   /* only --check shows a sequence's digest */
	tool_progress("verifying", 0, NULL);
	if ((rc = dh_dump_verify(r, NULL))) {
		tool_progress_end();
		status = tool_fail(rc, NULL);
		goto out;
	}
	if (check) {
		struct dh_dump_check chk;
		struct dh_buf d = DH_BUF_INIT;

		dh_dump_reader_checked(r, &chk);
		dh_digest_edn(&d, &chk.digest);
		printf("{:format :%s :records %llu :chunks %llu :min-tx %lld :max-tx %lld :max-eid %lld "
		       ":tx-ordered? %s :semantic-digest %s}\n",
		       dh_dump_format_name(dh_dump_reader_format(r)), (unsigned long long)chk.records,
		       (unsigned long long)chk.chunks, (long long)chk.min_tx, (long long)chk.max_tx,
		       (long long)chk.max_eid, chk.tx_ordered ? "true" : "false", d.data ? d.data : "nil");
		dh_buf_release(&d);
		goto out;
	}

	if ((rc = dh_arena_new(&a))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	memset(&cfg, 0, sizeof(cfg));
	if ((rc = dh_config_resolve(&uri, &cfg, a, argv[0]))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	n = strlen(argv[0]);
	cfgfile = n > 4 && !strcmp(argv[0] + n - 4, ".edn");
	if (flex)
		cfg.flexibility = !strcmp(flex, "read") ? DH_SCHEMA_READ : DH_SCHEMA_WRITE;
	if (hist)
		cfg.no_history = !strcmp(hist, "off");
	if (flex || hist || cfgfile)
		iopts.create = &cfg;
	if (!iopts.branch && cfg.branch)
		iopts.branch = cfg.branch;
	if ((rc = dh_store_open(&st, uri, DH_STORE_CREATE))) {
		status = tool_fail(rc, "cannot open store '%s'", tool_uri(uri));
		goto out;
	}
	rc = dh_import(st, r, &iopts, &rep);
	tool_progress_end();
	if (rc) {
		status = tool_fail(rc, "import failed");
		goto out;
	}
	if (tool_verbose)
		fprintf(stderr, "%s: %llu datoms in %llu transactions from %s (%s%s) into %s%s, commit %s\n",
		        tool_name, (unsigned long long)rep.records, (unsigned long long)rep.txs,
		        src ? src : "<stdin>", dh_dump_format_name(rep.format), rep.sorted ? ", sorted" : "",
		        uri, rep.created ? " (created)" : "", rep.commit);
out:
	dh_dump_reader_free(r);
	dh_store_close(st);
	dh_arena_free(a);
	free(uri);
	return tool_finish(status);
}
