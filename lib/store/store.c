/*
 * store.c - the store interface: backend registry, URI dispatch, key checks.
 *
 * Callers use dh_store_*(); this file validates keys once, so no backend has
 * to, and routes each call through the backend's ops table.  Built-in
 * backends are listed in `builtin[]` (guarded by the build's feature
 * options), or in `modules[]` when they are built as modules (module.c)
 * and loaded on first use; others register at run time with
 * dh_store_register(), or come from plugins (plugin.c), loaded the first
 * time a scheme is unknown.  Heads are the only mutable keys and only
 * change through cas().
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dh-backend.h"
#include "store/backends.h"

static const struct dh_store_ops *const builtin[] = {
	&dh_store_mem_ops,
	&dh_store_file_ops,
#if DH_HAVE_LMDB
	&dh_store_lmdb_ops,
#endif
	&dh_store_tiered_ops,
};

/* Schemes of the backends built as modules, and the module of each. */
static const struct {
	const char *scheme, *module;
} modules[] = {
#if DH_HAVE_SQLITE
	{ "sqlite", "sqlite" },
#endif
#if DH_HAVE_POSTGRESQL
	{ "postgresql", "postgresql" },
	{ "postgres", "postgresql" },
#endif
#if DH_HAVE_REDIS
	{ "redis", "redis" },
#endif
#if DH_HAVE_CLOUD
	{ "s3", "cloud" },
	{ "gs", "cloud" },
	{ "dynamodb", "cloud" },
#endif
	{ NULL, NULL },
};

#define MAX_EXTRA 64
static const struct dh_store_ops *extra[MAX_EXTRA];
static size_t nextra;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

/* Called with reg_lock held. */
static const struct dh_store_ops *lookup_locked(const char *scheme)
{
	size_t i;

	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (!strcmp(builtin[i]->scheme, scheme))
			return builtin[i];
	for (i = 0; i < nextra; i++)
		if (!strcmp(extra[i]->scheme, scheme))
			return extra[i];
	return NULL;
}

const struct dh_store_ops *dh_store_lookup(const char *scheme)
{
	const struct dh_store_ops *ops;

	pthread_mutex_lock(&reg_lock);
	ops = lookup_locked(scheme);
	pthread_mutex_unlock(&reg_lock);
	return ops;
}

static int ops_check(const struct dh_store_ops *ops)
{
	const char *c, *missing;

	if (!ops || ops->api_version != DH_BACKEND_API_VERSION)
		return dh_error_set(DH_EUSAGE, "backend API version %u, this libdh speaks %u",
				    ops ? ops->api_version : 0, DH_BACKEND_API_VERSION);
	if (!ops->scheme || !ops->scheme[0])
		return dh_error_set(DH_EUSAGE, "backend has no scheme");
	for (c = ops->scheme; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '+' || *c == '-' || *c == '.'))
			return dh_error_set(DH_EUSAGE, "bad backend scheme '%s'", ops->scheme);
	missing = !ops->open ? "open" : !ops->close ? "close" : !ops->get ? "get" : !ops->put ? "put" :
		  !ops->has ? "has" : !ops->list ? "list" : !ops->cas ? "cas" : NULL;
	if (missing)
		return dh_error_set(DH_EUSAGE, "backend '%s' lacks the required operation %s()", ops->scheme, missing);
	return 0;
}

int dh_store_register_all(const struct dh_store_ops *const *ops, size_t n)
{
	size_t i, j;
	int rc = 0;

	for (i = 0; i < n; i++)
		if ((rc = ops_check(ops[i])))
			return rc;
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(ops[i]->scheme, ops[j]->scheme))
				return dh_error_set(DH_EUSAGE, "scheme '%s' given twice", ops[i]->scheme);
	pthread_mutex_lock(&reg_lock);
	for (i = 0; i < n && !rc; i++)
		if (lookup_locked(ops[i]->scheme))
			rc = dh_error_set(DH_EEXISTS, "a backend for scheme '%s' is already registered", ops[i]->scheme);
	if (!rc && nextra + n > MAX_EXTRA)
		rc = dh_error_set(DH_ENOMEM, "too many registered backends");
	for (i = 0; i < n && !rc; i++)
		extra[nextra++] = ops[i];
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

int dh_store_register(const struct dh_store_ops *ops)
{
	return dh_store_register_all(&ops, 1);
}

