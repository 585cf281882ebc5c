/*
 * uri.c - store URIs.
 *
 * Every tool names its store with a URI (dh-store(5)).  This file splits one
 * into scheme, user, password, host, port, path and query parameters, with
 * percent-decoding, and keeps a copy of the text with the password masked
 * for messages.  Backends interpret the parts; nothing here knows them.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh.h"

static int pct_decode(char **out, const char *s, size_t n, int plus_space)
{
	char *d = malloc(n + 1), *p = d;
	size_t i;

	if (!d)
		return dh_error_set(DH_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			unsigned char c;

			if (i + 2 >= n || dh_unhex(&c, s + i + 1, 1)) {
				free(d);
				return dh_error_set(DH_EUSAGE, "bad percent escape '%.3s'", s + i);
			}
			if (c == '\0') {
				free(d);
				return dh_error_set(DH_EUSAGE, "percent escape of NUL");
			}
			*p++ = (char)c;
			i += 2;
		} else if (plus_space && s[i] == '+') {
			*p++ = ' ';
		} else {
			*p++ = s[i];
		}
	}
	*p = '\0';
	*out = d;
	return 0;
}

void dh_uri_free(struct dh_uri *u)
{
	size_t i;

	if (!u)
		return;
	free(u->scheme);
	free(u->user);
	free(u->password);
	free(u->host);
	free(u->path);
	for (i = 0; i < u->nparams; i++) {
		free(u->params[i].key);
		free(u->params[i].value);
	}
	free(u->params);
	free(u->text);
	free(u);
}

static int scheme_len(const char *s)
{
	int n = 0;

	if (!isalpha((unsigned char)s[0]))
		return 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.')
		n++;
	return s[n] == ':' ? n : 0;
}

static int parse_query(struct dh_uri *u, const char *q)
{
	while (*q) {
		const char *amp = strchr(q, '&'), *eq;
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		struct dh_uri_param *np;
		int rc;

		if (n == 0) {
			q += 1;
			continue;
		}
		np = realloc(u->params, (u->nparams + 1) * sizeof(*np));
		if (!np)
			return dh_error_set(DH_ENOMEM, "out of memory");
		u->params = np;
		np = &u->params[u->nparams];
		eq = memchr(q, '=', n);
		np->key = np->value = NULL;
		u->nparams++;
		if (eq) {
			rc = pct_decode(&np->key, q, (size_t)(eq - q), 1);
			if (!rc)
				rc = pct_decode(&np->value, eq + 1, n - (size_t)(eq - q) - 1, 1);
		} else {
			rc = pct_decode(&np->key, q, n, 1);
			if (!rc)
				rc = pct_decode(&np->value, "", 0, 0);
		}
		if (rc)
			return rc;
		if (!np->key[0])
			return dh_error_set(DH_EUSAGE, "empty query parameter name");
		q += n + (amp ? 1 : 0);
	}
	return 0;
}

/* Absolute form of a bare path, without touching the file system. */
static int absolute_path(char **out, const char *path)
{
	char cwd[PATH_MAX];
	struct dh_buf b = DH_BUF_INIT;
	int rc;

	if (path[0] == '/')
		rc = dh_buf_adds(&b, path);
	else if (!getcwd(cwd, sizeof(cwd)))
		return dh_error_set(DH_EIO, "cannot determine the current directory");
	else {
		while (path[0] == '.' && path[1] == '/')
			path += 2;
		if (!strcmp(path, "."))
			path = "";
		rc = dh_buf_addf(&b, "%s%s%s", cwd, strcmp(cwd, "/") && path[0] ? "/" : "", path);
	}
	while (!rc && b.len > 1 && b.data[b.len - 1] == '/')
		b.data[--b.len] = '\0';
	if (rc) {
		dh_buf_release(&b);
		return rc;
	}
	*out = dh_buf_detach(&b, NULL);
	return 0;
}

