/*
 * gcs.c - the Google Cloud Storage backend (gs://bucket/prefix?endpoint=).
 *
 * Each key is one object <prefix>/<key> in the bucket, spoken to through
 * the GCS JSON API: media uploads (POST /upload/storage/v1/b/B/o?
 * uploadType=media&name=N), downloads with alt=media, metadata reads for
 * has(), listing with prefix and page tokens.  Same key strings as every
 * backend, so `gsutil rsync`/`gcloud storage rsync` of a file store is a
 * valid store (names starting with '.' are not keys, as on file://).
 *
 * Where: the endpoint parameter, else STORAGE_EMULATOR_HOST (as Google's
 * client libraries honour it: "host:port" or a URL, and then no
 * credentials are used), else https://storage.googleapis.com.  Credentials:
 * an OAuth2 token from Application Default Credentials (gauth.c), sent as
 * "Authorization: Bearer"; with no credentials requests go unauthenticated,
 * which public buckets and emulators accept.
 *
 * Heads change with generation preconditions: creating one is an upload
 * with ifGenerationMatch=0, replacing or deleting one reads it (value and
 * x-goog-generation), compares, and writes or deletes with
 * ifGenerationMatch=<generation>; 412 means another writer won.  Such
 * conditional requests are retried only when they cannot have landed.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dh-backend.h"
#include "store/backends.h"
#include "store/gauth.h"
#include "store/http.h"

#define PUT_ROUND 512
#define DEFAULT_ENDPOINT "https://storage.googleapis.com"

struct gs_store {
	struct dh_store base;
	struct dh_http *http;
	struct dh_gauth *auth;   /* NULL: unauthenticated */
	char *project;
	char *name;
	char *bucket;
	char *prefix;            /* "" or "a/b/" */
	char *api;               /* "https://storage.googleapis.com" */
};

struct gs_req {
	struct dh_http_req r;    /* first: the sign callback casts */
	struct gs_store *s;
	const char *content_type;
};

static int gs_sign(struct dh_http_req *r, struct curl_slist **headers, void *ctx)
{
	struct gs_req *q = (struct gs_req *)r;
	const char *tok;
	char line[4096];
	int rc;

	(void)ctx;
	if (q->s->auth) {
		if ((rc = dh_gauth_token(q->s->auth, &tok)))
			return rc;
		snprintf(line, sizeof(line), "Authorization: Bearer %s", tok);
		*headers = curl_slist_append(*headers, line);
		memset(line, 0, sizeof(line));
		if (!*headers)
			return dh_error_set(DH_ENOMEM, "out of memory");
	}
	if (q->content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", q->content_type);
		if (!(*headers = curl_slist_append(*headers, line)))
			return dh_error_set(DH_ENOMEM, "out of memory");
	}
	return 0;
}

/*
 * Set up `q`: `path` is appended to the base URL, then the object name of
 * `key` (percent-encoded, '/' too) when `key_in_path`, then `query`.
 */
static int req_init(struct gs_req *q, struct gs_store *s, const char *method, const char *path, const char *key,
		    int key_in_path, const char *query, const void *body, size_t len)
{
	struct dh_buf url = DH_BUF_INIT;
	int rc;

	memset(q, 0, sizeof(*q));
	q->s = s;
	q->r.method = method;
	q->r.body = body;
	q->r.body_len = len;
	q->r.sign = gs_sign;
	rc = dh_buf_addf(&url, "%s%s", s->api, path);
	if (!rc && key && key_in_path) {
		rc = dh_http_encode(&url, s->prefix, 0);
		if (!rc)
			rc = dh_http_encode(&url, key, 0);
	}
	if (!rc && query)
		rc = dh_buf_addf(&url, "?%s", query);
	if (!rc && key && !key_in_path) {
		rc = dh_buf_addf(&url, "%sname=", query ? "&" : "?");
		if (!rc)
			rc = dh_http_encode(&url, s->prefix, 0);
		if (!rc)
			rc = dh_http_encode(&url, key, 0);
	}
	if (rc) {
		dh_buf_release(&url);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	q->r.url = url.data;
	return 0;
}

static void req_release(struct gs_req *q)
{
	dh_http_req_release(&q->r);
	free(q->r.url);
	q->r.url = NULL;
}

static int gs_fail(struct gs_store *s, struct gs_req *q, const char *what, const char *key)
{
	json_t *j;
	const char *msg = NULL, *reason = NULL;
	char m[512] = "";
	long st = q->r.status;

	if (q->r.sign_rc)
		return q->r.sign_rc;
	if (q->r.curl_rc)
		return dh_error_set(DH_EIO, "cannot %s '%s' in '%s': %s", what, key, s->name, dh_http_failure(&q->r));
	j = q->r.resp.data ? json_loadb(q->r.resp.data, q->r.resp.len, 0, NULL) : NULL;
	if (j) {
		json_t *e = json_object_get(j, "error");

		msg = json_string_value(json_object_get(e, "message"));
		reason = json_string_value(json_object_get(json_array_get(json_object_get(e, "errors"), 0), "reason"));
	}
	snprintf(m, sizeof(m), "%s%s%s", reason ? reason : "", reason && msg ? ": " : "", msg ? msg : "");
	json_decref(j);
	if (st == 412)
		return dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key);
	if (st == 404 && strstr(m, "bucket does not exist"))
		return dh_error_set(DH_ENOTFOUND, "bucket '%s' does not exist (store '%s')", s->bucket, s->name);
	if (st == 404)
		return dh_error_set(DH_ENOTFOUND, "'%s' not found in '%s'", key, s->name);
	if (st == 401 || st == 403)
		return dh_error_set(DH_EAUTH, "cannot %s '%s' in '%s': access denied (%s) %s%s", what, key, s->name,
				    m[0] ? m : "HTTP 403", s->auth ? "with the credentials in " : "without credentials",
				    s->auth ? dh_gauth_source(s->auth) : "");
	return dh_error_set(DH_EIO, "cannot %s '%s' in '%s': HTTP %ld%s%s", what, key, s->name, st, m[0] ? " " : "", m);
}

