/*
 * fuzz-uri.c - the URI parser on arbitrary text: parse, look parameters up,
 * and check that the masked text, read again, shows no password at any
 * depth of nested URIs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh.h"
#include "fuzz.h"

/*
 * Whether the masked text `text` shows no password: read again, it has
 * none or "***", and so have the URIs in its query values, at any depth.
 */
static int masked(const char *text, int depth)
{
	struct dh_uri *u = NULL;
	int ok;

	if (depth > 12 || dh_uri_parse(&u, text))
		return 1;
	ok = !u->password || !u->password[0] || !strcmp(u->password, "***");
	for (size_t i = 0; ok && i < u->nparams; i++)
		ok = masked(u->params[i].value, depth + 1);
	dh_uri_free(u);
	return ok;
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
		/* the masked text, read again, shows no password at any depth */
		if (!masked(u->text, 0))
			abort();
	}
	dh_uri_free(u);
	free(text);
	return 0;
}
