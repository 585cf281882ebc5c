/*
 * tiered.c - a fast store in front of a durable one.
 *
 *   tiered:?front=<URI>&back=<URI>&write=<policy>&read=<policy>
 *
 * The two URIs are percent-escaped inside the query and opened with
 * dh_store_open(), so either may be any scheme, a plugin's or another
 * tiered store (stacking).  The backend is the authority: heads and other
 * mutable keys are read from it and moved only by its compare-and-swap.
 * Nodes are immutable, so a node once in the frontend is served from there
 * forever and a miss fills it.
 *
 * Write policies (konserve's names; "write-" may be left out):
 *   write-through  backend, then frontend (the default)
 *   write-behind   nodes go to the frontend now and to the backend from a
 *                  worker thread with its own backend handle; every head
 *                  compare-and-swap, flush, list and close first waits for
 *                  the worker and flushes its handle, so a head never names
 *                  a node the backend lacks.  Other keys are written through.
 *                  A failed background write is reported by every later
 *                  flush and compare-and-swap: nothing moves a head past it.
 *   write-around   backend only; the frontend's copy of a mutable key is
 *                  dropped (nodes cannot go stale)
 *   frontend-only  the backend is opened read-only and never written: a
 *                  read-through cache with local writes kept in the
 *                  frontend, which overlays the backend for every key
 * Read policies:
 *   frontend-first nodes from the frontend, a miss reads the backend and
 *                  fills the frontend; mutable keys from the backend (the
 *                  frontend's copy first under write=frontend-only)
 *   frontend-only  everything from the frontend alone
 * get_many and has_many keep the batches: one call to the frontend for all
 * the keys, then one to the backend for what the frontend lacked.
 *
 * The frontend is always opened with DH_STORE_CREATE and writable, even
 * when the tiered store is read-only: filling a cache is not a write to
 * the store.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh-backend.h"
#include "store/backends.h"

/* A write-behind producer blocks while this much is waiting for the worker. */
#define BEHIND_MAX_BYTES ((size_t)64 << 20)

enum write_policy { WRITE_THROUGH, WRITE_BEHIND, WRITE_AROUND, WRITE_FRONTEND_ONLY };
enum read_policy { READ_FRONTEND_FIRST, READ_FRONTEND_ONLY };

/*
 * The write-behind worker.  Queued writes are records in one buffer
 * ([key NUL][size_t len][bytes]); the worker swaps the whole buffer for its
 * empty one and writes it with one put_many, so there is no allocation per
 * node and the backend sees batches.
 */
struct behind {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	struct dh_store *back;    /* the worker's own handle */
	struct dh_buf queue;      /* filled by put(), taken whole by the worker */
	size_t nqueued;
	int busy, stop;
	int err;                  /* first background failure, sticky */
	char *errmsg;
};

struct tiered {
	struct dh_store base;
	struct dh_store *front, *back;
	enum write_policy write;
	enum read_policy read;
	struct behind *wb;
};

static int is_node(const char *key)
{
	return !strncmp(key, "nodes/", 6);
}

/* ---- write-behind ---- */

static void *behind_main(void *p)
{
	struct behind *wb = p;
	struct dh_buf batch = DH_BUF_INIT, kvs = DH_BUF_INIT;

	pthread_mutex_lock(&wb->lock);
	for (;;) {
		struct dh_buf t;
		size_t n, off, i;
		int rc = 0;

		while (!wb->queue.len && !wb->stop)
			pthread_cond_wait(&wb->work, &wb->lock);
		if (!wb->queue.len)
			break;
		t = wb->queue;
		wb->queue = batch;
		batch = t;
		n = wb->nqueued;
		wb->nqueued = 0;
		wb->busy = 1;
		pthread_cond_broadcast(&wb->done);
		pthread_mutex_unlock(&wb->lock);

		dh_buf_reset(&kvs);
		rc = dh_buf_grow(&kvs, n * sizeof(struct dh_kv));
		for (i = 0, off = 0; !rc && i < n; i++) {
			struct dh_kv *kv = (struct dh_kv *)kvs.data + i;

			kv->key = batch.data + off;
			off += strlen(kv->key) + 1;
			memcpy(&kv->len, batch.data + off, sizeof(size_t));
			off += sizeof(size_t);
			kv->data = batch.data + off;
			off += kv->len;
		}
		if (!rc)
			rc = dh_store_put_many(wb->back, (struct dh_kv *)kvs.data, n);
		dh_buf_reset(&batch);

		pthread_mutex_lock(&wb->lock);
		if (rc && !wb->err) {
			wb->err = rc;
			wb->errmsg = strdup(dh_errmsg());
		}
		wb->busy = 0;
		pthread_cond_broadcast(&wb->done);
	}
	pthread_mutex_unlock(&wb->lock);
	dh_buf_release(&batch);
	dh_buf_release(&kvs);
	return NULL;
}

