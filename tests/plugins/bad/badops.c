/* badops.c - a plugin whose backend lacks the required cas() slot. */
#include "stub.h"

static const struct dh_store_ops badops_ops = {
	.api_version = DH_BACKEND_API_VERSION, .scheme = "badops", .open = stub_open, .close = stub_close,
	.get = stub_get, .put = stub_put, .has = stub_has, .list = stub_list,
};

DH_BACKEND_PLUGIN(&badops_ops)