static int schemes_list(struct dh_buf *b)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]) && !rc; i++)
		rc = dh_buf_addf(b, "%s%s", i ? ", " : "", builtin[i]->scheme);
	for (i = 0; modules[i].scheme && !rc; i++)
		if (!dh_store_lookup(modules[i].scheme))
			rc = dh_buf_addf(b, ", %s", modules[i].scheme);
	pthread_mutex_lock(&reg_lock);
	for (i = 0; i < nextra && !rc; i++)
		rc = dh_buf_addf(b, ", %s", extra[i]->scheme);
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

/*
 * Where module `name` is: next to libdh.so when the library runs from its
 * build tree, else in <libdir>/dh/modules beside the installed library
 * (found from the library's own path, so a relocated install works).
 */
static int module_path(char *path, size_t size, const char *name)
{
	char lib[PATH_MAX], build[PATH_MAX], *slash;
	Dl_info info;

	if (!dladdr((void *)dh_store_open, &info) || !info.dli_fname || !realpath(info.dli_fname, lib) ||
	    !(slash = strrchr(lib, '/')))
		return dh_error_set(DH_EIO, "cannot find where libdh is installed to load module '%s'", name);
	*slash = '\0';
	if (realpath(DH_BUILD_ROOT, build) && !strcmp(build, lib))
		snprintf(path, size, "%s/dh-backend-%s.so", lib, name);
	else
		snprintf(path, size, "%s/%s/dh-backend-%s.so", lib, DH_MODULE_SUBDIR, name);
	return 0;
}

/*
 * Load the module providing `scheme`, if a module does.  Returns 0 when it
 * is loaded (or no module has the scheme); otherwise the loader's error,
 * whose message names the module file.
 */
static int module_load(const char *scheme)
{
	char path[PATH_MAX + 64];
	size_t i;
	int rc;

	for (i = 0; modules[i].scheme; i++)
		if (!strcmp(modules[i].scheme, scheme))
			break;
	if (!modules[i].scheme)
		return 0;
	if ((rc = module_path(path, sizeof(path), modules[i].module)))
		return rc;
	if (access(path, F_OK))
		return dh_error_set(DH_EIO, "backend '%s' is module '%s', which is missing: %s (reinstall dh)", scheme,
				    path, strerror(errno));
	if ((rc = dh_plugin_load(path)))
		return dh_error_prefix(rc, "backend '%s'", scheme);
	return 0;
}

/*
 * An unknown scheme: a refused plugin that claims it is the whole story;
 * otherwise list what is known and what was refused.
 */
static int unknown_scheme(const struct dh_uri *uri)
{
	struct dh_buf b = DH_BUF_INIT, why = DH_BUF_INIT;
	int rc;

	if (dh_plugins_explain(&why, uri->scheme)) {
		rc = dh_error_set(DH_EUNSUPPORTED, "cannot open '%s': %s", uri->text, why.data);
	} else {
		schemes_list(&b);
		rc = dh_error_set(DH_EUSAGE, "unknown store scheme '%s' in '%s' (known: %s)%s",
				  uri->scheme, uri->text, b.data ? b.data : "", why.data ? why.data : "");
	}
	dh_buf_release(&b);
	dh_buf_release(&why);
	return rc;
}

/*
 * Keys: printable ASCII without space, components neither empty nor starting
 * with '.': backends keep their own files under dot names (the file
 * backend's `.lock` and `.tmp-*`), which a key must never replace.
 */
static int key_check(const char *key)
{
	const char *c, *comp;
	size_t n = 0;

	if (!key || !key[0])
		return dh_error_set(DH_EUSAGE, "empty key");
	comp = key;
	for (c = key;; c++, n++) {
		if (n >= DH_KEY_MAX)
			return dh_error_set(DH_EUSAGE, "key longer than %d bytes", DH_KEY_MAX);
		if (*c == '/' || *c == '\0') {
			size_t len = (size_t)(c - comp);

			if (len == 0 || comp[0] == '.')
				return dh_error_set(DH_EUSAGE, "bad key '%s': empty component or one starting with '.'", key);
			if (!*c)
				break;
			comp = c + 1;
			continue;
		}
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '\\')
			return dh_error_set(DH_EUSAGE, "bad key: byte 0x%02x at offset %zu", (unsigned char)*c, n);
	}
	return 0;
}

