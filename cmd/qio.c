/*
 * qio.c - inputs, database views and output formats of the query tools
 * (see qio.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qio.h"
#include "tool.h"

int qio_format(const char *name, enum qio_format *out)
{
	static const char *names[] = { "edn", "json", "jsonl", "tsv", "csv" };
	for (int i = 0; i < 5; i++)
		if (!strcmp(name, names[i]))
			return *out = (enum qio_format)i, 0;
	return -1;
}

int qio_slurp(const char *path, struct dh_buf *b)
{
	FILE *f = stdin;
	char chunk[65536];
	size_t n;
	int rc = 0;

	if (strcmp(path, "-")) {
		f = fopen(path, "rb");
		if (!f)
			return dh_error_set(DH_EIO, "cannot open '%s': %s", path, strerror(errno));
	}
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = dh_buf_add(b, chunk, n);
	if (!rc && ferror(f))
		rc = dh_error_set(DH_EIO, "cannot read '%s': %s", path, strerror(errno));
	if (!rc && !b->data)
		rc = dh_buf_add(b, "", 0);
	if (f != stdin)
		fclose(f);
	return rc;
}

int qio_open(struct qio_db *d, const char *uri, const struct qio_view *v)
{
	struct dh_db *cur;
	char *resolved = NULL;
	int rc;

	memset(d, 0, sizeof(*d));
	/* a Datahike config EDN file names its store too */
	if ((rc = dh_config_resolve(&resolved, NULL, NULL, uri)))
		return rc;
	rc = dh_store_open(&d->st, resolved, DH_STORE_RDONLY);
	free(resolved);
	if (rc)
		return dh_error_prefix(rc, "cannot open store '%s'", tool_uri(uri));
	/* the library's message names the branch and the store, or what the store could not find (a bucket) */
	if ((rc = dh_db_open(&d->db, d->st, v->branch)))
		goto fail;
	cur = d->db;
	if (v->history) {
		if ((rc = dh_db_history(&d->view, cur)))
			goto fail;
		cur = d->view;
	}
	if (v->as_of || v->since) {
		int64_t t;
		int ms;
		struct dh_db *nv = NULL;
		if ((rc = tool_timepoint(v->as_of ? v->as_of : v->since, &t, &ms)))
			goto fail;
		if (v->as_of)
			rc = ms ? dh_db_as_of_inst(&nv, cur, t) : dh_db_as_of(&nv, cur, t);
		else
			rc = ms ? dh_db_since_inst(&nv, cur, t) : dh_db_since(&nv, cur, t);
		if (rc)
			goto fail;
		if (d->view)
			dh_db_close(d->view);
		d->view = nv;
		cur = nv;
		if (v->as_of && v->since) {
			if ((rc = tool_timepoint(v->since, &t, &ms)))
				goto fail;
			rc = ms ? dh_db_since_inst(&nv, cur, t) : dh_db_since(&nv, cur, t);
			if (rc)
				goto fail;
			dh_db_close(d->view);
			d->view = nv;
			cur = nv;
		}
	}
	if ((rc = dh_query_source_db(&d->src, cur)))
		goto fail;
	return 0;
fail:
	qio_close(d);
	return rc;
}

void qio_close(struct qio_db *d)
{
	dh_query_source_free(d->src);
	dh_db_close(d->view);
	dh_db_close(d->db);
	dh_store_close(d->st);
	memset(d, 0, sizeof(*d));
}

int qio_input(const char *arg, struct dh_arena *a, struct dh_val *val, struct qio_db *db, int *is_db)
{
	struct qio_view v = { 0 };
	struct dh_buf b = DH_BUF_INIT;
	char tbuf[128];
	int rc;

	*is_db = 0;
	if (!strncmp(arg, "db:", 3) || !strncmp(arg, "history:", 8) || !strncmp(arg, "asof:", 5) ||
	    !strncmp(arg, "since:", 6)) {
		const char *uri = strchr(arg, ':') + 1;
		if (arg[0] == 'h')
			v.history = 1;
		if (arg[0] == 'a' || arg[0] == 's') {
			const char *c = strchr(uri, ':');
			if (!c || (size_t)(c - uri) >= sizeof(tbuf))
				return dh_error_set(DH_EUSAGE, "input '%s': expected %s:T:URI", arg,
				                    arg[0] == 'a' ? "asof" : "since");
			memcpy(tbuf, uri, (size_t)(c - uri));
			tbuf[c - uri] = 0;
			if (arg[0] == 'a')
				v.as_of = tbuf;
			else
				v.since = tbuf;
			uri = c + 1;
		}
		if (!strncmp(uri, "db:", 3))
			uri += 3;
		if ((rc = qio_open(db, uri, &v)))
			return rc;
		*is_db = 1;
		return 0;
	}
	if (!strncmp(arg, "edn:", 4) || !strncmp(arg, "json:", 5)) {
		int json = arg[0] == 'j';
		const char *path = arg + (json ? 5 : 4);
		if ((rc = qio_slurp(path, &b)))
			goto out;
		if (json) {
			struct dh_json_reader *r = NULL;
			if ((rc = dh_json_reader_mem(&r, b.data, b.len, path)) == 0) {
				rc = dh_json_read(r, a, val);
				if (rc == DH_ENOTFOUND)
					rc = dh_error_set(DH_EINVAL, "%s: no JSON value", path);
				dh_json_reader_free(r);
			}
		} else {
			rc = dh_edn_parse(val, a, b.data, b.len, strcmp(path, "-") ? path : "<stdin>");
		}
		goto out;
	}
	rc = dh_edn_parse(val, a, arg, strlen(arg), "<input>");
out:
	dh_buf_release(&b);
	return rc;
}

