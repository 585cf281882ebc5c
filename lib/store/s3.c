/*
 * s3.c - the Amazon S3 backend (s3://bucket/prefix?region=&endpoint=&path-style=).
 *
 * Each key is one object, named <prefix>/<key>, so a store uploaded with
 * `aws s3 sync DIR s3://bucket/prefix` from a file store is a valid store
 * and the other way round.  Requests are signed with SigV4 (sigv4.c) using
 * credentials found as the AWS CLI finds them (awscreds.c) and sent through
 * http.c: retries with backoff, many PUTs at once for put_many().
 *
 * Addressing: virtual-hosted (https://bucket.s3.REGION.amazonaws.com/key)
 * by default; path-style (https://ENDPOINT/bucket/key) with
 * path-style=true, and by default when the endpoint is an IP address or
 * localhost or the bucket name has a dot (it would not match the TLS
 * wildcard certificate).
 *
 * Heads change with S3's conditional writes: creating one is a PUT with
 * `If-None-Match: *`, replacing or deleting one first reads it (value and
 * ETag), compares the value and then writes with `If-Match: <etag>`; 412
 * Precondition Failed (or 409 ConditionalRequestConflict from a concurrent
 * conditional write) means another writer won.  A conditional write is
 * retried only when it cannot have been acted on (no connection, 429, 503):
 * after a lost answer the outcome is unknown and reported as an I/O error,
 * never guessed, since a repeat of a write that did land would fail its
 * own condition and look like a lost race.
 *
 * As on the file backend, names with a component starting with '.' are not
 * keys: list() skips them, so the `.lock` and temporary files of a file
 * store uploaded with `aws s3 sync` do not show.
 *
 * put_many() and get_many() keep up to DH_HTTP_MAX_INFLIGHT requests in
 * flight.  A PUT is durable when S3 answers 200, so flush() has nothing to do.
 * Server error bodies are reduced to their <Code> and <Message>: a
 * SignatureDoesNotMatch answer echoes the signature, which must not reach
 * a message.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dh-backend.h"
#include "store/backends.h"
#include "store/http.h"
#include "store/sigv4.h"

/* put_many() issues its PUTs in rounds of this many requests. */
#define PUT_ROUND 512

struct s3_store {
	struct dh_store base;
	struct dh_http *http;
	struct dh_aws_creds creds;
	char *name;          /* the store URI, for messages */
	char *bucket;
	char *prefix;        /* "" or "a/b/" */
	char *scheme_host;   /* "https://bucket.s3.us-east-1.amazonaws.com" */
	char *host;          /* the Host header */
	char *base_path;     /* "/bucket" (path-style) or "" */
	char *region;
};

struct s3_req {
	struct dh_http_req r;      /* first: the sign callback casts */
	struct s3_store *s;
	struct dh_buf canon_uri;
	const char *query;         /* canonical query, borrowed */
	char payload_hash[65];
	const char *cond_name;     /* "If-Match", "If-None-Match" or NULL */
	char cond_value[160];
	const char *content_type;
};

