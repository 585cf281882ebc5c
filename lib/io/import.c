/*
 * import.c - a dump into a database (dh_import()).
 *
 * Order of work, so that a bad dump changes nothing: verify the whole dump
 * (every record decoded and checked, every chunk's SHA-256, the manifest's
 * digest and counts) before touching the target; then check the target
 * (empty, or --merge with transactions after its own; configuration
 * compatible); then feed the bulk loader in transaction order and let it
 * write one commit and move the head once.
 *
 * Ids are kept: entity and transaction ids, and each transaction's
 * :db/txInstant, are the dump's.  That is what Datahike's
 * `:build-indexes? true` import does (`:eids :preserve`); its default
 * streaming import re-numbers ids through load-entities instead.  Kept ids
 * make a restored database id-identical to its source, which is what a
 * backup is for, and let `dh-export | dh-import` move a database between
 * backends unchanged.
 *
 * A dump in transaction order is streamed straight to the loader; any
 * other order (Datahike's `:sort? false` exports are in entity order) goes
 * through the external sorter first: by tx, then the transaction entity,
 * then schema datoms, then the rest, so schema always precedes the data
 * that uses it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dh-db.h"
#include "dh-dump.h"
#include "io.h"

#define IMPORT_MEM ((size_t)128 << 20)   /* sorting budget unless o->sort_mem says */

/* Within a transaction: the tx entity, then schema (db/ attributes), then data. */
static uint8_t record_class(const struct dh_record *r)
{
	if (r->e == r->tx)
		return 0;
	if (r->a.len > 3 && !memcmp(r->a.u.s, "db/", 3))
		return 1;
	return 2;
}

/* The dump's configuration from its manifest, as far as it says. */
static void manifest_config(const struct dh_val *m, int *history, int *flex)
{
	const struct dh_val *sc = m ? dh_map_getk(m, "source-config") : NULL, *v;

	*history = -1;
	*flex = -1;
	if (!sc || sc->type != DH_MAP)
		return;
	v = dh_map_getk(sc, "keep-history?");
	if (v && v->type == DH_BOOL)
		*history = v->u.b;
	v = dh_map_getk(sc, "schema-flexibility");
	if (v && dh_val_is_kw(v, "read"))
		*flex = DH_SCHEMA_READ;
	else if (v && dh_val_is_kw(v, "write"))
		*flex = DH_SCHEMA_WRITE;
}

struct feed {
	struct dh_loader *l;
	const struct dh_import_opts *o;
	size_t sort_mem;          /* the record sorter's budget, when the dump needs one */
	struct dh_dump_reader *r;
	uint64_t n, txs;
	int64_t last_tx;
};

static int feed_one(struct feed *f, const struct dh_record *rec)
{
	int rc = dh_loader_add(f->l, rec->e, &rec->a, &rec->v, rec->tx, rec->added);

	if (rc)
		return rc;
	if (rec->tx != f->last_tx) {
		f->txs++;
		f->last_tx = rec->tx;
	}
	if (++f->n % 100000 == 0 && f->o->progress)
		f->o->progress("loading", f->n, f->o->payload);
	return 0;
}

static int prefix_where(struct dh_dump_reader *r, int rc)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s", dh_errmsg());
	return dh_error_set(rc, "%s: %s", dh_dump_reader_where(r), msg);
}

static int feed_stream(struct feed *f)
{
	struct dh_arena *a = NULL;
	struct dh_record rec;
	int rc;

	if ((rc = dh_arena_new(&a)))
		return rc;
	while ((rc = dh_dump_read(f->r, a, &rec, NULL, NULL)) > 0) {
		if ((rc = feed_one(f, &rec))) {
			rc = rc == DH_EINVAL ? prefix_where(f->r, rc) : rc;
			break;
		}
		dh_arena_reset(a);
	}
	dh_arena_free(a);
	return rc < 0 ? rc : 0;
}

static int feed_sorted(struct feed *f)
{
	struct dh_arena *a = NULL;
	struct sorter *s = NULL;
	struct dh_record rec;
	const unsigned char *raw;
	size_t len;
	uint64_t n = 0;
	int rc;

	if ((rc = dh_arena_new(&a)) || (rc = sorter_new(&s, f->sort_mem, f->o->tmpdir)))
		goto out;
	while ((rc = dh_dump_read(f->r, a, &rec, &raw, &len)) > 0) {
		struct sort_key k;

		memset(&k, 0, sizeof(k));
		if ((rc = record_key(&k, raw, len, rec.e, rec.tx, rec.added)))
			goto out;
		k.cls = record_class(&rec);
		if ((rc = sorter_add(s, &k, raw, len)))
			goto out;
		if (++n % 100000 == 0 && f->o->progress)
			f->o->progress("sorting", n, f->o->payload);
		dh_arena_reset(a);
	}
	if (rc < 0 || (rc = sorter_done(s)))
		goto out;
	while ((rc = sorter_next(s, &raw, &len)) > 0) {
		dh_arena_reset(a);
		if ((rc = dh_record_decode(&rec, a, raw, len)) || (rc = feed_one(f, &rec)))
			goto out;
	}
out:
	sorter_free(s);
	dh_arena_free(a);
	return rc < 0 ? rc : 0;
}

