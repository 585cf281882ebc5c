/*
 * dh-datoms - raw index access: datoms, seek-datoms and index-range over
 * EAVT, AEVT and AVET, one datom per line.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "qio.h"
#include "tool.h"

#define USAGE "dh-datoms [-0qvV] [-b BRANCH] [-o FORMAT] [--as-of T] [--since T] [--history] " \
              "[--seek | --range] [--limit N] URI INDEX [COMPONENT...]"

static void __attribute__((noreturn)) help(void)
{
	printf("usage: " USAGE "\n"
	       "Print the datoms of index INDEX (eavt, aevt or avet) of the database at URI,\n"
	       "one [e a v tx added] per line, in index order.  COMPONENTs are EDN values for\n"
	       "the leading components of the index (eavt: e a v tx; aevt: a e v tx; avet:\n"
	       "a v e tx); an entity may be an ident or a lookup ref.\n"
	       "  (default)            datoms whose leading components equal COMPONENTs\n"
	       "  --seek               datoms from the first one >= COMPONENTs to the end\n"
	       "  --range              index-range: avet ATTR START END, datoms of ATTR with\n"
	       "                       START <= v <= END (nil: open end)\n"
	       "\n"
	       "Options:\n"
	       "  -b, --branch NAME    read branch NAME (default: db)\n"
	       "      --as-of T        the database as of T: a tx id, epoch ms or an RFC 3339 instant\n"
	       "      --since T        only datoms added after T\n"
	       "      --history        every assertion and retraction ever made\n"
	       "      --limit N        at most N datoms\n"
	       "  -o, --format FMT     edn (default), json, jsonl, tsv or csv\n"
	       "  -0, --null           end datoms with NUL instead of newline\n"
	       "  -q, --quiet          print no diagnostics but errors\n"
	       "  -v, --verbose        say more\n"
	       "  -V, --version        print the version and exit\n"
	       "  -h, --help           print this help and exit\n"
	       "\n"
	       "Exit status: 0 success, 1 failure (unknown attribute or entity, store), 2 usage error.\n");
	exit(tool_finish(EXIT_OK));
}

/* Fill component k (0-based, in the index's order) of bound b from value v. */
static int set_component(struct dh_db *db, enum dh_index ix, struct dh_bound *b, int k, const struct dh_val *v)
{
	static const char order[3][4] = { { 'e', 'a', 'v', 't' }, { 'a', 'e', 'v', 't' }, { 'a', 'v', 'e', 't' } };
	char what = order[ix][k];
	int64_t id;
	int rc;

	switch (what) {
	case 'e':
	case 't':
		if ((rc = dh_db_entid(db, v, &id)))
			return rc == DH_ENOTFOUND ? dh_error_set(rc, "no entity for component %d", k + 1) : rc;
		if (what == 'e')
			b->e = id;
		else
			b->tx = id;
		return 0;
	case 'a': {
		if (v->type != DH_KEYWORD)
			return dh_error_set(DH_EINVAL, "component %d must be an attribute keyword", k + 1);
		const struct dh_attr *at = dh_db_attr_by_ident(db, v->u.s, v->len);
		if (!at)
			return dh_error_set(DH_ENOTFOUND, "unknown attribute :%.*s", (int)v->len, v->u.s);
		b->a = at->aid;
		return 0;
	}
	case 'v':
		b->v = *v;
		return 0;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "branch", required_argument, NULL, 'b' },
		{ "as-of", required_argument, NULL, 'A' },
		{ "since", required_argument, NULL, 'S' },
		{ "history", no_argument, NULL, 'Y' },
		{ "seek", no_argument, NULL, 's' },
		{ "range", no_argument, NULL, 'r' },
		{ "limit", required_argument, NULL, 'L' },
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
	struct dh_iter *it = NULL;
	int seek = 0, range = 0, c, rc, status = EXIT_OK;
	long long limit = -1;
	enum dh_index ix;

	tool_init("dh-datoms");
	while ((c = getopt_long(argc, argv, "b:o:0qvVh", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'b': view.branch = optarg; break;
		case 'A': view.as_of = optarg; break;
		case 'S': view.since = optarg; break;
		case 'Y': view.history = 1; break;
		case 's': seek = 1; break;
		case 'r': range = 1; break;
		case 'L':
			limit = strtoll(optarg, &end, 10);
			if (*end || limit < 0 || !*optarg)
				tool_usage_error(USAGE, "--limit needs a number, not '%s'", optarg);
			break;
		case 'o':
			if (qio_format(optarg, &o.fmt))
				tool_usage_error(USAGE, "unknown format '%s' (edn, json, jsonl, tsv, csv)", optarg);
			break;
		case '0': o.end = '\0'; break;
		case 'q': tool_quiet = 1; break;
		case 'v': tool_verbose++; break;
		case 'V': tool_version();
		case 'h': help();
		default: tool_usage_error(USAGE, NULL);
		}
	}
	if (seek && range)
		tool_usage_error(USAGE, "--seek and --range exclude each other");
	if (argc - optind < 2)
		tool_usage_error(USAGE, "missing %s", optind >= argc ? "URI" : "INDEX");
	const char *uri = argv[optind++], *ixname = argv[optind++];
	if (!strcmp(ixname, "eavt") || !strcmp(ixname, ":eavt"))
		ix = DH_EAVT;
	else if (!strcmp(ixname, "aevt") || !strcmp(ixname, ":aevt"))
		ix = DH_AEVT;
	else if (!strcmp(ixname, "avet") || !strcmp(ixname, ":avet"))
		ix = DH_AVET;
	else
		tool_usage_error(USAGE, "unknown index '%s' (eavt, aevt, avet)", ixname);
	int ncomp = argc - optind;
	if (ncomp > 4)
		tool_usage_error(USAGE, "at most 4 components");
	if (range && (ix != DH_AVET || ncomp != 3))
		tool_usage_error(USAGE, "--range takes avet ATTR START END");
	if ((rc = dh_arena_new(&a)) || (rc = qio_open(&d, uri, &view))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	struct dh_db *db = d.view ? d.view : d.db;
	struct dh_bound lo = { 0 }, hi = { 0 };
	struct dh_val comp[4];
	for (int k = 0; k < ncomp; k++) {
		if ((rc = dh_edn_parse(&comp[k], a, argv[optind + k], strlen(argv[optind + k]), "<component>"))) {
			status = tool_fail(rc, NULL);
			goto out;
		}
	}
	const struct dh_bound *plo = NULL, *phi = NULL;
	if (range) {
		if ((rc = set_component(db, ix, &lo, 0, &comp[0]))) {
			status = tool_fail(rc, NULL);
			goto out;
		}
		hi = lo;
		lo.n = comp[1].type == DH_NIL ? 1 : 2;
		lo.v = comp[1];
		hi.n = comp[2].type == DH_NIL ? 1 : 2;
		hi.v = comp[2];
		plo = &lo;
		phi = &hi;
	} else if (ncomp) {
		for (int k = 0; k < ncomp; k++) {
			if ((rc = set_component(db, ix, &lo, k, &comp[k]))) {
				if (rc == DH_ENOTFOUND && !seek) {
					/* nothing can match */
					goto done;
				}
				status = tool_fail(rc, NULL);
				goto out;
			}
		}
		lo.n = (unsigned)ncomp;
		hi = lo;
		plo = &lo;
		phi = seek ? NULL : &hi;
	}
	if ((rc = dh_iter_new(&it, db, ix, plo, phi))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	for (long long n = 0; limit < 0 || n < limit; n++) {
		const struct dh_datom *dt;
		rc = dh_iter_next(it, &dt);
		if (rc <= 0)
			break;
		const struct dh_attr *at = dh_db_attr(db, dt->a);
		struct dh_val row[5], v;
		row[0] = dh_long(dt->e);
		row[1] = at ? dh_text(DH_KEYWORD, at->ident, at->ident_len) : dh_long(dt->a);
		row[2] = dt->v;
		row[3] = dh_long(dt->tx);
		row[4] = dh_bool(dt->added);
		v = (struct dh_val){ .type = DH_VECTOR, .len = 5 };
		v.u.items = row;
		if ((rc = qio_row(&o, &v, 1)))
			break;
	}
	if (rc < 0) {
		status = tool_fail(rc, NULL);
		goto out;
	}
done:
	if ((rc = qio_flush(&o)))
		status = tool_fail(rc, NULL);
out:
	dh_iter_free(it);
	qio_close(&d);
	dh_arena_free(a);
	dh_buf_release(&o.buf);
	return tool_finish(status);
}