int dh_store_open(struct dh_store **out, const char *text, unsigned flags)
{
	struct dh_uri *uri = NULL;
	const struct dh_store_ops *ops;
	struct dh_store *st = NULL;
	int rc;

	*out = NULL;
	rc = dh_uri_parse(&uri, text);
	if (rc)
		return dh_error_prefix(rc, "store '%s'", text && strchr(text, '@') ? "(uri with credentials)" : text);
	ops = dh_store_lookup(uri->scheme);
	if (!ops) {
		if ((rc = module_load(uri->scheme))) {
			dh_uri_free(uri);
			return rc;
		}
		ops = dh_store_lookup(uri->scheme);
	}
	if (!ops) {
		dh_plugins_autoload();
		ops = dh_store_lookup(uri->scheme);
	}
	if (!ops) {
		rc = unknown_scheme(uri);
		dh_uri_free(uri);
		return rc;
	}
	rc = ops->open(&st, uri, flags);
	if (rc) {
		if (!strstr(dh_errmsg(), uri->text))
			dh_error_prefix(rc, "store '%s'", uri->text);
		dh_uri_free(uri);
		return rc;
	}
	st->ops = ops;
	st->uri = uri;
	st->flags = (flags & ~(unsigned)DH_STORE_KEYWISE) | (st->flags & DH_STORE_KEYWISE);
	*out = st;
	return 0;
}

unsigned dh_store_flags(const struct dh_store *st)
{
	return st->flags;
}

void dh_store_close(struct dh_store *st)
{
	struct dh_uri *uri;

	if (!st)
		return;
	uri = st->uri;
	st->ops->close(st);
	dh_uri_free(uri);
}

const char *dh_store_uri(const struct dh_store *st)
{
	return st->uri->text;
}

const char *dh_store_scheme(const struct dh_store *st)
{
	return st->ops->scheme;
}

static int rdonly(struct dh_store *st, const char *what)
{
	return dh_error_set(DH_EUSAGE, "store '%s' is open read-only: cannot %s", st->uri->text, what);
}

int dh_store_get(struct dh_store *st, const char *key, struct dh_buf *out)
{
	int rc = key_check(key);

	return rc ? rc : st->ops->get(st, key, out);
}

int dh_store_put(struct dh_store *st, const char *key, const void *data, size_t len)
{
	int rc = key_check(key);

	if (rc)
		return rc;
	if (st->flags & DH_STORE_RDONLY)
		return rdonly(st, "write");
	return st->ops->put(st, key, data, len);
}

int dh_store_put_many(struct dh_store *st, const struct dh_kv *kvs, size_t n)
{
	size_t i;
	int rc;

	if (n && (st->flags & DH_STORE_RDONLY))
		return rdonly(st, "write");
	for (i = 0; i < n; i++)
		if ((rc = key_check(kvs[i].key)))
			return rc;
	if (st->ops->put_many)
		return st->ops->put_many(st, kvs, n);
	for (i = 0; i < n; i++)
		if ((rc = st->ops->put(st, kvs[i].key, kvs[i].data, kvs[i].len)))
			return rc;
	return 0;
}

int dh_store_get_many(struct dh_store *st, const char *const *keys, size_t n, dh_get_cb cb, void *payload)
{
	struct dh_buf b = DH_BUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; i < n; i++)
		if ((rc = key_check(keys[i])))
			return rc;
	if (st->ops->get_many)
		return n ? st->ops->get_many(st, keys, n, cb, payload) : 0;
	for (i = 0; i < n && !rc; i++) {
		rc = st->ops->get(st, keys[i], &b);
		if (rc == DH_ENOTFOUND)
			rc = 0;
		else if (!rc)
			rc = cb(i, b.data ? b.data : "", b.len, payload);
	}
	dh_buf_release(&b);
	return rc;
}

int dh_store_has(struct dh_store *st, const char *key)
{
	int rc = key_check(key);

	return rc ? rc : st->ops->has(st, key);
}

int dh_store_has_many(struct dh_store *st, const char *const *keys, size_t n, unsigned char *found)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		if ((rc = key_check(keys[i])))
			return rc;
	if (st->ops->has_many)
		return n ? st->ops->has_many(st, keys, n, found) : 0;
	for (i = 0; i < n; i++) {
		if ((rc = st->ops->has(st, keys[i])) < 0)
			return rc;
		found[i] = rc > 0;
	}
	return 0;
}

