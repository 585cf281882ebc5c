/*
 * count.c - a test plugin that wraps another store and logs every call.
 *
 *   count:?store=<escaped URI>&log=<file>[&delay=<microseconds>]
 *
 * Every operation is passed on to the inner store (opened with
 * dh_store_open(), so it may be any scheme, a plugin's too) and appended as
 * one line "<op> <key>" to the log file (O_APPEND, one write per line, so
 * several processes can share a log).  Shell tests count the lines to see
 * how many requests reached a store, e.g. the backend of a tiered store.
 * A get_many or has_many call logs "many get <n>" (or "many has <n>")
 * followed by one "get <key>" ("has <key>") line per key, so a count of
 * keys read stays a count of "get" lines, and the round trips of a reader
 * are its "many" lines plus the "get" and "has" lines outside them.
 * With delay, every put waits that long first: a slow backend, for tests
 * of writes that must wait for it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dh/dh-backend.h>

struct count {
	struct dh_store base;
	struct dh_store *inner;
	int logfd;
	unsigned long delay;
};

static int note(struct count *c, const char *op, const char *key)
{
	char line[DH_KEY_MAX + 32];
	int n = snprintf(line, sizeof(line), "%s %s\n", op, key);

	if (n < 0 || (size_t)n >= sizeof(line) || write(c->logfd, line, (size_t)n) != n)
		return dh_error_set(DH_EIO, "cannot write the count log: %s", strerror(errno));
	return 0;
}

static int count_open(struct dh_store **out, const struct dh_uri *uri, unsigned flags)
{
	static const char *const known[] = { "store", "log", "delay", NULL };
	const char *inner = dh_uri_param(uri, "store"), *log = dh_uri_param(uri, "log");
	struct count *c;
	int rc;

	if ((rc = dh_uri_check_params(uri, known)))
		return rc;
	if (!inner || !log)
		return dh_error_set(DH_EUSAGE, "count: needs ?store=<URI>&log=<file>");
	if (!(c = calloc(1, sizeof(*c))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	if (dh_uri_param(uri, "delay"))
		c->delay = strtoul(dh_uri_param(uri, "delay"), NULL, 10);
	c->logfd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (c->logfd < 0) {
		rc = dh_error_set(DH_EIO, "cannot open count log '%s': %s", log, strerror(errno));
		free(c);
		return rc;
	}
	if ((rc = dh_store_open(&c->inner, inner, flags)) || (rc = note(c, "open", inner))) {
		dh_store_close(c->inner);
		close(c->logfd);
		free(c);
		return rc;
	}
	*out = &c->base;
	return 0;
}

static void count_close(struct dh_store *st)
{
	struct count *c = (struct count *)st;

	note(c, "close", "-");
	dh_store_close(c->inner);
	close(c->logfd);
	free(c);
}

static int count_get(struct dh_store *st, const char *key, struct dh_buf *out)
{
	struct count *c = (struct count *)st;
	int rc = note(c, "get", key);

	return rc ? rc : dh_store_get(c->inner, key, out);
}

static int count_put(struct dh_store *st, const char *key, const void *data, size_t len)
{
	struct count *c = (struct count *)st;
	int rc = note(c, "put", key);

	if (c->delay)
		usleep((useconds_t)c->delay);
	return rc ? rc : dh_store_put(c->inner, key, data, len);
}

static int count_put_many(struct dh_store *st, const struct dh_kv *kvs, size_t n)
{
	struct count *c = (struct count *)st;
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		rc = note(c, "put", kvs[i].key);
		if (c->delay)
			usleep((useconds_t)c->delay);
	}
	return rc ? rc : dh_store_put_many(c->inner, kvs, n);
}

static int count_has(struct dh_store *st, const char *key)
{
	struct count *c = (struct count *)st;
	int rc = note(c, "has", key);

	return rc ? rc : dh_store_has(c->inner, key);
}

static int note_many(struct count *c, const char *op, const char *const *keys, size_t n)
{
	char what[32];
	int rc;

	snprintf(what, sizeof(what), "%s %zu", op, n);
	rc = note(c, "many", what);
	for (size_t i = 0; i < n && !rc; i++)
		rc = note(c, op, keys[i]);
	return rc;
}

static int count_get_many(struct dh_store *st, const char *const *keys, size_t n, dh_get_cb cb, void *payload)
{
	struct count *c = (struct count *)st;
	int rc = note_many(c, "get", keys, n);

	return rc ? rc : dh_store_get_many(c->inner, keys, n, cb, payload);
}

static int count_has_many(struct dh_store *st, const char *const *keys, size_t n, unsigned char *found)
{
	struct count *c = (struct count *)st;
	int rc = note_many(c, "has", keys, n);

	return rc ? rc : dh_store_has_many(c->inner, keys, n, found);
}

static int count_del(struct dh_store *st, const char *key)
{
	struct count *c = (struct count *)st;
	int rc = note(c, "del", key);

	return rc ? rc : dh_store_del(c->inner, key);
}

static int count_list(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload)
{
	struct count *c = (struct count *)st;
	int rc = note(c, "list", prefix[0] ? prefix : "-");

	return rc ? rc : dh_store_list(c->inner, prefix, cb, payload);
}

static int count_cas(struct dh_store *st, const char *key, const char *old, const char *new)
{
	struct count *c = (struct count *)st;
	int rc = note(c, "cas", key);

	return rc ? rc : dh_store_cas(c->inner, key, old, new);
}

static int count_flush(struct dh_store *st)
{
	struct count *c = (struct count *)st;
	int rc = note(c, "flush", "-");

	return rc ? rc : dh_store_flush(c->inner);
}

static const struct dh_store_ops count_ops = {
	.api_version = DH_BACKEND_API_VERSION,
	.scheme = "count",
	.open = count_open,
	.close = count_close,
	.get = count_get,
	.put = count_put,
	.has = count_has,
	.list = count_list,
	.cas = count_cas,
	.del = count_del,
	.put_many = count_put_many,
	.flush = count_flush,
	.get_many = count_get_many,
	.has_many = count_has_many,
};

DH_BACKEND_PLUGIN(&count_ops)
