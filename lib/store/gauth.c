/*
 * gauth.c - OAuth2 access tokens from Google Application Default Credentials.
 *
 * A service-account key ({"type": "service_account", "client_email",
 * "private_key", "token_uri", ...}) is used as Google's libraries use it:
 * a JWT {iss: client_email, scope: devstorage.read_write, aud: token_uri,
 * iat, exp = iat + 1 h} is signed RS256 with the key (OpenSSL) and POSTed
 * to token_uri as an urn:ietf:params:oauth:grant-type:jwt-bearer assertion.
 * gcloud's user credentials ({"type": "authorized_user", client_id,
 * client_secret, refresh_token}) are traded with grant_type=refresh_token.
 * The token is kept and renewed a minute before it expires.  Token
 * requests use their own HTTP client, since they happen while the storage
 * client is signing a request.  No secret, assertion or token is ever put
 * into a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "store/gauth.h"
#include "store/http.h"

#define SCOPE "https://www.googleapis.com/auth/devstorage.read_write"
#define DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"

struct dh_gauth {
	struct dh_http *http;
	int service_account;
	char *source;
	char *email, *token_uri;
	EVP_PKEY *key;
	char *client_id, *client_secret, *refresh_token;
	char *token;
	time_t expires;
};

void dh_gauth_free(struct dh_gauth *g)
{
	if (!g)
		return;
	dh_http_free(g->http);
	free(g->source);
	free(g->email);
	free(g->token_uri);
	EVP_PKEY_free(g->key);
	free(g->client_id);
	if (g->client_secret)
		OPENSSL_cleanse(g->client_secret, strlen(g->client_secret));
	free(g->client_secret);
	if (g->refresh_token)
		OPENSSL_cleanse(g->refresh_token, strlen(g->refresh_token));
	free(g->refresh_token);
	if (g->token)
		OPENSSL_cleanse(g->token, strlen(g->token));
	free(g->token);
	free(g);
}

const char *dh_gauth_source(const struct dh_gauth *g)
{
	return g->source;
}

static char *jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? strdup(v) : NULL;
}

int dh_gauth_load(struct dh_gauth **out, char **project, int retries, int timeout_s)
{
	const char *path = getenv("GOOGLE_APPLICATION_CREDENTIALS"), *home = getenv("HOME");
	char *gpath = NULL;
	struct dh_gauth *g = NULL;
	json_error_t jerr;
	json_t *j = NULL;
	const char *type;
	int rc = 0;

	*out = NULL;
	*project = NULL;
	if (!path || !*path) {
		if (!home || asprintf(&gpath, "%s/.config/gcloud/application_default_credentials.json", home) < 0)
			return 0;
		path = gpath;
		if (access(path, R_OK)) {
			free(gpath);
			return 0;
		}
	}
	j = json_load_file(path, 0, &jerr);
	if (!j) {
		rc = dh_error_set(DH_EAUTH, "cannot read Google credentials '%s': %s", path, jerr.text);
		goto out;
	}
	type = json_string_value(json_object_get(j, "type"));
	if (!(g = calloc(1, sizeof(*g))) || !(g->source = strdup(path))) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	if (type && !strcmp(type, "service_account")) {
		const char *pem = json_string_value(json_object_get(j, "private_key"));
		BIO *bio;

		g->service_account = 1;
		g->email = jstr(j, "client_email");
		g->token_uri = jstr(j, "token_uri");
		if (!g->token_uri)
			g->token_uri = strdup(DEFAULT_TOKEN_URI);
		if (!g->email || !pem) {
			rc = dh_error_set(DH_EAUTH, "Google credentials '%s' lack client_email or private_key", path);
			goto out;
		}
		bio = BIO_new_mem_buf(pem, -1);
		g->key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (!g->key) {
			rc = dh_error_set(DH_EAUTH, "Google credentials '%s': private_key is not a PEM private key", path);
			goto out;
		}
		*project = jstr(j, "project_id");
	} else if (type && !strcmp(type, "authorized_user")) {
		g->client_id = jstr(j, "client_id");
		g->client_secret = jstr(j, "client_secret");
		g->refresh_token = jstr(j, "refresh_token");
		g->token_uri = jstr(j, "token_uri");
		if (!g->token_uri)
			g->token_uri = strdup(DEFAULT_TOKEN_URI);
		if (!g->client_id || !g->client_secret || !g->refresh_token) {
			rc = dh_error_set(DH_EAUTH, "Google credentials '%s' lack client_id, client_secret or refresh_token",
					  path);
			goto out;
		}
		*project = jstr(j, "quota_project_id");
	} else {
		rc = dh_error_set(DH_EAUTH, "Google credentials '%s' are of type '%s': dh understands service_account "
				  "and authorized_user", path, type ? type : "(none)");
		goto out;
	}
	if (!g->token_uri) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	rc = dh_http_new(&g->http, retries, timeout_s, NULL);
out:
	if (j) {
		/* the key's text lives in the JSON tree: wipe it before freeing */
		json_t *pk = json_object_get(j, "private_key");

		if (json_string_value(pk))
			OPENSSL_cleanse((char *)json_string_value(pk), strlen(json_string_value(pk)));
	}
	json_decref(j);
	free(gpath);
	if (rc) {
		dh_gauth_free(g);
		free(*project);
		*project = NULL;
		return rc;
	}
	*out = g;
	return 0;
}