static int parse_authority(struct dh_uri *u, const char *a, size_t n, size_t *pass_at, size_t *pass_len)
{
	const char *at = NULL, *hp, *colon = NULL, *end = a + n;
	int rc;
	size_t i;

	for (i = n; i > 0; i--)
		if (a[i - 1] == '@') {
			at = a + i - 1;
			break;
		}
	hp = a;
	if (at) {
		const char *c = memchr(a, ':', (size_t)(at - a));

		if (c) {
			rc = pct_decode(&u->password, c + 1, (size_t)(at - c - 1), 0);
			if (rc)
				return rc;
			*pass_at = (size_t)(c + 1 - a);
			*pass_len = (size_t)(at - c - 1);
		}
		rc = pct_decode(&u->user, a, (size_t)((c ? c : at) - a), 0);
		if (rc)
			return rc;
		hp = at + 1;
	}
	if (hp < end && *hp == '[') {
		const char *rb = memchr(hp, ']', (size_t)(end - hp));

		if (!rb)
			return dh_error_set(DH_EUSAGE, "unterminated '[' in host");
		rc = pct_decode(&u->host, hp + 1, (size_t)(rb - hp - 1), 0);
		if (rc)
			return rc;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return dh_error_set(DH_EUSAGE, "unexpected text after ']' in host");
			colon = rb + 1;
		}
	} else {
		colon = memchr(hp, ':', (size_t)(end - hp));
		if ((colon ? colon : end) > hp) {
			rc = pct_decode(&u->host, hp, (size_t)((colon ? colon : end) - hp), 0);
			if (rc)
				return rc;
		}
	}
	if (colon) {
		long port = 0;
		const char *p;

		if (colon + 1 == end)
			return dh_error_set(DH_EUSAGE, "empty port");
		for (p = colon + 1; p < end; p++) {
			if (!isdigit((unsigned char)*p) || port > 65535)
				return dh_error_set(DH_EUSAGE, "bad port '%.*s'", (int)(end - colon - 1), colon + 1);
			port = port * 10 + (*p - '0');
		}
		if (port < 1 || port > 65535)
			return dh_error_set(DH_EUSAGE, "port %ld out of range", port);
		u->port = (int)port;
	}
	return 0;
}

static int add_escaped(struct dh_buf *b, const char *s)
{
	int rc = 0;

	for (; *s && !rc; s++) {
		if (isalnum((unsigned char)*s) || strchr("-._~:/*@", *s))
			rc = dh_buf_addc(b, *s);
		else
			rc = dh_buf_addf(b, "%%%02X", (unsigned char)*s);
	}
	return rc;
}

/* URIs nested in query values that are parsed to mask their passwords; deeper ones are masked whole. */
#define NEST_MAX 8

static int uri_parse(struct dh_uri **out, const char *text, int depth);

/* Whether query value `v` may hold a URI with a password: a scheme, and an '@' perhaps escaped. */
static int may_nest(const char *v)
{
	return scheme_len(v) > 0 && (strchr(v, '@') || strchr(v, '%'));
}

/*
 * A query value may itself be a URI (the stores of a tiered store), with
 * its own password, and so on down: rebuild the query of u->text with
 * every such value replaced by its masked text.  Nothing changes when no
 * password was masked in them (each rebuild escapes the values again, and
 * a chain of nested URIs would grow the text at every level).  A value
 * that may hold a password (a scheme, and an '@' or a '%') but does not
 * parse, or is nested deeper than NEST_MAX, is replaced by "***" whole.
 */
