/*
 * postgresql.c - the PostgreSQL backend (postgresql://user@host:port/db?table=name,
 * also spelled postgres://).
 *
 * The whole store is one table, `key text COLLATE "C" PRIMARY KEY, value
 * bytea NOT NULL` (default name dh_store), holding the same key strings as
 * every other backend.  The table is created only when the store is opened
 * with DH_STORE_CREATE (dh-create, dh-store -c); otherwise a missing table is
 * an error that names it.  The connection is built from the URI's parts
 * handed to libpq one by one, so whatever the URI leaves out (host, port,
 * user, database, password) comes from libpq's usual places: the PG*
 * environment variables, ~/.pgpass or PGPASSFILE, the service file.  A few
 * libpq parameters (sslmode, connect_timeout, ...) pass through from the
 * query string; any other parameter is a usage error.
 *
 * Durability: the session runs with synchronous_commit off, so plain puts
 * and batches commit without waiting for the WAL flush; a head
 * compare-and-swap (and flush()) commits with the server's own setting
 * restored, which flushes the WAL up to that commit and so every earlier
 * commit of the session as well.  A head thus never names data a server
 * crash could lose, and writers pay one WAL flush per head move, not per node.
 *
 * Statements are prepared once per connection (in one round trip).
 * get_many() and has_many() send the keys as one array and probe the
 * primary key once per key (a LATERAL ... LIMIT 1 join: a plain join's
 * cached generic plan, made while a new table was small, seq-scans it for
 * ever after).  Batches
 * are multi-row INSERT ... ON CONFLICT statements of up to BATCH_ROWS rows in
 * one transaction; list() pages through the primary key in key order
 * (keyset pagination), so the callback may use the handle between pages and
 * memory stays bounded.  The head compare-and-swap is one conditional
 * statement (INSERT ... ON CONFLICT DO NOTHING, UPDATE or DELETE ... WHERE
 * value = old) whose affected-row count says whether it won.
 *
 * Native errors become DH_E* codes in pg_error() and nowhere else.  A lost
 * connection is not silently re-established: the operation in flight fails
 * (a transaction that did not commit leaves nothing visible) and so does
 * every later one on the handle, because asynchronous commits made before
 * the loss may be gone with a crashed server and no head may be moved over
 * them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "dh-backend.h"
#include "store/backends.h"

#define DEFAULT_TABLE "dh_store"
#define BATCH_ROWS 500                   /* rows per multi-row INSERT */
#define BATCH_BYTES ((size_t)8 << 20)    /* ... or this many value bytes */
#define LIST_PAGE "1000"
#define GET_MANY 1000                    /* keys per get_many query */

struct pg_store {
	struct dh_store base;
	PGconn *conn;
	const char *name;          /* the store's URI, password masked */
	char table[140];           /* quoted, e.g. "public"."dh_store" */
	char sync_setting[32];     /* the server's synchronous_commit, "" if already off */
	int dirty;                 /* commits since the last synchronous one */
	int many_prepared;
};

/*
 * The one place where libpq's errors become DH_E* codes.  `res` may be NULL
 * (connection-level failures).  The message says what failed, on which
 * key, in which store, then the server's or libpq's words on one line.
 */