static int ok_status(long st)
{
	return st >= 200 && st < 300;
}

/* The object path prefix "/storage/v1/b/<bucket>/o/" into a static buffer. */
static const char *opath(struct gs_store *s, char *buf, size_t cap)
{
	snprintf(buf, cap, "/storage/v1/b/%s/o/", s->bucket);
	return buf;
}

/* GET the media of `key`; *gen gets its generation. */
static int get_media(struct gs_store *s, const char *key, struct dh_buf *out, char *gen, size_t gcap)
{
	struct gs_req q;
	char p[300];
	int rc;

	if ((rc = req_init(&q, s, "GET", opath(s, p, sizeof(p)), key, 1, "alt=media", NULL, 0)))
		return rc;
	if (!(rc = dh_http_run1(s->http, &q.r))) {
		if (ok_status(q.r.status)) {
			struct dh_buf tmp = *out;

			if (!q.r.resp.data)
				rc = dh_buf_add(&q.r.resp, "", 0);
			*out = q.r.resp;
			q.r.resp = tmp;
			dh_buf_reset(&q.r.resp);
			if (gen)
				snprintf(gen, gcap, "%s", q.r.generation);
		} else {
			rc = gs_fail(s, &q, "read", key);
		}
	}
	req_release(&q);
	return rc;
}

static int gs_get(struct dh_store *st, const char *key, struct dh_buf *out)
{
	return get_media((struct gs_store *)st, key, out, NULL, 0);
}

static int upload_init(struct gs_req *q, struct gs_store *s, const char *key, const void *data, size_t len,
		       const char *if_gen)
{
	char path[300], query[96];

	snprintf(path, sizeof(path), "/upload/storage/v1/b/%s/o", s->bucket);
	if (if_gen)
		snprintf(query, sizeof(query), "uploadType=media&ifGenerationMatch=%s", if_gen);
	else
		snprintf(query, sizeof(query), "uploadType=media");
	if (req_init(q, s, "POST", path, key, 0, query, data, len))
		return DH_ENOMEM;
	q->content_type = "application/octet-stream";
	q->r.once = if_gen != NULL;
	return 0;
}

static int upload(struct gs_store *s, const char *key, const void *data, size_t len, const char *if_gen)
{
	struct gs_req q;
	int rc;

	if ((rc = upload_init(&q, s, key, data, len, if_gen)))
		return rc;
	if (!(rc = dh_http_run1(s->http, &q.r)) && !ok_status(q.r.status))
		rc = gs_fail(s, &q, "write", key);
	req_release(&q);
	return rc;
}

static int gs_put(struct dh_store *st, const char *key, const void *data, size_t len)
{
	return upload((struct gs_store *)st, key, data, len, NULL);
}

/* What put_many, get_many and has_many make their requests of. */
struct many {
	struct gs_store *s;
	const struct dh_kv *kvs;       /* put_many */
	const char *const *keys;       /* get_many, has_many */
	const char *query;             /* get_many, has_many: what to GET */
	char path[300];
	dh_get_cb cb;                  /* get_many */
	void *payload;
	unsigned char *found;          /* has_many */
};

