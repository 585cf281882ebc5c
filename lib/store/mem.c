/*
 * mem.c - the memory backend (mem://name).
 *
 * A process-wide map of named stores, for tests and for tools that assemble
 * data before writing it elsewhere.  Every open of mem://name in one process
 * sees the same data, which lives until the process exits (there is no
 * persistence).  A mutex per store makes handles in different threads safe.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dh-backend.h"
#include "store/backends.h"

struct mem_entry {
	struct mem_entry *next;
	char *key;
	char *data;
	size_t len;
	uint64_t hash;
};

struct mem_db {
	struct mem_db *next;
	char *name;
	pthread_mutex_t lock;
	struct mem_entry **buckets;
	size_t nbuckets;
	size_t count;
};

struct mem_store {
	struct dh_store base;
	struct mem_db *db;
};

static struct mem_db *dbs;
static pthread_mutex_t dbs_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct mem_entry **find(struct mem_db *db, const char *key, uint64_t h)
{
	struct mem_entry **p = &db->buckets[h & (db->nbuckets - 1)];

	while (*p && ((*p)->hash != h || strcmp((*p)->key, key)))
		p = &(*p)->next;
	return p;
}

static int rehash(struct mem_db *db)
{
	size_t n = db->nbuckets * 2, i;
	struct mem_entry **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return dh_error_set(DH_ENOMEM, "out of memory");
	for (i = 0; i < db->nbuckets; i++) {
		struct mem_entry *e = db->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	}
	free(db->buckets);
	db->buckets = nb;
	db->nbuckets = n;
	return 0;
}

static int mem_open(struct dh_store **out, const struct dh_uri *uri, unsigned flags)
{
	struct mem_store *ms;
	struct mem_db *db;
	const char *name = uri->host ? uri->host : "";
	int rc = 0;

	(void)flags;
	if ((rc = dh_uri_check_params(uri, NULL)))
		return rc;
	if (uri->path[0] && strcmp(uri->path, "/"))
		return dh_error_set(DH_EUSAGE, "mem:// store names have no path: use mem://NAME");
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return dh_error_set(DH_ENOMEM, "out of memory");
	pthread_mutex_lock(&dbs_lock);
	for (db = dbs; db && strcmp(db->name, name); db = db->next)
		;
	if (!db) {
		db = calloc(1, sizeof(*db));
		if (db && (db->name = strdup(name)) && (db->buckets = calloc(1024, sizeof(*db->buckets)))) {
			db->nbuckets = 1024;
			pthread_mutex_init(&db->lock, NULL);
			db->next = dbs;
			dbs = db;
		} else {
			if (db)
				free(db->name);
			free(db);
			db = NULL;
			rc = dh_error_set(DH_ENOMEM, "out of memory");
		}
	}
	pthread_mutex_unlock(&dbs_lock);
	if (rc) {
		free(ms);
		return rc;
	}
	ms->db = db;
	*out = &ms->base;
	return 0;
}

static void mem_close(struct dh_store *st)
{
	free(st);
}

static int mem_get(struct dh_store *st, const char *key, struct dh_buf *out)
{
	struct mem_db *db = ((struct mem_store *)st)->db;
	struct mem_entry *e;
	int rc;

	pthread_mutex_lock(&db->lock);
	e = *find(db, key, fnv1a(key));
	dh_buf_reset(out);
	rc = e ? dh_buf_add(out, e->data, e->len) : DH_ENOTFOUND;
	pthread_mutex_unlock(&db->lock);
	if (rc == DH_ENOTFOUND)
		dh_error_set(rc, "'%s' not found", key);
	return rc;
}

/* Called with the lock held.  Replaces the value of an existing key. */
static int set_locked(struct mem_db *db, const char *key, const void *data, size_t len)
{
	uint64_t h = fnv1a(key);
	struct mem_entry **p = find(db, key, h), *e = *p;
	char *copy = malloc(len ? len : 1);

	if (!copy)
		return dh_error_set(DH_ENOMEM, "out of memory (%zu bytes)", len);
	if (len)
		memcpy(copy, data, len);
	if (e) {
		free(e->data);
		e->data = copy;
		e->len = len;
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key))) {
		free(e);
		free(copy);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	e->data = copy;
	e->len = len;
	e->hash = h;
	*p = e;
	if (++db->count > db->nbuckets * 2)
		rehash(db);
	return 0;
}