static int pg_error(PGconn *conn, const PGresult *res, const char *store, const char *what, const char *key)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *text = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char msg[512];
	size_t n = 0;
	int code = DH_EIO;

	if (!text || !text[0])
		text = res ? PQresultErrorMessage(res) : NULL;
	if (!text || !text[0])
		text = conn ? PQerrorMessage(conn) : "out of memory";
	/*
	 * libpq messages span lines ("...refused\n\tIs the server running
	 * ...?\n") and carry severities ("FATAL:  "): make one clean line.
	 */
	for (const char *c = text; *c && n + 3 < sizeof(msg); c++) {
		if (!strncmp(c, "FATAL:  ", 8) || !strncmp(c, "ERROR:  ", 8)) {
			c += 7;
			continue;
		}
		if (*c == '\n') {
			while (c[1] == '\t' || c[1] == ' ')
				c++;
			if (c[1] && n) {
				msg[n++] = ';';
				msg[n++] = ' ';
			}
			continue;
		}
		msg[n++] = *c == '\t' ? ' ' : *c;
	}
	msg[n] = '\0';

	if (conn && PQstatus(conn) == CONNECTION_BAD) {
		if (PQconnectionNeedsPassword(conn) || strstr(msg, "password") || strstr(msg, "authentication failed") ||
		    strstr(msg, "no pg_hba.conf entry"))
			code = DH_EAUTH;
		else if (strstr(msg, "database \"") && strstr(msg, "does not exist"))
			code = DH_ENOTFOUND;
		else if (key)
			return dh_error_set(DH_EIO, "postgresql: cannot %s '%s' in store '%s': connection to the server lost: %s",
					    what, key, store, msg);
	} else if (state) {
		if (!strncmp(state, "28", 2) || !strcmp(state, "42501"))
			code = DH_EAUTH;          /* invalid authorization, insufficient privilege */
		else if (!strcmp(state, "3D000") || !strcmp(state, "42P01") || !strcmp(state, "3F000"))
			code = DH_ENOTFOUND;      /* missing database, table or schema */
		else if (!strcmp(state, "53200"))
			code = DH_ENOMEM;
		else if (!strncmp(state, "XX", 2) && strcmp(state, "XX000"))
			code = DH_ECORRUPT;       /* data_corrupted, index_corrupted */
	}
	if (key) {
		/* a table dropped under an open store is a broken store, not an absent key */
		return dh_error_set(code == DH_ENOTFOUND ? DH_EIO : code, "postgresql: cannot %s '%s' in store '%s': %s",
				    what, key, store, msg);
	}
	return dh_error_set(code, "postgresql: cannot %s store '%s': %s", what, store, msg);
}

/* Run a statement without parameters; PGRES_COMMAND_OK or TUPLES_OK is success. */
static int exec_simple(struct pg_store *ps, const char *sql, const char *what, const char *key)
{
	PGresult *res = PQexec(ps->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = pg_error(ps->conn, res, ps->name, what, key);
	PQclear(res);
	return rc;
}

static void no_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* [A-Za-z_][A-Za-z0-9_$]*, at most 63 bytes (PostgreSQL's NAMEDATALEN - 1). */
static int ident_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '$'))
			return 0;
	return 1;
}

/* table=name or table=schema.name into the quoted form used in SQL. */
static int table_name(char *out, size_t size, const char *t)
{
	const char *dot = strchr(t, '.');

	if (dot ? !ident_ok(t, (size_t)(dot - t)) || !ident_ok(dot + 1, strlen(dot + 1)) : !ident_ok(t, strlen(t)))
		return dh_error_set(DH_EUSAGE,
				    "bad table name '%s': letters, digits, '_' and '$' (not first), optionally schema.table",
				    t);
	if (dot)
		snprintf(out, size, "\"%.*s\".\"%s\"", (int)(dot - t), t, dot + 1);
	else
		snprintf(out, size, "\"%s\"", t);
	return 0;
}

/*
 * The query parameters a postgresql:// URI may carry: `table`, then libpq
 * connection parameters passed through unchanged.
 */
static const char *const uri_params[] = {
	"table", "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword", "sslcompression",
	"requiressl", "channel_binding", "gssencmode", "krbsrvname", "connect_timeout", "application_name",
	"options", "passfile", "service", "target_session_attrs", "keepalives", "keepalives_idle",
	"keepalives_interval", "keepalives_count", "tcp_user_timeout", "hostaddr", "client_encoding", NULL,
};

