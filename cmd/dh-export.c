/*
 * dh-export - write a database as a Datahike dump.
 *
 * To a directory: Datahike's chunked format (manifest.edn written last).
 * To a file or stdout: one CBOR sequence of [e a v tx added] records, for
 * pipes (dh-export a | dh-import b).  A file is written to a temporary
 * name and renamed, so DEST is either the old file or the whole new dump.
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

#define USAGE "dh-export [-FHqvVzZ] [-b BRANCH] [-f FORMAT] [-c N] [-T DIR] URI [DEST]"

static void __attribute__((noreturn)) help(void)
{
	printf("usage: " USAGE "\n"
	       "Export the database at URI as a Datahike dump: to directory DEST in the chunked\n"
	       "format (manifest.edn and datoms-NNNNNN.cbor.gz), or to file DEST or stdout as one\n"
	       "CBOR sequence of [e a v tx added] records.\n"
	       "URI may also be a Datahike config EDN file.\n"
	       "\n"
	       "Options:\n"
	       "  -H, --history          every assertion and retraction, not only the current datoms\n"
	       "  -f, --format FORMAT    chunked, seq or legacy (default: chunked for a directory,\n"
	       "                         that is an existing one or DEST ending in '/'; else seq)\n"
	       "  -z, --gzip             gzip a seq or legacy dump (chunked dumps are gzipped by default)\n"
	       "  -Z, --no-gzip          write chunks uncompressed (:compression :none)\n"
	       "  -c, --chunk-size N     records per chunk file (default: 100000)\n"
	       "  -F, --force            replace a dump already in directory DEST\n"
	       "  -b, --branch BRANCH    branch to export (default: db)\n"
	       "  -T, --tmpdir DIR       directory for sort runs (default: $TMPDIR or /tmp)\n"
	       "  -q, --quiet            print no diagnostics but errors, and no progress\n"
	       "  -v, --verbose          print what was written\n"
	       "  -V, --version          print the version and exit\n"
	       "  -h, --help             print this help and exit\n"
	       "\n"
	       "Exit status: 0 success, 1 failure, 2 usage error.\n");
	exit(tool_finish(EXIT_OK));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "history", no_argument, NULL, 'H' },
		{ "format", required_argument, NULL, 'f' },
		{ "gzip", no_argument, NULL, 'z' },
		{ "no-gzip", no_argument, NULL, 'Z' },
		{ "chunk-size", required_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'F' },
		{ "branch", required_argument, NULL, 'b' },
		{ "tmpdir", required_argument, NULL, 'T' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dh_dump_opts dopts = { DH_DUMP_AUTO, -1, 0, 0 };
	struct dh_export_opts eopts = { 0 };
	const char *branch = NULL, *dest = NULL, *fmtname = NULL;
	struct dh_store *st = NULL;
	struct dh_db *db = NULL;
	struct dh_dump_writer *w = NULL;
	char *uri = NULL, *tmp = NULL;
	FILE *f = NULL;
	uint64_t count = 0;
	int c, rc, status = EXIT_OK, to_dir = 0;

	tool_init("dh-export");
	while ((c = getopt_long(argc, argv, "Hf:zZc:Fb:T:qvVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': eopts.history = 1; break;
		case 'f':
			fmtname = optarg;
			if ((dopts.format = dh_dump_format_parse(optarg)) == DH_DUMP_AUTO)
				tool_usage_error(USAGE, "unknown format '%s' (chunked, seq, legacy)", optarg);
			break;
		case 'z': dopts.gzip = 1; break;
		case 'Z': dopts.gzip = 0; break;
		case 'c': {
			char *end;
			unsigned long long n;

			errno = 0;
			n = strtoull(optarg, &end, 10);
			if (errno || *end || !n || optarg[0] == '-')
				tool_usage_error(USAGE, "bad chunk size '%s'", optarg);
			dopts.chunk_records = n;
			break;
		}
		case 'F': dopts.force = 1; break;
		case 'b': branch = optarg; break;
		case 'T': eopts.tmpdir = optarg; break;
		case 'q': tool_quiet = 1; break;
		case 'v': tool_verbose++; break;
		case 'V': tool_version();
		case 'h': help();
		default: tool_usage_error(USAGE, NULL);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		tool_usage_error(USAGE, "missing URI");
	if (argc > 2)
		tool_usage_error(USAGE, "too many arguments");
	if (branch && dh_branch_check(branch))
		tool_usage_error(USAGE, "%s", dh_errmsg());
	dest = argc == 2 && strcmp(argv[1], "-") ? argv[1] : NULL;
	if (dest) {
		struct stat sb;
		size_t n = strlen(dest);

		to_dir = (!stat(dest, &sb) && S_ISDIR(sb.st_mode)) || dest[n - 1] == '/';
	}
	if (dopts.format == DH_DUMP_AUTO)
		dopts.format = to_dir ? DH_DUMP_CHUNKED : DH_DUMP_SEQ;
	if (dopts.format == DH_DUMP_CHUNKED && !dest)
		tool_usage_error(USAGE, "a chunked dump needs a directory DEST");
	if (dopts.format != DH_DUMP_CHUNKED && to_dir)
		tool_usage_error(USAGE, "'%s' is a directory; a %s dump is a single file", dest, fmtname);
	if (dopts.gzip < 0)
		dopts.gzip = dopts.format == DH_DUMP_CHUNKED;
	if (!dest && isatty(STDOUT_FILENO))
		tool_usage_error(USAGE, "refusing to write a binary dump to a terminal; give DEST or redirect");
	tool_progress_start();
	eopts.progress = tool_progress;

	if ((rc = dh_config_resolve(&uri, NULL, NULL, argv[0]))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	if ((rc = dh_store_open(&st, uri, DH_STORE_RDONLY))) {
		status = tool_fail(rc, "cannot open store '%s'", tool_uri(uri));
		goto out;
	}
	if ((rc = dh_db_open(&db, st, branch))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	if (eopts.history && !dh_db_keeps_history(db)) {
		tool_warn("the database keeps no history: exporting its current datoms");
		eopts.history = 0;
	}
	if (dopts.format == DH_DUMP_CHUNKED) {
		rc = dh_dump_writer_dir(&w, dest, &dopts);
	} else if (dest) {
		if (asprintf(&tmp, "%s.tmp-XXXXXX", dest) < 0) {
			rc = dh_error_set(DH_ENOMEM, "out of memory");
		} else {
			int fd = mkstemp(tmp);

			if (fd < 0 || !(f = fdopen(fd, "wb"))) {
				rc = dh_error_set(DH_EIO, "cannot create '%s': %s", tmp, strerror(errno));
				if (fd >= 0)
					close(fd);
				free(tmp);
				tmp = NULL;
			} else {
				fchmod(fd, 0644 & ~umask(umask(0)));
				rc = dh_dump_writer_file(&w, f, dest, &dopts);
			}
		}
	} else {
		rc = dh_dump_writer_file(&w, stdout, "<stdout>", &dopts);
	}
	if (rc) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	if ((rc = dh_export(db, w, &eopts, &count))) {
		tool_progress_end();
		status = tool_fail(rc, "export failed");
		goto out;
	}
	tool_progress_end();
	if (f) {
		if (fflush(f) || fsync(fileno(f)) || ferror(f)) {
			status = tool_fail(dh_error_set(DH_EIO, "cannot write '%s': %s", dest, strerror(errno)), NULL);
			goto out;
		}
		c = fclose(f);
		f = NULL;
		if (c || rename(tmp, dest)) {
			status = tool_fail(dh_error_set(DH_EIO, "cannot write '%s': %s", dest, strerror(errno)), NULL);
			goto out;
		}
		free(tmp);
		tmp = NULL;
	}
	if (tool_verbose)
		fprintf(stderr, "%s: %llu datoms%s to %s (%s%s)\n", tool_name, (unsigned long long)count,
		        eopts.history ? " of history" : "", dest ? dest : "<stdout>",
		        dh_dump_format_name(dopts.format), dopts.gzip ? ", gzip" : "");
out:
	dh_dump_writer_free(w);
	if (f)
		fclose(f);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	dh_db_close(db);
	dh_store_close(st);
	free(uri);
	return tool_finish(status);
}
