/*
 * sqlite.c - the SQLite backend (sqlite:///abs/file.db?table=name).
 *
 * The embedded SQL option: the whole store is one table, `key TEXT PRIMARY
 * KEY, value BLOB NOT NULL` (default name dh_store), in one database file,
 * holding the same key strings as every other backend, so `sqlite3 file.db
 * 'select key from dh_store'` lists a store.  The file and the table are
 * created only when the store is opened with DH_STORE_CREATE; otherwise a
 * missing file or table is an error that names it.
 *
 * The database runs in WAL mode: readers never block the writer or each
 * other, and a writer killed mid-transaction leaves nothing visible.  Writers
 * of several processes queue on SQLite's write lock with a busy timeout
 * (BUSY_MS), so two processes racing on a head wait rather than fail.  The
 * head compare-and-swap reads and writes inside BEGIN IMMEDIATE, which takes
 * the write lock before reading, so the compared value cannot change
 * underneath.
 *
 * Durability: ordinary commits use synchronous=NORMAL (a WAL append, no
 * fsync); the compare-and-swap commits with synchronous=FULL, whose fsync of
 * the WAL covers every earlier commit of any process, and flush() syncs the
 * WAL file directly.  A head therefore never names data a power loss could
 * take back.  put_many() is one transaction.
 *
 * list() steps an ordered range query (key >= prefix AND key < successor),
 * copying up to LIST_PAGE keys at a time and ending the statement before it
 * calls back, so callbacks may write to the store through the same handle.
 * Native errors become DH_E* codes in sq_error() and nowhere else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "dh-backend.h"
#include "store/backends.h"

#define DEFAULT_TABLE "dh_store"
#define BUSY_MS 60000
#define LIST_PAGE 1000

enum { S_GET, S_HAS, S_PUT, S_DEL, S_LIST, S_BEGIN, S_COMMIT, S_ROLLBACK, S_NSTMT };

struct sq_store {
	struct dh_store base;
	sqlite3 *db;
	const char *name;          /* the store's URI */
	char table[80];            /* quoted */
	sqlite3_stmt *stmt[S_NSTMT];
	int dirty;                 /* commits since the last synced one */
};

/* The one place where SQLite's result codes become DH_E* codes. */
static int sq_error(struct sq_store *qs, int src, const char *what, const char *key)
{
	const char *msg = qs->db ? sqlite3_errmsg(qs->db) : sqlite3_errstr(src);
	int code;

	switch (src & 0xff) {
	case SQLITE_NOMEM: code = DH_ENOMEM; break;
	case SQLITE_CORRUPT: case SQLITE_NOTADB: case SQLITE_FORMAT: code = DH_ECORRUPT; break;
	case SQLITE_AUTH: case SQLITE_PERM: code = DH_EAUTH; break;
	case SQLITE_TOOBIG: code = DH_ENOMEM; break;
	default: code = DH_EIO; break;
	}
	if (key)
		return dh_error_set(code, "sqlite: cannot %s '%s' in store '%s': %s", what, key, qs->name, msg);
	return dh_error_set(code, "sqlite: cannot %s store '%s': %s", what, qs->name, msg);
}

static int exec_sql(struct sq_store *qs, const char *sql, const char *what)
{
	int src = sqlite3_exec(qs->db, sql, NULL, NULL, NULL);

	return src == SQLITE_OK ? 0 : sq_error(qs, src, what, NULL);
}

static int prepare(struct sq_store *qs)
{
	char sql[S_NSTMT][400];
	const char *t = qs->table;
	int src;

	snprintf(sql[S_GET], sizeof(sql[0]), "SELECT value FROM %s WHERE key = ?1", t);
	snprintf(sql[S_HAS], sizeof(sql[0]), "SELECT 1 FROM %s WHERE key = ?1", t);
	snprintf(sql[S_PUT], sizeof(sql[0]),
		 "INSERT INTO %s (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
		 " WHERE value IS NOT excluded.value", t);
	snprintf(sql[S_DEL], sizeof(sql[0]), "DELETE FROM %s WHERE key = ?1", t);
	snprintf(sql[S_LIST], sizeof(sql[0]), "SELECT key FROM %s WHERE key > ?1 AND key < ?2 ORDER BY key LIMIT %d",
		 t, LIST_PAGE);
	snprintf(sql[S_BEGIN], sizeof(sql[0]), "BEGIN IMMEDIATE");
	snprintf(sql[S_COMMIT], sizeof(sql[0]), "COMMIT");
	snprintf(sql[S_ROLLBACK], sizeof(sql[0]), "ROLLBACK");
	for (int i = 0; i < S_NSTMT; i++) {
		src = sqlite3_prepare_v3(qs->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &qs->stmt[i], NULL);
		if (src != SQLITE_OK)
			return sq_error(qs, src, "prepare statements for", NULL);
	}
	return 0;
}

