/*
 * stub.h - a backend whose every call fails, for the plugins that must be
 * refused before any of it is used.  STUB_OPS(name, scheme) defines a
 * complete ops table `name`.
 */
#include <dh/dh-backend.h>

#define STUB static __attribute__((unused))

STUB int stub_open(struct dh_store **out, const struct dh_uri *uri, unsigned flags)
{
	(void)out, (void)uri, (void)flags;
	return dh_error_set(DH_EUNSUPPORTED, "stub backend opened: it should have been refused");
}
STUB void stub_close(struct dh_store *st) { (void)st; }
STUB int stub_get(struct dh_store *st, const char *k, struct dh_buf *o) { (void)st, (void)k, (void)o; return DH_EIO; }
STUB int stub_put(struct dh_store *st, const char *k, const void *d, size_t n) { (void)st, (void)k, (void)d, (void)n; return DH_EIO; }
STUB int stub_has(struct dh_store *st, const char *k) { (void)st, (void)k; return DH_EIO; }
STUB int stub_list(struct dh_store *st, const char *p, dh_list_cb cb, void *x) { (void)st, (void)p, (void)cb, (void)x; return DH_EIO; }
STUB int stub_cas(struct dh_store *st, const char *k, const char *o, const char *n) { (void)st, (void)k, (void)o, (void)n; return DH_EIO; }

#define STUB_OPS(name, sch) \
	static const struct dh_store_ops name = { \
		.api_version = DH_BACKEND_API_VERSION, .scheme = sch, .open = stub_open, .close = stub_close, \
		.get = stub_get, .put = stub_put, .has = stub_has, .list = stub_list, .cas = stub_cas, \
	}