static int behind_error(struct behind *wb, const char *back)
{
	return dh_error_set(wb->err, "write-behind to '%s' failed earlier: %s", back,
			    wb->errmsg ? wb->errmsg : dh_strerror(wb->err));
}

static int behind_start(struct behind **out, const char *back_uri, unsigned flags)
{
	struct behind *wb = calloc(1, sizeof(*wb));
	int rc;

	if (!wb)
		return dh_error_set(DH_ENOMEM, "out of memory");
	rc = dh_store_open(&wb->back, back_uri, flags);
	if (rc) {
		free(wb);
		return rc;
	}
	pthread_mutex_init(&wb->lock, NULL);
	pthread_cond_init(&wb->work, NULL);
	pthread_cond_init(&wb->done, NULL);
	if (pthread_create(&wb->thread, NULL, behind_main, wb)) {
		dh_store_close(wb->back);
		free(wb);
		return dh_error_set(DH_ENOMEM, "cannot start the write-behind thread");
	}
	*out = wb;
	return 0;
}

static int behind_put(struct behind *wb, const char *back, const char *key, const void *data, size_t len)
{
	int rc;

	pthread_mutex_lock(&wb->lock);
	while (wb->queue.len > BEHIND_MAX_BYTES && !wb->err)
		pthread_cond_wait(&wb->done, &wb->lock);
	if (wb->err)
		rc = behind_error(wb, back);
	else if (!(rc = dh_buf_add(&wb->queue, key, strlen(key) + 1)) &&
		 !(rc = dh_buf_add(&wb->queue, &len, sizeof(len))) && !(rc = dh_buf_add(&wb->queue, data, len))) {
		wb->nqueued++;
		pthread_cond_signal(&wb->work);
	}
	pthread_mutex_unlock(&wb->lock);
	return rc;
}

/* Wait until everything queued is in the backend, and make it durable. */
static int behind_drain(struct behind *wb, const char *back)
{
	int rc = 0;

	pthread_mutex_lock(&wb->lock);
	while ((wb->queue.len || wb->busy) && !wb->err)
		pthread_cond_wait(&wb->done, &wb->lock);
	if (wb->err)
		rc = behind_error(wb, back);
	pthread_mutex_unlock(&wb->lock);
	/* the worker is idle and only we queue work: its handle is ours now */
	return rc ? rc : dh_store_flush(wb->back);
}

static void behind_stop(struct behind *wb)
{
	pthread_mutex_lock(&wb->lock);
	wb->stop = 1;
	pthread_cond_signal(&wb->work);
	pthread_mutex_unlock(&wb->lock);
	pthread_join(wb->thread, NULL);
	dh_store_close(wb->back);
	pthread_mutex_destroy(&wb->lock);
	pthread_cond_destroy(&wb->work);
	pthread_cond_destroy(&wb->done);
	dh_buf_release(&wb->queue);
	free(wb->errmsg);
	free(wb);
}

/* ---- open and close ---- */

static int policy(const struct dh_uri *uri, const char *param, const char *const *names, int *out)
{
	const char *v = dh_uri_param(uri, param);

	if (!v)
		return 0;
	if (!strncmp(v, "write-", 6) && !strcmp(param, "write"))
		v += 6;
	for (int i = 0; names[i]; i++)
		if (!strcmp(v, names[i])) {
			*out = i;
			return 0;
		}
	return dh_error_set(DH_EUSAGE, "unknown %s policy '%s' for tiered:// stores", param, v);
}

