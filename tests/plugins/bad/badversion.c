/*
 * badversion.c - a plugin built for a backend API this libdh does not speak.
 * Its dh_plugin_backends() must never run: it leaves a mark file (named by
 * DH_TEST_MARK) if it does.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "stub.h"

STUB_OPS(badversion_ops, "badversion");

DH_PLUGIN_EXPORT const unsigned dh_plugin_api_version = DH_BACKEND_API_VERSION + 41;

DH_PLUGIN_EXPORT const struct dh_store_ops *const *dh_plugin_backends(void)
{
	static const struct dh_store_ops *const list[] = { &badversion_ops, NULL };
	const char *mark = getenv("DH_TEST_MARK");

	if (mark)
		close(open(mark, O_WRONLY | O_CREAT, 0666));
	return list;
}
