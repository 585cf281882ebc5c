/*
 * othermodule.c - a built-in backend module (lib/store/module.c) from
 * another build of libdh: modules use the library's internals, so the
 * loader must refuse one whose build differs, before its backends run.
 */
#include "stub.h"

STUB_OPS(othermodule_ops, "othermodule");

DH_PLUGIN_EXPORT const char dh_module_build[] = "0.0.0-another-build";

DH_BACKEND_PLUGIN(&othermodule_ops)
