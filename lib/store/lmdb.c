/*
 * lmdb.c - the LMDB backend (lmdb:///abs/dir).
 *
 * One LMDB environment per store directory holds every key in its main
 * database.  LMDB allows one open of an environment per process, so handles
 * share a process-wide, reference-counted environment.
 *
 * Durability: the environment runs with MDB_NOMETASYNC, so each commit costs
 * one fdatasync of the data pages and the meta page rides on the next sync;
 * integrity is kept (a crash can only undo the last commit), and flush() and
 * every head compare-and-swap finish with mdb_env_sync() so nothing a head
 * names can be undone.  put_many() writes a whole batch in one transaction.
 *
 * Reads of nodes share one read transaction (a snapshot) across calls:
 * nodes are immutable, so an old snapshot can only lack a node written
 * since, and a miss renews the snapshot and looks again.  The snapshot is
 * renewed every SNAPSHOT_USES reads so that it does not pin old pages for
 * long.  Every other key (heads, format) is read in a fresh transaction.
 *
 * The map grows on demand: MDB_MAP_FULL aborts the transaction, doubles the
 * map size and retries, and MDB_MAP_RESIZED (another process grew it) adopts
 * the new size, so users never see either.  Readers use read transactions
 * (MDB_NOTLS: not tied to threads) and never block writers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "dh-backend.h"
#include "store/backends.h"

#define INITIAL_MAPSIZE ((size_t)1 << 30)
#define SNAPSHOT_USES 4096

struct lmdb_env {
	struct lmdb_env *next;
	char *path;
	MDB_env *env;
	MDB_dbi dbi;
	int refs;
	int rdonly;
};

struct lmdb_store {
	struct dh_store base;
	struct lmdb_env *e;
	MDB_txn *rtxn;   /* the handle's read transaction */
	int rtxn_live;   /* rtxn is an open snapshot (not reset) */
	unsigned uses;   /* reads through the live snapshot */
};

static struct lmdb_env *envs;
static pthread_mutex_t envs_lock = PTHREAD_MUTEX_INITIALIZER;

static int lmdb_err(int rc, const char *what, const char *key)
{
	if (rc == ENOMEM)
		return dh_error_set(DH_ENOMEM, "lmdb: cannot %s '%s': %s", what, key, mdb_strerror(rc));
	if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH)
		return dh_error_set(DH_ECORRUPT, "lmdb: cannot %s '%s': %s", what, key, mdb_strerror(rc));
	if (rc == EACCES || rc == EROFS)
		return dh_error_set(DH_EIO, "lmdb: cannot %s '%s': %s", what, key, mdb_strerror(rc));
	return dh_error_set(DH_EIO, "lmdb: cannot %s '%s': %s", what, key, mdb_strerror(rc));
}

static void env_release(struct lmdb_env *e)
{
	struct lmdb_env **p;

	pthread_mutex_lock(&envs_lock);
	if (--e->refs == 0) {
		for (p = &envs; *p != e; p = &(*p)->next)
			;
		*p = e->next;
		mdb_env_close(e->env);
		free(e->path);
		free(e);
	}
	pthread_mutex_unlock(&envs_lock);
}

static int env_acquire(struct lmdb_env **out, const char *path, unsigned flags)
{
	struct lmdb_env *e;
	struct stat sb;
	char datafile[4096];
	MDB_txn *txn = NULL;
	int rc = 0, mrc;
	int rdonly = (flags & DH_STORE_RDONLY) != 0;

	pthread_mutex_lock(&envs_lock);
	for (e = envs; e && strcmp(e->path, path); e = e->next)
		;
	if (e) {
		if (e->rdonly && !rdonly)
			rc = dh_error_set(DH_EUSAGE, "'%s' is already open read-only in this process", path);
		else
			e->refs++;
		goto out;
	}
	snprintf(datafile, sizeof(datafile), "%s/data.mdb", path);
	if (stat(datafile, &sb)) {
		if (!(flags & DH_STORE_CREATE)) {
			rc = dh_error_set(DH_ENOTFOUND, "no LMDB store at '%s'", path);
			goto out;
		}
		if (mkdir(path, 0777) && errno != EEXIST) {
			rc = dh_error_set(DH_EIO, "cannot create directory '%s': %s", path, strerror(errno));
			goto out;
		}
		sb.st_size = 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->path = strdup(path))) {
		free(e);
		e = NULL;
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	e->rdonly = rdonly;
	if ((mrc = mdb_env_create(&e->env)))
		goto fail;
	{
		size_t size = INITIAL_MAPSIZE;

		while (size < (size_t)sb.st_size * 2)
			size *= 2;
		if ((mrc = mdb_env_set_mapsize(e->env, size)))
			goto fail;
	}
	mdb_env_set_maxreaders(e->env, 254);
	mrc = mdb_env_open(e->env, path, MDB_NOTLS | MDB_NOMETASYNC | (rdonly ? MDB_RDONLY : 0), 0666);
	if (mrc)
		goto fail;
	if ((mrc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn)))
		goto fail;
	mrc = mdb_dbi_open(txn, NULL, 0, &e->dbi);
	mdb_txn_abort(txn);
	if (mrc)
		goto fail;
	e->refs = 1;
	e->next = envs;
	envs = e;
	goto out;