int dh_store_del(struct dh_store *st, const char *key)
{
	int rc = key_check(key);

	if (rc)
		return rc;
	if (st->flags & DH_STORE_RDONLY)
		return rdonly(st, "delete");
	if (!st->ops->del)
		return dh_error_set(DH_EUNSUPPORTED, "%s:// stores cannot delete keys", st->ops->scheme);
	return st->ops->del(st, key);
}

int dh_store_list(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload)
{
	if (!prefix)
		prefix = "";
	if (strlen(prefix) >= DH_KEY_MAX)
		return dh_error_set(DH_EUSAGE, "key prefix too long");
	return st->ops->list(st, prefix, cb, payload);
}

int dh_store_flush(struct dh_store *st)
{
	return st->ops->flush ? st->ops->flush(st) : 0;
}

int dh_store_cas(struct dh_store *st, const char *key, const char *old, const char *new)
{
	int rc = key_check(key);

	if (rc)
		return rc;
	if (st->flags & DH_STORE_RDONLY)
		return rdonly(st, "move a head");
	return st->ops->cas(st, key, old, new);
}

/* ---- heads ---- */

int dh_branch_check(const char *name)
{
	const char *c, *comp;
	size_t n;

	if (!name || !name[0])
		return dh_error_set(DH_EUSAGE, "empty branch name");
	n = strlen(name);
	if (n > DH_BRANCH_MAX)
		return dh_error_set(DH_EUSAGE, "branch name longer than %d bytes", DH_BRANCH_MAX);
	if (n >= 5 && !strcmp(name + n - 5, ".lock"))
		return dh_error_set(DH_EUSAGE, "bad branch name '%s': ends in '.lock'", name);
	comp = name;
	for (c = name;; c++) {
		if (*c == '/' || !*c) {
			if (c == comp || comp[0] == '.')
				return dh_error_set(DH_EUSAGE,
						    "bad branch name '%s': empty component or one starting with '.'", name);
			if (!*c)
				break;
			comp = c + 1;
			continue;
		}
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '-' || *c == '_' || *c == '.'))
			return dh_error_set(DH_EUSAGE, "bad branch name: character 0x%02x not allowed", (unsigned char)*c);
	}
	return 0;
}

static int head_key(char *key, size_t size, const char *branch)
{
	int rc = dh_branch_check(branch);

	if (!rc)
		snprintf(key, size, "heads/%s", branch);
	return rc;
}

int dh_head_get(struct dh_store *st, const char *branch, char out[DH_HASH_HEX + 1])
{
	char key[DH_BRANCH_MAX + 8];
	struct dh_buf b = DH_BUF_INIT;
	int rc = head_key(key, sizeof(key), branch);

	if (!rc)
		rc = st->ops->get(st, key, &b);
	if (rc == DH_ENOTFOUND)
		rc = dh_error_set(DH_ENOTFOUND, "no branch '%s' in store '%s'", branch, st->uri->text);
	if (!rc) {
		while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
			b.data[--b.len] = '\0';
		if (b.len != DH_HASH_HEX || !dh_is_node_name(b.data))
			rc = dh_error_set(DH_ECORRUPT, "'%s' in store '%s' does not hold a node name", key, st->uri->text);
		else
			memcpy(out, b.data, DH_HASH_HEX + 1);
	}
	dh_buf_release(&b);
	return rc;
}

int dh_head_cas(struct dh_store *st, const char *branch, const char *old, const char *new)
{
	char key[DH_BRANCH_MAX + 8];
	int rc = head_key(key, sizeof(key), branch);

	if (rc)
		return rc;
	if ((old && !dh_is_node_name(old)) || (new && !dh_is_node_name(new)))
		return dh_error_set(DH_EUSAGE, "head value is not a node name");
	if (st->flags & DH_STORE_RDONLY)
		return rdonly(st, "move a head");
	rc = st->ops->cas(st, key, old, new);
	if (rc == DH_ECONFLICT)
		rc = dh_error_set(DH_ECONFLICT, "branch '%s' of store '%s' was moved by another writer",
				  branch, st->uri->text);
	return rc;
}

struct head_walk {
	dh_list_cb cb;
	void *payload;
};

static int head_each(const char *key, void *payload)
{
	struct head_walk *w = payload;

	if (dh_branch_check(key + 6))
		return 0;
	return w->cb(key + 6, w->payload);
}

int dh_head_list(struct dh_store *st, dh_list_cb cb, void *payload)
{
	struct head_walk w = { cb, payload };

	return st->ops->list(st, "heads/", head_each, &w);
}