static int many_make(void *q, size_t i, void *ctx)
{
	struct many *m = ctx;

	if (m->kvs)
		return upload_init(q, m->s, m->kvs[i].key, m->kvs[i].data, m->kvs[i].len, NULL);
	return req_init(q, m->s, "GET", m->path, m->keys[i], 1, m->query, NULL, 0);
}

static int run_many(struct many *m, size_t n, dh_http_done_fn done)
{
	if (!m->kvs)
		opath(m->s, m->path, sizeof(m->path));
	return dh_http_rounds(m->s->http, n, PUT_ROUND, sizeof(struct gs_req), offsetof(struct gs_req, r), many_make,
			      done, m);
}

static int put_done(void *q, size_t i, int rc, void *ctx)
{
	struct many *m = ctx;
	struct gs_req *r = q;

	if (!rc && !ok_status(r->r.status))
		rc = gs_fail(m->s, r, "write", m->kvs[i].key);
	req_release(r);
	return rc;
}

static int gs_put_many(struct dh_store *st, const struct dh_kv *kvs, size_t n)
{
	struct many m = { .s = (struct gs_store *)st, .kvs = kvs };

	return run_many(&m, n, put_done);
}

static int get_done(void *q, size_t i, int rc, void *ctx)
{
	struct many *m = ctx;
	struct gs_req *r = q;
	const char *body = r->r.resp.data ? r->r.resp.data : "";

	if (!rc && ok_status(r->r.status))
		rc = m->cb(i, body, r->r.resp.len, m->payload);
	else if (!rc && (r->r.status != 404 || strstr(body, "bucket does not exist")))
		rc = gs_fail(m->s, r, "read", m->keys[i]);
	req_release(r);
	return rc;
}

static int gs_get_many(struct dh_store *st, const char *const *keys, size_t n, dh_get_cb cb, void *payload)
{
	struct many m = { .s = (struct gs_store *)st, .keys = keys, .query = "alt=media", .cb = cb, .payload = payload };

	return run_many(&m, n, get_done);
}

static int has_done(void *q, size_t i, int rc, void *ctx)
{
	struct many *m = ctx;
	struct gs_req *r = q;

	m->found[i] = ok_status(r->r.status);
	if (!rc && !m->found[i] && r->r.status != 404)
		rc = gs_fail(m->s, r, "look up", m->keys[i]);
	req_release(r);
	return rc;
}

/* Metadata reads of the name alone, up to DH_HTTP_MAX_INFLIGHT at once. */
static int gs_has_many(struct dh_store *st, const char *const *keys, size_t n, unsigned char *found)
{
	struct many m = { .s = (struct gs_store *)st, .keys = keys, .query = "fields=name", .found = found };

	return run_many(&m, n, has_done);
}

static int gs_has(struct dh_store *st, const char *key)
{
	unsigned char found = 0;
	int rc = gs_has_many(st, &key, 1, &found);

	return rc ? rc : found;
}

static int del_cond(struct gs_store *s, const char *key, const char *if_gen)
{
	struct gs_req q;
	char p[300], query[64];
	int rc;

	if (if_gen)
		snprintf(query, sizeof(query), "ifGenerationMatch=%s", if_gen);
	if ((rc = req_init(&q, s, "DELETE", opath(s, p, sizeof(p)), key, 1, if_gen ? query : NULL, NULL, 0)))
		return rc;
	q.r.once = if_gen != NULL;
	if (!(rc = dh_http_run1(s->http, &q.r)) && !ok_status(q.r.status) && !(q.r.status == 404 && !if_gen))
		rc = gs_fail(s, &q, "delete", key);
	if (rc == DH_ENOTFOUND && if_gen)
		rc = dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key);
	req_release(&q);
	return rc;
}

static int gs_del(struct dh_store *st, const char *key)
{
	return del_cond((struct gs_store *)st, key, NULL);
}