static int mask_nested(struct dh_uri *u, int depth)
{
	struct dh_buf b = DH_BUF_INIT;
	const char *q = strchr(u->text, '?');
	struct dh_uri **inner;
	unsigned char *hide;
	int rc = 0, changed = 0;
	size_t i;

	for (i = 0; i < u->nparams && !changed; i++)
		changed = may_nest(u->params[i].value);
	if (!changed || !q)
		return 0;
	inner = calloc(u->nparams, sizeof(*inner));
	hide = calloc(u->nparams, 1);
	if (!inner || !hide) {
		free(inner);
		free(hide);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	changed = 0;
	for (i = 0; i < u->nparams; i++) {
		const char *v = u->params[i].value;

		if (!may_nest(v))
			continue;
		if (depth >= NEST_MAX || uri_parse(&inner[i], v, depth + 1)) {
			/* too deep, or not a URI we can read: a password in it cannot be found */
			hide[i] = 1;
		} else if (!strcmp(inner[i]->text, v)) {
			dh_uri_free(inner[i]);
			inner[i] = NULL;
		}
		changed |= hide[i] || inner[i];
	}
	if (changed)
		rc = dh_buf_add(&b, u->text, (size_t)(q - u->text) + 1);
	for (i = 0; changed && i < u->nparams && !rc; i++) {
		const char *v = hide[i] ? "***" : inner[i] ? inner[i]->text : u->params[i].value;

		if ((i && (rc = dh_buf_addc(&b, '&'))) || (rc = add_escaped(&b, u->params[i].key)) ||
		    (rc = dh_buf_addc(&b, '=')))
			break;
		rc = add_escaped(&b, v);
	}
	for (i = 0; i < u->nparams; i++)
		dh_uri_free(inner[i]);
	free(inner);
	free(hide);
	if (changed && !rc) {
		free(u->text);
		u->text = dh_buf_detach(&b, NULL);
	}
	dh_buf_release(&b);
	return rc;
}

int dh_uri_parse(struct dh_uri **out, const char *text)
{
	return uri_parse(out, text, 0);
}

static int uri_parse(struct dh_uri **out, const char *text, int depth)
{
	struct dh_uri *u;
	int n, rc = 0;
	size_t pass_at = 0, pass_len = 0, auth_off = 0;
	const char *rest, *q;

	*out = NULL;
	if (!text || !text[0])
		return dh_error_set(DH_EUSAGE, "empty store URI");
	for (const char *c = text; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return dh_error_set(DH_EUSAGE, "control character in store URI");
	u = calloc(1, sizeof(*u));
	if (!u)
		return dh_error_set(DH_ENOMEM, "out of memory");
	n = scheme_len(text);
	if (n == 0 || (!strstr(text, "://") && text[n + 1] != '?' && text[n + 1] != '\0')) {
		/* a bare path */
		if (n > 0 && !strchr(text, '/')) {
			/* not echoed when it may hold a password ("redis:u:pw@host") */
			rc = strchr(text, '@') ? dh_error_set(DH_EUSAGE, "malformed store URI: expected scheme://...") :
			     dh_error_set(DH_EUSAGE, "malformed store URI '%s': expected scheme://...", text);
			goto out;
		}
		u->scheme = strdup("file");
		rc = u->scheme ? absolute_path(&u->path, text) : DH_ENOMEM;
		if (!rc)
			u->text = strdup(text);
		goto out;
	}
	u->scheme = strndup(text, (size_t)n);
	if (!u->scheme) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	for (char *c = u->scheme; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	rest = text + n + 1;
	if (rest[0] == '/' && rest[1] == '/') {
		const char *a = rest + 2;
		size_t alen = strcspn(a, "/?#");

		auth_off = (size_t)(a - text);
		rc = parse_authority(u, a, alen, &pass_at, &pass_len);
		if (rc)
			goto out;
		rest = a + alen;
	}
	if (strchr(rest, '#')) {
		rc = dh_error_set(DH_EUSAGE, "fragment ('#') not allowed in store URI");
		goto out;
	}
	q = strchr(rest, '?');
	rc = pct_decode(&u->path, rest, q ? (size_t)(q - rest) : strlen(rest), 0);
	if (!rc && q)
		rc = parse_query(u, q + 1);
	if (rc)
		goto out;
	if (pass_len) {
		struct dh_buf b = DH_BUF_INIT;

		rc = dh_buf_add(&b, text, auth_off + pass_at);
		if (!rc)
			rc = dh_buf_addf(&b, "***%s", text + auth_off + pass_at + pass_len);
		u->text = dh_buf_detach(&b, NULL);
	} else {
		u->text = strdup(text);
	}
	if (!rc && !u->text)
		rc = dh_error_set(DH_ENOMEM, "out of memory");
	if (!rc)
		rc = mask_nested(u, depth);
out:
	if (!rc && (!u->path || !u->text))
		rc = dh_error_set(DH_ENOMEM, "out of memory");
	if (rc) {
		dh_uri_free(u);
		return rc;
	}
	*out = u;
	return 0;
}

const char *dh_uri_param(const struct dh_uri *u, const char *key)
{
	size_t i;

	for (i = u->nparams; i > 0; i--)
		if (!strcmp(u->params[i - 1].key, key))
			return u->params[i - 1].value;
	return NULL;
}

int dh_uri_check_params(const struct dh_uri *u, const char *const *known)
{
	size_t i, k;

	for (i = 0; i < u->nparams; i++) {
		for (k = 0; known && known[k]; k++)
			if (!strcmp(known[k], u->params[i].key))
				break;
		if (!known || !known[k])
			return dh_error_set(DH_EUSAGE, "unknown parameter '%s' for %s:// stores",
					    u->params[i].key, u->scheme);
	}
	return 0;
}
