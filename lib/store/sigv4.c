/*
 * sigv4.c - AWS Signature Version 4, written from AWS's documentation.
 *
 * A request is reduced to its canonical form (method, encoded path,
 * canonical query, sorted lowercase headers, the list of signed headers,
 * the payload hash), that form is hashed into a "string to sign" with the
 * date and the credential scope (date/region/service/aws4_request), and the
 * string is signed with a key derived from the secret by four chained
 * HMAC-SHA256 steps.  Used for the Authorization header (s3, dynamodb) and
 * for presigned URLs (only by the tests, to compare with `aws s3 presign`).
 * The derived key and the secret live only on this file's stack.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "store/http.h"
#include "store/sigv4.h"

void dh_sha256_hex(char out[65], const void *data, size_t len)
{
	unsigned char h[32];

	SHA256(data, len, h);
	dh_hex(out, h, 32);
}

void dh_sigv4_amzdate(char out[17], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static void hmac(unsigned char out[32], const void *key, size_t klen, const char *msg)
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &len);
}

/* The signature (64 hex) of `sts` with the key derived for date/region/service. */
static void signature(char out[65], const char *secret, const char *amzdate, const char *region,
		      const char *service, const char *sts)
{
	unsigned char k[32], k2[32];
	char date[9], *first;
	size_t slen = strlen(secret);

	memcpy(date, amzdate, 8);
	date[8] = '\0';
	first = malloc(slen + 5);
	if (!first) {
		out[0] = '\0';
		return;
	}
	memcpy(first, "AWS4", 4);
	memcpy(first + 4, secret, slen + 1);
	hmac(k, first, slen + 4, date);
	OPENSSL_cleanse(first, slen + 4);
	free(first);
	hmac(k2, k, 32, region);
	hmac(k, k2, 32, service);
	hmac(k2, k, 32, "aws4_request");
	hmac(k, k2, 32, sts);
	dh_hex(out, k, 32);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(k2, sizeof(k2));
}

static int cmp_hdr(const void *a, const void *b)
{
	return strcmp(((const struct dh_sigv4_header *)a)->name, ((const struct dh_sigv4_header *)b)->name);
}

/* Canonical request -> string to sign, appended to `sts`. */
static int string_to_sign(struct dh_buf *sts, struct dh_buf *signed_hdrs, const char *method,
			  const char *canon_uri, const char *canon_query, const struct dh_sigv4_header *hdrs,
			  size_t nhdrs, const char *payload_hash, const char *amzdate, const char *region,
			  const char *service)
{
	struct dh_buf cr = DH_BUF_INIT;
	struct dh_sigv4_header *sorted = NULL;
	char h[65];
	size_t i;
	int rc = 0;

	if (nhdrs && !(sorted = malloc(nhdrs * sizeof(*sorted))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	if (nhdrs)
		memcpy(sorted, hdrs, nhdrs * sizeof(*sorted));
	qsort(sorted, nhdrs, sizeof(*sorted), cmp_hdr);
	rc = dh_buf_addf(&cr, "%s\n%s\n%s\n", method, canon_uri, canon_query);
	for (i = 0; i < nhdrs && !rc; i++)
		rc = dh_buf_addf(&cr, "%s:%s\n", sorted[i].name, sorted[i].value);
	for (i = 0; i < nhdrs && !rc; i++)
		rc = dh_buf_addf(signed_hdrs, "%s%s", i ? ";" : "", sorted[i].name);
	if (!rc)
		rc = dh_buf_addf(&cr, "\n%s\n%s", signed_hdrs->data ? signed_hdrs->data : "", payload_hash);
	if (!rc) {
		dh_sha256_hex(h, cr.data, cr.len);
		rc = dh_buf_addf(sts, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", amzdate, amzdate, region,
				 service, h);
	}
	free(sorted);
	dh_buf_release(&cr);
	return rc;
}

int dh_sigv4_sign(struct dh_buf *auth, const char *method, const char *canon_uri, const char *canon_query,
		  const struct dh_sigv4_header *hdrs, size_t nhdrs, const char *payload_hash, const char *amzdate,
		  const char *region, const char *service, const struct dh_aws_creds *c)
{
	struct dh_buf sts = DH_BUF_INIT, sh = DH_BUF_INIT;
	char sig[65];
	int rc;

	rc = string_to_sign(&sts, &sh, method, canon_uri, canon_query, hdrs, nhdrs, payload_hash, amzdate, region,
			    service);
	if (!rc) {
		signature(sig, c->secret_key, amzdate, region, service, sts.data);
		rc = dh_buf_addf(auth, "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request,SignedHeaders=%s,Signature=%s",
				 c->access_key, amzdate, region, service, sh.data, sig);
		OPENSSL_cleanse(sig, sizeof(sig));
	}
	dh_buf_release(&sts);
	dh_buf_release(&sh);
	return rc;
}

int dh_sigv4_presign(struct dh_buf *url, const char *method, const char *scheme_host, const char *host,
		     const char *canon_uri, const char *amzdate, long expires, const char *region,
		     const char *service, const struct dh_aws_creds *c)
{
	struct dh_buf q = DH_BUF_INIT, cred = DH_BUF_INIT, sts = DH_BUF_INIT, sh = DH_BUF_INIT;
	struct dh_sigv4_header hh = { "host", host };
	char sig[65];
	int rc;

	rc = dh_buf_addf(&cred, "%s/%.8s/%s/%s/aws4_request", c->access_key, amzdate, region, service);
	/* query parameters in canonical (byte) order */
	if (!rc)
		rc = dh_buf_adds(&q, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
	if (!rc)
		rc = dh_http_encode(&q, cred.data, 0);
	if (!rc)
		rc = dh_buf_addf(&q, "&X-Amz-Date=%s&X-Amz-Expires=%ld", amzdate, expires);
	if (!rc && c->session_token) {
		rc = dh_buf_adds(&q, "&X-Amz-Security-Token=");
		if (!rc)
			rc = dh_http_encode(&q, c->session_token, 0);
	}
	if (!rc)
		rc = dh_buf_adds(&q, "&X-Amz-SignedHeaders=host");
	if (!rc)
		rc = string_to_sign(&sts, &sh, method, canon_uri, q.data, &hh, 1, "UNSIGNED-PAYLOAD", amzdate, region,
				    service);
	if (!rc) {
		signature(sig, c->secret_key, amzdate, region, service, sts.data);
		rc = dh_buf_addf(url, "%s%s?%s&X-Amz-Signature=%s", scheme_host, canon_uri, q.data, sig);
	}
	dh_buf_release(&q);
	dh_buf_release(&cred);
	dh_buf_release(&sts);
	dh_buf_release(&sh);
	return rc;
}