fail:
	rc = mrc == ENOENT ? dh_error_set(DH_ENOTFOUND, "no LMDB store at '%s'", path)
			   : lmdb_err(mrc, "open", path);
	if (e->env)
		mdb_env_close(e->env);
	free(e->path);
	free(e);
	e = NULL;
out:
	pthread_mutex_unlock(&envs_lock);
	*out = e;
	return rc;
}

static int lmdb_open(struct dh_store **out, const struct dh_uri *uri, unsigned flags)
{
	struct lmdb_store *ls;
	int rc;

	if ((rc = dh_uri_check_params(uri, NULL)))
		return rc;
	if (uri->host && uri->host[0] && strcmp(uri->host, "localhost"))
		return dh_error_set(DH_EUSAGE, "lmdb:// URIs name a local directory: use lmdb:///abs/dir");
	if (uri->path[0] != '/')
		return dh_error_set(DH_EUSAGE, "lmdb store path must be absolute: lmdb:///abs/dir");
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return dh_error_set(DH_ENOMEM, "out of memory");
	if ((rc = env_acquire(&ls->e, uri->path, flags))) {
		free(ls);
		return rc;
	}
	*out = &ls->base;
	return 0;
}

static void lmdb_close(struct dh_store *st)
{
	struct lmdb_store *ls = (struct lmdb_store *)st;

	if (ls->rtxn)
		mdb_txn_abort(ls->rtxn);
	env_release(ls->e);
	free(ls);
}

/* Begin (or renew) the handle's read transaction. */
static int read_begin(struct lmdb_store *ls, MDB_txn **txn)
{
	int rc;

	if (ls->rtxn_live) {
		mdb_txn_reset(ls->rtxn);
		ls->rtxn_live = 0;
	}
	for (int tries = 0; tries < 3; tries++) {
		rc = ls->rtxn ? mdb_txn_renew(ls->rtxn) : mdb_txn_begin(ls->e->env, NULL, MDB_RDONLY, &ls->rtxn);
		if (rc == MDB_MAP_RESIZED) {
			if (ls->rtxn) {
				mdb_txn_abort(ls->rtxn);
				ls->rtxn = NULL;
			}
			mdb_env_set_mapsize(ls->e->env, 0);
			continue;
		}
		break;
	}
	if (rc) {
		if (ls->rtxn) {
			mdb_txn_abort(ls->rtxn);
			ls->rtxn = NULL;
		}
		return lmdb_err(rc, "begin a read transaction on", ls->e->path);
	}
	ls->rtxn_live = 1;
	ls->uses = 0;
	*txn = ls->rtxn;
	return 0;
}

static void read_end(struct lmdb_store *ls)
{
	if (ls->rtxn_live) {
		mdb_txn_reset(ls->rtxn);
		ls->rtxn_live = 0;
	}
}

/*
 * Look `key` up; *mrc gets LMDB's answer.  Node keys go through the shared
 * snapshot (renewed on a miss); others through a fresh transaction.  The
 * transaction stays live until read_done()/read_end(), so `v` can be copied
 * out.  Returns 0 or the DH error of starting a transaction.
 */
static int lookup(struct lmdb_store *ls, const char *key, MDB_val *v, int *mrc)
{
	MDB_val k = { strlen(key), (void *)key };
	MDB_txn *txn = NULL;
	int rc;

	if (!strncmp(key, "nodes/", 6) && ls->rtxn_live && ls->uses++ < SNAPSHOT_USES) {
		*mrc = mdb_get(ls->rtxn, ls->e->dbi, &k, v);
		if (*mrc != MDB_NOTFOUND)
			return 0;
	}
	if ((rc = read_begin(ls, &txn)))
		return rc;
	*mrc = mdb_get(txn, ls->e->dbi, &k, v);
	return 0;
}

