/*
 * dh-transact - transact EDN or JSON tx-data into a database.
 *
 * Inputs are read one top-level value at a time; each value is one tx
 * vector and is committed as it arrives (so `producer | dh-transact URI`
 * streams), unless --group collects several vectors into one transaction.
 * One report per transaction goes to stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "dh-db.h"
#include "tool.h"

#define USAGE "dh-transact [-dnqvV] [-b BRANCH] [-g N] [-i edn|json] [-o edn|json|none] [--on COMMIT] URI [FILE...]"

static void __attribute__((noreturn)) help(void)
{
	printf("usage: " USAGE "\n"
	       "Transact tx-data from FILEs (or stdin) into the database at URI.\n"
	       "Each top-level vector is one transaction, committed as it is read.\n"
	       "\n"
	       "Options:\n"
	       "  -i, --input FORMAT     edn (default; json for files ending in .json) or json\n"
	       "  -o, --output FORMAT    report format: edn (default), json, or none\n"
	       "  -d, --datoms           include the transaction's datoms in the report\n"
	       "  -g, --group N          commit N tx vectors per transaction (0: all input as one)\n"
	       "  -b, --branch BRANCH    branch to write (default: db)\n"
	       "      --on COMMIT        build on COMMIT; fail with status 3 if the head moved\n"
	       "  -n, --no-retry         on a concurrent commit fail with status 3 instead of retrying\n"
	       "  -q, --quiet            print no diagnostics but errors\n"
	       "  -v, --verbose          say more\n"
	       "  -V, --version          print the version and exit\n"
	       "  -h, --help             print this help and exit\n"
	       "\n"
	       "Exit status: 0 success, 1 failure (bad tx-data, schema violation, store error),\n"
	       "2 usage error, 3 conflict (another writer moved the branch).\n");
	exit(tool_finish(EXIT_OK));
}

enum { OUT_EDN, OUT_JSON, OUT_NONE };

static int out_fmt = OUT_EDN, with_datoms;

static int kw(struct dh_val *out, struct dh_arena *a, const char *s)
{
	return dh_val_text(out, a, DH_KEYWORD, s, strlen(s));
}

static int print_report(struct dh_conn *conn, const struct dh_tx_report *r)
{
	struct dh_arena *a = NULL;
	struct dh_val m, *it, *tid, *ds = NULL;
	struct dh_buf b = DH_BUF_INIT;
	struct dh_db *db = dh_conn_db(conn);
	size_t i, n = 0;
	int rc;

	if (out_fmt == OUT_NONE)
		return 0;
	if ((rc = dh_arena_new(&a)))
		return rc;
	it = dh_arena_alloc(a, 14 * sizeof(*it));
	tid = dh_arena_alloc(a, (2 * r->ntempids + 1) * sizeof(*tid));
	if (!it || !tid) {
		rc = DH_ENOMEM;
		goto out;
	}
	for (i = 0; i < r->ntempids; i++) {
		tid[2 * i] = r->tempids[i].tempid;
		tid[2 * i + 1] = dh_long(r->tempids[i].eid);
	}
	if ((rc = kw(&it[n++], a, "tx")))
		goto out;
	it[n++] = dh_long(r->tx);
	if ((rc = kw(&it[n++], a, "tx-instant")))
		goto out;
	it[n++] = dh_inst(r->instant_ms);
	if ((rc = kw(&it[n++], a, "tempids")))
		goto out;
	it[n].type = DH_MAP;
	it[n].len = (uint32_t)(2 * r->ntempids);
	it[n++].u.items = tid;
	if ((rc = kw(&it[n++], a, "added")))
		goto out;
	it[n++] = dh_long((int64_t)r->nadded);
	if ((rc = kw(&it[n++], a, "retracted")))
		goto out;
	it[n++] = dh_long((int64_t)r->nretracted);
	if ((rc = kw(&it[n++], a, "commit")) || (rc = dh_val_text(&it[n++], a, DH_STRING, r->commit, strlen(r->commit))))
		goto out;
	if (with_datoms) {
		ds = dh_arena_alloc(a, (r->ndatoms ? r->ndatoms : 1) * sizeof(*ds));
		if (!ds) {
			rc = DH_ENOMEM;
			goto out;
		}
		for (i = 0; i < r->ndatoms; i++) {
			const struct dh_datom *d = &r->datoms[i];
			const struct dh_attr *at = dh_db_attr(db, d->a);
			struct dh_val *q = dh_arena_alloc(a, 5 * sizeof(*q));

			if (!q) {
				rc = DH_ENOMEM;
				goto out;
			}
			q[0] = dh_long(d->e);
			q[1] = at ? dh_text(DH_KEYWORD, at->ident, at->ident_len) : dh_nil();
			q[2] = d->v;
			q[3] = dh_long(d->tx);
			q[4] = dh_bool(d->added);
			ds[i].type = DH_VECTOR;
			ds[i].len = 5;
			ds[i].u.items = q;
		}
		if ((rc = kw(&it[n++], a, "tx-data")))
			goto out;
		it[n].type = DH_VECTOR;
		it[n].len = (uint32_t)r->ndatoms;
		it[n++].u.items = ds;
	}
	m.type = DH_MAP;
	m.len = (uint32_t)n;
	m.u.items = it;
	rc = out_fmt == OUT_JSON ? dh_json_print(&b, &m) : dh_edn_print(&b, &m);
	if (!rc) {
		dh_buf_addc(&b, '\n');
		if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout))
			rc = dh_error_set(DH_EIO, "write error: %s", strerror(errno));
	}
out:
	dh_buf_release(&b);
	dh_arena_free(a);
	return rc;
}

struct input {
	const char *name;
	FILE *f;
	struct dh_edn_reader *er;
	struct dh_json_reader *jr;
};

static int input_open(struct input *in, const char *path, const char *fmt)
{
	size_t len;
	int json, rc;

	memset(in, 0, sizeof(*in));
	if (!path || !strcmp(path, "-")) {
		in->f = stdin;
		in->name = "<stdin>";
	} else {
		in->f = fopen(path, "rb");
		in->name = path;
		if (!in->f)
			return dh_error_set(DH_EIO, "cannot open '%s': %s", path, strerror(errno));
	}
	len = strlen(in->name);
	json = fmt ? !strcmp(fmt, "json") : (len > 5 && !strcmp(in->name + len - 5, ".json"));
	rc = json ? dh_json_reader_file(&in->jr, in->f, in->name) : dh_edn_reader_file(&in->er, in->f, in->name);
	return rc;
}

static int input_read(struct input *in, struct dh_arena *a, struct dh_val *v)
{
	return in->jr ? dh_json_read(in->jr, a, v) : dh_edn_read(in->er, a, v);
}

static void input_close(struct input *in)
{
	dh_edn_reader_free(in->er);
	dh_json_reader_free(in->jr);
	if (in->f && in->f != stdin)
		fclose(in->f);
}

/* Pending tx vectors for --group. */
struct group {
	struct dh_val *items;
	size_t n, cap, vectors;
};