static int s3_sign(struct dh_http_req *r, struct curl_slist **headers, void *ctx)
{
	struct s3_req *q = (struct s3_req *)r;
	struct s3_store *s = q->s;
	struct dh_sigv4_header h[4];
	struct dh_buf line = DH_BUF_INIT;
	char amzdate[17];
	size_t n = 0;
	int rc;

	(void)ctx;
	dh_sigv4_amzdate(amzdate, time(NULL));
	h[n++] = (struct dh_sigv4_header){ "host", s->host };
	h[n++] = (struct dh_sigv4_header){ "x-amz-content-sha256", q->payload_hash };
	h[n++] = (struct dh_sigv4_header){ "x-amz-date", amzdate };
	if (s->creds.session_token)
		h[n++] = (struct dh_sigv4_header){ "x-amz-security-token", s->creds.session_token };
	rc = dh_buf_adds(&line, "Authorization: ");
	if (!rc)
		rc = dh_sigv4_sign(&line, r->method, q->canon_uri.data, q->query ? q->query : "", h, n, q->payload_hash,
				   amzdate, s->region, "s3", &s->creds);
	for (size_t i = 0; i < n && !rc; i++) {
		char hl[1024];
		struct curl_slist *t;

		snprintf(hl, sizeof(hl), "%s: %s", !strcmp(h[i].name, "host") ? "Host" : h[i].name, h[i].value);
		if (!(t = curl_slist_append(*headers, hl)))
			rc = DH_ENOMEM;
		else
			*headers = t;
	}
	if (!rc && !(*headers = curl_slist_append(*headers, line.data)))
		rc = DH_ENOMEM;
	if (!rc && q->cond_name) {
		char hl[200];

		snprintf(hl, sizeof(hl), "%s: %s", q->cond_name, q->cond_value);
		if (!(*headers = curl_slist_append(*headers, hl)))
			rc = DH_ENOMEM;
	}
	if (!rc && q->content_type) {
		char hl[100];

		snprintf(hl, sizeof(hl), "Content-Type: %s", q->content_type);
		if (!(*headers = curl_slist_append(*headers, hl)))
			rc = DH_ENOMEM;
	}
	if (line.data)
		memset(line.data, 0, line.len);
	dh_buf_release(&line);
	return rc ? dh_error_set(DH_ENOMEM, "out of memory") : 0;
}

