/*
 * http.c - libcurl for the cloud backends: many requests in flight, retries.
 *
 * Every request of the s3, gs and dynamodb backends goes through
 * dh_http_run(): the requests of a batch are started in order, at most
 * DH_HTTP_MAX_INFLIGHT at a time, on one curl multi handle that keeps
 * connections alive between batches.  A finished attempt that failed in a
 * way worth retrying (no connection, a timeout, 408, 429, 5xx, or what the
 * backend's classifier calls throttling) is put to sleep for an
 * exponentially growing, jittered delay and tried again, freshly signed, up
 * to the client's retry limit.  TLS peers are always verified (AWS_CA_BUNDLE
 * or CURL_CA_BUNDLE may name the CA file, as for the AWS CLI and curl).
 *
 * Stalls: a transfer that makes no progress (below 1 byte/s) for the
 * client's timeout is aborted and counts as a network failure; there is no
 * limit on the total time of a transfer that progresses, so large values
 * are not cut off on a slow link.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dh-backend.h"
#include "store/http.h"

#define BACKOFF_BASE_MS 100
#define BACKOFF_MAX_MS 10000

enum { ST_NEW, ST_RUNNING, ST_WAITING, ST_DONE };

struct dh_http {
	CURLM *multi;
	int retries;
	int timeout_s;
	dh_http_retry_fn retry;
	unsigned rng;
	const char *cainfo;
};

static unsigned long nrequests;

unsigned long dh_http_requests(void)
{
	return __atomic_load_n(&nrequests, __ATOMIC_RELAXED);
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) ? -1 : 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int dh_http_new(struct dh_http **out, int retries, int timeout_s, dh_http_retry_fn retry)
{
	struct dh_http *h;
	struct timespec ts;

	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc)
		return dh_error_set(DH_EIO, "cannot initialise libcurl");
	h = calloc(1, sizeof(*h));
	if (!h || !(h->multi = curl_multi_init())) {
		free(h);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)DH_HTTP_MAX_INFLIGHT);
	h->retries = retries;
	h->timeout_s = timeout_s;
	h->retry = retry;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->rng = (unsigned)ts.tv_nsec ^ (unsigned)ts.tv_sec;
	h->cainfo = getenv("AWS_CA_BUNDLE");
	if (!h->cainfo || !*h->cainfo)
		h->cainfo = getenv("CURL_CA_BUNDLE");
	if (h->cainfo && !*h->cainfo)
		h->cainfo = NULL;
	*out = h;
	return 0;
}

void dh_http_free(struct dh_http *h)
{
	if (!h)
		return;
	curl_multi_cleanup(h->multi);
	free(h);
}

void dh_http_req_reset(struct dh_http_req *r)
{
	r->status = 0;
	dh_buf_reset(&r->resp);
	r->etag[0] = r->generation[0] = r->region[0] = '\0';
	r->sign_rc = r->curl_rc = 0;
	r->curl_msg[0] = '\0';
	r->attempts = 0;
	r->state = ST_NEW;
}

void dh_http_req_release(struct dh_http_req *r)
{
	if (r->easy)
		curl_easy_cleanup(r->easy);
	r->easy = NULL;
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	dh_buf_release(&r->resp);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct dh_http_req *r = ud;

	return dh_buf_add(&r->resp, p, size * n) ? 0 : size * n;
}

static void copy_header_value(char *dst, size_t cap, const char *v, size_t len)
{
	while (len && (v[0] == ' ' || v[0] == '\t'))
		v++, len--;
	while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct dh_http_req *r = ud;
	size_t len = size * n;

	if (len > 5 && !strncasecmp(p, "etag:", 5))
		copy_header_value(r->etag, sizeof(r->etag), p + 5, len - 5);
	else if (len > 18 && !strncasecmp(p, "x-goog-generation:", 18))
		copy_header_value(r->generation, sizeof(r->generation), p + 18, len - 18);
	else if (len > 19 && !strncasecmp(p, "x-amz-bucket-region:", 20))
		copy_header_value(r->region, sizeof(r->region), p + 20, len - 20);
	return len;
}

/* Prepare and add one attempt of `r` to the multi handle. */
static int start(struct dh_http *h, struct dh_http_req *r)
{
	struct curl_slist *hdrs = NULL;
	CURL *e;
	int rc;

	r->attempts++;
	r->status = 0;
	dh_buf_reset(&r->resp);
	r->etag[0] = r->generation[0] = r->region[0] = '\0';
	r->curl_rc = 0;
	r->curl_msg[0] = '\0';
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	if (r->sign && (rc = r->sign(r, &hdrs, r->ctx))) {
		curl_slist_free_all(hdrs);
		r->sign_rc = rc;
		r->state = ST_DONE;
		return 1;
	}
	/* curl would add these on its own; the servers want neither */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (!hdrs) {
		r->sign_rc = DH_ENOMEM;
		r->state = ST_DONE;
		return 1;
	}
	r->hdrs = hdrs;
	if (!r->easy && !(r->easy = curl_easy_init())) {
		r->sign_rc = dh_error_set(DH_ENOMEM, "out of memory");
		r->state = ST_DONE;
		return 1;
	}
	e = r->easy;
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_msg);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)h->timeout_s);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)h->timeout_s);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (h->cainfo)
		curl_easy_setopt(e, CURLOPT_CAINFO, h->cainfo);
	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "GET")) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
		if (r->body || !strcmp(r->method, "PUT") || !strcmp(r->method, "POST")) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
		}
	}
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
		r->sign_rc = dh_error_set(DH_ENOMEM, "cannot start a request");
		r->state = ST_DONE;
		return 1;
	}
	r->state = ST_RUNNING;
	__atomic_add_fetch(&nrequests, 1, __ATOMIC_RELAXED);
	return 0;
}

