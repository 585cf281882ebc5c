/*
 * dh-query - run a Datalog query against a database.
 *
 * The store URI is the query's $; every further operand fills the next
 * other :in binding (a value, a file, or another database view).  Rows
 * stream to stdout as the engine produces them, as one EDN or JSON value
 * or one row per line.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "qio.h"
#include "tool.h"

#define USAGE "dh-query [-0HqvV] [-b BRANCH] [-o FORMAT] [-f FILE] [--as-of T] [--since T] [--history] " \
              "[--limit N] [--offset N] URI [QUERY] [INPUT...]"

static void __attribute__((noreturn)) help(void)
{
	printf("usage: " USAGE "\n"
	       "Run a Datalog query (Datahike's query language) against the database at URI.\n"
	       "URI is the query's $; each INPUT fills the next other :in binding:\n"
	       "  EDN text        a value: \"Ivan\", [1 2 3], [[\"a\" 1]], rules for %%\n"
	       "  edn:FILE        an EDN value read from FILE ('-': stdin)\n"
	       "  json:FILE       a JSON value read from FILE (Datahike's keyword convention)\n"
	       "  db:URI          another database, for $2, $hist, ...\n"
	       "  history:URI     its history view\n"
	       "  asof:T:URI      its view as of T (a tx id or epoch milliseconds)\n"
	       "  since:T:URI     its view since T\n"
	       "\n"
	       "Options:\n"
	       "  -f, --file FILE      read the query from FILE ('-': stdin); no QUERY operand\n"
	       "  -b, --branch NAME    query branch NAME (default: db)\n"
	       "      --as-of T        the database as of T: a tx id, epoch ms or an RFC 3339 instant\n"
	       "      --since T        only datoms added after T\n"
	       "      --history        every assertion and retraction ever made\n"
	       "  -o, --format FMT     edn (default), json, jsonl, tsv or csv\n"
	       "  -0, --null           end rows with NUL instead of newline (one value per row)\n"
	       "  -H, --header         print column names first (tsv, csv)\n"
	       "      --limit N        at most N rows\n"
	       "      --offset N       skip the first N rows\n"
	       "  -q, --quiet          print no diagnostics but errors\n"
	       "  -v, --verbose        say more\n"
	       "  -V, --version        print the version and exit\n"
	       "  -h, --help           print this help and exit\n"
	       "\n"
	       "Exit status: 0 success, 1 failure (bad query, store, input), 2 usage error.\n");
	exit(tool_finish(EXIT_OK));
}

struct sink {
	struct qio_out o;
	enum dh_find_kind kind;
	int rowmode;       /* one row per line */
	int first;
};

