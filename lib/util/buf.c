/*
 * buf.c - growable byte buffers.
 *
 * The one container for variable-length bytes in libdh: store values, encoded
 * nodes, text being built.  A buffer is reused across calls (dh_buf_reset)
 * so hot paths do not allocate per item.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh.h"
#include "util/mem.h"

int dh_grow(void **p, size_t *cap, size_t need, size_t size, size_t first)
{
	size_t c = *cap ? *cap : first;
	void *n;

	if (need <= *cap)
		return 0;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			return dh_error_set(DH_ENOMEM, "out of memory (array of %zu items)", need);
		c *= 2;
	}
	if (c > SIZE_MAX / size || !(n = realloc(*p, c * size)))
		return dh_error_set(DH_ENOMEM, "out of memory (array of %zu items)", c);
	*p = n;
	*cap = c;
	return 0;
}

void dh_buf_init(struct dh_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void dh_buf_release(struct dh_buf *b)
{
	free(b->data);
	dh_buf_init(b);
}

int dh_buf_grow(struct dh_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1)
		return dh_error_set(DH_ENOMEM, "buffer size overflow");
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return dh_error_set(DH_ENOMEM, "out of memory (%zu bytes)", cap);
	b->data = p;
	b->cap = cap;
	return 0;
}

int dh_buf_add(struct dh_buf *b, const void *data, size_t len)
{
	int rc = dh_buf_reserve(b, len);

	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int dh_buf_adds(struct dh_buf *b, const char *s)
{
	return dh_buf_add(b, s, strlen(s));
}

int dh_buf_addc(struct dh_buf *b, char c)
{
	return dh_buf_add(b, &c, 1);
}

int dh_buf_addf(struct dh_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return dh_error_set(DH_EINVAL, "bad format string");
	rc = dh_buf_grow(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void dh_buf_reset(struct dh_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *dh_buf_detach(struct dh_buf *b, size_t *len)
{
	char *p = b->data;

	if (len)
		*len = b->len;
	dh_buf_init(b);
	return p;
}
