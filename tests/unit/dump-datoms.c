/*
 * dump-datoms - a test helper (not installed): print the datoms of a
 * database view, one EDN vector per line, so shell tests can check what
 * dh-transact did through the library's own read path.
 *
 *   dump-datoms URI [eavt|aevt|avet|log] [-b BRANCH] [-c COMMIT] [--as-of TX]
 *               [--since TX] [--history] [--as-of-inst MS] [--verify]
 *               [--e E] [--a ATTR] [--v EDN] [--schema] [--info] [--entid EDN]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh-db.h"

static int fail(const char *what)
{
	fprintf(stderr, "dump-datoms: %s: %s\n", what, dh_errmsg());
	return 1;
}

static int problem(const char *msg, void *p)
{
	(void)p;
	printf("problem: %s\n", msg);
	return 0;
}

int main(int argc, char **argv)
{
	struct dh_store *st = NULL;
	struct dh_db *db = NULL, *v = NULL;
	struct dh_iter *it = NULL;
	struct dh_arena *a = NULL;
	const struct dh_datom *d;
	struct dh_bound b = { 0 };
	struct dh_buf out = DH_BUF_INIT;
	const char *branch = NULL, *commit = NULL, *ix = "eavt", *attr = NULL, *val = NULL, *entid = NULL;
	int64_t as_of = 0, since = 0, as_of_inst = 0, e = 0;
	int history = 0, verify = 0, schema = 0, info = 0, i, rc, status = 0;
	char *uri = NULL;

	if (argc < 2)
		return 2;
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-b")) branch = argv[++i];
		else if (!strcmp(argv[i], "-c")) commit = argv[++i];
		else if (!strcmp(argv[i], "--as-of")) as_of = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--as-of-inst")) as_of_inst = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--since")) since = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--history")) history = 1;
		else if (!strcmp(argv[i], "--verify")) verify = 1;
		else if (!strcmp(argv[i], "--schema")) schema = 1;
		else if (!strcmp(argv[i], "--info")) info = 1;
		else if (!strcmp(argv[i], "--e")) e = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--a")) attr = argv[++i];
		else if (!strcmp(argv[i], "--v")) val = argv[++i];
		else if (!strcmp(argv[i], "--entid")) entid = argv[++i];
		else ix = argv[i];
	}
	dh_arena_new(&a);
	if (dh_config_resolve(&uri, NULL, NULL, argv[1]) || dh_store_open(&st, uri, DH_STORE_RDONLY)) {
		status = fail("open");
		goto out;
	}
	rc = commit ? dh_db_open_commit(&db, st, commit) : dh_db_open(&db, st, branch);
	if (rc) {
		status = fail("db");
		goto out;
	}
	if (verify) {
		rc = dh_db_verify(db, problem, NULL);
		printf("%s\n", rc ? "unsound" : "sound");
		status = rc ? 1 : 0;
		goto out;
	}
	if (info) {
		printf("max-tx %lld\nmax-eid %lld\nhistory %d\nflexibility %s\n", (long long)dh_db_max_tx(db),
			(long long)dh_db_max_eid(db), dh_db_keeps_history(db),
			dh_db_flexibility(db) == DH_SCHEMA_READ ? "read" : "write");
		printf("depth eavt %d aevt %d avet %d\n", dh_db_depth(db, DH_EAVT), dh_db_depth(db, DH_AEVT),
			dh_db_depth(db, DH_AVET));
		goto out;
	}
	if (entid) {
		struct dh_val ref;
		int64_t id;

		if (dh_edn_parse(&ref, a, entid, strlen(entid), "arg")) {
			status = fail("edn");
			goto out;
		}
		if (dh_db_entid(db, &ref, &id)) {
			status = fail("entid");
			goto out;
		}
		printf("%lld\n", (long long)id);
		goto out;
	}
	if (schema) {
		dh_aid x;

		for (x = 1; x <= dh_db_attr_max(db); x++) {
			const struct dh_attr *at = dh_db_attr(db, x);

			if (!at || x < DH_AID_USER)
				continue;
			printf(":%s %s %s%s%s%s%s%s tuple-attrs=%u\n", at->ident,
				dh_value_type_name(at->type) ? dh_value_type_name(at->type) : "any",
				at->card ? "many" : "one",
				at->unique == DH_UNIQUE_IDENTITY ? " identity" : at->unique ? " value" : "",
				at->is_component ? " component" : "", at->index ? " index" : "",
				at->no_history ? " noHistory" : "", at->declared ? "" : " undeclared", at->ntuple_attrs);
		}
		goto out;
	}
	v = db;
	if (as_of && dh_db_as_of(&v, db, as_of)) {
		status = fail("as-of");
		goto out;
	}
	if (as_of_inst && dh_db_as_of_inst(&v, db, as_of_inst)) {
		status = fail("as-of-inst");
		goto out;
	}
	if (since && dh_db_since(&v, db, since)) {
		status = fail("since");
		goto out;
	}
	if (history && dh_db_history(&v, db)) {
		status = fail("history");
		goto out;
	}
	if (e) {
		b.n = 1;
		b.e = e;
	}
	if (attr) {
		const struct dh_attr *at = dh_db_attr_by_ident(db, attr, strlen(attr));

		if (!at) {
			fprintf(stderr, "dump-datoms: unknown attribute %s\n", attr);
			return 1;
		}
		if (!strcmp(ix, "eavt")) {
			b.n = 2;
		} else {
			b.n = 1;
		}
		b.a = at->aid;
	}
	if (val) {
		if (dh_edn_parse(&b.v, a, val, strlen(val), "arg")) {
			status = fail("edn");
			goto out;
		}
		b.n = !strcmp(ix, "avet") ? 2 : 3;
	}
	if (!strcmp(ix, "log"))
		rc = dh_log_iter_new(&it, v, 0, 0);
	else
		rc = dh_iter_new(&it, v, !strcmp(ix, "aevt") ? DH_AEVT : !strcmp(ix, "avet") ? DH_AVET : DH_EAVT,
			b.n ? &b : NULL, b.n ? &b : NULL);
	if (rc) {
		status = fail("iter");
		goto out;
	}
	while ((rc = dh_iter_next(it, &d)) > 0) {
		const struct dh_attr *at = dh_db_attr(db, d->a);

		dh_buf_reset(&out);
		dh_buf_addf(&out, "[%lld :%s ", (long long)d->e, at ? at->ident : "?");
		if (d->a == 9 && d->v.type == DH_INST)
			dh_buf_adds(&out, "INST");
		else
			dh_edn_print(&out, &d->v);
		if (d->e >= DH_TX0 && d->a == 9)
			dh_buf_addf(&out, " %lld %s]", (long long)d->tx, d->added ? "true" : "false");
		else
			dh_buf_addf(&out, " %lld %s]", (long long)d->tx, d->added ? "true" : "false");
		printf("%s\n", out.data);
	}
	if (rc < 0) {
		status = fail("next");
		goto out;
	}
out:
	dh_iter_free(it);
	if (v != db)
		dh_db_close(v);
	dh_db_close(db);
	dh_store_close(st);
	dh_buf_release(&out);
	dh_arena_free(a);
	free(uri);
	return status;
}
