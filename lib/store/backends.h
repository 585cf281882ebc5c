/*
 * backends.h - the ops tables of the built-in backends, for store.c's registry.
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

#endif
