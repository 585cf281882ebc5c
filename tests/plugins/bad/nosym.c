/* nosym.c - a plugin that forgot dh_plugin_backends(). */
#include "stub.h"

DH_PLUGIN_EXPORT const unsigned dh_plugin_api_version = DH_BACKEND_API_VERSION;
