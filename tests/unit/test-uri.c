/*
 * test-uri.c - store URI parsing.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh.h"
#include "tap.h"

static struct dh_uri *parse(const char *s)
{
	struct dh_uri *u = NULL;
	int rc = dh_uri_parse(&u, s);

	ok(rc == 0, "parse '%s'", s);
	if (rc)
		tap_diag("  %s", dh_errmsg());
	return u;
}

static void bad(const char *s, const char *needle)
{
	struct dh_uri *u = NULL;
	int rc = dh_uri_parse(&u, s);

	ok(rc == DH_EUSAGE && !u, "reject '%s'", s);
	ok(strstr(dh_errmsg(), needle) != NULL, "message for '%s' mentions '%s' (%s)", s, needle, dh_errmsg());
}

int main(void)
{
	struct dh_uri *u;
	char cwd[4096], want[4200];

	u = parse("file:///var/db/x");
	is_str(u->scheme, "file", "scheme");
	is_str(u->path, "/var/db/x", "path");
	ok(u->host == NULL, "no host");
	dh_uri_free(u);

	u = parse("/abs/dir/");
	is_str(u->scheme, "file", "bare absolute path is file://");
	is_str(u->path, "/abs/dir", "trailing slash dropped");
	dh_uri_free(u);

	getcwd(cwd, sizeof(cwd));
	u = parse("./rel/db");
	snprintf(want, sizeof(want), "%s/rel/db", cwd);
	is_str(u->path, want, "relative path made absolute");
	dh_uri_free(u);

	u = parse("db");
	snprintf(want, sizeof(want), "%s/db", cwd);
	is_str(u->path, want, "plain name is a relative path");
	dh_uri_free(u);

	u = parse("postgresql://alice:s%40cret@db.example:5433/mydb?table=dh&sslmode=require");
	is_str(u->scheme, "postgresql", "pg scheme");
	is_str(u->user, "alice", "user");
	is_str(u->password, "s@cret", "password decoded");
	is_str(u->host, "db.example", "host");
	is_int(u->port, 5433, "port");
	is_str(u->path, "/mydb", "path");
	is_str(dh_uri_param(u, "table"), "dh", "param table");
	is_str(dh_uri_param(u, "sslmode"), "require", "param sslmode");
	ok(dh_uri_param(u, "nope") == NULL, "absent param");
	ok(strstr(u->text, "s%40cret") == NULL && strstr(u->text, "***") != NULL, "password masked in text: %s", u->text);
	{
		static const char *const known[] = { "table", NULL };

		ok(dh_uri_check_params(u, known) == DH_EUSAGE && strstr(dh_errmsg(), "sslmode"),
		   "unknown parameter named");
	}
	dh_uri_free(u);

	u = parse("redis://[::1]:6379/2?prefix=a%2Fb");
	is_str(u->host, "::1", "ipv6 host");
	is_int(u->port, 6379, "ipv6 port");
	is_str(dh_uri_param(u, "prefix"), "a/b", "param decoded");
	dh_uri_free(u);

	u = parse("mem://scratch");
	is_str(u->host, "scratch", "mem name is the host");
	dh_uri_free(u);

	u = parse("tiered:?front=mem%3A%2F%2Fa&back=file%3A%2F%2F%2Ftmp%2Fb");
	is_str(u->scheme, "tiered", "opaque scheme");
	is_str(dh_uri_param(u, "front"), "mem://a", "nested uri decoded");
	is_str(dh_uri_param(u, "back"), "file:///tmp/b", "nested uri 2 decoded");
	dh_uri_free(u);

	/* tiered stores nested 12 deep, each level with a password: none is
	 * shown, and the text does not grow level after level */
	{
		struct dh_buf t = DH_BUF_INIT, e = DH_BUF_INIT;

		dh_buf_adds(&t, "redis://:pw12secret@h:1/0");
		for (int lvl = 11; lvl >= 1; lvl--) {
			dh_buf_reset(&e);
			dh_buf_addf(&e, "tiered:?front=redis%%3A%%2F%%2F%%3Apw%dsecret%%40h%%3A1%%2F0&back=", lvl);
			for (size_t k = 0; k < t.len; k++)
				if (isalnum((unsigned char)t.data[k]))
					dh_buf_addc(&e, t.data[k]);
				else
					dh_buf_addf(&e, "%%%02X", (unsigned char)t.data[k]);
			dh_buf_reset(&t);
			dh_buf_add(&t, e.data, e.len);
		}
		u = parse(t.data);
		ok(u && !strstr(u->text, "secret"), "passwords of 12 nested URIs are all masked");
		ok(u && strlen(u->text) <= t.len, "the masked text is no longer than the URI (%zu, %zu)",
		   u ? strlen(u->text) : 0, t.len);
		dh_uri_free(u);
		dh_buf_release(&t);
		dh_buf_release(&e);
	}

	u = parse("S3://Bucket/pre/fix?region=eu-west-1");
	is_str(u->scheme, "s3", "scheme lowercased");
	is_str(u->host, "Bucket", "bucket kept");
	is_str(u->path, "/pre/fix", "prefix path");
	dh_uri_free(u);

	bad("", "empty");
	bad("redis://host:99999/0", "port");
	bad("redis://host:12ab/0", "port");
	bad("redis://host:/0", "port");
	bad("file:///a%zz", "percent");
	bad("file:///a%00b", "NUL");
	bad("file:///a#frag", "fragment");
	bad("redis://[::1/0", "'['");
	bad("foo:bar", "malformed");
	bad("file:///a\tb", "control");
	return done_testing();
}