static int tiered_open(struct dh_store **out, const struct dh_uri *uri, unsigned flags)
{
	static const char *const known[] = { "front", "back", "write", "read", NULL };
	static const char *const writes[] = { "through", "behind", "around", "frontend-only", NULL };
	static const char *const reads[] = { "frontend-first", "frontend-only", NULL };
	const char *front = dh_uri_param(uri, "front"), *back = dh_uri_param(uri, "back");
	unsigned back_flags = flags;
	struct tiered *ts;
	int w = WRITE_THROUGH, r = READ_FRONTEND_FIRST, rc;

	if ((rc = dh_uri_check_params(uri, known)) || (rc = policy(uri, "write", writes, &w)) ||
	    (rc = policy(uri, "read", reads, &r)))
		return rc;
	if ((uri->host && uri->host[0]) || uri->path[0])
		return dh_error_set(DH_EUSAGE, "tiered stores are written tiered:?front=URI&back=URI");
	if (!front || !front[0] || !back || !back[0])
		return dh_error_set(DH_EUSAGE, "tiered:// needs front=URI and back=URI (percent-escaped)");
	ts = calloc(1, sizeof(*ts));
	if (!ts)
		return dh_error_set(DH_ENOMEM, "out of memory");
	ts->write = (enum write_policy)w;
	ts->read = (enum read_policy)r;
	if (ts->write == WRITE_FRONTEND_ONLY)
		back_flags = (flags & ~(unsigned)DH_STORE_CREATE) | DH_STORE_RDONLY;
	if ((rc = dh_store_open(&ts->back, back, back_flags)))
		goto fail;
	if ((rc = dh_store_open(&ts->front, front, DH_STORE_CREATE)))
		goto fail;
	if (ts->write == WRITE_BEHIND && !(flags & DH_STORE_RDONLY) && (rc = behind_start(&ts->wb, back, flags)))
		goto fail;
	/* a cold read goes to the backend */
	ts->base.flags = dh_store_flags(ts->back) & DH_STORE_KEYWISE;
	*out = &ts->base;
	return 0;
fail:
	dh_store_close(ts->front);
	dh_store_close(ts->back);
	free(ts);
	return rc;
}

static int tiered_flush(struct dh_store *st)
{
	struct tiered *ts = (struct tiered *)st;
	int rc = 0, rc2;

	if (ts->wb)
		rc = behind_drain(ts->wb, dh_store_uri(ts->back));
	if (!rc && ts->write != WRITE_FRONTEND_ONLY)
		rc = dh_store_flush(ts->back);
	rc2 = dh_store_flush(ts->front);
	return rc ? rc : rc2;
}

static void tiered_close(struct dh_store *st)
{
	struct tiered *ts = (struct tiered *)st;

	if (ts->wb) {
		behind_drain(ts->wb, dh_store_uri(ts->back));
		behind_stop(ts->wb);
	}
	dh_store_close(ts->front);
	dh_store_close(ts->back);
	free(ts);
}

/* ---- reads ---- */

/* Does this key come from the frontend before the backend? */
static int front_first(const struct tiered *ts, const char *key)
{
	return is_node(key) || ts->write == WRITE_FRONTEND_ONLY;
}

static int tiered_get(struct dh_store *st, const char *key, struct dh_buf *out)
{
	struct tiered *ts = (struct tiered *)st;
	int rc;

	if (ts->read == READ_FRONTEND_ONLY)
		return dh_store_get(ts->front, key, out);
	if (front_first(ts, key)) {
		rc = dh_store_get(ts->front, key, out);
		/* a node the frontend cannot give (missing, or the cache is broken) comes from the backend */
		if (rc == 0 || (rc != DH_ENOTFOUND && !is_node(key)))
			return rc;
	}
	rc = dh_store_get(ts->back, key, out);
	/*
	 * Fill the cache with nodes only: they never change.  A frontend that
	 * cannot take them (full, broken) costs speed, never the read.
	 */
	if (!rc && is_node(key))
		(void)dh_store_put(ts->front, key, out->data, out->len);
	return rc;
}

static int tiered_has(struct dh_store *st, const char *key)
{
	struct tiered *ts = (struct tiered *)st;
	int rc;

	if (ts->read == READ_FRONTEND_ONLY)
		return dh_store_has(ts->front, key);
	if (front_first(ts, key)) {
		rc = dh_store_has(ts->front, key);
		if (rc != 0)
			return rc;
	}
	return dh_store_has(ts->back, key);
}

/*
 * get_many: what comes from the frontend first is asked there in one call;
 * the misses (and the rest) go to the backend in one call, and the nodes
 * among them fill the frontend in one put_many.
 */