static int b64url(struct dh_buf *b, const void *data, size_t len)
{
	char *enc = malloc(4 * ((len + 2) / 3) + 1);
	int n, rc;

	if (!enc)
		return dh_error_set(DH_ENOMEM, "out of memory");
	n = EVP_EncodeBlock((unsigned char *)enc, data, (int)len);
	while (n && enc[n - 1] == '=')
		n--;
	for (int i = 0; i < n; i++)
		enc[i] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : enc[i];
	rc = dh_buf_add(b, enc, (size_t)n);
	free(enc);
	return rc;
}

/* The signed JWT assertion of a service account into `b`. */
static int jwt(struct dh_gauth *g, struct dh_buf *b, time_t now)
{
	json_t *claims = json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", g->email, "scope", SCOPE, "aud", g->token_uri, "iat",
				   (json_int_t)now, "exp", (json_int_t)now + 3600);
	char *cj = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
	const char *hdr = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int rc = 0;

	json_decref(claims);
	if (!cj || !md) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = b64url(b, hdr, strlen(hdr))) || (rc = dh_buf_addc(b, '.')) || (rc = b64url(b, cj, strlen(cj))))
		goto out;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, g->key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (unsigned char *)b->data, b->len) != 1 || !(sig = malloc(siglen)) ||
	    EVP_DigestSign(md, sig, &siglen, (unsigned char *)b->data, b->len) != 1) {
		rc = dh_error_set(DH_EAUTH, "cannot sign a token request with the key in '%s'", g->source);
		goto out;
	}
	if (!(rc = dh_buf_addc(b, '.')))
		rc = b64url(b, sig, siglen);
out:
	EVP_MD_CTX_free(md);
	free(sig);
	free(cj);
	return rc;
}

static int form_sign(struct dh_http_req *r, struct curl_slist **headers, void *ctx)
{
	(void)r;
	(void)ctx;
	*headers = curl_slist_append(*headers, "Content-Type: application/x-www-form-urlencoded");
	return *headers ? 0 : dh_error_set(DH_ENOMEM, "out of memory");
}

int dh_gauth_token(struct dh_gauth *g, const char **token)
{
	struct dh_http_req r;
	struct dh_buf body = DH_BUF_INIT, a = DH_BUF_INIT;
	time_t now = time(NULL);
	json_t *ans = NULL;
	const char *tok;
	int rc = 0;

	if (g->token && now + 60 < g->expires) {
		*token = g->token;
		return 0;
	}
	if (g->service_account) {
		if (!(rc = jwt(g, &a, now)))
			rc = dh_buf_adds(&body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=");
		if (!rc)
			rc = dh_http_encode(&body, a.data, 0);
	} else {
		rc = dh_buf_adds(&body, "grant_type=refresh_token&client_id=");
		if (!rc)
			rc = dh_http_encode(&body, g->client_id, 0);
		if (!rc)
			rc = dh_buf_adds(&body, "&client_secret=");
		if (!rc)
			rc = dh_http_encode(&body, g->client_secret, 0);
		if (!rc)
			rc = dh_buf_adds(&body, "&refresh_token=");
		if (!rc)
			rc = dh_http_encode(&body, g->refresh_token, 0);
	}
	if (rc)
		goto out;
	memset(&r, 0, sizeof(r));
	r.method = "POST";
	r.url = g->token_uri;
	r.body = body.data;
	r.body_len = body.len;
	r.sign = form_sign;
	rc = dh_http_run1(g->http, &r);
	if (!rc && r.curl_rc)
		rc = dh_error_set(DH_EIO, "cannot reach the Google token endpoint '%s': %s", g->token_uri, dh_http_failure(&r));
	if (!rc && !(ans = json_loadb(r.resp.data ? r.resp.data : "", r.resp.len, 0, NULL)))
		rc = dh_error_set(DH_EAUTH, "the Google token endpoint '%s' answered HTTP %ld without JSON", g->token_uri,
				  r.status);
	if (!rc && (r.status != 200 || !(tok = json_string_value(json_object_get(ans, "access_token"))))) {
		const char *e = json_string_value(json_object_get(ans, "error"));

		rc = dh_error_set(DH_EAUTH, "Google refused the credentials in '%s': HTTP %ld %s", g->source, r.status,
				  e ? e : "");
	}
	if (!rc) {
		json_int_t ttl = json_integer_value(json_object_get(ans, "expires_in"));

		if (g->token)
			OPENSSL_cleanse(g->token, strlen(g->token));
		free(g->token);
		g->token = strdup(tok);
		g->expires = now + (ttl > 0 ? (time_t)ttl : 3600);
		if (!g->token)
			rc = dh_error_set(DH_ENOMEM, "out of memory");
		else
			*token = g->token;
	}
	if (ans) {
		json_t *t = json_object_get(ans, "access_token");

		if (json_string_value(t))
			OPENSSL_cleanse((char *)json_string_value(t), strlen(json_string_value(t)));
	}
	json_decref(ans);
	if (r.resp.data)
		OPENSSL_cleanse(r.resp.data, r.resp.len);
	dh_http_req_release(&r);
out:
	if (body.data)
		OPENSSL_cleanse(body.data, body.len);
	dh_buf_release(&body);
	dh_buf_release(&a);
	return rc;
}
