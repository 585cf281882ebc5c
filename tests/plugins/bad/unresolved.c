/* unresolved.c - a plugin that needs a function nobody defines. */
#include "stub.h"

int dh_no_such_function(void);

static int unresolved_open(struct dh_store **out, const struct dh_uri *uri, unsigned flags)
{
	(void)out, (void)uri, (void)flags;
	return dh_no_such_function();
}

static const struct dh_store_ops unresolved_ops = {
	.api_version = DH_BACKEND_API_VERSION, .scheme = "unresolved", .open = unresolved_open,
	.close = stub_close, .get = stub_get, .put = stub_put, .has = stub_has, .list = stub_list,
	.cas = stub_cas,
};

DH_BACKEND_PLUGIN(&unresolved_ops)