/* After a lookup: keep a node snapshot, end any other transaction. */
static void read_done(struct lmdb_store *ls, const char *key)
{
	if (strncmp(key, "nodes/", 6))
		read_end(ls);
}

static int lmdb_get(struct dh_store *st, const char *key, struct dh_buf *out)
{
	struct lmdb_store *ls = (struct lmdb_store *)st;
	MDB_val v;
	int mrc, rc = lookup(ls, key, &v, &mrc);

	if (rc)
		return rc;
	if (mrc == MDB_NOTFOUND)
		rc = dh_error_set(DH_ENOTFOUND, "'%s' not found in '%s'", key, ls->e->path);
	else if (mrc)
		rc = lmdb_err(mrc, "read", key);
	else {
		dh_buf_reset(out);
		rc = dh_buf_add(out, v.mv_data, v.mv_size);
	}
	if (mrc)
		read_end(ls);
	else
		read_done(ls, key);
	return rc;
}

/* Each value is handed to cb straight from the map, in the read transaction (no copy). */
static int lmdb_get_many(struct dh_store *st, const char *const *keys, size_t n, dh_get_cb cb, void *payload)
{
	struct lmdb_store *ls = (struct lmdb_store *)st;
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		MDB_val v;
		int mrc;

		if ((rc = lookup(ls, keys[i], &v, &mrc)))
			break;
		if (mrc == 0)
			rc = cb(i, v.mv_data, v.mv_size, payload);
		else if (mrc != MDB_NOTFOUND)
			rc = lmdb_err(mrc, "read", keys[i]);
		if (mrc)
			read_end(ls);
		else
			read_done(ls, keys[i]);
	}
	return rc;
}

static int lmdb_has(struct dh_store *st, const char *key)
{
	struct lmdb_store *ls = (struct lmdb_store *)st;
	MDB_val v;
	int mrc, rc = lookup(ls, key, &v, &mrc);

	if (rc)
		return rc;
	rc = mrc == 0 ? 1 : mrc == MDB_NOTFOUND ? 0 : lmdb_err(mrc, "read", key);
	if (mrc)
		read_end(ls);
	else
		read_done(ls, key);
	return rc;
}

/*
 * Run `fn` in a write transaction, growing the map and retrying when it
 * fills up.  `fn` returns an MDB code, or a DH code (negative, below
 * MDB_KEYEXIST's range is not a concern: DH codes are small) via *dhrc.
 */
typedef int (*write_fn)(MDB_txn *txn, MDB_dbi dbi, void *arg, int *dhrc);

static int write_txn(struct lmdb_store *ls, write_fn fn, void *arg, const char *what, const char *key)
{
	MDB_txn *txn;
	int mrc, dhrc;

	read_end(ls);
	for (int tries = 0; tries < 40; tries++) {
		dhrc = 0;
		mrc = mdb_txn_begin(ls->e->env, NULL, 0, &txn);
		if (mrc == MDB_MAP_RESIZED) {
			mdb_env_set_mapsize(ls->e->env, 0);
			continue;
		}
		if (mrc)
			return lmdb_err(mrc, what, key);
		mrc = fn(txn, ls->e->dbi, arg, &dhrc);
		if (mrc || dhrc) {
			mdb_txn_abort(txn);
		} else {
			mrc = mdb_txn_commit(txn);
		}
		if (mrc == MDB_MAP_FULL) {
			MDB_envinfo info;

			mdb_env_info(ls->e->env, &info);
			mrc = mdb_env_set_mapsize(ls->e->env, info.me_mapsize * 2);
			if (mrc)
				return lmdb_err(mrc, "grow the map of", ls->e->path);
			continue;
		}
		if (dhrc)
			return dhrc;
		return mrc ? lmdb_err(mrc, what, key) : 0;
	}
	return dh_error_set(DH_EIO, "lmdb: cannot %s '%s': the map keeps filling up", what, key);
}

static int put_fn(MDB_txn *txn, MDB_dbi dbi, void *arg, int *dhrc)
{
	const struct dh_kv *kv = arg;
	MDB_val k = { strlen(kv->key), (void *)kv->key }, v = { kv->len, (void *)kv->data };

	(void)dhrc;
	return mdb_put(txn, dbi, &k, &v, 0);
}

static int lmdb_put(struct dh_store *st, const char *key, const void *data, size_t len)
{
	struct dh_kv kv = { key, data, len };

	return write_txn((struct lmdb_store *)st, put_fn, &kv, "write", key);
}

struct many {
	const struct dh_kv *kvs;
	size_t n;
};

