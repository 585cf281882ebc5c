/*
 * http.h - the HTTP client shared by the cloud backends (s3, gs, dynamodb).
 *
 * Internal to libdh.  A client owns one curl multi handle, so connections
 * (and TLS sessions) are reused across requests.  Requests are run in
 * batches by dh_http_run(): up to DH_HTTP_MAX_INFLIGHT at once, each retried
 * with exponential backoff and jitter when the network fails or the server
 * answers 429, 5xx or (per the backend's classifier) throttles.  A request's
 * sign() callback runs before every attempt, so each attempt carries fresh
 * timestamps and signatures.  Nothing here prints, and nothing here ever
 * puts a header value into an error message.
 */
#ifndef DH_STORE_HTTP_H
#define DH_STORE_HTTP_H

#include <curl/curl.h>

#include "dh.h"

#define DH_HTTP_MAX_INFLIGHT 32

struct dh_http;
struct dh_http_req;

/*
 * Called before each attempt: append the request's headers (including any
 * signature) to *headers.  Returns 0 or a DH_E* code, which fails the
 * request without sending it.
 */
typedef int (*dh_http_sign_fn)(struct dh_http_req *r, struct curl_slist **headers, void *ctx);

/* 1 when a completed attempt should be retried (the backend's throttling codes). */
typedef int (*dh_http_retry_fn)(const struct dh_http_req *r);

struct dh_http_req {
	/* set by the caller */
	const char *method;          /* "GET", "PUT", "POST", "DELETE", "HEAD" */
	char *url;                   /* owned by the caller */
	const void *body;            /* request body, or NULL */
	size_t body_len;
	dh_http_sign_fn sign;        /* may be NULL */
	void *ctx;
	void *user;                  /* free for the caller's bookkeeping */
	int once;                    /* a conditional write: retried only when it
	                              * surely was not acted on (no connection,
	                              * 429, 503), since a repeat of one that did
	                              * land would fail its own condition */

	/* results of the last attempt */
	long status;                 /* HTTP status, 0 when no answer */
	struct dh_buf resp;          /* response body (released by dh_http_req_release) */
	char etag[160];              /* ETag header, as sent (quotes kept) */
	char generation[32];         /* x-goog-generation header */
	char region[64];             /* x-amz-bucket-region header */
	int sign_rc;                 /* non-zero when sign() failed */
	int curl_rc;                 /* CURLcode of the last attempt */
	char curl_msg[CURL_ERROR_SIZE];
	int attempts;

	/* private to http.c */
	CURL *easy;
	struct curl_slist *hdrs;
	long long next_ms;
	size_t slot;
	int state;
};

/*
 * dh_http_new() - a client making at most `retries` retries per request,
 * giving up on a connection after `timeout_s` seconds without progress.
 * `retry` (may be NULL) adds backend-specific retryable answers to the
 * built-in ones (network errors, 408, 429, 5xx).  Returns 0 or DH_ENOMEM.
 */
int dh_http_new(struct dh_http **out, int retries, int timeout_s, dh_http_retry_fn retry);
void dh_http_free(struct dh_http *h);

/*
 * dh_http_run() - run `n` requests to completion, many at once.  Returns 0
 * when every request got a final answer or failed for good (look at each
 * request's status, curl_rc and sign_rc), or DH_ENOMEM.
 */
int dh_http_run(struct dh_http *h, struct dh_http_req **reqs, size_t n);

/*
 * dh_http_requests() - HTTP requests sent by this process so far (every
 * attempt counts), for benchmarks.
 */
unsigned long dh_http_requests(void);

/*
 * dh_http_rounds() - make `n` requests, `round` at a time (the put_many,
 * get_many and has_many of a backend): its requests are structs of `size`
 * bytes that hold their struct dh_http_req at offset `off`.  For each item
 * i, make(q, i, ctx) prepares request q (q is released by done() even when
 * make() fails); a round's requests run at once (dh_http_run()); then
 * done(q, i, rc, ctx) is called for each, in order, with the failure so far
 * (0: none): it looks at the answer when rc is 0, releases q, and returns
 * the failure to go on with.  Returns 0 or the first failure, after which
 * no more rounds are made.
 */
typedef int (*dh_http_make_fn)(void *q, size_t i, void *ctx);
typedef int (*dh_http_done_fn)(void *q, size_t i, int rc, void *ctx);
int dh_http_rounds(struct dh_http *h, size_t n, size_t round, size_t size, size_t off, dh_http_make_fn make,
		   dh_http_done_fn done, void *ctx);

/* Run one request: dh_http_run() of one. */
int dh_http_run1(struct dh_http *h, struct dh_http_req *r);

/* Reset the results of `r` (keeps its memory) for reuse. */
void dh_http_req_reset(struct dh_http_req *r);
void dh_http_req_release(struct dh_http_req *r);

/*
 * The failure of a request that got no answer, as text for a message:
 * curl's description ("Couldn't connect to server") and the attempt count.
 * Static buffer per thread, valid until the next call.
 */
const char *dh_http_failure(const struct dh_http_req *r);

/*
 * Common URI parameters of the cloud backends: `retries=N` and
 * `timeout=SECONDS`.  Parses them from `uri` (defaults 4 and 30) or fails
 * with DH_EUSAGE naming the bad value.
 */
struct dh_uri;
int dh_http_uri_options(const struct dh_uri *uri, int *retries, int *timeout_s);

/*
 * 1 when object name `key` (below the store's prefix) is no store key: a
 * component starts with '.' (a file store's .lock and temporary files, as
 * uploaded by `aws s3 sync`) or it ends in '/' (a "folder" marker).
 */
int dh_cloud_hidden(const char *key);

/* Append `s` percent-encoded (RFC 3986 unreserved kept; '/' kept when keep_slash). */
int dh_http_encode(struct dh_buf *b, const char *s, int keep_slash);

#endif