/* Undo a database the import created: its head, and `format` if it wrote it. */
static void uncreate(struct dh_store *st, const char *branch, int wrote_format)
{
	char key[DH_BRANCH_MAX + 8], hex[DH_HASH_HEX + 1];

	snprintf(key, sizeof(key), "heads/%s", branch);
	if (!dh_head_get(st, branch, hex))
		dh_store_cas(st, key, hex, NULL);
	if (wrote_format)
		dh_store_del(st, "format");
}

int dh_import(struct dh_store *st, struct dh_dump_reader *r, const struct dh_import_opts *o,
              struct dh_import_report *rep)
{
	static const struct dh_import_opts defaults;
	const char *branch;
	struct dh_dump_check chk;
	struct dh_db *db = NULL;
	struct dh_conn *conn = NULL;
	struct dh_tx_report *tr = NULL;
	struct feed f;
	int created = 0, wrote_format = 0, mhist, mflex;
	int rc;

	if (!o)
		o = &defaults;
	branch = o->branch ? o->branch : DH_DEFAULT_BRANCH;
	memset(&chk, 0, sizeof(chk));
	memset(&f, 0, sizeof(f));
	if (rep)
		memset(rep, 0, sizeof(*rep));
	if ((rc = dh_branch_check(branch)))
		return rc;
	if (dh_dump_reader_checked(r, &chk)) {
		/* verified already */
	} else if (o->flags & DH_IMPORT_NO_VERIFY) {
		chk.tx_ordered = 1;
	} else {
		if (o->progress)
			o->progress("verifying", 0, o->payload);
		if ((rc = dh_dump_verify(r, &chk)))
			return rc;
	}
	manifest_config(dh_dump_reader_manifest(r), &mhist, &mflex);

	rc = dh_db_open(&db, st, branch);
	if (rc == DH_ENOTFOUND) {
		struct dh_db_config cfg;

		if (o->create) {
			cfg = *o->create;
		} else {
			memset(&cfg, 0, sizeof(cfg));
			cfg.no_history = mhist == 0;
			cfg.flexibility = mflex == DH_SCHEMA_READ ? DH_SCHEMA_READ : DH_SCHEMA_WRITE;
		}
		cfg.branch = branch;
		cfg.initial_tx = NULL;
		if ((rc = dh_store_has(st, "format")) < 0)
			return rc;
		wrote_format = !rc;
		if ((rc = dh_db_create(st, &cfg)))
			return rc;
		created = 1;
		rc = dh_db_open(&db, st, branch);
	}
	if (rc)
		goto out;
	if (dh_db_max_tx(db) > DH_TX0 && !(o->flags & DH_IMPORT_MERGE)) {
		rc = dh_error_set(DH_EEXISTS, "the database on branch '%s' of '%s' is not empty "
		                  "(last transaction %" PRId64 "); import into an empty one, or merge",
		                  branch, dh_store_uri(st), dh_db_max_tx(db));
		goto out;
	}
	if (chk.records && chk.min_tx <= dh_db_max_tx(db)) {
		rc = dh_error_set(DH_EEXISTS, "the dump's transactions start at %" PRId64 ", not after the "
		                  "target's last transaction %" PRId64 " (ids are kept, so they would collide)",
		                  chk.min_tx, dh_db_max_tx(db));
		goto out;
	}
	if (mhist >= 0 && mhist != dh_db_keeps_history(db)) {
		rc = dh_error_set(DH_EUNSUPPORTED, "config mismatch: the dump's source %s history, the target %s",
		                  mhist ? "keeps" : "does not keep", dh_db_keeps_history(db) ? "does" : "does not");
		goto out;
	}
	if (mflex >= 0 && mflex != (int)dh_db_flexibility(db)) {
		rc = dh_error_set(DH_EUNSUPPORTED, "config mismatch: the dump's source has schema-flexibility "
		                  ":%s, the target :%s", mflex == DH_SCHEMA_READ ? "read" : "write",
		                  dh_db_flexibility(db) == DH_SCHEMA_READ ? "read" : "write");
		goto out;
	}
	dh_db_close(db);
	db = NULL;
	if ((rc = dh_conn_open(&conn, st, branch)) || (rc = dh_loader_new(&f.l, conn)))
		goto out;
	/*
	 * The loader sorts too: a dump that needs sorting first shares the
	 * budget between the two, so memory stays within it either way.
	 */
	{
		size_t mem = o->sort_mem ? o->sort_mem : IMPORT_MEM;

		f.sort_mem = mem / 2;
		dh_loader_limit(f.l, chk.tx_ordered ? mem : mem / 2, o->tmpdir);
	}
	f.o = o;
	f.r = r;
	f.last_tx = -1;
	rc = chk.tx_ordered ? feed_stream(&f) : feed_sorted(&f);
	if (rc)
		goto out;
	if (o->progress)
		o->progress("committing", f.n, o->payload);
	if ((rc = dh_loader_finish(f.l, &tr)))
		goto out;
	if (rep) {
		rep->records = f.n;
		rep->txs = f.txs;
		rep->max_tx = f.last_tx;
		rep->created = created;
		rep->sorted = !chk.tx_ordered;
		rep->format = dh_dump_reader_format(r);
		if (tr)
			memcpy(rep->commit, tr->commit, sizeof(rep->commit));
	}
out:
	dh_tx_report_free(tr);
	dh_loader_free(f.l);
	dh_conn_close(conn);
	dh_db_close(db);
	if (rc && created) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", dh_errmsg());
		uncreate(st, branch, wrote_format);
		dh_error_set(rc, "%s", msg);
	}
	return rc;
}

