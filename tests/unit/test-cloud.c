/*
 * test-cloud.c - the cloud backends below the conformance suite.
 *
 *  - SigV4 against AWS's published signing examples (the four header-signed
 *    requests and the presigned URL of the S3 "Signature Calculations"
 *    pages, all with access key AKIAIOSFODNN7EXAMPLE at 20130524T000000Z),
 *    and against the AWS CLI: `aws s3 presign` and dh_sigv4_presign() must
 *    sign the same URL identically.
 *  - The requests the backends send, captured by a small HTTP server on a
 *    real socket in this process, which answers from a script: the
 *    conditional headers of every head compare-and-swap (the local
 *    emulators ignore them), the status-to-error mapping, retries with
 *    backoff, and that no message carries a secret or a signature.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dh.h"
#include "store/http.h"
#include "store/sigv4.h"
#include "tap.h"

#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const struct dh_aws_creds example_creds = {
	"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL, "test", NULL,
};

static const char *sig_of(const char *auth)
{
	const char *p = strstr(auth, "Signature=");

	return p ? p + 10 : "";
}

static void sigv4_vectors(void)
{
	struct dh_buf a = DH_BUF_INIT, uri = DH_BUF_INIT;
	char h[65];

	/* Example: GET Object (first 10 bytes of test.txt) */
	{
		struct dh_sigv4_header hs[] = {
			{ "host", "examplebucket.s3.amazonaws.com" },
			{ "range", "bytes=0-9" },
			{ "x-amz-content-sha256", EMPTY_SHA },
			{ "x-amz-date", "20130524T000000Z" },
		};

		dh_sigv4_sign(&a, "GET", "/test.txt", "", hs, 4, EMPTY_SHA, "20130524T000000Z", "us-east-1", "s3",
			      &example_creds);
		is_str(a.data,
		       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
		       "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
		       "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		       "sigv4: AWS example GET Object, whole Authorization header");
	}
	/* Example: PUT Object (test$file.text, "Welcome to Amazon S3.") */
	{
		const char *body = "Welcome to Amazon S3.";
		struct dh_sigv4_header hs[] = {
			{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
			{ "date", "Fri, 24 May 2013 00:00:00 GMT" },
			{ "x-amz-date", "20130524T000000Z" },
			{ "host", "examplebucket.s3.amazonaws.com" },
			{ "x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072" },
		};

		dh_sha256_hex(h, body, strlen(body));
		is_str(h, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
		       "sigv4: payload hash of the PUT example");
		dh_http_encode(&uri, "/test$file.text", 1);
		is_str(uri.data, "/test%24file.text", "sigv4: '$' percent-encoded in the path");
		dh_buf_reset(&a);
		dh_sigv4_sign(&a, "PUT", uri.data, "", hs, 5, h, "20130524T000000Z", "us-east-1", "s3", &example_creds);
		is_str(sig_of(a.data), "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
		       "sigv4: AWS example PUT Object");
		ok(strstr(a.data, "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,") != NULL,
		   "sigv4: signed headers sorted: %s", a.data);
	}
	/* Example: GET Bucket Lifecycle and Get Bucket (List Objects) */
	{
		struct dh_sigv4_header hs[] = {
			{ "host", "examplebucket.s3.amazonaws.com" },
			{ "x-amz-content-sha256", EMPTY_SHA },
			{ "x-amz-date", "20130524T000000Z" },
		};

		dh_buf_reset(&a);
		dh_sigv4_sign(&a, "GET", "/", "lifecycle=", hs, 3, EMPTY_SHA, "20130524T000000Z", "us-east-1", "s3",
			      &example_creds);
		is_str(sig_of(a.data), "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
		       "sigv4: AWS example GET Bucket Lifecycle");
		dh_buf_reset(&a);
		dh_sigv4_sign(&a, "GET", "/", "max-keys=2&prefix=J", hs, 3, EMPTY_SHA, "20130524T000000Z", "us-east-1",
			      "s3", &example_creds);
		is_str(sig_of(a.data), "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
		       "sigv4: AWS example Get Bucket (List Objects)");
	}
	/* Example: presigned URL for GET test.txt, valid 86400 s */
	dh_buf_reset(&a);
	dh_sigv4_presign(&a, "GET", "https://examplebucket.s3.amazonaws.com", "examplebucket.s3.amazonaws.com",
			 "/test.txt", "20130524T000000Z", 86400, "us-east-1", "s3", &example_creds);
	is_str(a.data,
	       "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
	       "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
	       "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
	       "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
	       "sigv4: AWS example presigned URL");
	dh_buf_release(&a);
	dh_buf_release(&uri);
}

/* ---- against the AWS CLI ---- */

/* The value of query parameter `name` in `url` into out. */
static void url_param(const char *url, const char *name, char *out, size_t cap)
{
	char pat[64];
	const char *p;
	size_t n;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), "%s=", name);
	for (p = strchr(url, '?'); p; p = strchr(p + 1, '&'))
		if (!strncmp(p + 1, pat, strlen(pat))) {
			p += 1 + strlen(pat);
			n = strcspn(p, "&\n");
			snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
			return;
		}
}

