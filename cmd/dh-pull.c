/*
 * dh-pull - Datahike's pull and entity lookup from the shell.
 *
 * Pulls a pattern for each entity named on the command line (or read from
 * stdin, one per line) and writes one result per line.  -e is entity
 * lookup: the pattern [*].
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "qio.h"
#include "tool.h"

#define USAGE "dh-pull [-0eqvV] [-b BRANCH] [-o FORMAT] [--as-of T] [--since T] URI [PATTERN] [EID...]"

static void __attribute__((noreturn)) help(void)
{
	printf("usage: " USAGE "\n"
	       "Pull PATTERN (a pull pattern such as '[:name {:friend [:name]}]') for each entity EID\n"
	       "of the database at URI and print one result per line.  An EID is an entity id,\n"
	       "an ident keyword or a lookup ref ('[:email \"a@b\"]'); without EID operands, EIDs\n"
	       "are read from stdin, one per line.  An entity with nothing to show prints nil.\n"
	       "\n"
	       "Options:\n"
	       "  -e, --entity         entity lookup: pull every attribute ([*]); no PATTERN operand\n"
	       "  -b, --branch NAME    read branch NAME (default: db)\n"
	       "      --as-of T        the database as of T: a tx id, epoch ms or an RFC 3339 instant\n"
	       "      --since T        only datoms added after T\n"
	       "  -o, --format FMT     edn (default), json or jsonl\n"
	       "  -0, --null           end results with NUL instead of newline\n"
	       "  -q, --quiet          print no diagnostics but errors\n"
	       "  -v, --verbose        say more\n"
	       "  -V, --version        print the version and exit\n"
	       "  -h, --help           print this help and exit\n"
	       "\n"
	       "Exit status: 0 success, 1 failure (bad pattern, unknown entity, store), 2 usage error.\n");
	exit(tool_finish(EXIT_OK));
}

static int pull_one(struct qio_db *d, struct qio_out *o, const struct dh_val *pattern, const char *text)
{
	struct dh_arena *a = NULL;
	struct dh_val ref, res;
	int64_t eid;
	int rc;

	if ((rc = dh_arena_new(&a)))
		return rc;
	if ((rc = dh_edn_parse(&ref, a, text, strlen(text), "<eid>")))
		goto out;
	if ((rc = dh_query_resolve(d->src, &ref, &eid))) {
		if (rc == DH_ENOTFOUND)
			rc = dh_error_set(DH_ENOTFOUND, "no entity '%s'", text);
		goto out;
	}
	if ((rc = dh_pull(&res, a, d->src, pattern, eid)))
		goto out;
	rc = qio_row(o, &res, 0);
out:
	dh_arena_free(a);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "entity", no_argument, NULL, 'e' },
		{ "branch", required_argument, NULL, 'b' },
		{ "as-of", required_argument, NULL, 'A' },
		{ "since", required_argument, NULL, 'S' },
		{ "format", required_argument, NULL, 'o' },
		{ "null", no_argument, NULL, '0' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct qio_view view = { 0 };
	struct qio_db d = { 0 };
	struct qio_out o = { .fmt = FMT_EDN, .end = '\n' };
	struct dh_arena *a = NULL;
	struct dh_val pattern;
	int entity = 0, c, rc, status = EXIT_OK;

	tool_init("dh-pull");
	while ((c = getopt_long(argc, argv, "eb:o:0qvVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'e': entity = 1; break;
		case 'b': view.branch = optarg; break;
		case 'A': view.as_of = optarg; break;
		case 'S': view.since = optarg; break;
		case 'o':
			if (qio_format(optarg, &o.fmt) || o.fmt == FMT_TSV || o.fmt == FMT_CSV)
				tool_usage_error(USAGE, "unknown format '%s' (edn, json, jsonl)", optarg);
			break;
		case '0': o.end = '\0'; break;
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
	if (!entity && optind >= argc)
		tool_usage_error(USAGE, "missing PATTERN");
	if ((rc = dh_arena_new(&a))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	const char *ptext = entity ? "[*]" : argv[optind++];
	if ((rc = dh_edn_parse(&pattern, a, ptext, strlen(ptext), "<pattern>"))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	if (pattern.type != DH_VECTOR) {
		tool_warn("<pattern>: a pull pattern is a vector, e.g. '[:name {:friend [:name]}]'");
		status = EXIT_FAIL;
		goto out;
	}
	if ((rc = qio_open(&d, uri, &view))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	if (optind < argc) {
		for (; optind < argc && status == EXIT_OK; optind++)
			if ((rc = pull_one(&d, &o, &pattern, argv[optind])))
				status = tool_fail(rc, NULL);
	} else {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while (status == EXIT_OK && (n = getline(&line, &cap, stdin)) > 0) {
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
				line[--n] = 0;
			if (!n)
				continue;
			if ((rc = pull_one(&d, &o, &pattern, line)))
				status = tool_fail(rc, NULL);
		}
		free(line);
	}
	if ((rc = qio_flush(&o)) && status == EXIT_OK)
		status = tool_fail(rc, NULL);
out:
	qio_close(&d);
	dh_arena_free(a);
	dh_buf_release(&o.buf);
	return tool_finish(status);
}