struct many {
	const char *const *keys;
	size_t *map;               /* index in the caller's keys of each asked key */
	unsigned char *got;
	dh_get_cb cb;
	void *payload;
	int cb_rc;                 /* what the caller's callback returned to stop us */
	struct dh_buf fill;        /* nodes read from the backend: [key NUL][len][bytes] */
	size_t nfill;
};

static int many_front(size_t i, const void *data, size_t len, void *payload)
{
	struct many *m = payload;

	m->got[m->map[i]] = 1;
	return m->cb_rc = m->cb(m->map[i], data, len, m->payload);
}

static int many_back(size_t i, const void *data, size_t len, void *payload)
{
	struct many *m = payload;
	const char *key = m->keys[m->map[i]];
	int rc;

	if (is_node(key)) {
		if ((rc = dh_buf_add(&m->fill, key, strlen(key) + 1)) || (rc = dh_buf_add(&m->fill, &len, sizeof(len))) ||
		    (rc = dh_buf_add(&m->fill, data, len)))
			return rc;
		m->nfill++;
	}
	return m->cb(m->map[i], data, len, m->payload);
}

/* Fill the frontend with the nodes m->fill holds; a frontend that cannot take them costs speed only. */
static void many_fill(struct tiered *ts, struct many *m)
{
	struct dh_kv *kvs = m->nfill ? calloc(m->nfill, sizeof(*kvs)) : NULL;
	size_t off = 0;

	if (!kvs)
		return;
	for (size_t i = 0; i < m->nfill; i++) {
		kvs[i].key = m->fill.data + off;
		off += strlen(kvs[i].key) + 1;
		memcpy(&kvs[i].len, m->fill.data + off, sizeof(size_t));
		off += sizeof(size_t);
		kvs[i].data = m->fill.data + off;
		off += kvs[i].len;
	}
	(void)dh_store_put_many(ts->front, kvs, m->nfill);
	free(kvs);
}

static int tiered_get_many(struct dh_store *st, const char *const *keys, size_t n, dh_get_cb cb, void *payload)
{
	struct tiered *ts = (struct tiered *)st;
	struct many m = { keys, NULL, NULL, cb, payload, 0, DH_BUF_INIT, 0 };
	const char **ask = NULL;
	size_t i, k = 0;
	int rc = 0, all_nodes = 1;

	if (ts->read == READ_FRONTEND_ONLY)
		return dh_store_get_many(ts->front, keys, n, cb, payload);
	ask = malloc(n * sizeof(*ask));
	m.map = malloc(n * sizeof(*m.map));
	m.got = calloc(n, 1);
	if (!ask || !m.map || !m.got) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (front_first(ts, keys[i])) {
			ask[k] = keys[i];
			m.map[k++] = i;
			all_nodes &= is_node(keys[i]);
		}
	if (k) {
		rc = dh_store_get_many(ts->front, ask, k, many_front, &m);
		/* nodes the frontend cannot give (a broken cache) come from the backend */
		if (rc && !m.cb_rc && all_nodes)
			rc = 0;
		if (rc)
			goto out;
	}
	for (i = 0, k = 0; i < n; i++)
		if (!m.got[i]) {
			ask[k] = keys[i];
			m.map[k++] = i;
		}
	if (k && !(rc = dh_store_get_many(ts->back, ask, k, many_back, &m)))
		many_fill(ts, &m);
out:
	free(ask);
	free(m.map);
	free(m.got);
	dh_buf_release(&m.fill);
	return rc;
}

static int tiered_has_many(struct dh_store *st, const char *const *keys, size_t n, unsigned char *found)
{
	struct tiered *ts = (struct tiered *)st;
	const char **ask = NULL;
	unsigned char *got = NULL;
	size_t *map = NULL, i, k = 0;
	int rc = 0;

	if (ts->read == READ_FRONTEND_ONLY)
		return dh_store_has_many(ts->front, keys, n, found);
	ask = malloc(n * sizeof(*ask));
	map = malloc(n * sizeof(*map));
	got = malloc(n);
	if (!ask || !map || !got) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	memset(found, 0, n);
	for (i = 0; i < n; i++)
		if (front_first(ts, keys[i])) {
			ask[k] = keys[i];
			map[k++] = i;
		}
	if (k && (rc = dh_store_has_many(ts->front, ask, k, got)))
		goto out;
	for (i = 0; i < k; i++)
		found[map[i]] = got[i];
	for (i = 0, k = 0; i < n; i++)
		if (!found[i]) {
			ask[k] = keys[i];
			map[k++] = i;
		}
	if (k && !(rc = dh_store_has_many(ts->back, ask, k, got)))
		for (i = 0; i < k; i++)
			found[map[i]] = got[i];
out:
	free(ask);
	free(map);
	free(got);
	return rc;
}

