/*
 * dh-log - the commits of a branch, newest first.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "dh-io.h"
#include "qio.h"
#include "tool.h"

#define USAGE "dh-log [-0HqvV] [-b BRANCH] [-c COMMIT] [-n N] [-o FORMAT] URI"

/* FMT_* of qio, and the default, one line of text per commit */
#define FMT_TEXT -1

static void __attribute__((noreturn)) help(void)
{
	printf("usage: " USAGE "\n"
	       "Print the commits of a branch of the database at URI, newest first: each\n"
	       "commit's name, the :db/txInstant and id of the last transaction it holds,\n"
	       "its datom count and how that changed since its parent, and the parents of\n"
	       "merges.  A tx id printed here is what dh-query --as-of takes.\n"
	       "\n"
	       "Options:\n"
	       "  -b, --branch NAME    the branch (default: db)\n"
	       "  -c, --commit COMMIT  start at COMMIT (64 hex digits) instead of a branch head\n"
	       "  -n, --max-count N    print at most N commits\n"
	       "  -o, --format FMT     text (default), edn, json, jsonl, tsv or csv\n"
	       "  -0, --null           end rows with NUL instead of newline (edn, jsonl, tsv, csv)\n"
	       "  -H, --header         print column names first (tsv, csv)\n"
	       "  -q, --quiet          print no diagnostics but errors\n"
	       "  -v, --verbose        say more\n"
	       "  -V, --version        print the version and exit\n"
	       "  -h, --help           print this help and exit\n"
	       "\n"
	       "Exit status: 0 success, 1 failure (store, a missing or corrupt commit),\n"
	       "2 usage error.\n");
	exit(tool_finish(EXIT_OK));
}

struct out {
	int fmt;                /* FMT_TEXT or enum qio_format */
	struct qio_out o;
	long max, n;
};

static int text_line(struct out *w, const struct dh_log_entry *e)
{
	struct dh_buf *b = &w->o.buf;
	int rc = dh_buf_addf(b, "%s  ", e->commit);

	if (!rc)
		rc = e->info->max_tx > DH_TX0 ? tool_instant(b, e->info->instant_ms) : dh_buf_addf(b, "%-24s", "-");
	if (!rc)
		rc = dh_buf_addf(b, "  tx %lld  datoms %llu", (long long)e->info->max_tx,
				 (unsigned long long)e->info->ndatoms);
	if (!rc && e->has_delta)
		rc = dh_buf_addf(b, " (%+lld)", (long long)e->delta);
	for (size_t i = 0; !rc && e->info->nparents > 1 && i < e->info->nparents; i++)
		rc = dh_buf_addf(b, "%s%s", i ? " " : "  merge ", e->info->parents[i]);
	if (!rc)
		rc = dh_buf_addc(b, '\n');
	return rc;
}

/* a keyword of a literal name */
#define KW(name) dh_text(DH_KEYWORD, name, sizeof(name) - 1)