static int gs_list(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload)
{
	struct gs_store *s = (struct gs_store *)st;
	struct dh_buf query = DH_BUF_INIT, full = DH_BUF_INIT;
	char *token = NULL, p[300];
	size_t plen = strlen(s->prefix);
	int rc;

	snprintf(p, sizeof(p), "/storage/v1/b/%s/o", s->bucket);
	if ((rc = dh_buf_addf(&full, "%s%s", s->prefix, prefix)))
		goto out;
	do {
		struct gs_req q;
		json_t *ans, *it;
		size_t i;

		dh_buf_reset(&query);
		rc = dh_buf_adds(&query, "fields=items(name),nextPageToken&prefix=");
		if (!rc)
			rc = dh_http_encode(&query, full.data, 0);
		if (!rc && token) {
			rc = dh_buf_adds(&query, "&pageToken=");
			if (!rc)
				rc = dh_http_encode(&query, token, 0);
		}
		free(token);
		token = NULL;
		if (rc || (rc = req_init(&q, s, "GET", p, NULL, 0, query.data, NULL, 0)))
			break;
		if (!(rc = dh_http_run1(s->http, &q.r)) && !ok_status(q.r.status))
			rc = gs_fail(s, &q, "list", prefix[0] ? prefix : "(all keys)");
		ans = rc ? NULL : json_loadb(q.r.resp.data ? q.r.resp.data : "", q.r.resp.len, 0, NULL);
		if (!rc && !ans)
			rc = dh_error_set(DH_EIO, "cannot list '%s' in '%s': the answer is not JSON", prefix, s->name);
		req_release(&q);
		json_array_foreach(json_object_get(ans, "items"), i, it) {
			const char *k = json_string_value(json_object_get(it, "name"));

			if (k && !strncmp(k, s->prefix, plen) && !dh_cloud_hidden(k + plen) && (rc = cb(k + plen, payload)))
				break;
		}
		if (!rc && json_string_value(json_object_get(ans, "nextPageToken")))
			token = strdup(json_string_value(json_object_get(ans, "nextPageToken")));
		json_decref(ans);
	} while (!rc && token);
out:
	free(token);
	dh_buf_release(&query);
	dh_buf_release(&full);
	return rc;
}

static int trimmed_equal(const struct dh_buf *b, const char *s)
{
	size_t n = b->len;

	while (n && (b->data[n - 1] == '\n' || b->data[n - 1] == '\r'))
		n--;
	return n == strlen(s) && !memcmp(b->data, s, n);
}

static int gs_cas(struct dh_store *st, const char *key, const char *old, const char *new)
{
	struct gs_store *s = (struct gs_store *)st;
	struct dh_buf cur = DH_BUF_INIT;
	char gen[32] = "";
	int rc;

	if (!old) {
		if (!new) {
			rc = gs_has(st, key);
			return rc < 0 ? rc : rc ? dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key) : 0;
		}
		return upload(s, key, new, strlen(new), "0");
	}
	rc = get_media(s, key, &cur, gen, sizeof(gen));
	if (rc == DH_ENOTFOUND && !strstr(dh_errmsg(), "does not exist"))
		rc = dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key);
	else if (!rc && !trimmed_equal(&cur, old))
		rc = dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key);
	else if (!rc && !gen[0])
		rc = dh_error_set(DH_EIO, "cannot swap '%s' in '%s': the server sent no generation", key, s->name);
	dh_buf_release(&cur);
	if (rc)
		return rc;
	return new ? upload(s, key, new, strlen(new), gen) : del_cond(s, key, gen);
}

/* ---- open and close ---- */

static void gs_free(struct gs_store *s)
{
	dh_http_free(s->http);
	dh_gauth_free(s->auth);
	free(s->project);
	free(s->name);
	free(s->bucket);
	free(s->prefix);
	free(s->api);
	free(s);
}

static void gs_close(struct dh_store *st)
{
	gs_free((struct gs_store *)st);
}

static int create_bucket(struct gs_store *s)
{
	struct gs_req q;
	char query[300];
	char *body = NULL;
	int rc;

	if (!s->project)
		return dh_error_set(DH_ENOTFOUND, "bucket '%s' does not exist and cannot be created without a project: "
				    "set GOOGLE_CLOUD_PROJECT (store '%s')", s->bucket, s->name);
	snprintf(query, sizeof(query), "project=%s", s->project);
	if (asprintf(&body, "{\"name\":\"%s\"}", s->bucket) < 0)
		return dh_error_set(DH_ENOMEM, "out of memory");
	if ((rc = req_init(&q, s, "POST", "/storage/v1/b", NULL, 0, query, body, strlen(body)))) {
		free(body);
		return rc;
	}
	q.content_type = "application/json";
	if (!(rc = dh_http_run1(s->http, &q.r)) && !ok_status(q.r.status) && q.r.status != 409)
		rc = gs_fail(s, &q, "create bucket", s->bucket);
	req_release(&q);
	free(body);
	return rc;
}

