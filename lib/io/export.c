/*
 * export.c - a database to a dump (dh_export()).
 *
 * The order a dump needs (by transaction, the transaction entity first,
 * then entity, attribute by ident, retraction before assertion, value) is
 * the log tree's.  When the log holds exactly the datoms to write (no
 * retraction ever: the current view and the history view are both the
 * log), they stream from it and records are encoded straight from the
 * datoms, each attribute's keyword encoded once.  Otherwise the datoms come
 * from an EAVT scan of the current or the history view and the order is
 * made by the external sorter, so exporting a database of any size needs
 * the sorter's budget plus a few buffers.  Datahike writes only datoms of
 * user transactions (tx above tx0), and so does this.  The manifest's facts
 * (schema, config, counts) come from the database; the count of datoms
 * scanned is recorded apart from the count written, so a dump that lost
 * records on the way says so.
 */
#include <stdlib.h>
#include <string.h>

#include "dh-db.h"
#include "dh-dump.h"
#include "io.h"

struct ranked {
	struct dh_val kw;
	dh_aid aid;
};

static int ranked_cmp(const void *x, const void *y)
{
	const struct ranked *a = x, *b = y;

	return dh_val_cmp(&a->kw, &b->kw);
}

/* rank[aid]: the attribute's place in ident order, from 1. */
static int attr_ranks(uint32_t **out, const struct dh_db *db)
{
	dh_aid max = dh_db_attr_max(db);
	struct ranked *r = calloc((size_t)max + 1, sizeof(*r));
	uint32_t *rank = calloc((size_t)max + 1, sizeof(*rank));
	size_t n = 0;

	*out = NULL;
	if (!r || !rank) {
		free(r);
		free(rank);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	for (dh_aid a = 1; a <= max; a++) {
		const struct dh_attr *at = dh_db_attr(db, a);

		if (!at)
			continue;
		r[n].kw = dh_text(DH_KEYWORD, at->ident, at->ident_len);
		r[n].aid = a;
		n++;
	}
	qsort(r, n, sizeof(*r), ranked_cmp);
	for (size_t i = 0; i < n; i++)
		rank[r[i].aid] = (uint32_t)i + 1;
	free(r);
	*out = rank;
	return 0;
}

static int add_kw(struct dh_buf *b, const char *text, size_t len)
{
	struct dh_val v = dh_text(DH_KEYWORD, text, (uint32_t)len);

	return dh_edn_print(b, &v);
}

/* :schema - the user attributes as Datahike's ident -> attribute map. */
static int schema_edn(struct dh_buf *b, const struct dh_db *db, struct dh_buf *req)
{
	static const char *const card[] = { "db.cardinality/one", "db.cardinality/many" };
	static const char *const uniq[] = { NULL, "db.unique/identity", "db.unique/value" };
	dh_aid max = dh_db_attr_max(db);
	int rc = dh_buf_addc(b, '{'), first = 1;

	for (dh_aid a = DH_AID_USER; !rc && a <= max; a++) {
		const struct dh_attr *at = dh_db_attr(db, a);
		const char *vt;

		if (!at || !at->eid)
			continue;
		if (!first)
			rc = dh_buf_adds(b, ",\n          ");
		first = 0;
		if (rc || (rc = add_kw(b, at->ident, at->ident_len)) || (rc = dh_buf_adds(b, " {:db/ident ")) ||
		    (rc = add_kw(b, at->ident, at->ident_len)))
			break;
		vt = dh_value_type_name(at->type);
		if (vt) {
			if ((rc = dh_buf_adds(b, " :db/valueType ")) || (rc = add_kw(b, vt, strlen(vt))))
				break;
			if (!strstr(req->data ? req->data : "", vt) &&
			    ((rc = dh_buf_addc(req, ' ')) || (rc = add_kw(req, vt, strlen(vt)))))
				break;
		}
		if ((rc = dh_buf_adds(b, " :db/cardinality ")) || (rc = add_kw(b, card[at->card & 1], strlen(card[at->card & 1]))))
			break;
		if (at->unique && at->unique <= 2 &&
		    ((rc = dh_buf_adds(b, " :db/unique ")) || (rc = add_kw(b, uniq[at->unique], strlen(uniq[at->unique])))))
			break;
		if (at->index && (rc = dh_buf_adds(b, " :db/index true")))
			break;
		if (at->is_component && (rc = dh_buf_adds(b, " :db/isComponent true")))
			break;
		if (at->no_history && (rc = dh_buf_adds(b, " :db/noHistory true")))
			break;
		if (at->doc) {
			struct dh_val d = dh_text(DH_STRING, at->doc, (uint32_t)strlen(at->doc));

			if ((rc = dh_buf_adds(b, " :db/doc ")) || (rc = dh_edn_print(b, &d)))
				break;
		}
		rc = dh_buf_addc(b, '}');
	}
	return rc ? rc : dh_buf_addc(b, '}');
}

/* Each attribute's record bytes: the keyword as tag 39 text with its colon. */
struct kwcache {
	struct dh_buf bytes;
	size_t *off;               /* aid's bytes at [off[aid], off[aid + 1]); none: unknown */
	dh_aid max;
};

static int kwcache_init(struct kwcache *kc, const struct dh_db *db)
{
	dh_aid max = dh_db_attr_max(db);
	int rc = 0;

	memset(kc, 0, sizeof(*kc));
	kc->max = max;
	if (!(kc->off = calloc((size_t)max + 2, sizeof(*kc->off))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	for (dh_aid a = 1; a <= max && !rc; a++) {
		const struct dh_attr *at = dh_db_attr(db, a);

		kc->off[a] = kc->bytes.len;
		if (at) {
			struct dh_val kw = dh_text(DH_KEYWORD, at->ident, at->ident_len);

			rc = dh_cbor_encode(&kc->bytes, &kw);
		}
	}
	kc->off[max + 1] = kc->bytes.len;
	return rc;
}

static void kwcache_release(struct kwcache *kc)
{
	dh_buf_release(&kc->bytes);
	free(kc->off);
}

/* The record of d, as dh_record_encode() writes it (not legacy), its attribute's bytes from kc. */
static int encode_fast(struct dh_buf *b, const struct kwcache *kc, const struct dh_datom *d)
{
	struct dh_val e = dh_long(d->e), tx = dh_long(d->tx);
	int rc;

	dh_buf_reset(b);
	if ((rc = dh_buf_addc(b, (char)0x85)) || (rc = dh_cbor_encode(b, &e)) ||
	    (rc = dh_buf_add(b, kc->bytes.data + kc->off[d->a], kc->off[d->a + 1] - kc->off[d->a])) ||
	    (rc = dh_cbor_encode(b, &d->v)) || (rc = dh_cbor_encode(b, &tx)))
		return rc;
	return dh_buf_addc(b, d->added ? (char)0xf5 : (char)0xf4);
}

/*
 * The log is in dump order already: when it holds exactly the datoms to
 * write (no retraction ever, so the current view and the history view are
 * both the log), they are streamed from it with no sort at all.
 */
static int export_log(struct dh_db *db, struct dh_dump_writer *w, const struct dh_export_opts *o, uint64_t *n)
{
	struct dh_iter *it = NULL;
	struct dh_buf enc = DH_BUF_INIT;
	struct kwcache kc;
	const struct dh_datom *d;
	int rc;

	if ((rc = kwcache_init(&kc, db)) || (rc = dh_log_iter_new(&it, db, DH_TX0 + 1, 0)))
		goto out;
	while ((rc = dh_iter_next(it, &d)) > 0) {
		if (d->a > kc.max || kc.off[d->a + 1] == kc.off[d->a]) {
			rc = dh_error_set(DH_ECORRUPT, "datom [%lld %u ...] names an unknown attribute",
			                  (long long)d->e, (unsigned)d->a);
			goto out;
		}
		if ((rc = encode_fast(&enc, &kc, d)) || (rc = dh_dump_write_raw(w, enc.data, enc.len)))
			goto out;
		if (++*n % 100000 == 0 && o->progress)
			o->progress("writing", *n, o->payload);
	}
out:
	dh_iter_free(it);
	kwcache_release(&kc);
	dh_buf_release(&enc);
	return rc < 0 ? rc : 0;
}

int dh_export(struct dh_db *db, struct dh_dump_writer *w, const struct dh_export_opts *o, uint64_t *count)
{
	static const struct dh_export_opts defaults;
	struct dh_db *view = NULL;
	struct dh_iter *it = NULL;
	struct sorter *s = NULL;
	struct dh_buf enc = DH_BUF_INIT, schema = DH_BUF_INIT, req = DH_BUF_INIT, cfg = DH_BUF_INIT;
	struct dh_dump_meta meta;
	const struct dh_datom *d;
	uint32_t *rank = NULL;
	uint64_t scanned = 0, written = 0;
	int legacy = dh_dump_writer_format(w) == DH_DUMP_LEGACY;
	const unsigned char *rec;
	size_t len;
	int rc;

	if (!o)
		o = &defaults;
	if (count)
		*count = 0;
	if (o->history) {
		if ((rc = dh_db_history(&view, db)))
			goto out;
	}
	if (!legacy && dh_db_log_is_current(db)) {
		if ((rc = export_log(db, w, o, &written)))
			goto out;
		scanned = written;
		goto manifest;
	}
	if ((rc = attr_ranks(&rank, db)) || (rc = sorter_new(&s, o->sort_mem, o->tmpdir)) ||
	    (rc = dh_iter_new(&it, view ? view : db, DH_EAVT, NULL, NULL)))
		goto out;
	while ((rc = dh_iter_next(it, &d)) > 0) {
		const struct dh_attr *at;
		struct dh_record r;
		struct sort_key k;

		if (d->tx <= DH_TX0)
			continue;
		if (!(at = dh_db_attr(db, d->a))) {
			rc = dh_error_set(DH_ECORRUPT, "datom [%lld %u ...] names an unknown attribute",
			                  (long long)d->e, (unsigned)d->a);
			goto out;
		}
		r.e = d->e;
		r.a = dh_text(DH_KEYWORD, at->ident, at->ident_len);
		r.v = d->v;
		r.tx = d->tx;
		r.added = d->added;
		dh_buf_reset(&enc);
		if ((rc = dh_record_encode(&enc, &r, legacy)))
			goto out;
		memset(&k, 0, sizeof(k));
		k.e = d->e;
		k.tx = d->tx;
		k.added = d->added;
		k.arank = rank[d->a];
		k.cls = legacy ? 0 : d->e != d->tx;
		if ((rc = sorter_add(s, &k, enc.data, enc.len)))
			goto out;
		if (++scanned % 100000 == 0 && o->progress)
			o->progress("sorting", scanned, o->payload);
	}
	if (rc < 0)
		goto out;
	if ((rc = sorter_done(s)))
		goto out;
	while ((rc = sorter_next(s, &rec, &len)) > 0) {
		if ((rc = dh_dump_write_raw(w, rec, len)))
			goto out;
		if (++written % 100000 == 0 && o->progress)
			o->progress("writing", written, o->payload);
	}
	if (rc < 0)
		goto out;
manifest:
	rc = 0;
	if (o->progress)
		o->progress("writing", written, o->payload);
	if ((rc = dh_buf_adds(&req, "[:datahike.migrate/cbor-seq")) ||
	    (o->history && (rc = dh_buf_adds(&req, " :datahike.migrate/history"))) ||
	    (rc = schema_edn(&schema, db, &req)) || (rc = dh_buf_addc(&req, ']')))
		goto out;
	if ((rc = dh_buf_addf(&cfg, "{:store-backend :%s :attribute-refs? false :index "
	                      ":datahike.index/persistent-set :keep-history? %s :schema-flexibility :%s}",
	                      dh_store_scheme(dh_db_store(db)), dh_db_keeps_history(db) ? "true" : "false",
	                      dh_db_flexibility(db) == DH_SCHEMA_READ ? "read" : "write")))
		goto out;
	memset(&meta, 0, sizeof(meta));
	meta.history = o->history;
	meta.requires_edn = req.data;
	meta.source_config_edn = cfg.data;
	meta.schema_edn = schema.data;
	meta.max_eid = dh_db_max_eid(db);
	meta.max_tx = dh_db_max_tx(db);
	meta.source_count = (int64_t)scanned;
	rc = dh_dump_writer_finish(w, &meta);
	if (!rc && count)
		*count = written;
out:
	dh_iter_free(it);
	dh_db_close(view);
	sorter_free(s);
	free(rank);
	dh_buf_release(&enc);
	dh_buf_release(&schema);
	dh_buf_release(&req);
	dh_buf_release(&cfg);
	return rc;
}