static int on_commit(const struct dh_log_entry *e, void *payload)
{
	struct out *w = payload;
	struct dh_val items[12], parents[DH_MAX_PARENTS], row;
	struct dh_buf when = DH_BUF_INIT, plist = DH_BUF_INIT;
	int flat = w->fmt == FMT_TSV || w->fmt == FMT_CSV, rc = 0;
	size_t i;

	if (w->max >= 0 && w->n >= w->max)
		return 1;   /* enough: stops the walk */
	if (w->fmt == FMT_TEXT) {
		rc = text_line(w, e);
	} else {
		for (i = 0; i < e->info->nparents; i++)
			parents[i] = dh_text(DH_STRING, e->info->parents[i], DH_HASH_HEX);
		items[0] = KW("commit");
		items[1] = dh_text(DH_STRING, e->commit, DH_HASH_HEX);
		items[2] = KW("tx");
		items[3] = dh_long(e->info->max_tx);
		items[4] = KW("instant");
		/* a commit holding no transaction (the one dh-create writes) has no instant */
		items[5] = e->info->max_tx > DH_TX0 ? dh_inst(e->info->instant_ms) : dh_nil();
		items[6] = KW("datoms");
		items[7] = dh_long((int64_t)e->info->ndatoms);
		items[8] = KW("delta");
		items[9] = e->has_delta ? dh_long(e->delta) : dh_nil();
		items[10] = KW("parents");
		items[11] = (struct dh_val){ .type = DH_VECTOR, .len = (uint32_t)e->info->nparents };
		items[11].u.items = parents;
		if (flat) {
			/* one field each: the instant as its text, the parents joined by commas */
			if (e->info->max_tx > DH_TX0 && (rc = tool_instant(&when, e->info->instant_ms)))
				goto out;
			items[5] = dh_text(DH_STRING, when.data ? when.data : "", (uint32_t)when.len);
			for (i = 0; i < e->info->nparents && !rc; i++)
				rc = dh_buf_addf(&plist, "%s%s", i ? "," : "", e->info->parents[i]);
			if (rc)
				goto out;
			items[11] = dh_text(DH_STRING, plist.data ? plist.data : "", (uint32_t)plist.len);
		}
		row = (struct dh_val){ .type = DH_MAP, .len = 12 };
		row.u.items = items;
		if (w->fmt == FMT_JSON) {
			if (!(rc = dh_buf_adds(&w->o.buf, w->n ? ",\n" : "[")))
				rc = dh_json_print(&w->o.buf, &row);
		} else {
			rc = qio_row(&w->o, &row, 1);
		}
	}
	if (!rc)
		w->n++;
	if (!rc && w->o.buf.len > 65536)
		rc = qio_flush(&w->o);
out:
	dh_buf_release(&when);
	dh_buf_release(&plist);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "branch", required_argument, NULL, 'b' },
		{ "commit", required_argument, NULL, 'c' },
		{ "max-count", required_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'o' },
		{ "null", no_argument, NULL, '0' },
		{ "header", no_argument, NULL, 'H' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct out w = { .fmt = FMT_TEXT, .o = { .fmt = FMT_EDN, .end = '\n' }, .max = -1 };
	struct dh_store *st = NULL;
	const char *branch = NULL, *commit = NULL;
	char *uri = NULL, *end;
	int header = 0, nul = 0, c, rc, status = EXIT_OK;

	tool_init("dh-log");
	while ((c = getopt_long(argc, argv, "b:c:n:o:0HqvVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': branch = optarg; break;
		case 'c': commit = optarg; break;
		case 'n':
			w.max = strtol(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || w.max < 0)
				tool_usage_error(USAGE, "-n takes a count, not '%s'", optarg);
			break;
		case 'o':
			if (!strcmp(optarg, "text"))
				w.fmt = FMT_TEXT;
			else if (qio_format(optarg, &w.o.fmt))
				tool_usage_error(USAGE, "unknown format '%s' (text, edn, json, jsonl, tsv, csv)", optarg);
			else
				w.fmt = (int)w.o.fmt;
			break;
		case '0': nul = 1; break;
		case 'H': header = 1; break;
		case 'q': tool_quiet = 1; break;
		case 'v': tool_verbose++; break;
		case 'V': tool_version();
		case 'h': help();
		default: tool_usage_error(USAGE, NULL);
		}
	}
	if (argc - optind != 1)
		tool_usage_error(USAGE, argc == optind ? "missing URI" : "too many arguments");
	if (branch && commit)
		tool_usage_error(USAGE, "--branch and --commit exclude each other");
	if (nul && (w.fmt == FMT_TEXT || w.fmt == FMT_JSON))
		tool_usage_error(USAGE, "-0 needs a format of one row per commit (edn, jsonl, tsv, csv)");
	if (nul)
		w.o.end = '\0';
	if (branch && dh_branch_check(branch))
		tool_usage_error(USAGE, "%s", dh_errmsg());
	if (header && (w.fmt == FMT_TSV || w.fmt == FMT_CSV)) {
		const char *sep = w.fmt == FMT_CSV ? "," : "\t";

		dh_buf_addf(&w.o.buf, "commit%stx%sinstant%sdatoms%sdelta%sparents%c", sep, sep, sep, sep, sep, w.o.end);
	}
	if ((rc = dh_config_resolve(&uri, NULL, NULL, argv[optind])) || (rc = dh_store_open(&st, uri, DH_STORE_RDONLY))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	rc = dh_log(st, branch, commit, on_commit, &w);
	if (rc < 0)
		status = tool_fail(rc, NULL);
	if (w.fmt == FMT_JSON && status == EXIT_OK)
		rc = dh_buf_adds(&w.o.buf, w.n ? "]\n" : "[]\n");
	if ((rc = qio_flush(&w.o)) && status == EXIT_OK)
		status = tool_fail(rc, NULL);
	if (tool_verbose && !tool_quiet)
		fprintf(stderr, "%s: %ld commits\n", tool_name, w.n);
out:
	dh_store_close(st);
	dh_buf_release(&w.o.buf);
	free(uri);
	return tool_finish(status);
}