/* ---- output ---------------------------------------------------------------- */

int qio_flush(struct qio_out *o)
{
	if (o->buf.len && fwrite(o->buf.data, 1, o->buf.len, stdout) != o->buf.len)
		return dh_error_set(DH_EIO, "write error: %s", strerror(errno));
	dh_buf_reset(&o->buf);
	return 0;
}

int qio_field(struct qio_out *o, const struct dh_val *v)
{
	struct dh_buf t = DH_BUF_INIT;
	int rc = 0;
	const char *s;
	size_t n;

	if (v->type == DH_STRING) {
		s = v->u.s;
		n = v->len;
	} else {
		if (v->type != DH_NIL && (rc = dh_edn_print(&t, v)))
			goto out;
		s = t.data ? t.data : "";
		n = t.len;
	}
	if (o->fmt == FMT_CSV) {
		int quote = 0;
		for (size_t i = 0; i < n && !quote; i++)
			quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
		if (quote)
			rc = dh_buf_addc(&o->buf, '"');
		for (size_t i = 0; i < n && !rc; i++) {
			if (s[i] == '"')
				rc = dh_buf_addc(&o->buf, '"');
			if (!rc)
				rc = dh_buf_addc(&o->buf, s[i]);
		}
		if (!rc && quote)
			rc = dh_buf_addc(&o->buf, '"');
	} else {
		for (size_t i = 0; i < n && !rc; i++) {
			char c = s[i];
			if (c == '\t')
				rc = dh_buf_adds(&o->buf, "\\t");
			else if (c == '\n')
				rc = dh_buf_adds(&o->buf, "\\n");
			else if (c == '\r')
				rc = dh_buf_adds(&o->buf, "\\r");
			else if (c == '\\')
				rc = dh_buf_adds(&o->buf, "\\\\");
			else
				rc = dh_buf_addc(&o->buf, c);
		}
	}
out:
	dh_buf_release(&t);
	return rc;
}

int qio_row(struct qio_out *o, const struct dh_val *row, int columns)
{
	int rc = 0;
	switch (o->fmt) {
	case FMT_TSV:
	case FMT_CSV:
		if (columns && (row->type == DH_VECTOR || row->type == DH_LIST)) {
			for (uint32_t i = 0; i < row->len && !rc; i++) {
				if (i)
					rc = dh_buf_addc(&o->buf, o->fmt == FMT_CSV ? ',' : '\t');
				if (!rc)
					rc = qio_field(o, &row->u.items[i]);
			}
		} else if (columns && row->type == DH_MAP) {
			for (uint32_t i = 1; i < row->len && !rc; i += 2) {
				if (i > 1)
					rc = dh_buf_addc(&o->buf, o->fmt == FMT_CSV ? ',' : '\t');
				if (!rc)
					rc = qio_field(o, &row->u.items[i]);
			}
		} else {
			rc = qio_field(o, row);
		}
		break;
	case FMT_JSON:
	case FMT_JSONL:
		rc = dh_json_print(&o->buf, row);
		break;
	case FMT_EDN:
		rc = dh_edn_print(&o->buf, row);
		break;
	}
	if (!rc)
		rc = dh_buf_addc(&o->buf, o->end);
	if (!rc)
		o->rows++;
	if (!rc && o->buf.len > 65536)
		rc = qio_flush(o);
	return rc;
}

int qio_value(struct qio_out *o, const struct dh_val *v)
{
	int rc = o->fmt == FMT_JSON || o->fmt == FMT_JSONL ? dh_json_print(&o->buf, v) : dh_edn_print(&o->buf, v);
	if (!rc)
		rc = dh_buf_addc(&o->buf, '\n');
	if (!rc)
		rc = qio_flush(o);
	return rc;
}