static int connect_server(struct pg_store *ps, const struct dh_uri *uri)
{
	const char *keys[40], *vals[40];
	char port[16];
	int n = 0;

	if (uri->host && uri->host[0]) {
		keys[n] = "host";
		vals[n++] = uri->host;
	}
	if (uri->port) {
		snprintf(port, sizeof(port), "%d", uri->port);
		keys[n] = "port";
		vals[n++] = port;
	}
	if (uri->user && uri->user[0]) {
		keys[n] = "user";
		vals[n++] = uri->user;
	}
	if (uri->password) {
		keys[n] = "password";
		vals[n++] = uri->password;
	}
	if (uri->path[0] && uri->path[1]) {
		keys[n] = "dbname";
		vals[n++] = uri->path + 1;
	}
	for (size_t i = 1; uri_params[i]; i++) {
		const char *v = dh_uri_param(uri, uri_params[i]);

		if (v) {
			keys[n] = uri_params[i];
			vals[n++] = v;
		}
	}
	/* an unreachable host should not hang a tool forever */
	if (!dh_uri_param(uri, "connect_timeout") && !getenv("PGCONNECT_TIMEOUT")) {
		keys[n] = "connect_timeout";
		vals[n++] = "10";
	}
	keys[n] = "fallback_application_name";
	vals[n++] = program_invocation_short_name;
	keys[n] = NULL;
	vals[n] = NULL;
	ps->conn = PQconnectdbParams(keys, vals, 0);
	if (!ps->conn)
		return dh_error_set(DH_ENOMEM, "postgresql: out of memory");
	PQsetNoticeProcessor(ps->conn, no_notices, NULL);
	if (PQstatus(ps->conn) != CONNECTION_OK)
		return pg_error(ps->conn, NULL, ps->name, "connect to", NULL);
	return 0;
}

/* Does the table exist?  Also reads the server's synchronous_commit. */
static int probe(struct pg_store *ps, int *exists)
{
	const char *params[1] = { ps->table };
	PGresult *res = PQexecParams(ps->conn, "SELECT to_regclass($1) IS NOT NULL, current_setting('synchronous_commit')",
				     1, NULL, params, NULL, NULL, 0);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		rc = pg_error(ps->conn, res, ps->name, "open", NULL);
	} else {
		const char *sync = PQgetvalue(res, 0, 1);

		*exists = PQgetvalue(res, 0, 0)[0] == 't';
		if (strcmp(sync, "off") && strlen(sync) < sizeof(ps->sync_setting))
			snprintf(ps->sync_setting, sizeof(ps->sync_setting), "%s", sync);
	}
	PQclear(res);
	return rc;
}

static int create_table(struct pg_store *ps)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "CREATE TABLE IF NOT EXISTS %s (key text COLLATE \"C\" PRIMARY KEY, value bytea NOT NULL)", ps->table);
	return exec_simple(ps, sql, "create the table of", NULL);
}

static int prepare_all(struct pg_store *ps)
{
	struct dh_buf b = DH_BUF_INIT;
	const char *t = ps->table;
	int rc;

	rc = dh_buf_addf(&b,
			 "PREPARE dh_get(text) AS SELECT value FROM %s WHERE key = $1;"
			 "PREPARE dh_has(text) AS SELECT 1 FROM %s WHERE key = $1;"
			 "PREPARE dh_put(text, bytea) AS INSERT INTO %s AS d (key, value) VALUES ($1, $2)"
			 " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value WHERE d.value <> EXCLUDED.value;"
			 "PREPARE dh_del(text) AS DELETE FROM %s WHERE key = $1;"
			 "PREPARE dh_cas_add(text, bytea) AS INSERT INTO %s (key, value) VALUES ($1, $2)"
			 " ON CONFLICT (key) DO NOTHING;"
			 "PREPARE dh_cas_set(text, bytea, bytea) AS UPDATE %s SET value = $3 WHERE key = $1 AND value = $2;"
			 "PREPARE dh_cas_del(text, bytea) AS DELETE FROM %s WHERE key = $1 AND value = $2;"
			 "PREPARE dh_get_many(text[]) AS SELECT k.i, d.value FROM unnest($1) WITH ORDINALITY AS k (key, i)"
			 " CROSS JOIN LATERAL (SELECT value FROM %s WHERE key = k.key LIMIT 1) d;"
			 "PREPARE dh_has_many(text[]) AS SELECT k.i FROM unnest($1) WITH ORDINALITY AS k (key, i)"
			 " CROSS JOIN LATERAL (SELECT 1 FROM %s WHERE key = k.key LIMIT 1) d;"
			 "PREPARE dh_list_first(text, text) AS SELECT key FROM %s WHERE key >= $1 AND key < $2"
			 " ORDER BY key LIMIT " LIST_PAGE ";"
			 "PREPARE dh_list_next(text, text) AS SELECT key FROM %s WHERE key > $1 AND key < $2"
			 " ORDER BY key LIMIT " LIST_PAGE ";",
			 t, t, t, t, t, t, t, t, t, t, t);
	if (!rc && ps->sync_setting[0] && !(ps->base.flags & DH_STORE_RDONLY))
		rc = dh_buf_adds(&b, "SET synchronous_commit TO off;");
	if (!rc)
		rc = exec_simple(ps, b.data, "prepare statements for", NULL);
	dh_buf_release(&b);
	return rc;
}