struct overlay {
	struct dh_store *front;
	dh_list_cb cb;
	void *payload;
};

/* Backend keys the frontend does not hold (those were listed already). */
static int back_only(const char *key, void *payload)
{
	struct overlay *o = payload;
	int rc = dh_store_has(o->front, key);

	if (rc < 0)
		return rc;
	return rc ? 0 : o->cb(key, o->payload);
}

static int tiered_list(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload)
{
	struct tiered *ts = (struct tiered *)st;
	struct overlay o = { ts->front, cb, payload };
	int rc;

	if (ts->read == READ_FRONTEND_ONLY)
		return dh_store_list(ts->front, prefix, cb, payload);
	if (ts->write == WRITE_FRONTEND_ONLY) {
		/* local keys, then the backend's that are not local: no duplicates, no memory */
		rc = dh_store_list(ts->front, prefix, cb, payload);
		return rc ? rc : dh_store_list(ts->back, prefix, back_only, &o);
	}
	if (ts->wb && (rc = behind_drain(ts->wb, dh_store_uri(ts->back))))
		return rc;
	return dh_store_list(ts->back, prefix, cb, payload);
}

/* ---- writes ---- */

/* Drop the frontend's copy of a mutable key, where the frontend can. */
static int front_forget(struct tiered *ts, const char *key)
{
	int rc = dh_store_del(ts->front, key);

	return rc == DH_EUNSUPPORTED ? 0 : rc;
}

static int tiered_put(struct dh_store *st, const char *key, const void *data, size_t len)
{
	struct tiered *ts = (struct tiered *)st;
	int rc;

	switch (ts->write) {
	case WRITE_FRONTEND_ONLY:
		return dh_store_put(ts->front, key, data, len);
	case WRITE_AROUND:
		rc = dh_store_put(ts->back, key, data, len);
		return rc || is_node(key) ? rc : front_forget(ts, key);
	case WRITE_BEHIND:
	case WRITE_THROUGH:
	default:
		if (ts->write == WRITE_BEHIND && is_node(key)) {
			rc = dh_store_put(ts->front, key, data, len);
			return rc ? rc : behind_put(ts->wb, dh_store_uri(ts->back), key, data, len);
		}
		/* other keys are written through under write-behind too */
		rc = dh_store_put(ts->back, key, data, len);
		return rc ? rc : dh_store_put(ts->front, key, data, len);
	}
}

static int tiered_put_many(struct dh_store *st, const struct dh_kv *kvs, size_t n)
{
	struct tiered *ts = (struct tiered *)st;
	size_t i;
	int rc = 0;

	switch (ts->write) {
	case WRITE_FRONTEND_ONLY:
		return dh_store_put_many(ts->front, kvs, n);
	case WRITE_THROUGH:
		rc = dh_store_put_many(ts->back, kvs, n);
		return rc ? rc : dh_store_put_many(ts->front, kvs, n);
	case WRITE_AROUND:
		rc = dh_store_put_many(ts->back, kvs, n);
		for (i = 0; i < n && !rc; i++)
			if (!is_node(kvs[i].key))
				rc = front_forget(ts, kvs[i].key);
		return rc;
	case WRITE_BEHIND:
	default:
		if ((rc = dh_store_put_many(ts->front, kvs, n)))
			return rc;
		for (i = 0; i < n && !rc; i++) {
			if (is_node(kvs[i].key))
				rc = behind_put(ts->wb, dh_store_uri(ts->back), kvs[i].key, kvs[i].data, kvs[i].len);
			else
				rc = dh_store_put(ts->back, kvs[i].key, kvs[i].data, kvs[i].len);
		}
		return rc;
	}
}

