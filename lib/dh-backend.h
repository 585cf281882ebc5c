/*
 * dh-backend.h - the interface for authors of store backends.
 *
 * A backend implements one URI scheme.  It defines a `const struct
 * dh_store_ops` table and a struct whose first member is `struct dh_store`:
 *
 *     struct my_store { struct dh_store base; int fd; ... };
 *
 * Its open() allocates that struct, fills what it needs and returns &base;
 * the library sets base.ops and base.uri afterwards.  Every other slot gets
 * the same pointer back and casts it.  Keys reaching a backend have already
 * been validated (see dh.h).  Native errors (errno, server replies, HTTP
 * statuses) become a DH_E* code plus a message naming the key, set with
 * dh_error_set(), inside the backend and nowhere else.
 *
 * Built-in backends are registered in lib/store/store.c; others call
 * dh_store_register() (and may live in plugins, see dh-backend(3)).
 */
#ifndef DH_BACKEND_H
#define DH_BACKEND_H

#include "dh.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever struct dh_store_ops or struct dh_store changes shape. */
#define DH_BACKEND_API_VERSION 1

struct dh_store_ops;

struct dh_store {
	const struct dh_store_ops *ops;
	struct dh_uri *uri;        /* owned by the library, freed after close() */
	unsigned flags;            /* the DH_STORE_* flags of the open */
};

struct dh_store_ops {
	unsigned api_version;      /* DH_BACKEND_API_VERSION */
	const char *scheme;        /* "file", "lmdb", ... */

	/* Required. */
	int (*open)(struct dh_store **out, const struct dh_uri *uri, unsigned flags);
	void (*close)(struct dh_store *st);
	/* DH_ENOTFOUND when absent.  Replaces out's contents. */
	int (*get)(struct dh_store *st, const char *key, struct dh_buf *out);
	/* Atomic for readers; durable no later than flush() or cas(). */
	int (*put)(struct dh_store *st, const char *key, const void *data, size_t len);
	/* 1, 0, or an error. */
	int (*has)(struct dh_store *st, const char *key);
	/* Streams keys starting with prefix; a non-zero cb return stops and is returned. */
	int (*list)(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload);
	/* Compare-and-swap: old == NULL means "must be absent", new == NULL deletes. */
	int (*cas)(struct dh_store *st, const char *key, const char *old, const char *new);

	/* Optional: NULL when unsupported. */
	int (*del)(struct dh_store *st, const char *key);
	int (*put_many)(struct dh_store *st, const struct dh_kv *kvs, size_t n);
	int (*flush)(struct dh_store *st);

	/*
	 * Optional, added last: read many keys in few round trips; calls cb
	 * for each key found (see dh_store_get_many).  NULL: the library
	 * calls get() per key.
	 */
	int (*get_many)(struct dh_store *st, const char *const *keys, size_t n, dh_get_cb cb, void *payload);
};

/*
 * dh_store_register() - make `ops` available to dh_store_open() under
 * ops->scheme.  `ops` must stay valid for the life of the process.
 * Returns 0, DH_EEXISTS when the scheme is taken, DH_EUSAGE for a bad
 * api_version or a missing required slot.
 */
int dh_store_register(const struct dh_store_ops *ops);

/* dh_store_lookup() - the ops registered for `scheme`, or NULL. */
const struct dh_store_ops *dh_store_lookup(const char *scheme);

#ifdef __cplusplus
}
#endif

#endif
