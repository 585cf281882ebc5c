/*
 * dh-backend.h - the interface for authors of store backends.
 *
 * A backend teaches libdh one URI scheme: after it is registered, every dh
 * tool and every program using libdh opens `scheme://...` stores through it.
 * This header is the whole contract.  It needs only dh.h (included below)
 * and the C library, so a backend can be written and built outside the dh
 * source tree:
 *
 *     #include <dh/dh-backend.h>
 *     cc -shared -fPIC $(pkg-config --cflags dh) -o myscheme.so myscheme.c
 *
 * A backend defines a `const struct dh_store_ops` table and a struct whose
 * first member is `struct dh_store`:
 *
 *     struct my_store { struct dh_store base; int fd; ... };
 *
 * Its open() allocates that struct, fills what it needs and hands back
 * &base; the library sets base.ops, base.uri and base.flags afterwards
 * (keeping the one flag a backend may set there, DH_STORE_KEYWISE: see
 * dh.h; leave base.flags zero otherwise).
 * Every other slot gets the same pointer back and casts it.
 *
 * What the library guarantees before a slot is called:
 *  - Keys are valid: non-empty printable ASCII without space or backslash,
 *    at most DH_KEY_MAX bytes, no leading or trailing '/', no empty, "." or
 *    ".." component.  A backend can use them as relative file names.
 *  - Writes (put, put_many, del, cas) never reach a store opened with
 *    DH_STORE_RDONLY.
 *  - A handle is used by one thread at a time; different handles (also on
 *    the same store, in this or other processes) may run concurrently.
 *
 * What a backend owes the library:
 *  - The key space of dh-store(5) stored as-is: the same keys map to the
 *    same bytes on every backend, so stores can be copied between them.
 *  - Errors as a negative DH_E* code plus a message set with
 *    dh_error_set(), lowercase, naming the key (and the store where that
 *    helps): "'nodes/ab/cd..' not found in '/srv/db'".  Native errors
 *    (errno, server replies, HTTP statuses) are translated here and
 *    nowhere else.  Never print, never exit.
 *  - No reader ever sees a partial value under its key, even when the
 *    writer is killed (write elsewhere, then rename or commit).
 *  - cas() is atomic across every handle and process that uses the store.
 *
 * Built-in backends are listed in lib/store/store.c.  Others are registered
 * at run time with dh_store_register(), or loaded as plugins: shared
 * objects found in the plugin directory or in DH_BACKEND_PATH that export
 * the two symbols DH_BACKEND_PLUGIN() defines (see "Plugins" below and
 * dh-backend(3)).
 */
#ifndef DH_BACKEND_H
#define DH_BACKEND_H

#include <stddef.h>

#include "dh.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The version of this interface: of struct dh_store, struct dh_store_ops
 * and the plugin symbols.  Bumped whenever any of them changes shape or
 * meaning; a backend built against another version is refused.
 */
#define DH_BACKEND_API_VERSION 2

struct dh_store_ops;

/* The first member of every backend's store struct. */
struct dh_store {
	const struct dh_store_ops *ops;  /* set by the library after open() */
	struct dh_uri *uri;              /* set by the library; freed after close() */
	unsigned flags;                  /* the DH_STORE_* flags of the open */
};

struct dh_store_ops {
	unsigned api_version;      /* DH_BACKEND_API_VERSION */
	const char *scheme;        /* lowercase letters, digits, '+', '-', '.' */

	/* ---- required ---- */

	/*
	 * Open the store `uri` names (parsed and percent-decoded, see dh.h;
	 * borrowed: copy what you keep).  Refuse unknown query parameters with
	 * dh_uri_check_params().  With DH_STORE_CREATE, create what is missing
	 * (directory, file, table); without it a missing store is
	 * DH_ENOTFOUND.  On success *out is &mine->base; on failure set a
	 * message, free everything and return DH_EUSAGE (bad URI), DH_ENOTFOUND,
	 * DH_EIO, DH_EAUTH or DH_ENOMEM.
	 */
	int (*open)(struct dh_store **out, const struct dh_uri *uri, unsigned flags);
	/*
	 * Make pending writes durable as flush() would (errors are lost), then
	 * free the store struct and all it owns except base.uri.
	 */
	void (*close)(struct dh_store *st);
	/*
	 * Replace the contents of `out` (dh_buf_reset, then dh_buf_add) with
	 * the value of `key`.  DH_ENOTFOUND, with a message naming the key,
	 * when it is absent; DH_EIO, DH_ENOMEM.
	 */
	int (*get)(struct dh_store *st, const char *key, struct dh_buf *out);
	/*
	 * Store `len` bytes (possibly 0, possibly containing NULs) under `key`,
	 * replacing any value.  Visible to readers atomically (all or nothing);
	 * durable no later than the next flush() or cas() on this handle.
	 * Keys under "nodes/" are content addressed: if the key exists it
	 * already holds these bytes, and a backend may return 0 at once.
	 */
	int (*put)(struct dh_store *st, const char *key, const void *data, size_t len);
	/* 1 if `key` exists, 0 if not (a prefix of keys is not a key), or an error. */
	int (*has)(struct dh_store *st, const char *key);
	/*
	 * Call cb(key, payload) once per key that starts with `prefix` (maybe
	 * ""), in any order, without collecting all keys first.  The callback
	 * may use this handle (get, has), so do not hold a lock across it.  A
	 * non-zero return from cb stops the walk and is returned as is.
	 */
	int (*list)(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload);
	/*
	 * Compare-and-swap the mutable key `key` (a head): if it holds exactly
	 * the string `old_value` (NULL: it must be absent), set it to the
	 * string `new_value` (NULL: delete it).  First make every value put
	 * through this handle durable, so a head never names data a crash could
	 * lose.  Atomic against every other writer.  DH_ECONFLICT with a
	 * message naming the key when the current value differs; nothing
	 * changes then.
	 */
	int (*cas)(struct dh_store *st, const char *key, const char *old_value, const char *new_value);

