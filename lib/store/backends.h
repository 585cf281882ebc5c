/*
 * backends.h - the ops tables of the built-in backends, for store.c's
 * registry, and the calls between the registry and the plugin loader.
 */
#ifndef DH_STORE_BACKENDS_H
#define DH_STORE_BACKENDS_H

#include "dh-backend.h"

extern const struct dh_store_ops dh_store_mem_ops;
extern const struct dh_store_ops dh_store_file_ops;
extern const struct dh_store_ops dh_store_lmdb_ops;
extern const struct dh_store_ops dh_store_sqlite_ops;
extern const struct dh_store_ops dh_store_postgresql_ops;
extern const struct dh_store_ops dh_store_postgres_ops;
extern const struct dh_store_ops dh_store_redis_ops;
extern const struct dh_store_ops dh_store_s3_ops;
extern const struct dh_store_ops dh_store_gs_ops;
extern const struct dh_store_ops dh_store_dynamodb_ops;

extern const struct dh_store_ops dh_store_tiered_ops;

/*
 * dh_store_register_all() - register the `n` tables of `ops` all together:
 * validate each, check that no scheme is taken or repeated, then add them
 * under one lock.  On any failure nothing is registered.  Returns as
 * dh_store_register() does.
 */
int dh_store_register_all(const struct dh_store_ops *const *ops, size_t n);

/* dh_plugins_autoload() - load the plugins of DH_BACKEND_PATH and DH_PLUGINDIR, once. */
void dh_plugins_autoload(void);

/*
 * dh_plugins_explain() - append to `b` why plugins were refused: only the
 * refusals of plugins that claim `scheme` (returning 1), or, when there is
 * none, "; <reason>" for every refused plugin (returning 0).
 */
int dh_plugins_explain(struct dh_buf *b, const char *scheme);

#endif