static int probe(struct gs_store *s, unsigned flags)
{
	struct dh_buf query = DH_BUF_INIT;
	struct gs_req q;
	char p[300];
	int rc;

	snprintf(p, sizeof(p), "/storage/v1/b/%s/o", s->bucket);
	rc = dh_buf_adds(&query, "maxResults=1&fields=nextPageToken&prefix=");
	if (!rc)
		rc = dh_http_encode(&query, s->prefix, 0);
	if (rc || (rc = req_init(&q, s, "GET", p, NULL, 0, query.data, NULL, 0))) {
		dh_buf_release(&query);
		return rc ? rc : dh_error_set(DH_ENOMEM, "out of memory");
	}
	if (!(rc = dh_http_run1(s->http, &q.r)) && !ok_status(q.r.status)) {
		rc = gs_fail(s, &q, "list", s->prefix[0] ? s->prefix : "(all keys)");
		if (q.r.status == 404)
			rc = dh_error_set(DH_ENOTFOUND, "bucket '%s' does not exist (store '%s')", s->bucket, s->name);
	}
	req_release(&q);
	dh_buf_release(&query);
	if (rc == DH_ENOTFOUND && (flags & DH_STORE_CREATE))
		rc = create_bucket(s);
	return rc;
}

static int gs_open(struct dh_store **out, const struct dh_uri *uri, unsigned flags)
{
	static const char *const known[] = { "endpoint", "retries", "timeout", NULL };
	const char *endpoint = dh_uri_param(uri, "endpoint"), *emu = getenv("STORAGE_EMULATOR_HOST");
	struct gs_store *s;
	int rc, retries, timeout;
	size_t n;

	if ((rc = dh_uri_check_params(uri, known)) || (rc = dh_http_uri_options(uri, &retries, &timeout)))
		return rc;
	if (!uri->host || strlen(uri->host) < 3 || strlen(uri->host) > 222 ||
	    strspn(uri->host, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(uri->host))
		return dh_error_set(DH_EUSAGE, "gs URIs name a bucket (lowercase letters, digits, - _ .): gs://bucket/prefix");
	if (uri->port || uri->user)
		return dh_error_set(DH_EUSAGE, "gs URIs take no port or user: use ?endpoint=URL");
	if (endpoint && strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8))
		return dh_error_set(DH_EUSAGE, "bad endpoint '%s': want http://host[:port] or https://host[:port]", endpoint);
	if (!(s = calloc(1, sizeof(*s))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	s->name = strdup(uri->text);
	s->bucket = strdup(uri->host);
	{
		const char *p = uri->path;

		n = strlen(p);
		while (*p == '/')
			p++, n--;
		while (n && p[n - 1] == '/')
			n--;
		if (asprintf(&s->prefix, "%.*s%s", (int)n, p, n ? "/" : "") < 0)
			s->prefix = NULL;
	}
	if (endpoint)
		s->api = strdup(endpoint);
	else if (emu && *emu && (!strncmp(emu, "http://", 7) || !strncmp(emu, "https://", 8)))
		s->api = strdup(emu);
	else if (emu && *emu && asprintf(&s->api, "http://%s", emu) < 0)
		s->api = NULL;
	else if (!emu || !*emu)
		s->api = strdup(DEFAULT_ENDPOINT);
	if (!s->name || !s->bucket || !s->prefix || !s->api) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto fail;
	}
	n = strlen(s->api);
	while (n && s->api[n - 1] == '/')
		s->api[--n] = '\0';
	/* the emulator takes no credentials, as with Google's own clients */
	if (endpoint || !emu || !*emu) {
		if ((rc = dh_gauth_load(&s->auth, &s->project, retries, timeout)))
			goto fail;
		if (!s->auth && !endpoint) {
			rc = dh_error_set(DH_EAUTH, "no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service "
					  "account key file, or run 'gcloud auth application-default login'");
			goto fail;
		}
	}
	if (getenv("GOOGLE_CLOUD_PROJECT") && *getenv("GOOGLE_CLOUD_PROJECT")) {
		free(s->project);
		s->project = strdup(getenv("GOOGLE_CLOUD_PROJECT"));
	}
	/* read-only: the first read answers what the probe would (see s3.c) */
	if ((rc = dh_http_new(&s->http, retries, timeout, NULL)) ||
	    (!(flags & DH_STORE_RDONLY) && (rc = probe(s, flags))))
		goto fail;
	s->base.flags = DH_STORE_KEYWISE;  /* one GET per key */
	*out = &s->base;
	return 0;
fail:
	gs_free(s);
	return rc;
}

const struct dh_store_ops dh_store_gs_ops = {
	.api_version = DH_BACKEND_API_VERSION,
	.scheme = "gs",
	.open = gs_open,
	.close = gs_close,
	.get = gs_get,
	.put = gs_put,
	.has = gs_has,
	.list = gs_list,
	.cas = gs_cas,
	.del = gs_del,
	.put_many = gs_put_many,
	.get_many = gs_get_many,
	.has_many = gs_has_many,
};