	/* ---- optional: NULL when unsupported ---- */

	/* Delete `key`; a missing key is success.  NULL: DH_EUNSUPPORTED. */
	int (*del)(struct dh_store *st, const char *key);
	/* Put many values at once (one transaction, one round trip).  NULL: put() each. */
	int (*put_many)(struct dh_store *st, const struct dh_kv *kvs, size_t n);
	/* Make every value put through this handle durable.  NULL: always durable. */
	int (*flush)(struct dh_store *st);

	/*
	 * Optional, added last: read many keys in few round trips; calls cb
	 * for each key found (see dh_store_get_many).  NULL: the library
	 * calls get() per key.
	 */
	int (*get_many)(struct dh_store *st, const char *const *keys, size_t n, dh_get_cb cb, void *payload);
	/*
	 * Optional, added last: set found[i] to 1 or 0 as keys[i] exists or
	 * not, in few round trips (see dh_store_has_many).  NULL: the library
	 * calls has() per key.
	 */
	int (*has_many)(struct dh_store *st, const char *const *keys, size_t n, unsigned char *found);
};

/*
 * dh_store_register() - make `ops` available to dh_store_open() under
 * ops->scheme.  `ops` must stay valid for the life of the process.
 * Thread-safe.  Returns 0; DH_EEXISTS when the scheme is taken (built-in or
 * registered); DH_EUSAGE for a wrong api_version, a bad scheme or a missing
 * required slot; DH_ENOMEM when the registry is full.
 */
int dh_store_register(const struct dh_store_ops *ops);

/*
 * dh_store_lookup() - the ops registered for `scheme`, or NULL.  Does not
 * load plugins.  The returned table lives as long as the process.
 */
const struct dh_store_ops *dh_store_lookup(const char *scheme);

/* ---- plugins ----------------------------------------------------------- */

/*
 * A plugin is a shared object that exports two symbols:
 *
 *   const unsigned dh_plugin_api_version;
 *       the DH_BACKEND_API_VERSION it was built against; read first, and
 *       the plugin is refused unless it equals the library's
 *   const struct dh_store_ops *const *dh_plugin_backends(void);
 *       a NULL-terminated list of the backends it provides (at least one)
 *
 * Write them with DH_BACKEND_PLUGIN(&my_ops) (or DH_BACKEND_PLUGIN(&a, &b)
 * for several schemes) at file scope.  The library registers all of a
 * plugin's backends or none: a plugin is refused, and nothing of it is
 * registered, when it lacks a symbol, was built for another API version,
 * provides no backend or an invalid one, or claims a scheme that is already
 * taken.  A refused plugin is unloaded; loaded ones stay for the life of
 * the process.  Plugins must not call dh_store_register() themselves.
 *
 * Where plugins are found: when dh_store_open() meets a scheme nobody has
 * registered, the library loads, once per process and in this order, every
 * "*.so" file (sorted by name) in each directory of the colon-separated
 * environment variable DH_BACKEND_PATH, then in the plugin directory fixed
 * at build time (<libdir>/dh/backends).  A refused plugin does not stop
 * the others, nor the opening of any other store; its reason is reported
 * when its scheme (or any unknown scheme) is requested.  Name a plugin
 * after its scheme ("flatdir.so") so that this report can find it even
 * when the plugin cannot be asked.
 */
#define DH_PLUGIN_API_VERSION_SYMBOL "dh_plugin_api_version"
#define DH_PLUGIN_BACKENDS_SYMBOL "dh_plugin_backends"

#ifdef __cplusplus
#define DH_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define DH_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* Declared here so that definitions by DH_BACKEND_PLUGIN() have a prototype. */
extern const unsigned dh_plugin_api_version;
const struct dh_store_ops *const *dh_plugin_backends(void);

#define DH_BACKEND_PLUGIN(...)                                                         \
	DH_PLUGIN_EXPORT const unsigned dh_plugin_api_version = DH_BACKEND_API_VERSION; \
	DH_PLUGIN_EXPORT const struct dh_store_ops *const *dh_plugin_backends(void)     \
	{                                                                              \
		static const struct dh_store_ops *const dh_plugin_list_[] = {          \
			__VA_ARGS__, NULL                                              \
		};                                                                     \
		return dh_plugin_list_;                                                \
	}

/*
 * dh_plugin_load() - load the plugin at `path` now and register its
 * backends, with the checks described above.  Loading a file that is
 * already loaded (the same file under any name) is success.  Returns 0;
 * DH_EIO when the file cannot be loaded (the dynamic loader's message);
 * DH_EUSAGE when it is no plugin, lacks a symbol or has another API
 * version; DH_EEXISTS when it claims a taken scheme; DH_ENOMEM.  The
 * message names the file.  Nothing of a refused plugin stays registered.
 */
int dh_plugin_load(const char *path);

#ifdef __cplusplus
}
#endif

#endif