static int pg_open(struct dh_store **out, const struct dh_uri *uri, unsigned flags)
{
	struct pg_store *ps;
	const char *table = dh_uri_param(uri, "table");
	int rc, exists = 0;

	if ((rc = dh_uri_check_params(uri, uri_params)))
		return rc;
	if (strchr(uri->path[0] ? uri->path + 1 : "", '/'))
		return dh_error_set(DH_EUSAGE, "postgresql URI path is one database name: postgresql://user@host:port/db");
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return dh_error_set(DH_ENOMEM, "out of memory");
	ps->name = uri->text;
	ps->base.flags = flags;
	if ((rc = table_name(ps->table, sizeof(ps->table), table ? table : DEFAULT_TABLE)))
		goto out;
	if ((rc = connect_server(ps, uri)) || (rc = probe(ps, &exists)))
		goto out;
	if (!exists) {
		if (!(flags & DH_STORE_CREATE) || (flags & DH_STORE_RDONLY)) {
			rc = dh_error_set(DH_ENOTFOUND, "postgresql: no table %s in store '%s' (create the store first)",
					  ps->table, ps->name);
			goto out;
		}
		/*
		 * Two processes creating the same table at once can collide in
		 * the catalog (unique violation) despite IF NOT EXISTS: then the
		 * other one won, which is just as good.
		 */
		if ((rc = create_table(ps))) {
			char msg[1024];

			snprintf(msg, sizeof(msg), "%s", dh_errmsg());
			if (probe(ps, &exists) || !exists) {
				rc = dh_error_set(rc, "%s", msg);
				goto out;
			}
		}
	}
	rc = prepare_all(ps);
out:
	if (rc) {
		PQfinish(ps->conn);
		free(ps);
		return rc;
	}
	*out = &ps->base;
	return 0;
}

static void pg_close(struct dh_store *st)
{
	struct pg_store *ps = (struct pg_store *)st;

	PQfinish(ps->conn);
	free(ps);
}

/*
 * Run prepared statement `stmt` with `n` parameters; fmts[i] 1 marks a
 * binary parameter of lens[i] bytes.  On success *res holds the result
 * (caller clears); on failure the error is set and returned.
 */
