/*
 * awscreds.c - AWS credentials and region, found where the AWS CLI looks.
 *
 * Order, as the CLI's default chain without the providers that need a
 * network (instance metadata, SSO, assume-role):
 *   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN, or the
 *      older AWS_SECURITY_TOKEN);
 *   2. the profile named by AWS_PROFILE (else AWS_DEFAULT_PROFILE, else
 *      "default") in the shared credentials file ($AWS_SHARED_CREDENTIALS_FILE
 *      or ~/.aws/credentials, section "[name]");
 *   3. the same profile in the config file ($AWS_CONFIG_FILE or
 *      ~/.aws/config, section "[profile name]", or "[default]").
 * The region: AWS_REGION, AWS_DEFAULT_REGION, then the profile's `region` in
 * the config file.  A profile that only names role_arn, sso_* or
 * credential_process is reported as unsupported rather than ignored.
 *
 * The files are INI as the CLI reads them: "key = value", comments starting
 * with '#' or ';', and indented lines continuing a nested section (as in
 * "s3 =\n  max_concurrent_requests = 20"), which are skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "store/sigv4.h"

struct profile {
	char *key, *secret, *token, *region;
	char *unsupported;   /* first role_arn/sso/credential_process key seen */
	int found;
};

static char *dup_trim(const char *s, size_t n)
{
	char *d;

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static void set(char **dst, const char *v)
{
	if (!*dst)
		*dst = dup_trim(v, strlen(v));
}

static char *expand_path(const char *env, const char *dflt)
{
	const char *p = getenv(env), *home = getenv("HOME");
	char *out;

	if (!p || !*p)
		p = dflt;
	if (p[0] == '~' && p[1] == '/') {
		if (!home)
			return NULL;
		if (asprintf(&out, "%s%s", home, p + 1) < 0)
			return NULL;
		return out;
	}
	return strdup(p);
}

/*
 * Read section `want` of INI file `path` into `p` (keys already set win).
 * A missing file is no error.
 */
static void read_profile(const char *path, const char *want, const char *want_alt, struct profile *p)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[4096];
	int in = 0;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *eq, *k, *v;

		if (line[0] == ' ' || line[0] == '\t')
			continue;  /* nested sub-section values, or blank */
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '#' || *s == ';' || *s == '\n' || *s == '\r' || !*s)
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			char *name;

			in = 0;
			if (!end)
				continue;
			name = dup_trim(s + 1, (size_t)(end - s - 1));
			if (name && (!strcmp(name, want) || (want_alt && !strcmp(name, want_alt))))
				in = p->found = 1;
			free(name);
			continue;
		}
		if (!in || !(eq = strchr(s, '=')))
			continue;
		k = dup_trim(s, (size_t)(eq - s));
		v = dup_trim(eq + 1, strlen(eq + 1));
		if (k && v) {
			if (!strcmp(k, "aws_access_key_id"))
				set(&p->key, v);
			else if (!strcmp(k, "aws_secret_access_key"))
				set(&p->secret, v);
			else if (!strcmp(k, "aws_session_token") || !strcmp(k, "aws_security_token"))
				set(&p->token, v);
			else if (!strcmp(k, "region"))
				set(&p->region, v);
			else if (!strcmp(k, "role_arn") || !strncmp(k, "sso_", 4) || !strcmp(k, "credential_process") ||
				 !strcmp(k, "web_identity_token_file"))
				set(&p->unsupported, k);
		}
		if (v)
			OPENSSL_cleanse(v, strlen(v));
		free(k);
		free(v);
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
}

static void profile_release(struct profile *p)
{
	if (p->secret)
		OPENSSL_cleanse(p->secret, strlen(p->secret));
	free(p->key);
	free(p->secret);
	free(p->token);
	free(p->region);
	free(p->unsupported);
}

void dh_aws_creds_release(struct dh_aws_creds *c)
{
	if (c->secret_key)
		OPENSSL_cleanse(c->secret_key, strlen(c->secret_key));
	free(c->access_key);
	free(c->secret_key);
	free(c->session_token);
	free(c->source);
	free(c->region);
	memset(c, 0, sizeof(*c));
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

int dh_aws_creds_load(struct dh_aws_creds *out)
{
	struct profile cred = { 0 }, conf = { 0 };
	const char *name = env("AWS_PROFILE");
	char *credfile = NULL, *conffile = NULL, *section = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!name)
		name = env("AWS_DEFAULT_PROFILE");
	if (!name)
		name = "default";
	credfile = expand_path("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials");
	conffile = expand_path("AWS_CONFIG_FILE", "~/.aws/config");
	if (asprintf(&section, "profile %s", name) < 0) {
		section = NULL;
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	read_profile(conffile, section, !strcmp(name, "default") ? "default" : NULL, &conf);
	if (env("AWS_REGION"))
		out->region = strdup(env("AWS_REGION"));
	else if (env("AWS_DEFAULT_REGION"))
		out->region = strdup(env("AWS_DEFAULT_REGION"));
	else if (conf.region)
		out->region = strdup(conf.region);

	if (env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY")) {
		out->access_key = strdup(env("AWS_ACCESS_KEY_ID"));
		out->secret_key = strdup(env("AWS_SECRET_ACCESS_KEY"));
		if (env("AWS_SESSION_TOKEN"))
			out->session_token = strdup(env("AWS_SESSION_TOKEN"));
		else if (env("AWS_SECURITY_TOKEN"))
			out->session_token = strdup(env("AWS_SECURITY_TOKEN"));
		out->source = strdup("environment");
		goto check;
	}
	read_profile(credfile, name, NULL, &cred);
	if (cred.key && cred.secret) {
		out->access_key = strdup(cred.key);
		out->secret_key = strdup(cred.secret);
		out->session_token = cred.token ? strdup(cred.token) : NULL;
		if (asprintf(&out->source, "profile '%s' in %s", name, credfile) < 0)
			out->source = NULL;
		goto check;
	}
	if (conf.key && conf.secret) {
		out->access_key = strdup(conf.key);
		out->secret_key = strdup(conf.secret);
		out->session_token = conf.token ? strdup(conf.token) : NULL;
		if (asprintf(&out->source, "profile '%s' in %s", name, conffile) < 0)
			out->source = NULL;
		goto check;
	}
	if (cred.unsupported || conf.unsupported)
		rc = dh_error_set(DH_EAUTH, "AWS profile '%s' gets its credentials through '%s', which dh does not support: "
				  "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (e.g. from 'aws configure export-credentials')",
				  name, cred.unsupported ? cred.unsupported : conf.unsupported);
	else if (strcmp(name, "default") && !cred.found && !conf.found)
		rc = dh_error_set(DH_EAUTH, "AWS profile '%s' not found in %s or %s", name,
				  credfile ? credfile : "~/.aws/credentials", conffile ? conffile : "~/.aws/config");
	else
		rc = dh_error_set(DH_EAUTH, "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
				  "or AWS_PROFILE with keys in %s", credfile ? credfile : "~/.aws/credentials");
	goto out;
check:
	if (!out->access_key || !out->secret_key || !out->source)
		rc = dh_error_set(DH_ENOMEM, "out of memory");
out:
	if (rc)
		dh_aws_creds_release(out);
	profile_release(&cred);
	profile_release(&conf);
	free(credfile);
	free(conffile);
	free(section);
	return rc;
}