static void aws_cli_case(const char *what, const char *s3url, const char *endpoint, const char *token,
			 const char *scheme_host, const char *host, const char *canon_uri, const char *region)
{
	char cmd[2048], line[8192] = "", date[32], sig[80], dir[] = "/tmp/dh-test-cloud-XXXXXX";
	struct dh_aws_creds c = example_creds;
	struct dh_buf mine = DH_BUF_INIT;
	FILE *p;

	c.session_token = (char *)token;
	if (!mkdtemp(dir)) {
		ok(0, "aws cli %s: mkdtemp", what);
		return;
	}
	/* an isolated CLI: no config or credentials files, keys from the environment */
	snprintf(cmd, sizeof(cmd),
		 "cd %s && env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_SESSION_TOKEN HOME=%s AWS_CONFIG_FILE=%s/none AWS_SHARED_CREDENTIALS_FILE=%s/none "
		 "AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY='%s' %s%s%s AWS_REGION=%s "
		 "/usr/bin/aws s3 presign '%s' --expires-in 3600 %s%s 2>&1",
		 dir, dir, dir, dir, c.access_key, c.secret_key, token ? "AWS_SESSION_TOKEN='" : "", token ? token : "",
		 token ? "'" : "", region, s3url, endpoint ? "--endpoint-url " : "", endpoint ? endpoint : "");
	p = popen(cmd, "r");
	if (p) {
		if (!fgets(line, sizeof(line), p))
			line[0] = '\0';
		pclose(p);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		tap_diag("cannot remove %s", dir);
	line[strcspn(line, "\n")] = '\0';
	url_param(line, "X-Amz-Date", date, sizeof(date));
	url_param(line, "X-Amz-Signature", sig, sizeof(sig));
	if (!ok(strlen(date) == 16 && strlen(sig) == 64, "aws cli %s: aws s3 presign gave a signed URL", what)) {
		tap_diag("aws said: %s", line);
		return;
	}
	dh_sigv4_presign(&mine, "GET", scheme_host, host, canon_uri, date, 3600, region, "s3", &c);
	{
		char mysig[80];
		size_t q = strcspn(line, "?");

		url_param(mine.data, "X-Amz-Signature", mysig, sizeof(mysig));
		is_str(mysig, sig, "aws cli %s: dh's signature equals the CLI's (same key, time, credentials)", what);
		ok(!strncmp(mine.data, line, q + 1), "aws cli %s: same URL before the query: %.*s", what, (int)q, line);
	}
	dh_buf_release(&mine);
}

static void aws_cli(void)
{
	aws_cli_case("virtual-hosted", "s3://examplebucket/test.txt", NULL, NULL, "https://examplebucket.s3.us-east-1.amazonaws.com",
		     "examplebucket.s3.us-east-1.amazonaws.com", "/test.txt", "us-east-1");
	aws_cli_case("node key, other region", "s3://dh-bucket/db/nodes/2c/f24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
		     NULL, NULL, "https://dh-bucket.s3.eu-west-1.amazonaws.com", "dh-bucket.s3.eu-west-1.amazonaws.com",
		     "/db/nodes/2c/f24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "eu-west-1");
	aws_cli_case("path-style endpoint, session token, odd characters",
		     "s3://dh-test/a b/heads/feature$x=1", "http://127.0.0.1:9000", "FQoGZXIvYXdzEXAMPLE//token+/=",
		     "http://127.0.0.1:9000", "127.0.0.1:9000", "/dh-test/a%20b/heads/feature%24x%3D1", "us-east-1");
}

/* ---- a capturing HTTP server ---- */

#define MAXREQ 64

struct captured {
	char method[16];
	char target[2048];
	char headers[8192];   /* "\r\nName: value" lines, as received */
	struct dh_buf body;
};

struct reply {
	int status;
	char headers[512];    /* extra header lines, each ending in \r\n */
	char body[2048];
};

static struct {
	int fd, port;
	pthread_mutex_t lock;
	struct captured reqs[MAXREQ];
	int nreq;
	struct reply script[MAXREQ];
	int nscript, next;
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void script(int status, const char *headers, const char *body)
{
	struct reply *r = &srv.script[srv.nscript++];

	r->status = status;
	snprintf(r->headers, sizeof(r->headers), "%s", headers ? headers : "");
	snprintf(r->body, sizeof(r->body), "%s", body ? body : "");
}

static void reset(void)
{
	pthread_mutex_lock(&srv.lock);
	for (int i = 0; i < srv.nreq; i++)
		dh_buf_release(&srv.reqs[i].body);
	srv.nreq = srv.nscript = srv.next = 0;
	pthread_mutex_unlock(&srv.lock);
}

static const char *header(const struct captured *c, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	const char *p;

	for (p = c->headers; (p = strstr(p, "\r\n")); p += 2) {
		if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':') {
			const char *v = p + 3 + n, *e;

			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			snprintf(out, cap, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
			return out;
		}
	}
	return NULL;
}

static void serve_one(int c)
{
	struct dh_buf in = DH_BUF_INIT;
	char buf[65536], *hend;
	size_t clen = 0;
	struct captured *cap = NULL;
	struct reply none = { 500, "", "no scripted reply" }, *r;
	ssize_t n;

	while (!(hend = in.data ? strstr(in.data, "\r\n\r\n") : NULL)) {
		if ((n = read(c, buf, sizeof(buf))) <= 0)
			goto out;
		dh_buf_add(&in, buf, (size_t)n);
	}
	{
		const char *cl = strcasestr(in.data, "\r\ncontent-length:");

		if (cl && cl < hend)
			clen = strtoul(cl + 17, NULL, 10);
	}
	while (in.len < (size_t)(hend - in.data) + 4 + clen) {
		size_t off = (size_t)(hend - in.data);

		if ((n = read(c, buf, sizeof(buf))) <= 0)
			goto out;
		dh_buf_add(&in, buf, (size_t)n);
		hend = in.data + off;
	}
	pthread_mutex_lock(&srv.lock);
	if (srv.nreq < MAXREQ) {
		cap = &srv.reqs[srv.nreq++];
		memset(cap, 0, sizeof(*cap));
		sscanf(in.data, "%15s %2047s", cap->method, cap->target);
		snprintf(cap->headers, sizeof(cap->headers), "%.*s", (int)(hend - in.data + 2), in.data);
		{
			char *eol = strstr(cap->headers, "\r\n");

			if (eol)
				memmove(cap->headers, eol, strlen(eol) + 1);
		}
		dh_buf_add(&cap->body, hend + 4, clen);
	}
	r = srv.next < srv.nscript ? &srv.script[srv.next++] : &none;
	pthread_mutex_unlock(&srv.lock);
	{
		char head[1024];
		int hl = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
				  r->status, strcmp(cap ? cap->method : "", "HEAD") ? strlen(r->body) : 0, r->headers);

		if (write(c, head, (size_t)hl) < 0 ||
		    (strcmp(cap ? cap->method : "", "HEAD") && write(c, r->body, strlen(r->body)) < 0))
			tap_diag("capture server: write: %s", strerror(errno));
	}
out:
	dh_buf_release(&in);
	close(c);
}

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(srv.fd, NULL, NULL);

		if (c < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		serve_one(c);
	}
}

static int start_server(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	pthread_t t;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (srv.fd < 0 || bind(srv.fd, (struct sockaddr *)&a, sizeof(a)) || listen(srv.fd, 16) ||
	    getsockname(srv.fd, (struct sockaddr *)&a, &len))
		return -1;
	srv.port = ntohs(a.sin_port);
	pthread_create(&t, NULL, serve, NULL);
	pthread_detach(t);
	return 0;
}

static int noop_cb(const char *key, void *payload)
{
	(void)key;
	(void)payload;
	return 0;
}

/* ---- s3 at the request level ---- */

#define LIST_OK "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"

static void s3_requests(void)
{
	struct dh_store *st = NULL;
	struct dh_buf b = DH_BUF_INIT;
	char uri[256], v[512], hash[65];
	int rc;

	setenv("AWS_ACCESS_KEY_ID", "AKIDCAPTURE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "capture/secret+KEY", 1);
	unsetenv("AWS_SESSION_TOKEN");
	snprintf(uri, sizeof(uri), "s3://dh-bucket/db?endpoint=http://127.0.0.1:%d&region=eu-west-1&retries=3", srv.port);

	reset();
	script(200, NULL, LIST_OK);
	rc = dh_store_open(&st, uri, 0);
	if (!ok(rc == 0, "s3: open against the capture server")) {
		tap_diag("%s", dh_errmsg());
		return;
	}
	ok(srv.nreq == 1 && !strcmp(srv.reqs[0].method, "GET") &&
	   !strcmp(srv.reqs[0].target, "/dh-bucket?list-type=2&max-keys=1&prefix=db%2F"),
	   "s3: open probes the bucket with one path-style listing (%s)", srv.reqs[0].target);
	ok(header(&srv.reqs[0], "Authorization", v, sizeof(v)) &&
	   !strncmp(v, "AWS4-HMAC-SHA256 Credential=AKIDCAPTURE/", 40) && strstr(v, "/eu-west-1/s3/aws4_request"),
	   "s3: requests are signed with SigV4 for the region");

	reset();
	script(200, "ETag: \"e1\"\r\n", "");
	is_int(dh_store_cas(st, "heads/main", NULL, "v1"), 0, "s3: CAS from absent");
	ok(srv.nreq == 1 && !strcmp(srv.reqs[0].method, "PUT") && !strcmp(srv.reqs[0].target, "/dh-bucket/db/heads/main"),
	   "s3: CAS from absent is one PUT of the object");
	ok(header(&srv.reqs[0], "If-None-Match", v, sizeof(v)) && !strcmp(v, "*"), "s3: ... with If-None-Match: *");
	ok(!header(&srv.reqs[0], "If-Match", v, sizeof(v)), "s3: ... and no If-Match");
	dh_sha256_hex(hash, "v1", 2);
	ok(header(&srv.reqs[0], "x-amz-content-sha256", v, sizeof(v)) && !strcmp(v, hash),
	   "s3: the payload hash is the body's SHA-256");
	ok(srv.reqs[0].body.len == 2 && !memcmp(srv.reqs[0].body.data, "v1", 2), "s3: the body is the new value");

	reset();
	script(412, "", "<Error><Code>PreconditionFailed</Code><Message>At least one</Message></Error>");
	is_int(dh_store_cas(st, "heads/main", NULL, "v1"), DH_ECONFLICT, "s3: 412 on create is a conflict");
	is_int(srv.nreq, 1, "s3: a failed condition is not retried");

	reset();
	script(200, "ETag: \"etag-of-v1\"\r\n", "v1\n");
	script(200, "ETag: \"etag-of-v2\"\r\n", "");
	is_int(dh_store_cas(st, "heads/main", "v1", "v2"), 0, "s3: CAS replace");
	ok(srv.nreq == 2 && !strcmp(srv.reqs[0].method, "GET") && !strcmp(srv.reqs[1].method, "PUT"),
	   "s3: replace reads the head, then writes it");
	ok(header(&srv.reqs[1], "If-Match", v, sizeof(v)) && !strcmp(v, "\"etag-of-v1\""),
	   "s3: ... with If-Match: the ETag that was read (%s)", v);
	ok(!header(&srv.reqs[1], "If-None-Match", v, sizeof(v)), "s3: ... and no If-None-Match");

	reset();
	script(200, "ETag: \"etag-of-v1\"\r\n", "v1");
	script(412, "", "<Error><Code>PreconditionFailed</Code></Error>");
	is_int(dh_store_cas(st, "heads/main", "v1", "v2"), DH_ECONFLICT, "s3: 412 on replace is a conflict");

	reset();
	script(200, "ETag: \"etag-of-v9\"\r\n", "v9");
	is_int(dh_store_cas(st, "heads/main", "v1", "v2"), DH_ECONFLICT, "s3: a different current value is a conflict");
	is_int(srv.nreq, 1, "s3: ... found by the read, nothing written");

	reset();
	script(404, "", "<Error><Code>NoSuchKey</Code></Error>");
	is_int(dh_store_cas(st, "heads/main", "v1", "v2"), DH_ECONFLICT, "s3: replacing an absent head is a conflict");

	reset();
	script(200, "ETag: \"etag-of-v2\"\r\n", "v2");
	script(204, "", "");
	is_int(dh_store_cas(st, "heads/main", "v2", NULL), 0, "s3: CAS delete");
	ok(srv.nreq == 2 && !strcmp(srv.reqs[1].method, "DELETE") && header(&srv.reqs[1], "If-Match", v, sizeof(v)) &&
	   !strcmp(v, "\"etag-of-v2\""), "s3: delete is a DELETE with If-Match");

	reset();
	script(200, "ETag: \"e\"\r\n", "v1");
	script(500, "", "<Error><Code>InternalError</Code></Error>");
	is_int(dh_store_cas(st, "heads/main", "v1", "v2"), DH_EIO, "s3: a 500 on a conditional write is an I/O error");
	is_int(srv.nreq, 2, "s3: ... and is not retried (it may have landed)");

	reset();
	script(503, "", "<Error><Code>SlowDown</Code></Error>");
	script(200, "", "");
	is_int(dh_store_cas(st, "heads/main", NULL, "v1"), 0, "s3: a 503 SlowDown on a conditional write is retried");
	is_int(srv.nreq, 2, "s3: ... once");

	reset();
	script(503, "", "<Error><Code>SlowDown</Code></Error>");
	script(500, "", "");
	script(200, "", "");
	is_int(dh_node_put(st, "x", 1, NULL), 0, "s3: a node put survives 503 and 500");
	is_int(srv.nreq, 3, "s3: ... retried twice");

	reset();
	for (int i = 0; i < 4; i++)
		script(503, "", "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>");
	rc = dh_store_put(st, "format", "x", 1);
	is_int(rc, DH_EIO, "s3: retries give up after retries=3");
	is_int(srv.nreq, 4, "s3: ... 4 attempts");
	ok(strstr(dh_errmsg(), "SlowDown") && strstr(dh_errmsg(), "format") && strstr(dh_errmsg(), "s3://dh-bucket/db"),
	   "s3: the message names the key, the store and the error: %s", dh_errmsg());

	reset();
	script(403, "",
	       "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message>"
	       "<AWSAccessKeyId>AKIDCAPTURE</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256 x</StringToSign>"
	       "<SignatureProvided>0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef</SignatureProvided>"
	       "</Error>");
	rc = dh_store_get(st, "format", &b);
	is_int(rc, DH_EAUTH, "s3: 403 is an authentication error");
	ok(!strstr(dh_errmsg(), "0123456789abcdef") && !strstr(dh_errmsg(), "capture/secret") &&
	   !strstr(dh_errmsg(), "AWS4-HMAC"), "s3: the message carries no signature and no secret: %s", dh_errmsg());
	ok(strstr(dh_errmsg(), "SignatureDoesNotMatch") != NULL, "s3: ... but the error code");

	reset();
	script(404, "", "<Error><Code>NoSuchKey</Code></Error>");
	is_int(dh_store_get(st, "nodes/ab/cd", &b), DH_ENOTFOUND, "s3: 404 NoSuchKey is not-found");

	reset();
	script(200, "", "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>db/heads/a</Key></Contents>"
			"<NextContinuationToken>tok/+=1</NextContinuationToken></ListBucketResult>");
	script(200, "", "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>db/heads/b&amp;c</Key>"
			"</Contents></ListBucketResult>");
	dh_head_list(st, noop_cb, NULL);
	ok(srv.nreq == 2 && strstr(srv.reqs[1].target, "continuation-token=tok%2F%2B%3D1&list-type=2&prefix=db%2Fheads%2F"),
	   "s3: listing follows the continuation token, encoded (%s)", srv.reqs[1].target);
	dh_store_close(st);

	reset();
	script(404, "", "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>");
	rc = dh_store_open(&st, uri, 0);
	is_int(rc, DH_ENOTFOUND, "s3: a missing bucket fails the open");
	ok(strstr(dh_errmsg(), "bucket 'dh-bucket' does not exist") && strstr(dh_errmsg(), "s3://dh-bucket/db"),
	   "s3: ... naming bucket and store: %s", dh_errmsg());

	reset();
	script(301, "x-amz-bucket-region: ap-south-1\r\n", "<Error><Code>PermanentRedirect</Code></Error>");
	rc = dh_store_open(&st, uri, 0);
	ok(rc == DH_EIO && strstr(dh_errmsg(), "region 'ap-south-1'"), "s3: a bucket in another region is named: %s",
	   dh_errmsg());
	dh_buf_release(&b);
}

static void usage_errors(void)
{
	struct dh_store *st = NULL;

	is_int(dh_store_open(&st, "s3://dh-bucket/x?colour=blue", 0), DH_EUSAGE, "s3: unknown parameter refused");
	ok(strstr(dh_errmsg(), "colour") != NULL, "s3: ... naming it: %s", dh_errmsg());
	is_int(dh_store_open(&st, "s3://dh-bucket/x?path-style=maybe", 0), DH_EUSAGE, "s3: bad path-style refused");
	is_int(dh_store_open(&st, "s3://dh-bucket/x?retries=-1", 0), DH_EUSAGE, "s3: bad retries refused");
	is_int(dh_store_open(&st, "s3://dh-bucket/x?endpoint=ftp://h", 0), DH_EUSAGE, "s3: bad endpoint refused");
	is_int(dh_store_open(&st, "s3:///x", 0), DH_EUSAGE, "s3: a bucket is required");
}

static void server_down(void)
{
	struct dh_store *st = NULL;
	int rc, fd = socket(AF_INET, SOCK_STREAM, 0), port;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	char uri[256];

	/* a port nobody listens on: bind one, then close it */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	port = ntohs(a.sin_port);
	close(fd);
	snprintf(uri, sizeof(uri), "s3://dh-bucket/db?endpoint=http://127.0.0.1:%d&retries=1", port);
	rc = dh_store_open(&st, uri, 0);
	is_int(rc, DH_EIO, "s3: server down is an I/O error");
	ok(strstr(dh_errmsg(), uri) && strstr(dh_errmsg(), "2 attempts"), "s3: ... naming the store: %s", dh_errmsg());
}

/* ---- dynamodb at the request level ---- */

#define DESCRIBE_OK "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":\"HASH\"}]}}"

static int body_has(int i, const char *s)
{
	return srv.reqs[i].body.data && strstr(srv.reqs[i].body.data, s) != NULL;
}

static void ddb_requests(void)
{
	struct dh_store *st = NULL;
	struct dh_buf b = DH_BUF_INIT;
	char uri[256], v[512];
	int rc;

	snprintf(uri, sizeof(uri), "dynamodb://dh-table?endpoint=http://127.0.0.1:%d&region=eu-west-1&retries=2", srv.port);
	reset();
	script(200, NULL, DESCRIBE_OK);
	rc = dh_store_open(&st, uri, 0);
	if (!ok(rc == 0, "dynamodb: open against the capture server")) {
		tap_diag("%s", dh_errmsg());
		return;
	}
	ok(header(&srv.reqs[0], "X-Amz-Target", v, sizeof(v)) && !strcmp(v, "DynamoDB_20120810.DescribeTable"),
	   "dynamodb: open describes the table");
	ok(header(&srv.reqs[0], "Authorization", v, sizeof(v)) && strstr(v, "/eu-west-1/dynamodb/aws4_request") &&
	   strstr(v, "SignedHeaders=content-type;host;x-amz-date;x-amz-target,"),
	   "dynamodb: signed with SigV4 for service dynamodb, target header signed");

	reset();
	script(200, NULL, "{}");
	is_int(dh_store_cas(st, "heads/main", NULL, "v1"), 0, "dynamodb: CAS from absent");
	ok(header(&srv.reqs[0], "X-Amz-Target", v, sizeof(v)) && !strcmp(v, "DynamoDB_20120810.PutItem") &&
	   body_has(0, "\"ConditionExpression\":\"attribute_not_exists(#k)\"") && body_has(0, "\"#k\":\"k\"") &&
	   body_has(0, "\"v\":{\"B\":\"djE=\"}"),
	   "dynamodb: ... is a PutItem conditional on attribute_not_exists(k): %s", srv.reqs[0].body.data);

	reset();
	script(400, NULL, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
			  "\"message\":\"The conditional request failed\"}");
	is_int(dh_store_cas(st, "heads/main", NULL, "v1"), DH_ECONFLICT, "dynamodb: ConditionalCheckFailed is a conflict");
	is_int(srv.nreq, 1, "dynamodb: ... not retried");

	reset();
	script(200, NULL, "{}");
	is_int(dh_store_cas(st, "heads/main", "v1", "v2"), 0, "dynamodb: CAS replace");
	ok(srv.nreq == 1 && body_has(0, "\"ConditionExpression\":\"#v = :old OR #v = :oldnl\"") &&
	   body_has(0, "\":old\":{\"B\":\"djE=\"}") && body_has(0, "\"v\":{\"B\":\"djI=\"}"),
	   "dynamodb: replace is one PutItem conditional on the old value: %s", srv.reqs[0].body.data);

	reset();
	script(200, NULL, "{}");
	is_int(dh_store_cas(st, "heads/main", "v2", NULL), 0, "dynamodb: CAS delete");
	ok(header(&srv.reqs[0], "X-Amz-Target", v, sizeof(v)) && !strcmp(v, "DynamoDB_20120810.DeleteItem") &&
	   body_has(0, "\":old\":{\"B\":\"djI=\"}"), "dynamodb: ... a conditional DeleteItem");

	reset();
	script(400, NULL, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\"}");
	script(400, NULL, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ThrottlingException\"}");
	script(200, NULL, "{\"Item\":{\"k\":{\"S\":\"format\"},\"v\":{\"B\":\"ZGggMQo=\"}}}");
	rc = dh_store_get(st, "format", &b);
	ok(rc == 0 && b.len == 5 && !memcmp(b.data, "dh 1\n", 5), "dynamodb: throttling answers are retried");
	is_int(srv.nreq, 3, "dynamodb: ... twice");
	ok(body_has(2, "\"ConsistentRead\":true"), "dynamodb: reads are strongly consistent");

	reset();
	script(400, NULL, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\"}");
	is_int(dh_store_get(st, "format", &b), DH_ENOTFOUND, "dynamodb: a missing table is not-found");
	ok(strstr(dh_errmsg(), "no DynamoDB table 'dh-table'") != NULL, "dynamodb: ... naming it: %s", dh_errmsg());

	reset();
	script(400, NULL, "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\","
			  "\"message\":\"The security token included in the request is invalid.\"}");
	is_int(dh_store_get(st, "format", &b), DH_EAUTH, "dynamodb: UnrecognizedClient is an auth error");

	reset();
	{
		size_t big = 800 * 1000;
		char *data = calloc(1, big);

		script(200, NULL, "{\"UnprocessedItems\":{}}");
		script(200, NULL, "{}");
		is_int(dh_store_put(st, "k/big", data, big), 0, "dynamodb: a value over 400 KB is stored");
		ok(srv.nreq == 2 && header(&srv.reqs[0], "X-Amz-Target", v, sizeof(v)) &&
		   !strcmp(v, "DynamoDB_20120810.BatchWriteItem") && body_has(0, "\"k/big ") && body_has(0, " 2\"}"),
		   "dynamodb: ... as 3 chunk items in one BatchWriteItem");
		ok(header(&srv.reqs[1], "X-Amz-Target", v, sizeof(v)) && !strcmp(v, "DynamoDB_20120810.PutItem") &&
		   body_has(1, "\"n\":{\"N\":\"3\"}") && body_has(1, "\"z\":{\"N\":\"800000\"}"),
		   "dynamodb: ... then the manifest item");
		free(data);
	}
	dh_store_close(st);
	dh_buf_release(&b);
}

/* ---- gs at the request level, with a service-account key ---- */

static int b64url_decode(const char *in, size_t n, struct dh_buf *out)
{
	struct dh_buf t = DH_BUF_INIT;
	int got;

	for (size_t i = 0; i < n; i++)
		dh_buf_addc(&t, in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i]);
	while (t.len % 4)
		dh_buf_addc(&t, '=');
	dh_buf_reset(out);
	dh_buf_grow(out, t.len);
	got = EVP_DecodeBlock((unsigned char *)out->data, (unsigned char *)t.data, (int)t.len);
	if (got >= 0) {
		out->len = (size_t)got - (n % 4 == 2 ? 2 : n % 4 == 3 ? 1 : 0);
		out->data[out->len] = '\0';
	}
	dh_buf_release(&t);
	return got < 0 ? -1 : 0;
}

/* Check the JWT assertion of a token request: RS256 by `key`, claims right. */
static void check_jwt(const char *body, EVP_PKEY *key, const char *token_uri)
{
	const char *a = strstr(body, "assertion=");
	struct dh_buf jwt = DH_BUF_INIT, part = DH_BUF_INIT, sig = DH_BUF_INIT;
	char *dot1, *dot2;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	json_t *claims;

	static const char grant[] = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";

	ok(!strncmp(body, grant, strlen(grant)),
	   "gs: the token request is a jwt-bearer grant");
	if (!a)
		return;
	jwt.len = 0;
	for (a += 10; *a; a++) {
		if (a[0] == '%' && a[1] && a[2]) {
			char h[3] = { a[1], a[2], 0 };

			dh_buf_addc(&jwt, (char)strtol(h, NULL, 16));
			a += 2;
		} else {
			dh_buf_addc(&jwt, *a);
		}
	}
	dot1 = strchr(jwt.data, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (!ok(dot1 && dot2, "gs: the assertion is a JWT"))
		return;
	b64url_decode(jwt.data, (size_t)(dot1 - jwt.data), &part);
	ok(strstr(part.data, "\"alg\":\"RS256\"") != NULL, "gs: JWT header says RS256: %s", part.data);
	b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &part);
	claims = json_loads(part.data, 0, NULL);
	ok(claims && !strcmp(json_string_value(json_object_get(claims, "iss")), "dh-test@demo.iam.gserviceaccount.com") &&
	   !strcmp(json_string_value(json_object_get(claims, "aud")), token_uri) &&
	   !strcmp(json_string_value(json_object_get(claims, "scope")),
		   "https://www.googleapis.com/auth/devstorage.read_write") &&
	   json_integer_value(json_object_get(claims, "exp")) - json_integer_value(json_object_get(claims, "iat")) == 3600,
	   "gs: JWT claims: iss, aud = token_uri, storage scope, one hour: %s", part.data);
	json_decref(claims);
	b64url_decode(dot2 + 1, strlen(dot2 + 1), &sig);
	ok(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	   EVP_DigestVerify(md, (unsigned char *)sig.data, sig.len, (unsigned char *)jwt.data,
			    (size_t)(dot2 - jwt.data)) == 1,
	   "gs: the JWT signature verifies with the service account's public key");
	EVP_MD_CTX_free(md);
	dh_buf_release(&jwt);
	dh_buf_release(&part);
	dh_buf_release(&sig);
}

static void gs_requests(void)
{
	char keyfile[] = "/tmp/dh-test-gs-key-XXXXXX", uri[256], token_uri[128], v[512];
	struct dh_store *st = NULL;
	struct dh_buf b = DH_BUF_INIT;
	EVP_PKEY *key = EVP_RSA_gen(2048);
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long pemlen;
	json_t *j;
	int fd, rc;

	PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	pemlen = BIO_get_mem_data(bio, &pem);
	snprintf(token_uri, sizeof(token_uri), "http://127.0.0.1:%d/token", srv.port);
	j = json_pack("{s:s,s:s,s:s%,s:s,s:s}", "type", "service_account", "client_email",
		      "dh-test@demo.iam.gserviceaccount.com", "private_key", pem, (size_t)pemlen, "token_uri", token_uri,
		      "project_id", "demo");
	fd = mkstemp(keyfile);
	close(fd);
	json_dump_file(j, keyfile, 0);
	json_decref(j);
	BIO_free(bio);
	setenv("GOOGLE_APPLICATION_CREDENTIALS", keyfile, 1);
	unsetenv("STORAGE_EMULATOR_HOST");
	snprintf(uri, sizeof(uri), "gs://dh-gbucket/db?endpoint=http://127.0.0.1:%d&retries=2", srv.port);

	reset();
	script(200, NULL, "{\"access_token\":\"ya29.test-token\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
	script(200, NULL, "{}");
	rc = dh_store_open(&st, uri, 0);
	if (!ok(rc == 0, "gs: open with a service-account key")) {
		tap_diag("%s", dh_errmsg());
		goto out;
	}
	ok(srv.nreq == 2 && !strcmp(srv.reqs[0].method, "POST") && !strcmp(srv.reqs[0].target, "/token"),
	   "gs: first a token request to the key's token_uri");
	check_jwt(srv.reqs[0].body.data ? srv.reqs[0].body.data : "", key, token_uri);
	ok(!strcmp(srv.reqs[1].target, "/storage/v1/b/dh-gbucket/o?maxResults=1&fields=nextPageToken&prefix=db%2F") &&
	   header(&srv.reqs[1], "Authorization", v, sizeof(v)) && !strcmp(v, "Bearer ya29.test-token"),
	   "gs: then the bucket probe, with the token (%s)", srv.reqs[1].target);

	reset();
	script(200, NULL, "{\"generation\":\"1\"}");
	is_int(dh_store_cas(st, "heads/main", NULL, "v1"), 0, "gs: CAS from absent");
	ok(srv.nreq == 1 && !strcmp(srv.reqs[0].method, "POST") &&
	   !strcmp(srv.reqs[0].target, "/upload/storage/v1/b/dh-gbucket/o?uploadType=media&ifGenerationMatch=0&name=db%2Fheads%2Fmain"),
	   "gs: ... is a media upload with ifGenerationMatch=0 (%s), the token reused", srv.reqs[0].target);

	reset();
	script(412, NULL, "{\"error\":{\"code\":412,\"message\":\"conditionNotMet\"}}");
	is_int(dh_store_cas(st, "heads/main", NULL, "v1"), DH_ECONFLICT, "gs: 412 is a conflict");

	reset();
	script(200, "x-goog-generation: 1700000000123\r\n", "v1");
	script(200, NULL, "{}");
	is_int(dh_store_cas(st, "heads/main", "v1", "v2"), 0, "gs: CAS replace");
	ok(srv.nreq == 2 && !strcmp(srv.reqs[0].target, "/storage/v1/b/dh-gbucket/o/db%2Fheads%2Fmain?alt=media") &&
	   strstr(srv.reqs[1].target, "ifGenerationMatch=1700000000123&name=db%2Fheads%2Fmain"),
	   "gs: ... reads with alt=media, writes with ifGenerationMatch=<generation read> (%s)", srv.reqs[1].target);

	reset();
	script(200, "x-goog-generation: 77\r\n", "v2");
	script(204, NULL, "");
	is_int(dh_store_cas(st, "heads/main", "v2", NULL), 0, "gs: CAS delete");
	ok(srv.nreq == 2 && !strcmp(srv.reqs[1].method, "DELETE") &&
	   !strcmp(srv.reqs[1].target, "/storage/v1/b/dh-gbucket/o/db%2Fheads%2Fmain?ifGenerationMatch=77"),
	   "gs: ... a DELETE with ifGenerationMatch (%s)", srv.reqs[1].target);

	reset();
	script(200, NULL, "{\"items\":[{\"name\":\"db/heads/a\"},{\"name\":\"db/.lock\"}],\"nextPageToken\":\"p/2\"}");
	script(200, NULL, "{\"items\":[{\"name\":\"db/heads/b\"}]}");
	dh_head_list(st, noop_cb, NULL);
	ok(srv.nreq == 2 && strstr(srv.reqs[1].target, "&pageToken=p%2F2"), "gs: listing follows page tokens (%s)",
	   srv.reqs[1].target);
	dh_store_close(st);
	st = NULL;

	reset();
	script(400, NULL, "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}");
	rc = dh_store_open(&st, uri, 0);
	is_int(rc, DH_EAUTH, "gs: a refused key is an auth error");
	ok(strstr(dh_errmsg(), "invalid_grant") && strstr(dh_errmsg(), keyfile) && !strstr(dh_errmsg(), "PRIVATE") &&
	   !strstr(dh_errmsg(), "eyJ"), "gs: ... naming the key file, not the key or the assertion: %s", dh_errmsg());

	{
		char emu[64];

		snprintf(emu, sizeof(emu), "127.0.0.1:%d", srv.port);
		setenv("STORAGE_EMULATOR_HOST", emu, 1);
		reset();
		script(200, NULL, "{}");
		script(200, NULL, "v");
		rc = dh_store_open(&st, "gs://dh-gbucket/db", 0);
		ok(rc == 0 && srv.nreq == 1 && !header(&srv.reqs[0], "Authorization", v, sizeof(v)),
		   "gs: STORAGE_EMULATOR_HOST=host:port is used, without credentials");
		if (!rc)
			dh_store_get(st, "format", &b);
		ok(srv.nreq == 2 && !strcmp(srv.reqs[1].target, "/storage/v1/b/dh-gbucket/o/db%2Fformat?alt=media"),
		   "gs: ... for every request");
		dh_store_close(st);
		unsetenv("STORAGE_EMULATOR_HOST");
	}
out:
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	unlink(keyfile);
	EVP_PKEY_free(key);
	dh_buf_release(&b);
}

int main(void)
{
	sigv4_vectors();
	aws_cli();
	if (start_server()) {
		ok(0, "capture server starts");
		return done_testing();
	}
	s3_requests();
	ddb_requests();
	gs_requests();
	usage_errors();
	server_down();
	return done_testing();
}
