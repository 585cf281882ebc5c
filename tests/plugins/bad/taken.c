/*
 * taken.c - a plugin that claims "file", which is built in, next to a new
 * scheme "takenextra": the whole plugin is refused, so "takenextra" must
 * not be registered either.
 */
#include "stub.h"

STUB_OPS(file_ops, "file");
STUB_OPS(extra_ops, "takenextra");

DH_BACKEND_PLUGIN(&file_ops, &extra_ops)