static int put_many_fn(MDB_txn *txn, MDB_dbi dbi, void *arg, int *dhrc)
{
	struct many *m = arg;
	size_t i;
	int rc = 0;

	for (i = 0; i < m->n && !rc; i++)
		rc = put_fn(txn, dbi, (void *)&m->kvs[i], dhrc);
	return rc;
}

static int lmdb_put_many(struct dh_store *st, const struct dh_kv *kvs, size_t n)
{
	struct many m = { kvs, n };

	if (n == 0)
		return 0;
	return write_txn((struct lmdb_store *)st, put_many_fn, &m, "write", kvs[0].key);
}

static int del_fn(MDB_txn *txn, MDB_dbi dbi, void *arg, int *dhrc)
{
	const char *key = arg;
	MDB_val k = { strlen(key), (void *)key };
	int rc = mdb_del(txn, dbi, &k, NULL);

	(void)dhrc;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int lmdb_del(struct dh_store *st, const char *key)
{
	return write_txn((struct lmdb_store *)st, del_fn, (void *)key, "delete", key);
}

static int lmdb_list(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload)
{
	struct lmdb_store *ls = (struct lmdb_store *)st;
	size_t plen = strlen(prefix);
	char key[DH_KEY_MAX + 1];
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k = { plen, (void *)prefix }, v;
	int rc, mrc;

	/*
	 * A private read transaction: the callback may use this handle (its
	 * reusable read transaction) or write to the store meanwhile.
	 */
	mrc = mdb_txn_begin(ls->e->env, NULL, MDB_RDONLY, &txn);
	if (mrc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(ls->e->env, 0);
		mrc = mdb_txn_begin(ls->e->env, NULL, MDB_RDONLY, &txn);
	}
	if (mrc)
		return lmdb_err(mrc, "list", ls->e->path);
	if ((mrc = mdb_cursor_open(txn, ls->e->dbi, &cur))) {
		mdb_txn_abort(txn);
		return lmdb_err(mrc, "list", ls->e->path);
	}
	rc = 0;
	mrc = plen ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (!mrc && !rc) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen))
			break;
		if (k.mv_size <= DH_KEY_MAX) {
			memcpy(key, k.mv_data, k.mv_size);
			key[k.mv_size] = '\0';
			rc = cb(key, payload);
		}
		if (!rc)
			mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (!rc && mrc && mrc != MDB_NOTFOUND)
		rc = lmdb_err(mrc, "list", ls->e->path);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

static int lmdb_flush(struct dh_store *st)
{
	struct lmdb_store *ls = (struct lmdb_store *)st;
	int mrc;

	if (ls->e->rdonly)
		return 0;
	mrc = mdb_env_sync(ls->e->env, 1);
	return mrc ? lmdb_err(mrc, "sync", ls->e->path) : 0;
}

struct cas {
	const char *key, *old, *new;
};

static int cas_fn(MDB_txn *txn, MDB_dbi dbi, void *arg, int *dhrc)
{
	struct cas *c = arg;
	MDB_val k = { strlen(c->key), (void *)c->key }, v;
	int mrc = mdb_get(txn, dbi, &k, &v);

	if (mrc && mrc != MDB_NOTFOUND)
		return mrc;
	if (c->old ? mrc || v.mv_size != strlen(c->old) || memcmp(v.mv_data, c->old, v.mv_size) : !mrc) {
		*dhrc = dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", c->key);
		return 0;
	}
	if (!c->new)
		return mrc ? 0 : mdb_del(txn, dbi, &k, NULL);
	v.mv_size = strlen(c->new);
	v.mv_data = (void *)c->new;
	return mdb_put(txn, dbi, &k, &v, 0);
}

static int lmdb_cas(struct dh_store *st, const char *key, const char *old, const char *new)
{
	struct cas c = { key, old, new };
	int rc = lmdb_flush(st);

	if (!rc)
		rc = write_txn((struct lmdb_store *)st, cas_fn, &c, "update", key);
	if (!rc)
		rc = lmdb_flush(st);
	return rc;
}

const struct dh_store_ops dh_store_lmdb_ops = {
	.api_version = DH_BACKEND_API_VERSION,
	.scheme = "lmdb",
	.open = lmdb_open,
	.close = lmdb_close,
	.get = lmdb_get,
	.put = lmdb_put,
	.has = lmdb_has,
	.list = lmdb_list,
	.cas = lmdb_cas,
	.del = lmdb_del,
	.put_many = lmdb_put_many,
	.flush = lmdb_flush,
	.get_many = lmdb_get_many,
};
