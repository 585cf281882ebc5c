/*
 * fuzz-uri.c - the URI parser on arbitrary text: parse, look parameters up,
 * and check that the masked text never holds the password.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh.h"
#include "fuzz.h"

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
		/* the password must not survive as ":PASSWORD@" in the masked text */
		if (u->password && strlen(u->password) >= 4 && !strchr(u->password, '%')) {
			size_t n = strlen(u->password) + 3;
			char *needle = malloc(n);

			if (needle) {
				snprintf(needle, n, ":%s@", u->password);
				if (strstr(u->text, needle))
					abort();
				free(needle);
			}
		}
	}
	dh_uri_free(u);
	free(text);
	return 0;
}
