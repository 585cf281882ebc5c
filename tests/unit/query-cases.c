/*
 * query-cases.c - runs the data-driven query conformance cases of
 * tests/data/query/ (one .edn file per topic) and prints TAP.
 *
 * A case file is a sequence of EDN maps.  A map with :db and no :query
 * defines a database: {:db "people" :schema [...] :tx [[...] [...]]}
 * (:schema is transacted first, then each tx in turn).  A map with :query
 * is a case:
 *   {:name "..." :db "people" :query [...] :args [...] :result ...
 *    :compare :set|:multiset|:exact :error "message part"}
 * The database named by :db is the query's $; :args fill the other :in
 * bindings in order, #db "name" standing for another database.  Pull
 * cases have :pull PATTERN and :eid E instead of :query.  Results compare
 * as sets when the expected value is a set or :compare :set says so,
 * as multisets with :compare :multiset, exactly otherwise.
 *
 * Modes: by default the engine runs in this process over the in-memory
 * transactor (dh_query_source_tx); with --tools every database is built
 * with dh-create and dh-transact in a scratch directory and every case
 * runs through dh-query (or dh-pull), so the real tools are what is
 * tested.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dh.h"
#include "dh-query.h"
#include "dh-value.h"

static int tools_mode, verbose;
static const char *scratch;
static int ntests, nfailed;

struct dbdef {
	char name[128];
	struct dh_val schema, tx;
	struct dh_query_source *src;   /* mem mode */
	char uri[512];                 /* tools mode */
	int built;
	char err[512];
};

static struct dbdef dbs[256];
static int ndbs;
static struct dh_arena *A;

static char *show(const struct dh_val *v)
{
	static char out[4][2048];
	static int k;
	char *o = out[k++ % 4];
	struct dh_buf b = DH_BUF_INIT;
	if (!v)
		snprintf(o, 2048, "(none)");
	else if (dh_edn_print(&b, v))
		snprintf(o, 2048, "<print error>");
	else
		snprintf(o, 2048, "%s", b.data ? b.data : "");
	dh_buf_release(&b);
	return o;
}

static int cmpv(const void *a, const void *b) { return dh_val_cmp(a, b); }

static int same(const struct dh_val *want, const struct dh_val *got, const char *mode)
{
	int asset = want->type == DH_SET || (mode && !strcmp(mode, "set"));
	int multi = mode && !strcmp(mode, "multiset");
	if (!asset && !multi)
		return dh_val_eq(want, got);
	int wc = want->type == DH_SET || want->type == DH_VECTOR || want->type == DH_LIST;
	int gc = got->type == DH_SET || got->type == DH_VECTOR || got->type == DH_LIST;
	if (!wc || !gc)
		return dh_val_eq(want, got);
	size_t n = want->len, m = got->len;
	struct dh_val *x = malloc((n + 1) * sizeof(*x)), *y = malloc((m + 1) * sizeof(*y));
	if (n)  /* an empty collection's items may be NULL */
		memcpy(x, want->u.items, n * sizeof(*x));
	if (m)
		memcpy(y, got->u.items, m * sizeof(*y));
	qsort(x, n, sizeof(*x), cmpv);
	qsort(y, m, sizeof(*y), cmpv);
	if (asset) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (!k || !dh_val_eq(&x[k - 1], &x[i]))
				x[k++] = x[i];
		n = k;
		k = 0;
		for (size_t i = 0; i < m; i++)
			if (!k || !dh_val_eq(&y[k - 1], &y[i]))
				y[k++] = y[i];
		m = k;
	}
	int ok = n == m;
	for (size_t i = 0; ok && i < n; i++)
		ok = dh_val_eq(&x[i], &y[i]);
	free(x);
	free(y);
	return ok;
}

static struct dbdef *find_db(const struct dh_val *name)
{
	for (int i = 0; i < ndbs; i++)
		if (strlen(dbs[i].name) == name->len && !memcmp(dbs[i].name, name->u.s, name->len))
			return &dbs[i];
	return NULL;
}

/* ---- running tools ------------------------------------------------------------ */

