/*
 * sigv4.h - AWS Signature Version 4 and AWS credentials, for the s3 and
 * dynamodb backends.  Internal to libdh (the tests use it too).
 */
#ifndef DH_STORE_SIGV4_H
#define DH_STORE_SIGV4_H

#include <time.h>

#include "dh.h"

/*
 * Credentials as the AWS CLI finds them.  `source` says where they came
 * from ("environment", "profile 'x' in /root/.aws/credentials") for
 * messages; the key and secret never appear in any message.
 */
struct dh_aws_creds {
	char *access_key;
	char *secret_key;
	char *session_token;   /* NULL when none */
	char *source;
	char *region;          /* from AWS_REGION, AWS_DEFAULT_REGION or the config file; NULL when none */
};

/*
 * dh_aws_creds_load() - find credentials the way the AWS CLI does:
 * AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN);
 * else the profile AWS_PROFILE (or AWS_DEFAULT_PROFILE, or "default") in
 * the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, default
 * ~/.aws/credentials), then in the config file (AWS_CONFIG_FILE, default
 * ~/.aws/config, section "[profile NAME]" or "[default]").  The region is
 * looked up independently.  Returns 0; DH_EAUTH when no credentials are
 * found or the profile needs a provider dh lacks (role_arn, sso,
 * credential_process), the message saying which; DH_ENOMEM.  `out` is
 * zeroed first; release with dh_aws_creds_release().
 */
int dh_aws_creds_load(struct dh_aws_creds *out);
void dh_aws_creds_release(struct dh_aws_creds *c);

/* "20130524T000000Z" for `t` into out[17]. */
void dh_sigv4_amzdate(char out[17], time_t t);

struct dh_sigv4_header {
	const char *name;      /* lowercase */
	const char *value;     /* trimmed */
};

/*
 * dh_sigv4_sign() - the Authorization header value for a request, appended
 * to `auth`: "AWS4-HMAC-SHA256 Credential=.../aws4_request,
 * SignedHeaders=...,Signature=<64 hex>".
 *   canon_uri    the path, already URI-encoded as it is sent ("/a%24b")
 *   canon_query  the query string in canonical form (sorted, encoded), or ""
 *   hdrs         every header to sign, names lowercase (any order); must
 *                include host and x-amz-date
 *   payload_hash hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
 *   amzdate      the x-amz-date value
 * Returns 0 or DH_ENOMEM.
 */
int dh_sigv4_sign(struct dh_buf *auth, const char *method, const char *canon_uri, const char *canon_query,
		  const struct dh_sigv4_header *hdrs, size_t nhdrs, const char *payload_hash, const char *amzdate,
		  const char *region, const char *service, const struct dh_aws_creds *c);

/*
 * dh_sigv4_presign() - a presigned URL (query-string authentication, signed
 * header "host" only, UNSIGNED-PAYLOAD) appended to `url`:
 * <scheme_host><canon_uri>?X-Amz-Algorithm=...&X-Amz-Signature=<hex>.
 * `host` is the Host header value.  Returns 0 or DH_ENOMEM.
 */
int dh_sigv4_presign(struct dh_buf *url, const char *method, const char *scheme_host, const char *host,
		     const char *canon_uri, const char *amzdate, long expires, const char *region,
		     const char *service, const struct dh_aws_creds *c);

/* Lowercase hex SHA-256 of `len` bytes into out[65]. */
void dh_sha256_hex(char out[65], const void *data, size_t len);

#endif