static int transient_curl(int rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static int should_retry(struct dh_http *h, const struct dh_http_req *r)
{
	if (r->attempts > h->retries)
		return 0;
	if (r->once)
		return r->curl_rc ? r->curl_rc == CURLE_COULDNT_CONNECT || r->curl_rc == CURLE_COULDNT_RESOLVE_HOST
				  : r->status == 429 || r->status == 503;
	if (r->curl_rc)
		return transient_curl(r->curl_rc);
	if (r->status == 408 || r->status == 429 || (r->status >= 500 && r->status != 501))
		return 1;
	return h->retry ? h->retry(r) : 0;
}

static long long backoff_ms(struct dh_http *h, int attempt)
{
	long long d = BACKOFF_BASE_MS;

	for (int i = 1; i < attempt && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	/* "equal jitter": half fixed, half random, so racing clients spread out */
	h->rng = h->rng * 1103515245u + 12345u;
	return d / 2 + (long long)((h->rng >> 8) % (unsigned)(d / 2 + 1));
}

int dh_http_run(struct dh_http *h, struct dh_http_req **reqs, size_t n)
{
	size_t next = 0, done = 0, i;
	size_t *waiting = NULL, nwaiting = 0;
	int inflight = 0;

	if (!n)
		return 0;
	waiting = malloc(n * sizeof(*waiting));
	if (!waiting)
		return dh_error_set(DH_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		dh_http_req_reset(reqs[i]);
		reqs[i]->slot = i;
	}
	while (done < n) {
		long long now = now_ms(), wait = 1000;
		CURLMsg *m;
		int left, running;

		/* retries whose time has come first, then new requests */
		for (i = 0; i < nwaiting && inflight < DH_HTTP_MAX_INFLIGHT;) {
			struct dh_http_req *r = reqs[waiting[i]];

			if (r->next_ms <= now) {
				waiting[i] = waiting[--nwaiting];
				if (start(h, r))
					done++;
				else
					inflight++;
			} else {
				if (r->next_ms - now < wait)
					wait = r->next_ms - now;
				i++;
			}
		}
		while (next < n && inflight < DH_HTTP_MAX_INFLIGHT) {
			if (start(h, reqs[next++]))
				done++;
			else
				inflight++;
		}
		if (done == n)
			break;
		curl_multi_perform(h->multi, &running);
		while ((m = curl_multi_info_read(h->multi, &left))) {
			struct dh_http_req *r;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			r->curl_rc = m->data.result;
			if (!r->curl_rc)
				curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &r->status);
			curl_multi_remove_handle(h->multi, m->easy_handle);
			inflight--;
			if (should_retry(h, r)) {
				r->state = ST_WAITING;
				r->next_ms = now_ms() + backoff_ms(h, r->attempts);
				waiting[nwaiting++] = r->slot;
				wait = 0;
			} else {
				r->state = ST_DONE;
				done++;
				wait = 0;
			}
		}
		if (done < n && wait > 0)
			curl_multi_poll(h->multi, NULL, 0, (int)(inflight ? (wait < 1000 ? wait : 1000) : wait), NULL);
	}
	free(waiting);
	return 0;
}

int dh_http_run1(struct dh_http *h, struct dh_http_req *r)
{
	return dh_http_run(h, &r, 1);
}

int dh_http_rounds(struct dh_http *h, size_t n, size_t round, size_t size, size_t off, dh_http_make_fn make,
		   dh_http_done_fn done, void *ctx)
{
	size_t m = n < round ? n : round, base, i;
	unsigned char *qs;
	struct dh_http_req **rs;
	int rc = 0;

	if (!n)
		return 0;
	qs = calloc(m, size);
	rs = calloc(m, sizeof(*rs));
	if (!qs || !rs) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	for (base = 0; base < n && !rc; base += m) {
		size_t k = n - base < m ? n - base : m, made = 0;

		for (i = 0; i < k && !rc; i++, made++) {
			rc = make(qs + i * size, base + i, ctx);
			rs[i] = (struct dh_http_req *)(qs + i * size + off);
		}
		if (!rc)
			rc = dh_http_run(h, rs, k);
		for (i = 0; i < made; i++)
			rc = done(qs + i * size, base + i, rc, ctx);
	}
out:
	free(qs);
	free(rs);
	return rc;
}

const char *dh_http_failure(const struct dh_http_req *r)
{
	static __thread char msg[CURL_ERROR_SIZE + 64];

	snprintf(msg, sizeof(msg), "%s (after %d attempt%s)",
		 r->curl_msg[0] ? r->curl_msg : curl_easy_strerror((CURLcode)r->curl_rc), r->attempts,
		 r->attempts == 1 ? "" : "s");
	return msg;
}

static int parse_int(const char *v, const char *name, int lo, int hi, int *out)
{
	char *end;
	long x;

	if (!v)
		return 0;
	x = strtol(v, &end, 10);
	if (!*v || *end || x < lo || x > hi)
		return dh_error_set(DH_EUSAGE, "bad value '%s' for '%s': want a number from %d to %d", v, name, lo, hi);
	*out = (int)x;
	return 0;
}

int dh_http_uri_options(const struct dh_uri *uri, int *retries, int *timeout_s)
{
	int rc;

	*retries = 4;
	*timeout_s = 30;
	if ((rc = parse_int(dh_uri_param(uri, "retries"), "retries", 0, 100, retries)))
		return rc;
	return parse_int(dh_uri_param(uri, "timeout"), "timeout", 1, 3600, timeout_s);
}

int dh_http_encode(struct dh_buf *b, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~' || (keep_slash && c == '/')) {
			rc = dh_buf_addc(b, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			rc = dh_buf_add(b, e, 3);
		}
	}
	if (!rc && !b->data)
		rc = dh_buf_add(b, "", 0);
	return rc;
}

int dh_cloud_hidden(const char *key)
{
	const char *c;

	if (!*key || key[0] == '.' || key[strlen(key) - 1] == '/')
		return 1;
	for (c = key; (c = strchr(c, '/')); c++)
		if (c[1] == '.' || c[1] == '/')
			return 1;
	return 0;
}