static int table_exists(struct sq_store *qs, const char *table, int *exists)
{
	sqlite3_stmt *st = NULL;
	int src = sqlite3_prepare_v2(qs->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1,
				     &st, NULL);

	if (src == SQLITE_OK)
		src = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	if (src == SQLITE_OK) {
		src = sqlite3_step(st);
		*exists = src == SQLITE_ROW;
		if (src == SQLITE_ROW || src == SQLITE_DONE)
			src = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return src == SQLITE_OK ? 0 : sq_error(qs, src, "open", NULL);
}

static int sq_open(struct dh_store **out, const struct dh_uri *uri, unsigned flags)
{
	static const char *const known[] = { "table", NULL };
	struct sq_store *qs;
	const char *table = dh_uri_param(uri, "table");
	char sql[300];
	struct stat sb;
	int rc, src, exists = 0, oflags;

	if ((rc = dh_uri_check_params(uri, known)))
		return rc;
	if (uri->host && uri->host[0] && strcmp(uri->host, "localhost"))
		return dh_error_set(DH_EUSAGE, "sqlite:// URIs name a local file: use sqlite:///abs/file.db");
	if (uri->path[0] != '/' || uri->path[1] == '\0')
		return dh_error_set(DH_EUSAGE, "sqlite store path must be absolute: sqlite:///abs/file.db");
	if (!table)
		table = DEFAULT_TABLE;
	for (const char *c = table; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
		      (c > table && *c >= '0' && *c <= '9')) || c - table >= 63)
			return dh_error_set(DH_EUSAGE, "bad table name '%s': letters, digits (not first) and '_'", table);
	if (!table[0])
		return dh_error_set(DH_EUSAGE, "empty table name");
	if (stat(uri->path, &sb)) {
		if (errno != ENOENT)
			return dh_error_set(DH_EIO, "sqlite: cannot open store '%s': %s", uri->text, strerror(errno));
		if (!(flags & DH_STORE_CREATE) || (flags & DH_STORE_RDONLY))
			return dh_error_set(DH_ENOTFOUND, "sqlite: no database file '%s' for store '%s'", uri->path,
					    uri->text);
	} else if (!S_ISREG(sb.st_mode)) {
		return dh_error_set(DH_EUSAGE, "sqlite: '%s' is not a file", uri->path);
	}
	qs = calloc(1, sizeof(*qs));
	if (!qs)
		return dh_error_set(DH_ENOMEM, "out of memory");
	qs->name = uri->text;
	snprintf(qs->table, sizeof(qs->table), "\"%s\"", table);
	oflags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
		 ((flags & DH_STORE_RDONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
		 ((flags & DH_STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
	src = sqlite3_open_v2(uri->path, &qs->db, oflags, NULL);
	if (src != SQLITE_OK) {
		rc = sq_error(qs, src, "open", NULL);
		goto out;
	}
	sqlite3_busy_timeout(qs->db, BUSY_MS);
	sqlite3_extended_result_codes(qs->db, 1);
	/* a file that is not a database fails here, on its first read */
	if (!(flags & DH_STORE_RDONLY) && (rc = exec_sql(qs, "PRAGMA journal_mode = WAL", "open")))
		goto out;
	if ((rc = exec_sql(qs, "PRAGMA synchronous = NORMAL", "open")) || (rc = table_exists(qs, table, &exists)))
		goto out;
	if (!exists) {
		if (!(flags & DH_STORE_CREATE) || (flags & DH_STORE_RDONLY)) {
			rc = dh_error_set(DH_ENOTFOUND, "sqlite: no table '%s' in store '%s' (create the store first)",
					  table, qs->name);
			goto out;
		}
		snprintf(sql, sizeof(sql), "CREATE TABLE IF NOT EXISTS %s (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
			 qs->table);
		if ((rc = exec_sql(qs, sql, "create the table of")))
			goto out;
	}
	rc = prepare(qs);
out:
	if (rc) {
		for (int i = 0; i < S_NSTMT; i++)
			sqlite3_finalize(qs->stmt[i]);
		sqlite3_close_v2(qs->db);
		free(qs);
		return rc;
	}
	*out = &qs->base;
	return 0;
}

static void sq_close(struct dh_store *st)
{
	struct sq_store *qs = (struct sq_store *)st;

	for (int i = 0; i < S_NSTMT; i++)
		sqlite3_finalize(qs->stmt[i]);
	sqlite3_close_v2(qs->db);
	free(qs);
}

/* Step a statement that returns no rows, then reset it. */
static int step_done(struct sq_store *qs, sqlite3_stmt *st, const char *what, const char *key)
{
	int src = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return src == SQLITE_DONE ? 0 : sq_error(qs, src, what, key);
}

static int sq_get(struct dh_store *st, const char *key, struct dh_buf *out)
{
	struct sq_store *qs = (struct sq_store *)st;
	sqlite3_stmt *s = qs->stmt[S_GET];
	int src, rc = 0;

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	src = sqlite3_step(s);
	if (src == SQLITE_ROW) {
		const void *v = sqlite3_column_blob(s, 0);
		int n = sqlite3_column_bytes(s, 0);

		dh_buf_reset(out);
		rc = dh_buf_add(out, v ? v : "", (size_t)n);
	} else if (src == SQLITE_DONE) {
		rc = dh_error_set(DH_ENOTFOUND, "'%s' not found in store '%s'", key, qs->name);
	} else {
		rc = sq_error(qs, src, "read", key);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

static int sq_has(struct dh_store *st, const char *key)
{
	struct sq_store *qs = (struct sq_store *)st;
	sqlite3_stmt *s = qs->stmt[S_HAS];
	int src, rc;

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	src = sqlite3_step(s);
	rc = src == SQLITE_ROW ? 1 : src == SQLITE_DONE ? 0 : sq_error(qs, src, "look up", key);
	sqlite3_reset(s);
	return rc;
}

static int put_one(struct sq_store *qs, const char *key, const void *data, size_t len)
{
	sqlite3_stmt *s = qs->stmt[S_PUT];

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	/* a zero-length blob, not NULL */
	if (len == 0)
		sqlite3_bind_zeroblob(s, 2, 0);
	else
		sqlite3_bind_blob64(s, 2, data, len, SQLITE_STATIC);
	return step_done(qs, s, "write", key);
}

static int sq_put(struct dh_store *st, const char *key, const void *data, size_t len)
{
	struct sq_store *qs = (struct sq_store *)st;
	int rc = put_one(qs, key, data, len);

	if (!rc)
		qs->dirty = 1;
	return rc;
}

static int sq_put_many(struct dh_store *st, const struct dh_kv *kvs, size_t n)
{
	struct sq_store *qs = (struct sq_store *)st;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = step_done(qs, qs->stmt[S_BEGIN], "write", kvs[0].key)))
		return rc;
	for (size_t i = 0; i < n && !rc; i++)
		rc = put_one(qs, kvs[i].key, kvs[i].data, kvs[i].len);
	if (!rc)
		rc = step_done(qs, qs->stmt[S_COMMIT], "write", kvs[0].key);
	if (rc)
		step_done(qs, qs->stmt[S_ROLLBACK], "write", kvs[0].key);
	else
		qs->dirty = 1;
	return rc;
}

static int sq_del(struct dh_store *st, const char *key)
{
	struct sq_store *qs = (struct sq_store *)st;
	sqlite3_stmt *s = qs->stmt[S_DEL];
	int rc;

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = step_done(qs, s, "delete", key);
	if (!rc)
		qs->dirty = 1;
	return rc;
}

static int sq_list(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload)
{
	struct sq_store *qs = (struct sq_store *)st;
	sqlite3_stmt *s = qs->stmt[S_LIST];
	size_t plen = strlen(prefix), nkeys, off;
	char lo[DH_KEY_MAX + 2], hi[DH_KEY_MAX + 2];
	struct dh_buf page = DH_BUF_INIT;
	int rc = 0, src;

	/* Keys are bytes 0x21..0x7e (dh.h): (lo, hi) with lo just below the prefix. */
	for (size_t i = 0; i < plen; i++)
		if ((unsigned char)prefix[i] <= 0x20 || (unsigned char)prefix[i] >= 0x7f)
			return 0;
	if (plen) {
		memcpy(hi, prefix, plen + 1);
		hi[plen - 1]++;
		memcpy(lo, prefix, plen + 1);
		lo[plen - 1]--;
		/* lo < every key with the prefix: prefix[..-1] + (last - 1) + "\x7f" */
		lo[plen] = '\x7f';
		lo[plen + 1] = '\0';
	} else {
		strcpy(hi, "\x7f");
		strcpy(lo, "");
	}
	do {
		dh_buf_reset(&page);
		nkeys = 0;
		sqlite3_bind_text(s, 1, lo, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, hi, -1, SQLITE_STATIC);
		while ((src = sqlite3_step(s)) == SQLITE_ROW && !rc) {
			const char *k = (const char *)sqlite3_column_text(s, 0);

			rc = dh_buf_add(&page, k, strlen(k) + 1);
			nkeys++;
		}
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		if (!rc && src != SQLITE_DONE)
			rc = sq_error(qs, src, "list", prefix);
		for (off = 0; !rc && off < page.len; off += strlen(page.data + off) + 1)
			rc = cb(page.data + off, payload);
		if (!rc && nkeys) {
			const char *last = page.data;

			for (off = 0; off < page.len; off += strlen(page.data + off) + 1)
				last = page.data + off;
			snprintf(lo, sizeof(lo), "%s", last);
		}
	} while (!rc && nkeys == LIST_PAGE);
	dh_buf_release(&page);
	return rc;
}

/*
 * Sync the WAL file: with synchronous=NORMAL, commits are appended to it
 * without fsync; frames already checkpointed into the database file were
 * synced by the checkpoint.
 */
static int sq_flush(struct dh_store *st)
{
	struct sq_store *qs = (struct sq_store *)st;
	sqlite3_file *wal = NULL;
	int src;

	if (!qs->dirty)
		return 0;
	src = sqlite3_file_control(qs->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
	if (src == SQLITE_OK && wal && wal->pMethods)
		src = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
	else
		src = sqlite3_wal_checkpoint_v2(qs->db, "main", SQLITE_CHECKPOINT_FULL, NULL, NULL);
	if (src != SQLITE_OK)
		return sq_error(qs, src, "flush", NULL);
	qs->dirty = 0;
	return 0;
}

static int sq_cas(struct dh_store *st, const char *key, const char *old, const char *new)
{
	struct sq_store *qs = (struct sq_store *)st;
	sqlite3_stmt *s = qs->stmt[S_GET];
	int rc, src, in_txn = 0, same;

	if ((rc = exec_sql(qs, "PRAGMA synchronous = FULL", "update")))
		return rc;
	if ((rc = step_done(qs, qs->stmt[S_BEGIN], "update", key)))
		goto out;
	in_txn = 1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	src = sqlite3_step(s);
	if (src == SQLITE_ROW)
		same = old && (size_t)sqlite3_column_bytes(s, 0) == strlen(old) &&
		       !memcmp(sqlite3_column_blob(s, 0) ? sqlite3_column_blob(s, 0) : "", old, strlen(old));
	else
		same = !old;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (src != SQLITE_ROW && src != SQLITE_DONE) {
		rc = sq_error(qs, src, "update", key);
		goto out;
	}
	if (!same) {
		rc = dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key);
		goto out;
	}
	if (new)
		rc = put_one(qs, key, new, strlen(new));
	else if (old) {
		sqlite3_bind_text(qs->stmt[S_DEL], 1, key, -1, SQLITE_STATIC);
		rc = step_done(qs, qs->stmt[S_DEL], "update", key);
	}
	if (!rc) {
		/* synchronous=FULL: this commit's fsync of the WAL covers every earlier commit */
		rc = step_done(qs, qs->stmt[S_COMMIT], "update", key);
		if (!rc) {
			in_txn = 0;
			qs->dirty = 0;
		}
	}
out:
	if (in_txn)
		step_done(qs, qs->stmt[S_ROLLBACK], "update", key);
	src = sqlite3_exec(qs->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	if (!rc && src != SQLITE_OK)
		rc = sq_error(qs, src, "update", key);
	return rc;
}

const struct dh_store_ops dh_store_sqlite_ops = {
	.api_version = DH_BACKEND_API_VERSION,
	.scheme = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.get = sq_get,
	.put = sq_put,
	.has = sq_has,
	.list = sq_list,
	.cas = sq_cas,
	.del = sq_del,
	.put_many = sq_put_many,
	.flush = sq_flush,
};
