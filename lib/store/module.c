/*
 * module.c - the entry point of a built-in backend built as a module.
 *
 * The SQLite, PostgreSQL, Redis and cloud backends link client libraries
 * (libsqlite3, libpq, hiredis, libcurl and what they pull in: Kerberos,
 * LDAP, GnuTLS, ...) that cost a process up to several milliseconds to load.  Built into libdh,
 * every dh-query on a file store would pay that.  So each is a module,
 * dh-backend-<name>.so, that store.c loads the first time one of its
 * schemes is opened.  A module is a plugin (dh-backend.h) that also carries
 * the version of the libdh it was built with: it uses the library's
 * internals, so store.c's loader refuses a module from another build.
 *
 * Compiled once per module with one of DH_MODULE_SQLITE,
 * DH_MODULE_POSTGRESQL, DH_MODULE_REDIS or DH_MODULE_CLOUD defined.
 */
#include "config.h"
#include "dh-backend.h"
#include "store/backends.h"

DH_PLUGIN_EXPORT const char dh_module_build[] = DH_VERSION_STRING;

#if defined(DH_MODULE_SQLITE)
DH_BACKEND_PLUGIN(&dh_store_sqlite_ops)
#elif defined(DH_MODULE_POSTGRESQL)
DH_BACKEND_PLUGIN(&dh_store_postgresql_ops, &dh_store_postgres_ops)
#elif defined(DH_MODULE_REDIS)
DH_BACKEND_PLUGIN(&dh_store_redis_ops)
#elif defined(DH_MODULE_CLOUD)
DH_BACKEND_PLUGIN(&dh_store_s3_ops, &dh_store_gs_ops, &dh_store_dynamodb_ops)
#else
#error "module.c needs DH_MODULE_SQLITE, DH_MODULE_POSTGRESQL, DH_MODULE_REDIS or DH_MODULE_CLOUD"
#endif
