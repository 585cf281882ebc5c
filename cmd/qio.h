/*
 * qio.h - what dh-query, dh-pull and dh-datoms share: opening a database
 * view from a URI and view options, reading inputs (EDN, JSON, files), and
 * writing values and rows in the output formats (edn, json, jsonl, tsv,
 * csv, NUL-terminated).
 */
#ifndef DH_QIO_H
#define DH_QIO_H

#include <stdio.h>

#include "dh.h"
#include "dh-db.h"
#include "dh-query.h"
#include "dh-value.h"

enum qio_format { FMT_EDN, FMT_JSON, FMT_JSONL, FMT_TSV, FMT_CSV };

struct qio_view {
	const char *branch;
	const char *as_of;     /* tx id, epoch ms or an RFC 3339 instant; NULL: none */
	const char *since;
	int history;
};

/* An open database view and its query source. */
struct qio_db {
	struct dh_store *st;
	struct dh_db *db, *view;
	struct dh_query_source *src;
};

/* Parse "edn", "json", ... into *out.  Returns 0 or -1. */
int qio_format(const char *name, enum qio_format *out);

/* Open `uri` with the view options.  Returns 0 or a DH_E* code (message set). */
int qio_open(struct qio_db *d, const char *uri, const struct qio_view *v);
void qio_close(struct qio_db *d);

/*
 * qio_input() - one INPUT operand: "db:URI", "history:URI", "asof:T:URI",
 * "since:T:URI" open a database (into *db, which the caller closes);
 * "edn:FILE" and "json:FILE" read a value from a file ("-": stdin);
 * anything else is EDN text.  Values are allocated from `a`.
 */
int qio_input(const char *arg, struct dh_arena *a, struct dh_val *val, struct qio_db *db, int *is_db);

/* Read all of FILE ("-": stdin) into b.  Returns 0 or DH_EIO. */
int qio_slurp(const char *path, struct dh_buf *b);

/* Row output: values as text in the chosen format. */
struct qio_out {
	enum qio_format fmt;
	char end;              /* row terminator: '\n' or '\0' */
	int rows;              /* rows written */
	struct dh_buf buf;
};

/* Append one value as a tsv/csv field (strings bare, the rest as EDN). */
int qio_field(struct qio_out *o, const struct dh_val *v);
/* Write one row: a vector's items as columns (tsv/csv), a value per line
 * (jsonl, edn with -0 or per-row), appended to o->buf and flushed. */
int qio_row(struct qio_out *o, const struct dh_val *row, int columns);
/* Write a whole value in edn or json followed by a newline. */
int qio_value(struct qio_out *o, const struct dh_val *v);
int qio_flush(struct qio_out *o);

#endif