static int run(PGresult **res, struct pg_store *ps, const char *stmt, int n, const char *const *vals,
	       const int *lens, const int *fmts, int binary_result, const char *what, const char *key)
{
	ExecStatusType st;
	int rc;

	*res = PQexecPrepared(ps->conn, stmt, n, vals, lens, fmts, binary_result);
	st = PQresultStatus(*res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return 0;
	rc = pg_error(ps->conn, *res, ps->name, what, key);
	PQclear(*res);
	*res = NULL;
	return rc;
}

static int pg_get(struct dh_store *st, const char *key, struct dh_buf *out)
{
	struct pg_store *ps = (struct pg_store *)st;
	const char *vals[1] = { key };
	PGresult *res;
	int rc = run(&res, ps, "dh_get", 1, vals, NULL, NULL, 1, "read", key);

	if (rc)
		return rc;
	if (PQntuples(res) == 0) {
		rc = dh_error_set(DH_ENOTFOUND, "'%s' not found in store '%s'", key, ps->name);
	} else {
		dh_buf_reset(out);
		rc = dh_buf_add(out, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	}
	PQclear(res);
	return rc;
}

/*
 * Keys go as one text[] parameter, GET_MANY at a time: array literal
 * elements in double quotes, '"' escaped (keys hold no backslash).
 */
static int key_array(struct dh_buf *arr, const char *const *keys, size_t m)
{
	int rc;

	dh_buf_reset(arr);
	rc = dh_buf_addc(arr, '{');
	for (size_t i = 0; i < m && !rc; i++) {
		rc = dh_buf_adds(arr, i ? ",\"" : "\"");
		for (const char *c = keys[i]; *c && !rc; c++)
			rc = *c == '"' ? dh_buf_adds(arr, "\\\"") : dh_buf_addc(arr, *c);
		if (!rc)
			rc = dh_buf_addc(arr, '"');
	}
	if (!rc)
		rc = dh_buf_addc(arr, '}');
	return rc ? dh_error_set(DH_ENOMEM, "out of memory") : 0;
}

/*
 * The ordinality column (int8, big-endian in binary results) of row r:
 * 1..m maps the row back to its key; 0 is no key of ours; -1 (an error
 * set) is a reply that is not an int8.
 */
static long long ordinal(struct pg_store *ps, const PGresult *res, int r, size_t m, const char *key)
{
	const unsigned char *o = (const unsigned char *)PQgetvalue(res, r, 0);
	uint64_t ord = 0;

	if (PQgetlength(res, r, 0) != 8) {
		dh_error_set(DH_EIO, "postgresql: cannot read '%s' in store '%s': unexpected reply", key, ps->name);
		return -1;
	}
	for (int b = 0; b < 8; b++)
		ord = ord << 8 | o[b];
	return ord >= 1 && ord <= m ? (long long)ord : 0;
}

static int pg_get_many(struct dh_store *st, const char *const *keys, size_t n, dh_get_cb cb, void *payload)
{
	struct pg_store *ps = (struct pg_store *)st;
	struct dh_buf arr = DH_BUF_INIT;
	int rc = 0;

	for (size_t start = 0; start < n && !rc; start += GET_MANY) {
		size_t m = n - start < GET_MANY ? n - start : GET_MANY;
		const char *vals[1];
		PGresult *res;

		if ((rc = key_array(&arr, keys + start, m)))
			break;
		vals[0] = arr.data;
		if ((rc = run(&res, ps, "dh_get_many", 1, vals, NULL, NULL, 1, "read", keys[start])))
			break;
		for (int r = 0; r < PQntuples(res) && !rc; r++) {
			long long ord = ordinal(ps, res, r, m, keys[start]);

			if (ord < 0)
				rc = DH_EIO;
			else if (ord)
				rc = cb(start + (size_t)ord - 1, PQgetvalue(res, r, 1), (size_t)PQgetlength(res, r, 1),
					payload);
		}
		PQclear(res);
	}
	dh_buf_release(&arr);
	return rc;
}

static int pg_has_many(struct dh_store *st, const char *const *keys, size_t n, unsigned char *found)
{
	struct pg_store *ps = (struct pg_store *)st;
	struct dh_buf arr = DH_BUF_INIT;
	int rc = 0;

	memset(found, 0, n);
	for (size_t start = 0; start < n && !rc; start += GET_MANY) {
		size_t m = n - start < GET_MANY ? n - start : GET_MANY;
		const char *vals[1];
		PGresult *res;

		if ((rc = key_array(&arr, keys + start, m)))
			break;
		vals[0] = arr.data;
		if ((rc = run(&res, ps, "dh_has_many", 1, vals, NULL, NULL, 1, "look up", keys[start])))
			break;
		for (int r = 0; r < PQntuples(res) && !rc; r++) {
			long long ord = ordinal(ps, res, r, m, keys[start]);

			if (ord < 0)
				rc = DH_EIO;
			else if (ord)
				found[start + (size_t)ord - 1] = 1;
		}
		PQclear(res);
	}
	dh_buf_release(&arr);
	return rc;
}

static int pg_has(struct dh_store *st, const char *key)
{
	struct pg_store *ps = (struct pg_store *)st;
	const char *vals[1] = { key };
	PGresult *res;
	int rc = run(&res, ps, "dh_has", 1, vals, NULL, NULL, 0, "look up", key);

	if (rc)
		return rc;
	rc = PQntuples(res) > 0;
	PQclear(res);
	return rc;
}

static int too_big(struct pg_store *ps, const char *key, size_t len)
{
	/* libpq lengths are int; PostgreSQL's bytea stops at 1 GB anyway */
	return dh_error_set(DH_ENOMEM, "postgresql: cannot write '%s' in store '%s': %zu bytes exceed the 1 GB limit",
			    key, ps->name, len);
}

static int pg_put(struct dh_store *st, const char *key, const void *data, size_t len)
{
	struct pg_store *ps = (struct pg_store *)st;
	const char *vals[2] = { key, len ? data : "" };
	int lens[2] = { 0, (int)len }, fmts[2] = { 0, 1 };
	PGresult *res;
	int rc;

	if (len >= (1u << 30))
		return too_big(ps, key, len);
	rc = run(&res, ps, "dh_put", 2, vals, lens, fmts, 0, "write", key);
	if (!rc) {
		PQclear(res);
		ps->dirty = 1;
	}
	return rc;
}

static int pg_del(struct dh_store *st, const char *key)
{
	struct pg_store *ps = (struct pg_store *)st;
	const char *vals[1] = { key };
	PGresult *res;
	int rc = run(&res, ps, "dh_del", 1, vals, NULL, NULL, 0, "delete", key);

	if (!rc) {
		PQclear(res);
		ps->dirty = 1;
	}
	return rc;
}

/* ---- batches ---- */

struct slot {
	const char *key;
	size_t i;
};

static int slot_cmp(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

/* The multi-row upsert for `rows` rows. */
static int many_sql(struct dh_buf *b, const char *table, size_t rows)
{
	int rc = dh_buf_addf(b, "INSERT INTO %s AS d (key, value) VALUES ", table);

	for (size_t r = 0; r < rows && !rc; r++)
		rc = dh_buf_addf(b, "%s($%zu, $%zu)", r ? ", " : "", 2 * r + 1, 2 * r + 2);
	if (!rc)
		rc = dh_buf_adds(b, " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
				    " WHERE d.value <> EXCLUDED.value");
	return rc;
}

static int put_chunk(struct pg_store *ps, const struct dh_kv *kvs, const struct slot *s, size_t rows,
		     const char **vals, int *lens, int *fmts)
{
	struct dh_buf sql = DH_BUF_INIT;
	PGresult *res;
	ExecStatusType st;
	int rc = 0;

	for (size_t r = 0; r < rows; r++) {
		const struct dh_kv *kv = &kvs[s[r].i];

		vals[2 * r] = kv->key;
		lens[2 * r] = 0;
		fmts[2 * r] = 0;
		vals[2 * r + 1] = kv->len ? kv->data : "";
		lens[2 * r + 1] = (int)kv->len;
		fmts[2 * r + 1] = 1;
	}
	if (rows == BATCH_ROWS) {
		if (!ps->many_prepared) {
			if ((rc = many_sql(&sql, ps->table, rows)))
				goto out;
			res = PQprepare(ps->conn, "dh_many", sql.data, 0, NULL);
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
				rc = pg_error(ps->conn, res, ps->name, "write", kvs[s[0].i].key);
			PQclear(res);
			if (rc)
				goto out;
			ps->many_prepared = 1;
		}
		res = PQexecPrepared(ps->conn, "dh_many", (int)(2 * rows), vals, lens, fmts, 0);
	} else {
		if ((rc = many_sql(&sql, ps->table, rows)))
			goto out;
		res = PQexecParams(ps->conn, sql.data, (int)(2 * rows), NULL, vals, lens, fmts, 0);
	}
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK)
		rc = pg_error(ps->conn, res, ps->name, "write", kvs[s[0].i].key);
	PQclear(res);
out:
	dh_buf_release(&sql);
	return rc;
}

/*
 * One transaction of multi-row upserts.  A key given twice keeps its last
 * value (one statement may not touch a row twice); rows go in key order,
 * which also makes concurrent batches lock rows in the same order.
 */
static int pg_put_many(struct dh_store *st, const struct dh_kv *kvs, size_t n)
{
	struct pg_store *ps = (struct pg_store *)st;
	struct slot *s = NULL;
	const char **vals = NULL;
	int *lens = NULL, *fmts = NULL, rc = 0, in_txn = 0;
	size_t m = 0, i, start, bytes;

	if (n == 0)
		return 0;
	if (n == 1)
		return pg_put(st, kvs[0].key, kvs[0].data, kvs[0].len);
	s = malloc(n * sizeof(*s));
	vals = malloc(2 * BATCH_ROWS * sizeof(*vals));
	lens = malloc(2 * BATCH_ROWS * sizeof(*lens));
	fmts = malloc(2 * BATCH_ROWS * sizeof(*fmts));
	if (!s || !vals || !lens || !fmts) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (kvs[i].len >= (1u << 30)) {
			rc = too_big(ps, kvs[i].key, kvs[i].len);
			goto out;
		}
		s[i].key = kvs[i].key;
		s[i].i = i;
	}
	qsort(s, n, sizeof(*s), slot_cmp);
	for (i = 0; i < n; i++)
		if (i + 1 == n || strcmp(s[i].key, s[i + 1].key))
			s[m++] = s[i];
	if ((rc = exec_simple(ps, "BEGIN", "write", kvs[0].key)))
		goto out;
	in_txn = 1;
	for (start = 0; start < m && !rc; start = i) {
		bytes = 0;
		for (i = start; i < m && i - start < BATCH_ROWS && (i == start || bytes < BATCH_BYTES); i++)
			bytes += kvs[s[i].i].len;
		rc = put_chunk(ps, kvs, s + start, i - start, vals, lens, fmts);
	}
	if (!rc) {
		in_txn = 0;
		rc = exec_simple(ps, "COMMIT", "write", kvs[0].key);
	}
	if (!rc)
		ps->dirty = 1;
out:
	if (in_txn)
		PQclear(PQexec(ps->conn, "ROLLBACK"));
	free(s);
	free(vals);
	free(lens);
	free(fmts);
	return rc;
}

/* ---- listing ---- */

static int pg_list(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload)
{
	struct pg_store *ps = (struct pg_store *)st;
	char hi[DH_KEY_MAX + 2], last[DH_KEY_MAX + 1];
	const char *vals[2] = { prefix, hi };
	size_t plen = strlen(prefix);
	PGresult *res;
	int rc = 0, rows, first = 1;

	/* Keys are bytes 0x21..0x7e (dh.h); under COLLATE "C", [prefix, hi) is exactly them. */
	for (size_t i = 0; i < plen; i++)
		if ((unsigned char)prefix[i] <= 0x20 || (unsigned char)prefix[i] >= 0x7f)
			return 0;
	if (plen) {
		memcpy(hi, prefix, plen + 1);
		hi[plen - 1]++;
	} else {
		strcpy(hi, "\x7f");
	}
	do {
		rc = run(&res, ps, first ? "dh_list_first" : "dh_list_next", 2, vals, NULL, NULL, 0, "list", prefix);
		if (rc)
			return rc;
		first = 0;
		rows = PQntuples(res);
		for (int r = 0; r < rows && !rc; r++)
			rc = cb(PQgetvalue(res, r, 0), payload);
		if (rows)
			snprintf(last, sizeof(last), "%s", PQgetvalue(res, rows - 1, 0));
		vals[0] = last;
		PQclear(res);
	} while (!rc && rows == atoi(LIST_PAGE));
	return rc;
}

/* ---- durability and heads ---- */

/*
 * Commit nothing synchronously: a transaction that takes a transaction id
 * writes a commit record, and waiting for its WAL flush waits for every
 * earlier (asynchronous) commit of the session too.
 */
static int pg_flush(struct dh_store *st)
{
	struct pg_store *ps = (struct pg_store *)st;
	char sql[160];
	int rc;

	if (!ps->dirty || !ps->sync_setting[0])
		return 0;
	snprintf(sql, sizeof(sql), "BEGIN; SET LOCAL synchronous_commit TO '%s'; SELECT txid_current(); COMMIT",
		 ps->sync_setting);
	rc = exec_simple(ps, sql, "flush", NULL);
	if (!rc)
		ps->dirty = 0;
	return rc;
}

static int pg_cas(struct dh_store *st, const char *key, const char *old, const char *new)
{
	struct pg_store *ps = (struct pg_store *)st;
	const char *vals[3] = { key, NULL, NULL };
	int lens[3] = { 0, 0, 0 }, fmts[3] = { 0, 1, 1 };
	const char *stmt;
	char begin[96];
	PGresult *res = NULL;
	int rc, in_txn = 0;

	if (!old && !new) {
		rc = pg_has(st, key);
		return rc < 0 ? rc : rc ? dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key) : 0;
	}
	if (!old) {
		stmt = "dh_cas_add";
		vals[1] = new;
		lens[1] = (int)strlen(new);
	} else if (!new) {
		stmt = "dh_cas_del";
		vals[1] = old;
		lens[1] = (int)strlen(old);
	} else {
		stmt = "dh_cas_set";
		vals[1] = old;
		lens[1] = (int)strlen(old);
		vals[2] = new;
		lens[2] = (int)strlen(new);
	}
	if (ps->sync_setting[0]) {
		/* this commit waits for the WAL, so every earlier put of the session is durable with it */
		snprintf(begin, sizeof(begin), "BEGIN; SET LOCAL synchronous_commit TO '%s'", ps->sync_setting);
		if ((rc = exec_simple(ps, begin, "update", key)))
			return rc;
		in_txn = 1;
	}
	rc = run(&res, ps, stmt, new && old ? 3 : 2, vals, lens, fmts, 0, "update", key);
	if (rc)
		goto out;
	if (strcmp(PQcmdTuples(res), "1")) {
		rc = dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key);
		goto out;
	}
	if (in_txn) {
		in_txn = 0;
		if ((rc = exec_simple(ps, "COMMIT", "update", key)))
			goto out;
	}
	ps->dirty = 0;
out:
	if (in_txn)
		PQclear(PQexec(ps->conn, "ROLLBACK"));
	PQclear(res);
	return rc;
}

#define PG_OPS(name)                              \
	{                                         \
		.api_version = DH_BACKEND_API_VERSION, \
		.scheme = name,                   \
		.open = pg_open,                  \
		.close = pg_close,                \
		.get = pg_get,                    \
		.put = pg_put,                    \
		.has = pg_has,                    \
		.list = pg_list,                  \
		.cas = pg_cas,                    \
		.del = pg_del,                    \
		.put_many = pg_put_many,          \
		.flush = pg_flush,                \
		.get_many = pg_get_many,          \
		.has_many = pg_has_many,          \
	}

const struct dh_store_ops dh_store_postgresql_ops = PG_OPS("postgresql");
const struct dh_store_ops dh_store_postgres_ops = PG_OPS("postgres");