static int on_row(const struct dh_val *row, void *payload)
{
	struct sink *s = payload;
	int rc = 0;

	if (s->rowmode)
		return qio_row(&s->o, row, s->kind == DH_FIND_REL || s->kind == DH_FIND_TUPLE);
	if (s->kind == DH_FIND_SCALAR || s->kind == DH_FIND_TUPLE) {
		s->first = 0;
		return qio_value(&s->o, row);
	}
	if (!s->first)
		rc = dh_buf_addc(&s->o.buf, s->o.fmt == FMT_JSON ? ',' : ' ');
	s->first = 0;
	if (!rc)
		rc = s->o.fmt == FMT_JSON ? dh_json_print(&s->o.buf, row) : dh_edn_print(&s->o.buf, row);
	if (!rc && s->o.buf.len > 65536)
		rc = qio_flush(&s->o);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "branch", required_argument, NULL, 'b' },
		{ "as-of", required_argument, NULL, 'A' },
		{ "since", required_argument, NULL, 'S' },
		{ "history", no_argument, NULL, 'Y' },
		{ "format", required_argument, NULL, 'o' },
		{ "null", no_argument, NULL, '0' },
		{ "header", no_argument, NULL, 'H' },
		{ "limit", required_argument, NULL, 'L' },
		{ "offset", required_argument, NULL, 'O' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct qio_view view = { 0 };
	const char *qfile = NULL;
	int64_t limit = -1, offset = -1;
	int header = 0, nul = 0, c;
	enum qio_format fmt = FMT_EDN;
	struct dh_buf qtext = DH_BUF_INIT;
	struct dh_query *q = NULL;
	struct dh_arena *a = NULL;
	struct qio_db main_db = { 0 }, extra[16];
	int nextra = 0;
	struct dh_query_arg args[64];
	struct sink s = { 0 };
	int status = EXIT_OK, rc;

	tool_init("dh-query");
	while ((c = getopt_long(argc, argv, "f:b:o:0HqvVh", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'f': qfile = optarg; break;
		case 'b': view.branch = optarg; break;
		case 'A': view.as_of = optarg; break;
		case 'S': view.since = optarg; break;
		case 'Y': view.history = 1; break;
		case 'o':
			if (qio_format(optarg, &fmt))
				tool_usage_error(USAGE, "unknown format '%s' (edn, json, jsonl, tsv, csv)", optarg);
			break;
		case '0': nul = 1; break;
		case 'H': header = 1; break;
		case 'L':
		case 'O': {
			long long n = strtoll(optarg, &end, 10);
			if (*end || n < 0 || !*optarg)
				tool_usage_error(USAGE, "--%s needs a number, not '%s'", c == 'L' ? "limit" : "offset", optarg);
			if (c == 'L')
				limit = n;
			else
				offset = n;
			break;
		}
		case 'q': tool_quiet = 1; break;
		case 'v': tool_verbose++; break;
		case 'V': tool_version();
		case 'h': help();
		default: tool_usage_error(USAGE, NULL);
		}
	}
	if (optind >= argc)
		tool_usage_error(USAGE, "missing URI");
	const char *uri = argv[optind++];
	if (!qfile && optind >= argc)
		tool_usage_error(USAGE, "missing QUERY");
	if (view.branch && (rc = dh_branch_check(view.branch)))
		tool_usage_error(USAGE, "bad branch name '%s'", view.branch);
	const char *qname = "<query>";
	if (qfile) {
		if ((rc = qio_slurp(qfile, &qtext))) {
			status = tool_fail(rc, NULL);
			goto out;
		}
		qname = strcmp(qfile, "-") ? qfile : "<stdin>";
	} else {
		const char *t = argv[optind++];
		dh_buf_add(&qtext, t, strlen(t));
	}
	if ((rc = dh_query_parse(&q, qtext.data, qtext.len, qname))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	if ((rc = dh_arena_new(&a))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	size_t nin = dh_query_nin(q);
	if (nin > 64) {
		tool_warn("too many :in bindings");
		status = EXIT_FAIL;
		goto out;
	}
	int used_uri = 0;
	memset(args, 0, sizeof(args));
	for (size_t i = 0; i < nin; i++) {
		int kind = dh_query_in_kind(q, i);
		if (kind == 1 && !used_uri) {
			if ((rc = qio_open(&main_db, uri, &view))) {
				status = tool_fail(rc, NULL);
				goto out;
			}
			args[i].src = main_db.src;
			used_uri = 1;
			continue;
		}
		if (optind >= argc) {
			tool_warn("the query has %zu :in bindings but too few inputs were given (input for binding %zu missing)",
			          nin, i + 1);
			status = EXIT_USAGE;
			goto out;
		}
		const char *in = argv[optind++];
		int is_db = 0;
		if (nextra == 16) {
			tool_warn("too many database inputs");
			status = EXIT_USAGE;
			goto out;
		}
		if ((rc = qio_input(in, a, &args[i].val, &extra[nextra], &is_db))) {
			status = tool_fail(rc, "input %zu", i + 1);
			goto out;
		}
		if (is_db)
			args[i].src = extra[nextra++].src;
	}
	if (optind < argc) {
		tool_warn("%d input%s more than the query's :in bindings take", argc - optind, argc - optind == 1 ? "" : "s");
		status = EXIT_USAGE;
		goto out;
	}
	if (!used_uri) {
		/* pull in :find still needs $ */
		if ((rc = qio_open(&main_db, uri, &view))) {
			status = tool_fail(rc, NULL);
			goto out;
		}
	}
	s.kind = dh_query_find_kind(q);
	s.o.fmt = fmt;
	s.o.end = nul ? '\0' : '\n';
	s.rowmode = nul || fmt == FMT_JSONL || fmt == FMT_TSV || fmt == FMT_CSV;
	s.first = 1;
	if (header && (fmt == FMT_TSV || fmt == FMT_CSV)) {
		for (size_t i = 0; i < dh_query_ncols(q); i++) {
			struct dh_val n = dh_text(DH_STRING, dh_query_col_name(q, i), (uint32_t)strlen(dh_query_col_name(q, i)));
			if (i)
				dh_buf_addc(&s.o.buf, fmt == FMT_CSV ? ',' : '\t');
			qio_field(&s.o, &n);
		}
		dh_buf_addc(&s.o.buf, s.o.end);
	}
	if (!s.rowmode && (s.kind == DH_FIND_REL || s.kind == DH_FIND_COLL))
		dh_buf_adds(&s.o.buf, fmt == FMT_JSON ? "[" : s.kind == DH_FIND_REL ? "#{" : "[");
	rc = dh_query_run(q, args, nin, limit, offset, on_row, &s);
	if (rc) {
		qio_flush(&s.o);
		status = tool_fail(rc, NULL);
		goto out;
	}
	if (!s.rowmode) {
		if (s.kind == DH_FIND_REL || s.kind == DH_FIND_COLL)
			dh_buf_adds(&s.o.buf, fmt == FMT_JSON ? "]\n" : s.kind == DH_FIND_REL ? "}\n" : "]\n");
		else if (s.first)
			dh_buf_adds(&s.o.buf, fmt == FMT_JSON ? "null\n" : "nil\n");
	}
	if ((rc = qio_flush(&s.o)))
		status = tool_fail(rc, NULL);
out:
	for (int i = 0; i < nextra; i++)
		qio_close(&extra[i]);
	qio_close(&main_db);
	dh_query_free(q);
	dh_arena_free(a);
	dh_buf_release(&qtext);
	dh_buf_release(&s.o.buf);
	return tool_finish(status);
}