/* Set up `q` for `method` on object `key` (NULL: the bucket) with `query`. */
static int req_init(struct s3_req *q, struct s3_store *s, const char *method, const char *key, const char *query,
		    const void *body, size_t len)
{
	struct dh_buf url = DH_BUF_INIT;
	int rc;

	memset(q, 0, sizeof(*q));
	q->s = s;
	q->r.method = method;
	q->r.body = body;
	q->r.body_len = len;
	q->r.sign = s3_sign;
	q->query = query;
	dh_sha256_hex(q->payload_hash, body ? body : "", body ? len : 0);
	rc = dh_buf_adds(&q->canon_uri, s->base_path);
	if (!rc && key) {
		rc = dh_buf_addc(&q->canon_uri, '/');
		if (!rc)
			rc = dh_http_encode(&q->canon_uri, s->prefix, 1);
		if (!rc)
			rc = dh_http_encode(&q->canon_uri, key, 1);
	} else if (!rc && !s->base_path[0]) {
		rc = dh_buf_addc(&q->canon_uri, '/');
	}
	if (!rc)
		rc = dh_buf_addf(&url, "%s%s%s%s", s->scheme_host, q->canon_uri.data, query ? "?" : "", query ? query : "");
	if (rc) {
		dh_buf_release(&q->canon_uri);
		dh_buf_release(&url);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	q->r.url = url.data;
	return 0;
}

static void req_release(struct s3_req *q)
{
	dh_http_req_release(&q->r);
	dh_buf_release(&q->canon_uri);
	free(q->r.url);
	q->r.url = NULL;
}

/* The text of the first <tag>...</tag> in `xml`, entity-decoded, into out. */
static int xml_text(const char *xml, size_t len, const char *tag, char *out, size_t cap)
{
	char open[64], close[64];
	const char *p, *e, *end = xml + len;
	size_t n = 0;

	out[0] = '\0';
	if (!xml)
		return 0;
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	p = memmem(xml, len, open, strlen(open));
	if (!p)
		return 0;
	p += strlen(open);
	e = memmem(p, (size_t)(end - p), close, strlen(close));
	if (!e)
		return 0;
	while (p < e && n + 1 < cap) {
		if (*p == '&') {
			static const struct { const char *ent; char c; } ents[] = {
				{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' },
			};
			size_t k;

			for (k = 0; k < 5; k++) {
				size_t el = strlen(ents[k].ent);

				if ((size_t)(e - p) >= el && !memcmp(p, ents[k].ent, el)) {
					out[n++] = ents[k].c;
					p += el;
					break;
				}
			}
			if (k < 5)
				continue;
			if (p[1] == '#') {
				char *stop;
				long c = p[2] == 'x' ? strtol(p + 3, &stop, 16) : strtol(p + 2, &stop, 10);

				if (*stop == ';' && c > 0 && c < 128) {
					out[n++] = (char)c;
					p = stop + 1;
					continue;
				}
			}
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
	return 1;
}

/* A failed request as a dh error naming what, the key and the store. */
static int s3_fail(struct s3_store *s, struct s3_req *q, const char *what, const char *key)
{
	char code[128], msg[512];
	long st = q->r.status;

	if (q->r.sign_rc)
		return q->r.sign_rc;
	if (q->r.curl_rc)
		return dh_error_set(DH_EIO, "cannot %s '%s' in '%s': %s", what, key, s->name, dh_http_failure(&q->r));
	xml_text(q->r.resp.data, q->r.resp.len, "Code", code, sizeof(code));
	xml_text(q->r.resp.data, q->r.resp.len, "Message", msg, sizeof(msg));
	if (!strcmp(code, "NoSuchBucket"))
		return dh_error_set(DH_ENOTFOUND, "bucket '%s' does not exist (store '%s')", s->bucket, s->name);
	if (st == 404)
		return dh_error_set(DH_ENOTFOUND, "'%s' not found in '%s'", key, s->name);
	if (st == 412 || (st == 409 && !strcmp(code, "ConditionalRequestConflict")))
		return dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key);
	if (q->r.region[0] && strcmp(q->r.region, s->region) && (st == 301 || st == 400 || st == 307))
		return dh_error_set(DH_EIO, "cannot %s '%s' in '%s': bucket '%s' is in region '%s', not '%s' (add ?region=%s)",
				    what, key, s->name, s->bucket, q->r.region, s->region, q->r.region);
	if (st == 401 || st == 403)
		return dh_error_set(DH_EAUTH, "cannot %s '%s' in '%s': access denied (%s%s%s) with the credentials from %s",
				    what, key, s->name, code[0] ? code : "HTTP 403", msg[0] ? ": " : "", msg,
				    s->creds.source);
	return dh_error_set(DH_EIO, "cannot %s '%s' in '%s': HTTP %ld%s%s%s%s", what, key, s->name, st,
			    code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
}

static int ok_status(long st)
{
	return st >= 200 && st < 300;
}

/* ---- the ops ---- */

static int s3_get(struct dh_store *st, const char *key, struct dh_buf *out)
{
	struct s3_store *s = (struct s3_store *)st;
	struct s3_req q;
	int rc;

	if ((rc = req_init(&q, s, "GET", key, NULL, NULL, 0)))
		return rc;
	if (!(rc = dh_http_run1(s->http, &q.r))) {
		if (ok_status(q.r.status)) {
			struct dh_buf tmp = *out;

			if (!q.r.resp.data && (rc = dh_buf_add(&q.r.resp, "", 0)))
				goto out;
			*out = q.r.resp;
			q.r.resp = tmp;
			dh_buf_reset(&q.r.resp);
		} else {
			rc = s3_fail(s, &q, "read", key);
		}
	}
out:
	req_release(&q);
	return rc;
}

static int s3_put_cond(struct s3_store *s, const char *key, const void *data, size_t len, const char *cond_name,
		       const char *cond_value, int *attempts)
{
	struct s3_req q;
	int rc;

	if ((rc = req_init(&q, s, "PUT", key, NULL, data, len)))
		return rc;
	q.content_type = "application/octet-stream";
	if (cond_name) {
		q.r.once = 1;
		q.cond_name = cond_name;
		snprintf(q.cond_value, sizeof(q.cond_value), "%s", cond_value);
	}
	if (!(rc = dh_http_run1(s->http, &q.r)) && !ok_status(q.r.status))
		rc = s3_fail(s, &q, "write", key);
	if (attempts)
		*attempts = q.r.attempts;
	req_release(&q);
	return rc;
}

static int s3_put(struct dh_store *st, const char *key, const void *data, size_t len)
{
	return s3_put_cond((struct s3_store *)st, key, data, len, NULL, NULL, NULL);
}

/* What put_many, get_many and has_many make their requests of. */
struct many {
	struct s3_store *s;
	const struct dh_kv *kvs;       /* put_many */
	const char *const *keys;       /* get_many, has_many */
	const char *method;
	dh_get_cb cb;                  /* get_many */
	void *payload;
	unsigned char *found;          /* has_many */
};

static int many_make(void *q, size_t i, void *ctx)
{
	struct many *m = ctx;
	struct s3_req *r = q;
	int rc;

	if (m->kvs) {
		rc = req_init(r, m->s, "PUT", m->kvs[i].key, NULL, m->kvs[i].data, m->kvs[i].len);
		r->content_type = "application/octet-stream";
		return rc;
	}
	return req_init(r, m->s, m->method, m->keys[i], NULL, NULL, 0);
}

static int put_done(void *q, size_t i, int rc, void *ctx)
{
	struct many *m = ctx;
	struct s3_req *r = q;

	if (!rc && !ok_status(r->r.status))
		rc = s3_fail(m->s, r, "write", m->kvs[i].key);
	req_release(r);
	return rc;
}

static int s3_put_many(struct dh_store *st, const struct dh_kv *kvs, size_t n)
{
	struct many m = { .s = (struct s3_store *)st, .kvs = kvs };

	return dh_http_rounds(m.s->http, n, PUT_ROUND, sizeof(struct s3_req), offsetof(struct s3_req, r), many_make,
			      put_done, &m);
}

static int get_done(void *q, size_t i, int rc, void *ctx)
{
	struct many *m = ctx;
	struct s3_req *r = q;
	const char *body = r->r.resp.data ? r->r.resp.data : "";

	if (!rc && ok_status(r->r.status))
		rc = m->cb(i, body, r->r.resp.len, m->payload);
	else if (!rc && (r->r.status != 404 || strstr(body, "NoSuchBucket")))
		rc = s3_fail(m->s, r, "read", m->keys[i]);
	req_release(r);
	return rc;
}

static int s3_get_many(struct dh_store *st, const char *const *keys, size_t n, dh_get_cb cb, void *payload)
{
	struct many m = { .s = (struct s3_store *)st, .keys = keys, .method = "GET", .cb = cb, .payload = payload };

	return dh_http_rounds(m.s->http, n, PUT_ROUND, sizeof(struct s3_req), offsetof(struct s3_req, r), many_make,
			      get_done, &m);
}

static int has_done(void *q, size_t i, int rc, void *ctx)
{
	struct many *m = ctx;
	struct s3_req *r = q;

	m->found[i] = ok_status(r->r.status);
	if (!rc && !m->found[i] && r->r.status != 404)
		rc = s3_fail(m->s, r, "look up", m->keys[i]);
	req_release(r);
	return rc;
}

/* HEAD requests, up to DH_HTTP_MAX_INFLIGHT at once. */
static int s3_has_many(struct dh_store *st, const char *const *keys, size_t n, unsigned char *found)
{
	struct many m = { .s = (struct s3_store *)st, .keys = keys, .method = "HEAD", .found = found };

	return dh_http_rounds(m.s->http, n, PUT_ROUND, sizeof(struct s3_req), offsetof(struct s3_req, r), many_make,
			      has_done, &m);
}

static int s3_has(struct dh_store *st, const char *key)
{
	unsigned char found = 0;
	int rc = s3_has_many(st, &key, 1, &found);

	return rc ? rc : found;
}

static int s3_del_cond(struct s3_store *s, const char *key, const char *etag)
{
	struct s3_req q;
	int rc;

	if ((rc = req_init(&q, s, "DELETE", key, NULL, NULL, 0)))
		return rc;
	if (etag) {
		q.r.once = 1;
		q.cond_name = "If-Match";
		snprintf(q.cond_value, sizeof(q.cond_value), "%s", etag);
	}
	if (!(rc = dh_http_run1(s->http, &q.r)) && !ok_status(q.r.status) && !(q.r.status == 404 && !etag))
		rc = s3_fail(s, &q, "delete", key);
	req_release(&q);
	return rc;
}

static int s3_del(struct dh_store *st, const char *key)
{
	return s3_del_cond((struct s3_store *)st, key, NULL);
}

static int s3_list(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload)
{
	struct s3_store *s = (struct s3_store *)st;
	struct dh_buf query = DH_BUF_INIT, full = DH_BUF_INIT;
	char token[1024] = "", truncated[16], *key = NULL;
	size_t plen = strlen(s->prefix);
	int rc = 0;

	if (!(key = malloc(DH_KEY_MAX * 2 + 64)))
		return dh_error_set(DH_ENOMEM, "out of memory");
	if ((rc = dh_buf_addf(&full, "%s%s", s->prefix, prefix)))
		goto out;
	do {
		struct s3_req q;
		const char *p, *end;

		dh_buf_reset(&query);
		if (token[0]) {
			rc = dh_buf_adds(&query, "continuation-token=");
			if (!rc)
				rc = dh_http_encode(&query, token, 0);
			if (!rc)
				rc = dh_buf_addc(&query, '&');
		}
		if (!rc)
			rc = dh_buf_adds(&query, "list-type=2&prefix=");
		if (!rc)
			rc = dh_http_encode(&query, full.data, 0);
		if (rc || (rc = req_init(&q, s, "GET", NULL, query.data, NULL, 0)))
			goto out;
		if (!(rc = dh_http_run1(s->http, &q.r)) && !ok_status(q.r.status))
			rc = s3_fail(s, &q, "list", prefix[0] ? prefix : "(all keys)");
		p = q.r.resp.data;
		end = p ? p + q.r.resp.len : NULL;
		while (!rc && p && (p = memmem(p, (size_t)(end - p), "<Contents>", 10))) {
			const char *ce = memmem(p, (size_t)(end - p), "</Contents>", 11);

			if (!ce)
				break;
			if (xml_text(p, (size_t)(ce - p), "Key", key, DH_KEY_MAX * 2 + 64) && !strncmp(key, s->prefix, plen) &&
			    key[plen] && !dh_cloud_hidden(key + plen))
				rc = cb(key + plen, payload);
			p = ce;
		}
		token[0] = '\0';
		if (!rc && xml_text(q.r.resp.data, q.r.resp.len, "IsTruncated", truncated, sizeof(truncated)) &&
		    !strcmp(truncated, "true"))
			xml_text(q.r.resp.data, q.r.resp.len, "NextContinuationToken", token, sizeof(token));
		req_release(&q);
	} while (!rc && token[0]);
out:
	free(key);
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

static int s3_cas(struct dh_store *st, const char *key, const char *old, const char *new)
{
	struct s3_store *s = (struct s3_store *)st;
	struct s3_req q;
	char etag[160];
	int rc;

	if (!old) {
		if (!new) {
			rc = s3_has(st, key);
			return rc < 0 ? rc : rc ? dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key) : 0;
		}
		return s3_put_cond(s, key, new, strlen(new), "If-None-Match", "*", NULL);
	}
	if ((rc = req_init(&q, s, "GET", key, NULL, NULL, 0)))
		return rc;
	if ((rc = dh_http_run1(s->http, &q.r))) {
		req_release(&q);
		return rc;
	}
	if (q.r.status == 404 && !strstr(q.r.resp.data ? q.r.resp.data : "", "NoSuchBucket"))
		rc = dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key);
	else if (!ok_status(q.r.status))
		rc = s3_fail(s, &q, "read", key);
	else if (!trimmed_equal(&q.r.resp, old))
		rc = dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key);
	else if (!q.r.etag[0])
		rc = dh_error_set(DH_EIO, "cannot swap '%s' in '%s': the server sent no ETag", key, s->name);
	snprintf(etag, sizeof(etag), "%s", q.r.etag);
	req_release(&q);
	if (rc)
		return rc;
	if (new)
		return s3_put_cond(s, key, new, strlen(new), "If-Match", etag, NULL);
	return s3_del_cond(s, key, etag);
}

/* ---- open and close ---- */

static void s3_free(struct s3_store *s)
{
	dh_http_free(s->http);
	dh_aws_creds_release(&s->creds);
	free(s->name);
	free(s->bucket);
	free(s->prefix);
	free(s->scheme_host);
	free(s->host);
	free(s->base_path);
	free(s->region);
	free(s);
}

static void s3_close(struct dh_store *st)
{
	s3_free((struct s3_store *)st);
}

static int bucket_name_ok(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63)
		return 0;
	for (const char *c = b; *c; c++)
		if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-' || *c == '.' || *c == '_'))
			return 0;
	return 1;
}

static int host_is_ip_or_local(const char *authority)
{
	char h[256];
	size_t n = strcspn(authority, ":/");

	if (authority[0] == '[')
		return 1;
	snprintf(h, sizeof(h), "%.*s", (int)n, authority);
	if (!strcmp(h, "localhost"))
		return 1;
	for (char *c = h; *c; c++)
		if (!isdigit((unsigned char)*c) && *c != '.')
			return 0;
	return 1;
}

static int create_bucket(struct s3_store *s)
{
	struct s3_req q;
	char body[256] = "";
	int rc;

	if (strcmp(s->region, "us-east-1"))
		snprintf(body, sizeof(body),
			 "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			 "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>", s->region);
	if ((rc = req_init(&q, s, "PUT", NULL, NULL, body, strlen(body))))
		return rc;
	if (!(rc = dh_http_run1(s->http, &q.r)) && !ok_status(q.r.status))
		rc = s3_fail(s, &q, "create bucket", s->bucket);
	req_release(&q);
	return rc;
}

/* One cheap listing: is the bucket there, are we allowed in, right region? */
static int probe(struct s3_store *s, unsigned flags)
{
	struct dh_buf query = DH_BUF_INIT;
	struct s3_req q;
	int rc;

	rc = dh_buf_adds(&query, "list-type=2&max-keys=1&prefix=");
	if (!rc)
		rc = dh_http_encode(&query, s->prefix, 0);
	if (rc || (rc = req_init(&q, s, "GET", NULL, query.data, NULL, 0))) {
		dh_buf_release(&query);
		return rc;
	}
	if (!(rc = dh_http_run1(s->http, &q.r)) && !ok_status(q.r.status))
		rc = s3_fail(s, &q, "list", s->prefix[0] ? s->prefix : "(all keys)");
	if (rc == DH_ENOTFOUND && (flags & DH_STORE_CREATE))
		rc = create_bucket(s);
	req_release(&q);
	dh_buf_release(&query);
	return rc;
}

static int s3_open(struct dh_store **out, const struct dh_uri *uri, unsigned flags)
{
	static const char *const known[] = { "region", "endpoint", "path-style", "retries", "timeout", NULL };
	struct s3_store *s;
	const char *endpoint = dh_uri_param(uri, "endpoint"), *ps = dh_uri_param(uri, "path-style");
	const char *authority, *scheme_end;
	char *ep = NULL;
	int rc, retries, timeout, path_style = -1;
	size_t n;

	if ((rc = dh_uri_check_params(uri, known)) || (rc = dh_http_uri_options(uri, &retries, &timeout)))
		return rc;
	if (!uri->host || !uri->host[0])
		return dh_error_set(DH_EUSAGE, "s3 URIs name a bucket: s3://bucket/prefix");
	if (!bucket_name_ok(uri->host))
		return dh_error_set(DH_EUSAGE, "bad S3 bucket name '%s'", uri->host);
	if (uri->port || uri->user)
		return dh_error_set(DH_EUSAGE, "s3 URIs take no port or user: use ?endpoint=URL");
	if (ps) {
		if (!strcmp(ps, "true") || !strcmp(ps, "1"))
			path_style = 1;
		else if (!strcmp(ps, "false") || !strcmp(ps, "0"))
			path_style = 0;
		else
			return dh_error_set(DH_EUSAGE, "bad value '%s' for 'path-style': want true or false", ps);
	}
	if (!(s = calloc(1, sizeof(*s))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	s->name = strdup(uri->text);
	s->bucket = strdup(uri->host);
	n = strlen(uri->path);
	{
		const char *p = uri->path;

		while (*p == '/')
			p++, n--;
		while (n && p[n - 1] == '/')
			n--;
		if (asprintf(&s->prefix, "%.*s%s", (int)n, p, n ? "/" : "") < 0)
			s->prefix = NULL;
	}
	if (!s->name || !s->bucket || !s->prefix) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = dh_aws_creds_load(&s->creds)))
		goto fail;
	s->region = strdup(dh_uri_param(uri, "region") ? dh_uri_param(uri, "region")
			   : s->creds.region ? s->creds.region : "us-east-1");
	if (endpoint) {
		if (strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8)) {
			rc = dh_error_set(DH_EUSAGE, "bad endpoint '%s': want http://host[:port] or https://host[:port]",
					  endpoint);
			goto fail;
		}
		ep = strdup(endpoint);
		n = ep ? strlen(ep) : 0;
		while (n && ep[n - 1] == '/')
			ep[--n] = '\0';
	} else if (asprintf(&ep, "https://s3.%s.amazonaws.com", s->region ? s->region : "") < 0) {
		ep = NULL;
	}
	if (!ep || !s->region) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto fail;
	}
	scheme_end = strstr(ep, "://");
	authority = scheme_end + 3;
	if (strchr(authority, '/') || strchr(authority, '?')) {
		rc = dh_error_set(DH_EUSAGE, "bad endpoint '%s': want scheme://host[:port], without a path", endpoint);
		goto fail;
	}
	if (path_style < 0)
		path_style = (endpoint && host_is_ip_or_local(authority)) || strchr(s->bucket, '.');
	if (path_style) {
		s->scheme_host = strdup(ep);
		s->host = strdup(authority);
		rc = asprintf(&s->base_path, "/%s", s->bucket) < 0;
	} else {
		rc = asprintf(&s->scheme_host, "%.*s%s.%s", (int)(authority - ep), ep, s->bucket, authority) < 0;
		if (!rc)
			rc = asprintf(&s->host, "%s.%s", s->bucket, authority) < 0;
		s->base_path = strdup("");
	}
	if (rc || !s->scheme_host || !s->host || !s->base_path) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = dh_http_new(&s->http, retries, timeout, NULL)))
		goto fail;
	/*
	 * A reader's first request (format and head) answers the same questions
	 * with the same messages, so a read-only open costs no listing.
	 */
	if (!(flags & DH_STORE_RDONLY) && (rc = probe(s, flags)))
		goto fail;
	free(ep);
	s->base.flags = DH_STORE_KEYWISE;  /* one GET per key */
	*out = &s->base;
	return 0;
fail:
	free(ep);
	s3_free(s);
	return rc;
}

const struct dh_store_ops dh_store_s3_ops = {
	.api_version = DH_BACKEND_API_VERSION,
	.scheme = "s3",
	.open = s3_open,
	.close = s3_close,
	.get = s3_get,
	.put = s3_put,
	.has = s3_has,
	.list = s3_list,
	.cas = s3_cas,
	.del = s3_del,
	.put_many = s3_put_many,
	.get_many = s3_get_many,
	.has_many = s3_has_many,
};
