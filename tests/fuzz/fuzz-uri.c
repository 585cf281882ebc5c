/*
 * fuzz-uri.c - the URI parser on arbitrary text: parse, look parameters up,
 * and check that the masked text never holds the password.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh.h"
#include "fuzz.h"

/* Occurrences of `needle` in `s`, overlapping ones too. */
static size_t count(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dh_uri *u = NULL;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (dh_uri_parse(&u, text) == 0) {
		dh_uri_param(u, "prefix");
		dh_uri_check_params(u, NULL);
		/* the password must not survive as ":PASSWORD@" in the masked
		 * text: it holds that text fewer times than the input (which may
		 * hold it again elsewhere, in a query, where it is no password) */
		if (u->password && strlen(u->password) >= 4 && !strchr(u->password, '%')) {
			size_t n = strlen(u->password) + 3;
			char *needle = malloc(n);

			if (needle) {
				snprintf(needle, n, ":%s@", u->password);
				size_t in = count(text, needle);

				/* (the password is decoded: "%40" in the input is "@" here) */
				if (in && count(u->text, needle) >= in)
					abort();
				free(needle);
			}
		}
	}
	dh_uri_free(u);
	free(text);
	return 0;
}