static void del_locked(struct mem_db *db, const char *key)
{
	struct mem_entry **p = find(db, key, fnv1a(key)), *e = *p;

	if (!e)
		return;
	*p = e->next;
	free(e->key);
	free(e->data);
	free(e);
	db->count--;
}

static int mem_put(struct dh_store *st, const char *key, const void *data, size_t len)
{
	struct mem_db *db = ((struct mem_store *)st)->db;
	int rc;

	pthread_mutex_lock(&db->lock);
	rc = set_locked(db, key, data, len);
	pthread_mutex_unlock(&db->lock);
	return rc;
}

static int mem_has(struct dh_store *st, const char *key)
{
	struct mem_db *db = ((struct mem_store *)st)->db;
	int rc;

	pthread_mutex_lock(&db->lock);
	rc = *find(db, key, fnv1a(key)) != NULL;
	pthread_mutex_unlock(&db->lock);
	return rc;
}

static int mem_del(struct dh_store *st, const char *key)
{
	struct mem_db *db = ((struct mem_store *)st)->db;

	pthread_mutex_lock(&db->lock);
	del_locked(db, key);
	pthread_mutex_unlock(&db->lock);
	return 0;
}

/*
 * Keys are copied out under the lock a bucket at a time (chains are short)
 * and handed to the callback without it, so a callback may use the store.
 */
static int mem_list(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload)
{
	struct mem_db *db = ((struct mem_store *)st)->db;
	size_t plen = strlen(prefix), b, i, n;
	struct dh_buf keys = DH_BUF_INIT;
	int rc = 0;

	for (b = 0; !rc; b++) {
		struct mem_entry *e;

		pthread_mutex_lock(&db->lock);
		if (b >= db->nbuckets) {
			pthread_mutex_unlock(&db->lock);
			break;
		}
		dh_buf_reset(&keys);
		for (e = db->buckets[b]; e && !rc; e = e->next)
			if (!strncmp(e->key, prefix, plen))
				rc = dh_buf_add(&keys, e->key, strlen(e->key) + 1);
		pthread_mutex_unlock(&db->lock);
		for (i = 0; i < keys.len && !rc; i += n + 1) {
			n = strlen(keys.data + i);
			rc = cb(keys.data + i, payload);
		}
	}
	dh_buf_release(&keys);
	return rc;
}

static int mem_cas(struct dh_store *st, const char *key, const char *old, const char *new)
{
	struct mem_db *db = ((struct mem_store *)st)->db;
	struct mem_entry *e;
	int rc = 0;

	pthread_mutex_lock(&db->lock);
	e = *find(db, key, fnv1a(key));
	if (old ? !e || e->len != strlen(old) || memcmp(e->data, old, e->len) : e != NULL)
		rc = DH_ECONFLICT;
	else if (new)
		rc = set_locked(db, key, new, strlen(new));
	else
		del_locked(db, key);
	pthread_mutex_unlock(&db->lock);
	if (rc == DH_ECONFLICT)
		dh_error_set(rc, "'%s' changed: compare-and-swap lost", key);
	return rc;
}

const struct dh_store_ops dh_store_mem_ops = {
	.api_version = DH_BACKEND_API_VERSION,
	.scheme = "mem",
	.open = mem_open,
	.close = mem_close,
	.get = mem_get,
	.put = mem_put,
	.has = mem_has,
	.list = mem_list,
	.cas = mem_cas,
	.del = mem_del,
};