/* Run argv with `in` on stdin; capture stdout and stderr.  Returns the exit status. */
static int run(char *const argv[], const char *in, struct dh_buf *out, struct dh_buf *err)
{
	char inpath[600], outpath[600], errpath[600];
	snprintf(inpath, sizeof(inpath), "%s/in", scratch);
	snprintf(outpath, sizeof(outpath), "%s/out", scratch);
	snprintf(errpath, sizeof(errpath), "%s/err", scratch);
	FILE *f = fopen(inpath, "w");
	if (!f)
		return -1;
	if (in)
		fputs(in, f);
	fclose(f);
	pid_t pid = fork();
	if (pid == 0) {
		int i = open(inpath, O_RDONLY), o = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644),
		    e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(i, 0);
		dup2(o, 1);
		dup2(e, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	for (int k = 0; k < 2; k++) {
		struct dh_buf *b = k ? err : out;
		dh_buf_reset(b);
		f = fopen(k ? errpath : outpath, "r");
		if (f) {
			char chunk[8192];
			size_t n;
			while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
				dh_buf_add(b, chunk, n);
			fclose(f);
		}
		dh_buf_addc(b, 0);
		b->len--;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int build_db_tools(struct dbdef *d)
{
	struct dh_buf out = DH_BUF_INIT, err = DH_BUF_INIT;
	int rc = 0;
	static int seq;
	snprintf(d->uri, sizeof(d->uri), "file://%s/db-%d", scratch, ++seq);
	char *create[] = { "dh-create", d->uri, NULL };
	if (run(create, NULL, &out, &err)) {
		snprintf(d->err, sizeof(d->err), "dh-create: %s", err.data);
		rc = -1;
		goto out;
	}
	struct dh_val txs[2] = { d->schema, d->tx };
	for (int k = 0; k < 2 && !rc; k++) {
		const struct dh_val *t = &txs[k];
		if (t->type == DH_NIL)
			continue;
		size_t n = k == 0 ? 1 : t->len;
		for (size_t i = 0; i < n && !rc; i++) {
			const struct dh_val *one = k == 0 ? t : &t->u.items[i];
			char *text = show(one);
			char *tx[] = { "dh-transact", "-q", "-o", "none", d->uri, NULL };
			if (run(tx, text, &out, &err)) {
				snprintf(d->err, sizeof(d->err), "dh-transact: %s", err.data);
				rc = -1;
			}
		}
	}
out:
	dh_buf_release(&out);
	dh_buf_release(&err);
	return rc;
}

static int build_db_mem(struct dbdef *d)
{
	struct dh_val all;
	struct dh_val *items = dh_arena_alloc(A, (d->tx.len + 2) * sizeof(*items));
	size_t n = 0;
	if (d->schema.type != DH_NIL)
		items[n++] = d->schema;
	for (uint32_t i = 0; d->tx.type != DH_NIL && i < d->tx.len; i++)
		items[n++] = d->tx.u.items[i];
	all = (struct dh_val){ .type = DH_VECTOR, .len = (uint32_t)n };
	all.u.items = items;
	if (dh_query_source_tx(&d->src, NULL, &all, 1)) {
		snprintf(d->err, sizeof(d->err), "%s", dh_errmsg());
		return -1;
	}
	return 0;
}

static int ensure_db(struct dbdef *d)
{
	if (!d->built) {
		d->built = 1;
		if (tools_mode)
			build_db_tools(d);
		else
			build_db_mem(d);
	}
	return d->err[0] ? -1 : 0;
}

/* ---- one case ------------------------------------------------------------------- */

static int is_dbtag(const struct dh_val *v)
{
	return v->type == DH_TAGGED && v->u.items[0].type == DH_SYMBOL &&
	       ((v->u.items[0].len == 2 && !memcmp(v->u.items[0].u.s, "db", 2)) ||
	        (v->u.items[0].len == 7 && !memcmp(v->u.items[0].u.s, "history", 7)));
}

static int run_mem(struct dbdef *d, const struct dh_val *c, struct dh_val *got, char *errbuf, size_t errlen)
{
	const struct dh_val *query = dh_map_getk(c, "query"), *args = dh_map_getk(c, "args");
	const struct dh_val *pull = dh_map_getk(c, "pull"), *eid = dh_map_getk(c, "eid");
	struct dh_query *q = NULL;
	struct dh_query_arg qa[32];
	int rc;

	if (pull) {
		int64_t e;
		if ((rc = dh_query_resolve(d->src, eid, &e)) == 0)
			rc = dh_pull(got, A, d->src, pull, e);
		if (rc)
			snprintf(errbuf, errlen, "%s", dh_errmsg());
		return rc;
	}
	char *text = show(query);
	if ((rc = dh_query_parse(&q, text, strlen(text), "<query>"))) {
		snprintf(errbuf, errlen, "%s", dh_errmsg());
		return rc;
	}
	size_t nin = dh_query_nin(q), k = 0;
	memset(qa, 0, sizeof(qa));
	/* $ (the first source named "$") takes the case db; args fill the rest */
	int used_dollar = 0;
	for (size_t i = 0; i < nin && i < 32; i++) {
		if (dh_query_in_kind(q, i) == 1 && !used_dollar) {
			qa[i].src = d->src;
			used_dollar = 1;
			continue;
		}
		if (!args || k >= args->len) {
			snprintf(errbuf, errlen, "case gives too few :args");
			dh_query_free(q);
			return -1;
		}
		const struct dh_val *a = &args->u.items[k++];
		if (is_dbtag(a)) {
			struct dbdef *o = find_db(&a->u.items[1]);
			if (!o || ensure_db(o)) {
				snprintf(errbuf, errlen, "no database %s", show(a));
				dh_query_free(q);
				return -1;
			}
			qa[i].src = o->src;
		} else {
			qa[i].val = *a;
		}
	}
	if (args && k < args->len) {
		snprintf(errbuf, errlen, "%u inputs more than the query's :in bindings take", args->len - (unsigned)k);
		dh_query_free(q);
		return -1;
	}
	rc = dh_query_collect(got, A, q, qa, nin);
	if (rc)
		snprintf(errbuf, errlen, "%s", dh_errmsg());
	dh_query_free(q);
	return rc;
}

static int run_tools(struct dbdef *d, const struct dh_val *c, struct dh_val *got, char *errbuf, size_t errlen)
{
	const struct dh_val *query = dh_map_getk(c, "query"), *args = dh_map_getk(c, "args");
	const struct dh_val *pull = dh_map_getk(c, "pull"), *eid = dh_map_getk(c, "eid");
	char *argv[64];
	char *bufs[64];
	int na = 0, nb = 0, rc;
	struct dh_buf out = DH_BUF_INIT, err = DH_BUF_INIT;

	if (pull) {
		argv[na++] = "dh-pull";
		argv[na++] = "--";
		argv[na++] = d->uri;
		argv[na++] = bufs[nb++] = strdup(show(pull));
		argv[na++] = bufs[nb++] = strdup(show(eid));
	} else {
		argv[na++] = "dh-query";
		const struct dh_val *hist = dh_map_getk(c, "history"), *asof = dh_map_getk(c, "as-of"),
		                    *since = dh_map_getk(c, "since");
		if (hist && hist->type == DH_BOOL && hist->u.b)
			argv[na++] = "--history";
		if (asof) {
			argv[na++] = "--as-of";
			argv[na++] = bufs[nb++] = strdup(show(asof));
		}
		if (since) {
			argv[na++] = "--since";
			argv[na++] = bufs[nb++] = strdup(show(since));
		}
		argv[na++] = "--";
		argv[na++] = d->uri;
		argv[na++] = bufs[nb++] = strdup(show(query));
		for (uint32_t i = 0; args && i < args->len && na < 60; i++) {
			const struct dh_val *a = &args->u.items[i];
			if (is_dbtag(a)) {
				struct dbdef *o = find_db(&a->u.items[1]);
				if (!o || ensure_db(o)) {
					snprintf(errbuf, errlen, "no database %s", show(a));
					rc = -1;
					goto out;
				}
				char tmp[600];
				snprintf(tmp, sizeof(tmp), "%s:%s", a->u.items[0].len == 7 ? "history" : "db", o->uri);
				argv[na++] = bufs[nb++] = strdup(tmp);
			} else {
				argv[na++] = bufs[nb++] = strdup(show(a));
			}
		}
	}
	argv[na] = NULL;
	rc = run(argv, NULL, &out, &err);
	if (rc) {
		snprintf(errbuf, errlen, "%s", err.data ? err.data : "");
		goto out;
	}
	if (dh_edn_parse(got, A, out.data, out.len, "<stdout>")) {
		snprintf(errbuf, errlen, "unreadable output: %s", dh_errmsg());
		rc = -1;
	}
out:
	for (int i = 0; i < nb; i++)
		free(bufs[i]);
	dh_buf_release(&out);
	dh_buf_release(&err);
	return rc;
}

static void run_case(const char *file, const struct dh_val *c, int idx)
{
	const struct dh_val *name = dh_map_getk(c, "name"), *dbn = dh_map_getk(c, "db");
	const struct dh_val *want = dh_map_getk(c, "result"), *mode = dh_map_getk(c, "compare");
	const struct dh_val *experr = dh_map_getk(c, "error");
	char label[512], errbuf[2048] = "", modebuf[32] = "";
	struct dh_val got = dh_nil();
	struct dbdef *d = dbn ? find_db(dbn) : NULL;
	int rc, pass;

	snprintf(label, sizeof(label), "%s: %.*s", file, name ? (int)name->len : 6, name ? name->u.s : "case");
	if (name == NULL)
		snprintf(label, sizeof(label), "%s: case %d", file, idx);
	if (mode && mode->type == DH_KEYWORD)
		snprintf(modebuf, sizeof(modebuf), "%.*s", (int)mode->len, mode->u.s);
	ntests++;
	const struct dh_val *only = dh_map_getk(c, "only");
	if (only && dh_val_is_kw(only, tools_mode ? "mem" : "tools")) {
		printf("ok %d - %s # SKIP only with %s\n", ntests, label, tools_mode ? "the engine in-process" : "--tools");
		return;
	}
	if (!d) {
		printf("not ok %d - %s\n#   unknown :db\n", ntests, label);
		nfailed++;
		return;
	}
	if (ensure_db(d)) {
		printf("not ok %d - %s\n#   building db '%s': %s\n", ntests, label, d->name, d->err);
		nfailed++;
		return;
	}
	rc = tools_mode ? run_tools(d, c, &got, errbuf, sizeof(errbuf)) : run_mem(d, c, &got, errbuf, sizeof(errbuf));
	if (experr) {
		pass = rc != 0 && (experr->type != DH_STRING || strstr(errbuf, experr->u.s));
	} else {
		const struct dh_val *cnt = dh_map_getk(c, "count");
		if (cnt && cnt->type == DH_BOOL && cnt->u.b) {
			/* only the size is fixed (limit, rand, sample) */
			int64_t n = got.type == DH_SET || got.type == DH_VECTOR || got.type == DH_LIST ? (int64_t)got.len : -1;
			pass = rc == 0 && want && want->type == DH_LONG && n == want->u.i;
		} else {
			pass = rc == 0 && want && same(want, &got, modebuf[0] ? modebuf : NULL);
		}
	}
	printf("%sok %d - %s\n", pass ? "" : "not ", ntests, label);
	if (!pass) {
		nfailed++;
		if (rc && !experr)
			printf("#   error: %s\n", errbuf);
		else if (experr)
			printf("#   wanted an error containing %s, got rc=%d '%s' result %s\n", show(experr), rc, errbuf,
			       show(&got));
		else
			printf("#   want %s\n#   got  %s\n", show(want), show(&got));
	} else if (verbose && experr) {
		printf("#   %s\n", errbuf);
	}
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "r");
	struct dh_edn_reader *r = NULL;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	int rc, idx = 0;

	if (!f) {
		fprintf(stderr, "query-cases: cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if ((rc = dh_edn_reader_file(&r, f, path)))
		return rc;
	for (;;) {
		struct dh_val v;
		rc = dh_edn_read(r, A, &v);
		if (rc == DH_ENOTFOUND) {
			rc = 0;
			break;
		}
		if (rc) {
			printf("not ok %d - %s: %s\n", ++ntests, base, dh_errmsg());
			nfailed++;
			break;
		}
		if (v.type != DH_MAP)
			continue;
		const struct dh_val *q = dh_map_getk(&v, "query"), *p = dh_map_getk(&v, "pull");
		const struct dh_val *dbn = dh_map_getk(&v, "db");
		if (!q && !p && dbn && dbn->type == DH_STRING) {
			struct dbdef *d = find_db(dbn);
			if (!d) {
				if (ndbs == 256)
					continue;
				d = &dbs[ndbs++];
			}
			memset(d, 0, sizeof(*d));
			snprintf(d->name, sizeof(d->name), "%.*s", (int)dbn->len, dbn->u.s);
			const struct dh_val *s = dh_map_getk(&v, "schema"), *t = dh_map_getk(&v, "tx");
			d->schema = s ? *s : dh_nil();
			d->tx = t ? *t : dh_nil();
			continue;
		}
		run_case(base, &v, ++idx);
	}
	dh_edn_reader_free(r);
	fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	int i = 1;
	char tmpl[] = "/tmp/dh-qcases.XXXXXX";

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--tools"))
			tools_mode = 1;
		else if (!strcmp(argv[i], "-v"))
			verbose = 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (dh_arena_new(&A))
		return 1;
	if (tools_mode) {
		scratch = mkdtemp(tmpl);
		if (!scratch)
			return 1;
	}
	for (; i < argc; i++) {
		for (int k = 0; k < ndbs; k++)
			dh_query_source_free(dbs[k].src);
		ndbs = 0;
		run_file(argv[i]);
	}
	printf("1..%d\n", ntests);
	for (int k = 0; k < ndbs; k++)
		dh_query_source_free(dbs[k].src);
	dh_arena_free(A);
	if (scratch) {
		char cmd[700];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
		if (system(cmd)) {
		}
	}
	return nfailed ? 1 : 0;
}