static int group_add(struct group *g, const struct dh_val *v)
{
	if (g->n + v->len > g->cap) {
		size_t cap = (g->n + v->len) * 2 + 64;
		struct dh_val *ni = realloc(g->items, cap * sizeof(*ni));

		if (!ni)
			return dh_error_set(DH_ENOMEM, "out of memory");
		g->items = ni;
		g->cap = cap;
	}
	memcpy(g->items + g->n, v->u.items, v->len * sizeof(*v->u.items));
	g->n += v->len;
	g->vectors++;
	return 0;
}

static int commit(struct dh_conn *conn, const struct dh_val *tx, unsigned flags, const char *where)
{
	struct dh_tx_report *r = NULL;
	int rc = dh_transact(&r, conn, tx, flags);

	if (rc) {
		if (where)
			dh_error_prefix(rc, "%s", where);
		return rc;
	}
	rc = print_report(conn, r);
	dh_tx_report_free(r);
	return rc;
}

int main(int argc, char **argv)
{
	enum { OPT_ON = 256 };
	static const struct option opts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "datoms", no_argument, NULL, 'd' },
		{ "group", required_argument, NULL, 'g' },
		{ "branch", required_argument, NULL, 'b' },
		{ "on", required_argument, NULL, OPT_ON },
		{ "no-retry", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *infmt = NULL, *branch = NULL, *on = NULL;
	struct dh_store *st = NULL;
	struct dh_conn *conn = NULL;
	struct dh_arena *a = NULL, *ga = NULL;
	struct group g = { 0 };
	char *uri = NULL, where[600];
	long group = -1;
	unsigned flags = DH_TX_RETRY;
	int c, i, rc = 0, status = EXIT_OK, nin;

	tool_init("dh-transact");
	while ((c = getopt_long(argc, argv, "i:o:dg:b:nqvVh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (strcmp(optarg, "edn") && strcmp(optarg, "json"))
				tool_usage_error(USAGE, "--input must be 'edn' or 'json', not '%s'", optarg);
			infmt = optarg;
			break;
		case 'o':
			if (!strcmp(optarg, "edn"))
				out_fmt = OUT_EDN;
			else if (!strcmp(optarg, "json"))
				out_fmt = OUT_JSON;
			else if (!strcmp(optarg, "none"))
				out_fmt = OUT_NONE;
			else
				tool_usage_error(USAGE, "--output must be 'edn', 'json' or 'none', not '%s'", optarg);
			break;
		case 'd': with_datoms = 1; break;
		case 'g': {
			char *end;

			group = strtol(optarg, &end, 10);
			if (*end || group < 0)
				tool_usage_error(USAGE, "--group needs a number >= 0, not '%s'", optarg);
			break;
		}
		case 'b': branch = optarg; break;
		case OPT_ON:
			if (strlen(optarg) != DH_HASH_HEX)
				tool_usage_error(USAGE, "--on needs a commit name (64 hex digits)");
			on = optarg;
			flags &= ~(unsigned)DH_TX_RETRY;
			break;
		case 'n': flags &= ~(unsigned)DH_TX_RETRY; break;
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
		tool_usage_error(USAGE, "missing store URI");
	if (branch && dh_branch_check(branch))
		tool_usage_error(USAGE, "%s", dh_errmsg());
	if ((rc = dh_config_resolve(&uri, NULL, NULL, argv[0])) || (rc = dh_store_open(&st, uri, 0))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	rc = on ? dh_conn_open_at(&conn, st, branch, on) : dh_conn_open(&conn, st, branch);
	if (rc || (rc = dh_arena_new(&a)) || (rc = dh_arena_new(&ga))) {
		status = tool_fail(rc, NULL);
		goto out;
	}
	nin = argc > 1 ? argc - 1 : 1;
	for (i = 0; i < nin && !rc; i++) {
		struct input in;
		struct dh_val v;
		int line, col;

		if ((rc = input_open(&in, argc > 1 ? argv[1 + i] : NULL, infmt)))
			break;
		for (;;) {
			dh_arena_reset(a);
			rc = input_read(&in, a, &v);
			if (rc == DH_ENOTFOUND) {
				rc = 0;
				break;
			}
			if (rc)
				break;
			if (in.er)
				dh_edn_reader_pos(in.er, &line, &col);
			else
				line = col = 0;
			if (line)
				snprintf(where, sizeof(where), "%s:%d:%d", in.name, line, col);
			else
				snprintf(where, sizeof(where), "%s", in.name);
			if (v.type != DH_VECTOR && v.type != DH_LIST) {
				rc = dh_error_set(DH_EINVAL, "%s: tx-data must be a vector", where);
				break;
			}
			if (group < 0) {
				if ((rc = commit(conn, &v, flags, where)))
					break;
				continue;
			}
			/* grouped: keep a copy that outlives this read */
			{
				struct dh_val cp;

				if ((rc = dh_val_copy(&cp, ga, &v)) || (rc = group_add(&g, &cp)))
					break;
			}
			if (group > 0 && g.vectors >= (size_t)group) {
				struct dh_val tx = { .type = DH_VECTOR, .len = (uint32_t)g.n };

				tx.u.items = g.items;
				if ((rc = commit(conn, &tx, flags, where)))
					break;
				g.n = g.vectors = 0;
				dh_arena_reset(ga);
			}
		}
		input_close(&in);
	}
	if (!rc && group >= 0 && g.vectors) {
		struct dh_val tx = { .type = DH_VECTOR, .len = (uint32_t)g.n };

		tx.u.items = g.items;
		rc = commit(conn, &tx, flags, NULL);
	}
	if (!rc)
		rc = dh_store_flush(st);
	if (rc)
		status = tool_fail(rc, NULL);
out:
	free(g.items);
	dh_arena_free(a);
	dh_arena_free(ga);
	dh_conn_close(conn);
	dh_store_close(st);
	free(uri);
	return tool_finish(status);
}