static int tiered_del(struct dh_store *st, const char *key)
{
	struct tiered *ts = (struct tiered *)st;
	int rc;

	if (ts->write == WRITE_FRONTEND_ONLY) {
		/* dropping a cached node is eviction; a mutable key would show the backend's value */
		rc = is_node(key) ? 0 : dh_store_has(ts->back, key);
		if (rc > 0)
			return dh_error_set(DH_EUNSUPPORTED, "cannot delete '%s': store '%s' never writes its backend",
					    key, dh_store_uri(&ts->base));
		return rc < 0 ? rc : front_forget(ts, key);
	}
	if (ts->wb && is_node(key) && (rc = behind_drain(ts->wb, dh_store_uri(ts->back))))
		return rc;  /* else a queued put could bring the key back */
	rc = dh_store_del(ts->back, key);
	return rc ? rc : front_forget(ts, key);
}

/*
 * Under write=frontend-only a mutable key's current value is the
 * frontend's if it has one, else the backend's; the swap happens in the
 * frontend against what it holds.
 */
static int overlay_cas(struct tiered *ts, const char *key, const char *old, const char *new)
{
	struct dh_buf cur = DH_BUF_INIT;
	int rc, local, present;

	if (!new) {
		/* a deleted local key would let the backend's value show through */
		rc = dh_store_has(ts->back, key);
		if (rc > 0)
			return dh_error_set(DH_EUNSUPPORTED, "cannot delete '%s': store '%s' never writes its backend",
					    key, dh_store_uri(&ts->base));
		return rc < 0 ? rc : dh_store_cas(ts->front, key, old, NULL);
	}
	local = dh_store_has(ts->front, key);
	if (local < 0)
		return local;
	if (local)
		return dh_store_cas(ts->front, key, old, new);
	rc = dh_store_get(ts->back, key, &cur);
	if (rc && rc != DH_ENOTFOUND)
		goto out;
	present = rc == 0;
	if (present ? !old || strcmp(cur.data, old) : old != NULL)
		rc = dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key);
	else
		rc = dh_store_cas(ts->front, key, NULL, new);
out:
	dh_buf_release(&cur);
	return rc;
}

static int tiered_cas(struct dh_store *st, const char *key, const char *old, const char *new)
{
	struct tiered *ts = (struct tiered *)st;
	int rc;

	if (ts->write == WRITE_FRONTEND_ONLY)
		return overlay_cas(ts, key, old, new);
	/* the head moves only once everything it may name is in the backend */
	if (ts->wb && (rc = behind_drain(ts->wb, dh_store_uri(ts->back))))
		return rc;
	if ((rc = dh_store_cas(ts->back, key, old, new)))
		return rc;
	/* keep a frontend-only reader of the same frontend close behind */
	if (ts->write == WRITE_AROUND || !new)
		return front_forget(ts, key);
	return dh_store_put(ts->front, key, new, strlen(new));
}

static int add_escaped(struct dh_buf *b, const char *s)
{
	int rc = 0;

	for (; *s && !rc; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr("-._~:/", *s))
			rc = dh_buf_addc(b, *s);
		else
			rc = dh_buf_addf(b, "%%%02X", (unsigned char)*s);
	}
	return rc;
}

int dh_store_tiered_uri(struct dh_buf *out, const char *front, const char *back, const char *write_policy,
			const char *read_policy)
{
	int rc;

	dh_buf_reset(out);
	if (!front || !back)
		return dh_error_set(DH_EUSAGE, "a tiered store needs a frontend and a backend");
	if (!(rc = dh_buf_adds(out, "tiered:?front=")) && !(rc = add_escaped(out, front)) &&
	    !(rc = dh_buf_adds(out, "&back=")) && !(rc = add_escaped(out, back)) && write_policy &&
	    !(rc = dh_buf_adds(out, "&write=")))
		rc = add_escaped(out, write_policy);
	if (!rc && read_policy && !(rc = dh_buf_adds(out, "&read=")))
		rc = add_escaped(out, read_policy);
	return rc;
}

const struct dh_store_ops dh_store_tiered_ops = {
	.api_version = DH_BACKEND_API_VERSION,
	.scheme = "tiered",
	.open = tiered_open,
	.close = tiered_close,
	.get = tiered_get,
	.put = tiered_put,
	.has = tiered_has,
	.list = tiered_list,
	.cas = tiered_cas,
	.del = tiered_del,
	.put_many = tiered_put_many,
	.flush = tiered_flush,
	.get_many = tiered_get_many,
	.has_many = tiered_has_many,
};
