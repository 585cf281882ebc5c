/*
 * error.c - the per-thread "last error" of libdh.
 *
 * Every failing function returns a negative DH_E* code and leaves a message
 * here; tools print dh_errmsg() after their own prefix.  Keeping the text
 * per thread lets library code stay free of output and of global state that
 * threads could race on.
 */
#include <stdio.h>
#include <string.h>

#include "dh.h"

static _Thread_local char errmsg[2048];
static _Thread_local int errcode;

const char *dh_strerror(int code)
{
	switch (code) {
	case DH_OK: return "success";
	case DH_ENOTFOUND: return "not found";
	case DH_EEXISTS: return "already exists";
	case DH_ECONFLICT: return "conflict: the head moved";
	case DH_EINVAL: return "invalid input";
	case DH_EUNSUPPORTED: return "not supported";
	case DH_ECORRUPT: return "corrupt data";
	case DH_EIO: return "input/output error";
	case DH_ENOMEM: return "out of memory";
	case DH_EUSAGE: return "usage error";
	case DH_EAUTH: return "authentication failed";
	}
	return "unknown error";
}

const char *dh_errmsg(void)
{
	if (errmsg[0])
		return errmsg;
	return dh_strerror(errcode);
}

int dh_error_setv(int code, const char *fmt, va_list ap)
{
	errcode = code;
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	return code;
}

int dh_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dh_error_setv(code, fmt, ap);
	va_end(ap);
	return code;
}

int dh_error_prefix(int code, const char *fmt, ...)
{
	char old[sizeof(errmsg)];
	va_list ap;
	int n;

	memcpy(old, dh_errmsg(), sizeof(old));
	old[sizeof(old) - 1] = '\0';
	va_start(ap, fmt);
	n = vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(errmsg))
		snprintf(errmsg + n, sizeof(errmsg) - n, ": %s", old);
	errcode = code;
	return code;
}
