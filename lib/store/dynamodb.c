/*
 * dynamodb.c - the Amazon DynamoDB backend (dynamodb://table?region=&endpoint=).
 *
 * One item per key in one table whose partition key is the string
 * attribute `k` (created on demand with DH_STORE_CREATE, billed per
 * request); the value is the binary attribute `v` (absent for an empty
 * value).  Requests are the DynamoDB JSON API (jansson), signed with SigV4
 * for service "dynamodb" with the credentials the AWS CLI would use, sent
 * through http.c (retries, with DynamoDB's throttling exceptions counted as
 * retryable, and many requests in flight).
 *
 * The 400 KB item limit: values up to INLINE_MAX bytes are stored inline.
 * Larger ones are split: the chunks go first, as items keyed
 * "<key> <generation> <i>" (a space never occurs in a key, so chunk items
 * never collide with keys and list() skips them), then the key's item is
 * written as a manifest {n: chunks, g: generation, z: size}.  A reader
 * follows the manifest it read, so it never sees a mix of two values; the
 * chunks a replaced or deleted manifest named are deleted afterwards (best
 * effort: a failure there leaves unreachable items, never a wrong value).
 * Nodes are immutable, so re-putting an existing large node writes nothing.
 *
 * put_many() sends BatchWriteItem requests of 25 items, many at once, and
 * resends what DynamoDB leaves unprocessed; get_many() reads 100 keys a
 * BatchGetItem, and has_many() 100 keys a BatchGetItem of the keys alone.  Reads are strongly consistent.
 * Heads change with conditional PutItem/DeleteItem: attribute_not_exists(k)
 * to create, `v = :old` to replace or delete; ConditionalCheckFailed is a
 * lost race.  list() is a Scan with begins_with(k, prefix): it reads the
 * whole table, page by page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "dh-backend.h"
#include "store/backends.h"
#include "store/http.h"
#include "store/sigv4.h"

/* Inline values up to this size; an item also holds its key and names. */
#define INLINE_MAX (350 * 1000)
#define BATCH_WRITE 25
#define BATCH_GET 40     /* 40 chunks of 350 KB stay under the 16 MB answer limit */
#define CREATE_WAIT_MS 120000

struct ddb_store {
	struct dh_store base;
	struct dh_http *http;
	struct dh_aws_creds creds;
	char *name;
	char *table;
	char *url;
	char *host;
	char *region;
};

struct ddb_req {
	struct dh_http_req r;    /* first: the sign callback casts */
	struct ddb_store *s;
	const char *target;      /* "GetItem", ... */
	char *body;              /* owned */
};

static int ddb_sign(struct dh_http_req *r, struct curl_slist **headers, void *ctx)
{
	struct ddb_req *q = (struct ddb_req *)r;
	struct ddb_store *s = q->s;
	struct dh_sigv4_header h[5];
	struct dh_buf line = DH_BUF_INIT;
	char amzdate[17], target[96], hash[65];
	size_t n = 0;
	int rc;

	(void)ctx;
	dh_sigv4_amzdate(amzdate, time(NULL));
	snprintf(target, sizeof(target), "DynamoDB_20120810.%s", q->target);
	dh_sha256_hex(hash, q->body, strlen(q->body));
	h[n++] = (struct dh_sigv4_header){ "content-type", "application/x-amz-json-1.0" };
	h[n++] = (struct dh_sigv4_header){ "host", s->host };
	h[n++] = (struct dh_sigv4_header){ "x-amz-date", amzdate };
	h[n++] = (struct dh_sigv4_header){ "x-amz-target", target };
	if (s->creds.session_token)
		h[n++] = (struct dh_sigv4_header){ "x-amz-security-token", s->creds.session_token };
	rc = dh_buf_adds(&line, "Authorization: ");
	if (!rc)
		rc = dh_sigv4_sign(&line, "POST", "/", "", h, n, hash, amzdate, s->region, "dynamodb", &s->creds);
	for (size_t i = 0; i < n && !rc; i++) {
		char hl[2048];
		struct curl_slist *t;

		snprintf(hl, sizeof(hl), "%s: %s", !strcmp(h[i].name, "host") ? "Host" : h[i].name, h[i].value);
		if (!(t = curl_slist_append(*headers, hl)))
			rc = DH_ENOMEM;
		else
			*headers = t;
	}
	if (!rc && !(*headers = curl_slist_append(*headers, line.data)))
		rc = DH_ENOMEM;
	if (line.data)
		memset(line.data, 0, line.len);
	dh_buf_release(&line);
	return rc ? dh_error_set(DH_ENOMEM, "out of memory") : 0;
}

/* DynamoDB's throttling answers are 400s. */
static int ddb_retryable(const struct dh_http_req *r)
{
	const char *b = r->resp.data;

	return r->status == 400 && b &&
	       (strstr(b, "ProvisionedThroughputExceededException") || strstr(b, "ThrottlingException") ||
		strstr(b, "RequestLimitExceeded"));
}

/* Set up `q` for operation `target` with JSON `body` (stolen: dumped and decref'd). */
static int req_init(struct ddb_req *q, struct ddb_store *s, const char *target, json_t *body)
{
	memset(q, 0, sizeof(*q));
	q->s = s;
	q->target = target;
	q->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!q->body)
		return dh_error_set(DH_ENOMEM, "out of memory");
	q->r.method = "POST";
	q->r.url = s->url;
	q->r.body = q->body;
	q->r.body_len = strlen(q->body);
	q->r.sign = ddb_sign;
	return 0;
}

static void req_release(struct ddb_req *q)
{
	dh_http_req_release(&q->r);
	free(q->body);
	q->body = NULL;
}

/* The exception name of an error answer ("ConditionalCheckFailedException"). */
static void err_type(const struct ddb_req *q, char *type, size_t tcap, char *msg, size_t mcap)
{
	json_t *j = q->r.resp.data ? json_loadb(q->r.resp.data, q->r.resp.len, 0, NULL) : NULL;
	const char *t = j ? json_string_value(json_object_get(j, "__type")) : NULL;
	const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;

	if (!m && j)
		m = json_string_value(json_object_get(j, "Message"));
	if (t && strchr(t, '#'))
		t = strchr(t, '#') + 1;
	snprintf(type, tcap, "%s", t ? t : "");
	snprintf(msg, mcap, "%s", m ? m : "");
	json_decref(j);
}

static int ddb_fail(struct ddb_store *s, struct ddb_req *q, const char *what, const char *key)
{
	char type[128], msg[512];

	if (q->r.sign_rc)
		return q->r.sign_rc;
	if (q->r.curl_rc)
		return dh_error_set(DH_EIO, "cannot %s '%s' in '%s': %s", what, key, s->name, dh_http_failure(&q->r));
	err_type(q, type, sizeof(type), msg, sizeof(msg));
	if (!strcmp(type, "ConditionalCheckFailedException"))
		return dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key);
	if (!strcmp(type, "ResourceNotFoundException"))
		return dh_error_set(DH_ENOTFOUND, "no DynamoDB table '%s' (store '%s')", s->table, s->name);
	if (strstr(type, "UnrecognizedClient") || strstr(type, "InvalidSignature") || strstr(type, "AccessDenied") ||
	    strstr(type, "ExpiredToken") || strstr(type, "MissingAuthenticationToken") || q->r.status == 403)
		return dh_error_set(DH_EAUTH, "cannot %s '%s' in '%s': access denied (%s) with the credentials from %s",
				    what, key, s->name, type[0] ? type : "HTTP 403", s->creds.source);
	return dh_error_set(DH_EIO, "cannot %s '%s' in '%s': HTTP %ld%s%s%s%s", what, key, s->name, q->r.status,
			    type[0] ? " " : "", type, msg[0] ? ": " : "", msg);
}

/* Run one request; on success *out (may be NULL) gets the parsed answer. */
static int run1(struct ddb_store *s, struct ddb_req *q, const char *what, const char *key, json_t **out)
{
	int rc = dh_http_run1(s->http, &q->r);

	if (out)
		*out = NULL;
	if (rc)
		return rc;
	if (q->r.status != 200)
		return ddb_fail(s, q, what, key);
	if (out && !(*out = json_loadb(q->r.resp.data ? q->r.resp.data : "", q->r.resp.len, 0, NULL)))
		return dh_error_set(DH_EIO, "cannot %s '%s' in '%s': the answer is not JSON", what, key, s->name);
	return 0;
}

/* ---- JSON helpers ---- */

static json_t *b64_value(const void *data, size_t len)
{
	size_t cap = 4 * ((len + 2) / 3) + 1;
	char *enc = malloc(cap);
	json_t *j;

	if (!enc)
		return NULL;
	EVP_EncodeBlock((unsigned char *)enc, data, (int)len);
	j = json_pack("{s:s}", "B", enc);
	free(enc);
	return j;
}

/* Decode attribute value {"B": "..."} into out (replacing). */
static int b64_decode(json_t *attr, struct dh_buf *out, const char *key)
{
	const char *s = json_string_value(json_object_get(attr, "B"));
	size_t n, pad = 0;
	int got;

	if (!s)
		return dh_error_set(DH_ECORRUPT, "'%s': value is not a binary attribute", key);
	n = strlen(s);
	dh_buf_reset(out);
	if (dh_buf_grow(out, n / 4 * 3 + 3))
		return dh_error_set(DH_ENOMEM, "out of memory");
	if (n % 4)
		return dh_error_set(DH_ECORRUPT, "'%s': bad base64 value", key);
	got = n ? EVP_DecodeBlock((unsigned char *)out->data, (const unsigned char *)s, (int)n) : 0;
	if (got < 0)
		return dh_error_set(DH_ECORRUPT, "'%s': bad base64 value", key);
	if (n && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	out->len = (size_t)got - pad;
	out->data[out->len] = '\0';
	return 0;
}

static json_t *key_attr(const char *key)
{
	return json_pack("{s:{s:s}}", "k", "S", key);
}

static void chunk_key(char *out, size_t cap, const char *key, const char *gen, size_t i)
{
	snprintf(out, cap, "%s %s %zu", key, gen, i);
}

/* ---- chunks ---- */

/* Write (del = 0) or delete (del = 1) the items of a batch, resending unprocessed ones. */
static int batch_write(struct ddb_store *s, json_t **items, size_t n, const char *what)
{
	size_t nb = (n + BATCH_WRITE - 1) / BATCH_WRITE, i;
	struct ddb_req *qs = calloc(nb ? nb : 1, sizeof(*qs));
	struct dh_http_req **rs = calloc(nb ? nb : 1, sizeof(*rs));
	json_t **pending = calloc(nb ? nb : 1, sizeof(*pending));
	int rc = 0, round;

	if (!qs || !rs || !pending) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < nb; i++) {
		json_t *arr = json_array();

		for (size_t j = i * BATCH_WRITE; j < n && j < (i + 1) * BATCH_WRITE; j++)
			json_array_append(arr, items[j]);
		pending[i] = json_pack("{s:o}", s->table, arr);
		if (!pending[i]) {
			rc = dh_error_set(DH_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (round = 0; !rc; round++) {
		size_t m = 0;

		for (i = 0; i < nb && !rc; i++) {
			if (!pending[i])
				continue;
			rc = req_init(&qs[m], s, "BatchWriteItem", json_pack("{s:O}", "RequestItems", pending[i]));
			qs[m].r.user = &pending[i];
			rs[m] = &qs[m].r;
			if (!rc)
				m++;
		}
		if (!m)
			break;
		if (round > 0) {
			/* unprocessed items: DynamoDB is busy; back off */
			struct timespec ts = { 0, (long)(50000000L << (round < 6 ? round : 6)) };

			nanosleep(&ts, NULL);
		}
		if (!rc)
			rc = dh_http_run(s->http, rs, m);
		for (i = 0; i < m; i++) {
			json_t **slot = qs[i].r.user;

			if (!rc && qs[i].r.status != 200) {
				rc = ddb_fail(s, &qs[i], what, "(batch)");
			} else if (!rc) {
				json_t *ans = json_loadb(qs[i].r.resp.data, qs[i].r.resp.len, 0, NULL);
				json_t *un = json_object_get(json_object_get(ans, "UnprocessedItems"), s->table);

				json_decref(*slot);
				*slot = NULL;
				if (un && json_array_size(un))
					*slot = json_pack("{s:O}", s->table, un);
				json_decref(ans);
			}
			req_release(&qs[i]);
		}
		if (round > 30 && !rc)
			rc = dh_error_set(DH_EIO, "cannot %s in '%s': DynamoDB keeps leaving items unprocessed", what, s->name);
	}
out:
	for (i = 0; pending && i < nb; i++)
		json_decref(pending[i]);
	free(pending);
	free(qs);
	free(rs);
	return rc;
}

static int delete_chunks(struct ddb_store *s, const char *key, const char *gen, size_t n)
{
	json_t **items = calloc(n ? n : 1, sizeof(*items));
	char ck[DH_KEY_MAX + 64];
	int rc = 0;
	size_t i;

	if (!items)
		return dh_error_set(DH_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		chunk_key(ck, sizeof(ck), key, gen, i);
		items[i] = json_pack("{s:{s:o}}", "DeleteRequest", "Key", key_attr(ck));
	}
	rc = batch_write(s, items, n, "delete chunks of");
	for (i = 0; i < n; i++)
		json_decref(items[i]);
	free(items);
	return rc;
}

/* If item `old` (may be NULL) was a manifest, delete its chunks (best effort). */
static void drop_old_chunks(struct ddb_store *s, const char *key, json_t *old)
{
	const char *g = json_string_value(json_object_get(json_object_get(old, "g"), "S"));
	const char *n = json_string_value(json_object_get(json_object_get(old, "n"), "N"));

	if (g && n)
		delete_chunks(s, key, g, strtoul(n, NULL, 10));
}

/* ---- the ops ---- */

static int get_chunks(struct ddb_store *s, const char *key, const char *gen, size_t n, size_t size,
		      struct dh_buf *out)
{
	char ck[DH_KEY_MAX + 64];
	size_t i, got = 0, *lens = NULL;
	struct dh_buf *parts = calloc(n ? n : 1, sizeof(*parts));
	int rc = 0;

	lens = calloc(n ? n : 1, sizeof(*lens));
	if (!parts || !lens) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n && !rc; i += BATCH_GET) {
		json_t *keys = json_array(), *req;

		for (size_t j = i; j < n && j < i + BATCH_GET; j++) {
			chunk_key(ck, sizeof(ck), key, gen, j);
			json_array_append_new(keys, key_attr(ck));
		}
		req = json_pack("{s:{s:{s:o,s:b}}}", "RequestItems", s->table, "Keys", keys, "ConsistentRead", 1);
		while (req && !rc) {
			struct ddb_req q;
			json_t *ans = NULL, *items, *un, *it;
			size_t k;

			if ((rc = req_init(&q, s, "BatchGetItem", req)))
				break;
			req = NULL;
			rc = run1(s, &q, "read chunks of", key, &ans);
			req_release(&q);
			if (rc)
				break;
			items = json_object_get(json_object_get(ans, "Responses"), s->table);
			json_array_foreach(items, k, it) {
				const char *ik = json_string_value(json_object_get(json_object_get(it, "k"), "S"));
				const char *idx = ik ? strrchr(ik, ' ') : NULL;
				size_t ci = idx ? strtoul(idx + 1, NULL, 10) : n;

				if (ci < n && !parts[ci].data) {
					if ((rc = b64_decode(json_object_get(it, "v"), &parts[ci], key)))
						break;
					got++;
				}
			}
			un = json_object_get(json_object_get(ans, "UnprocessedKeys"), s->table);
			if (!rc && un && json_array_size(json_object_get(un, "Keys")))
				req = json_pack("{s:{s:O}}", "RequestItems", s->table, un);
			json_decref(ans);
		}
		json_decref(req);
	}
	if (!rc && got != n)
		rc = DH_ENOTFOUND;  /* replaced under us: the caller reads the manifest again */
	if (!rc) {
		dh_buf_reset(out);
		if (dh_buf_grow(out, size + 1))
			rc = dh_error_set(DH_ENOMEM, "out of memory");
		for (i = 0; i < n && !rc; i++)
			rc = dh_buf_add(out, parts[i].data, parts[i].len);
		if (!rc && out->len != size)
			rc = dh_error_set(DH_ECORRUPT, "'%s' in '%s': chunks hold %zu bytes, the manifest says %zu", key,
					  s->name, out->len, size);
	}
out:
	for (i = 0; parts && i < n; i++)
		dh_buf_release(&parts[i]);
	free(parts);
	free(lens);
	return rc;
}

static int ddb_get(struct dh_store *st, const char *key, struct dh_buf *out)
{
	struct ddb_store *s = (struct ddb_store *)st;
	int rc = 0;

	for (int tries = 0; tries < 3; tries++) {
		struct ddb_req q;
		json_t *ans = NULL, *item, *v;
		const char *g, *n, *z;

		rc = req_init(&q, s, "GetItem",
			      json_pack("{s:s,s:o,s:b}", "TableName", s->table, "Key", key_attr(key), "ConsistentRead", 1));
		if (rc)
			return rc;
		rc = run1(s, &q, "read", key, &ans);
		req_release(&q);
		if (rc)
			return rc;
		item = json_object_get(ans, "Item");
		if (!item) {
			json_decref(ans);
			return dh_error_set(DH_ENOTFOUND, "'%s' not found in '%s'", key, s->name);
		}
		g = json_string_value(json_object_get(json_object_get(item, "g"), "S"));
		n = json_string_value(json_object_get(json_object_get(item, "n"), "N"));
		z = json_string_value(json_object_get(json_object_get(item, "z"), "N"));
		if (g && n && z) {
			rc = get_chunks(s, key, g, strtoul(n, NULL, 10), strtoul(z, NULL, 10), out);
			json_decref(ans);
			if (rc == DH_ENOTFOUND)
				continue;
			return rc;
		}
		v = json_object_get(item, "v");
		if (v) {
			rc = b64_decode(v, out, key);
		} else {
			dh_buf_reset(out);
			rc = dh_buf_add(out, "", 0);
		}
		json_decref(ans);
		return rc;
	}
	return dh_error_set(DH_ECORRUPT, "'%s' in '%s': chunks of a large value are missing", key, s->name);
}

/*
 * BatchGetItem of the `n` keys (up to 100 distinct ones a request, with
 * the key alone projected when `key_only`), resending what DynamoDB leaves
 * unprocessed after a growing pause; item(i, key, it, first, ctx) is called
 * for each item returned and each index i of `keys` that names it (`first`
 * for the first such i).  `what`
 * ("read", "look up") is for messages.  Returns 0 or the first failure.
 */
typedef int (*batch_item_fn)(size_t i, const char *key, json_t *it, int first, void *ctx);

static int batch_get(struct ddb_store *s, const char *const *keys, size_t n, int key_only, const char *what,
		     batch_item_fn item, void *ctx)
{
	size_t base, i, j;
	int rc = 0;

	for (base = 0; base < n && !rc; base += 100) {
		size_t m = n - base < 100 ? n - base : 100;
		json_t *ks = json_array(), *req;

		for (i = 0; i < m; i++) {
			for (j = 0; j < i && strcmp(keys[base + j], keys[base + i]); j++)
				;
			if (j == i)
				json_array_append_new(ks, key_attr(keys[base + i]));
		}
		if (key_only)
			req = json_pack("{s:{s:{s:o,s:b,s:s,s:{s:s}}}}", "RequestItems", s->table, "Keys", ks,
					"ConsistentRead", 1, "ProjectionExpression", "#k", "ExpressionAttributeNames",
					"#k", "k");
		else
			req = json_pack("{s:{s:{s:o,s:b}}}", "RequestItems", s->table, "Keys", ks, "ConsistentRead", 1);
		for (int round = 0; req && !rc; round++) {
			struct ddb_req q;
			json_t *ans = NULL, *it, *un;
			size_t k;

			if (round) {
				struct timespec ts = { 0, (long)(50000000L << (round < 6 ? round : 6)) };

				nanosleep(&ts, NULL);
			}
			if ((rc = req_init(&q, s, "BatchGetItem", req)))
				break;
			req = NULL;
			rc = run1(s, &q, what, keys[base], &ans);
			req_release(&q);
			json_array_foreach(json_object_get(json_object_get(ans, "Responses"), s->table), k, it) {
				const char *key = json_string_value(json_object_get(json_object_get(it, "k"), "S"));

				if (rc || !key)
					break;
				for (i = 0, j = 1; i < m && !rc; i++) {
					if (strcmp(keys[base + i], key))
						continue;
					rc = item(base + i, key, it, j == 1, ctx);
					j = 0;
				}
			}
			un = json_object_get(json_object_get(ans, "UnprocessedKeys"), s->table);
			if (!rc && un && json_array_size(json_object_get(un, "Keys")))
				req = json_pack("{s:{s:O}}", "RequestItems", s->table, un);
			json_decref(ans);
		}
		json_decref(req);
	}
	return rc;
}

struct get_many {
	struct dh_store *st;
	struct dh_buf val;
	dh_get_cb cb;
	void *payload;
};

static int got(size_t i, const char *key, json_t *it, int first, void *ctx)
{
	struct get_many *g = ctx;
	int rc = 0;

	if (first) {   /* a key asked for twice is decoded once */
		if (json_object_get(it, "g"))
			rc = ddb_get(g->st, key, &g->val);
		else if (json_object_get(it, "v"))
			rc = b64_decode(json_object_get(it, "v"), &g->val, key);
		else
			dh_buf_reset(&g->val);
	}
	return rc ? rc : g->cb(i, g->val.data ? g->val.data : "", g->val.len, g->payload);
}

/* get_many: a key found to be a manifest is read whole with ddb_get(). */
static int ddb_get_many(struct dh_store *st, const char *const *keys, size_t n, dh_get_cb cb, void *payload)
{
	struct get_many g = { .st = st, .val = DH_BUF_INIT, .cb = cb, .payload = payload };
	int rc = batch_get((struct ddb_store *)st, keys, n, 0, "read", got, &g);

	dh_buf_release(&g.val);
	return rc;
}

static int seen(size_t i, const char *key, json_t *it, int first, void *ctx)
{
	(void)key;
	(void)it;
	(void)first;
	((unsigned char *)ctx)[i] = 1;
	return 0;
}

/* has_many: the key alone projected. */
static int ddb_has_many(struct dh_store *st, const char *const *keys, size_t n, unsigned char *found)
{
	memset(found, 0, n);
	return batch_get((struct ddb_store *)st, keys, n, 1, "look up", seen, found);
}

static int ddb_has(struct dh_store *st, const char *key)
{
	struct ddb_store *s = (struct ddb_store *)st;
	struct ddb_req q;
	json_t *ans = NULL;
	int rc;

	rc = req_init(&q, s, "GetItem",
		      json_pack("{s:s,s:o,s:b,s:s,s:{s:s}}", "TableName", s->table, "Key", key_attr(key), "ConsistentRead",
				1, "ProjectionExpression", "#k", "ExpressionAttributeNames", "#k", "k"));
	if (rc)
		return rc;
	rc = run1(s, &q, "look up", key, &ans);
	req_release(&q);
	if (!rc)
		rc = json_object_get(ans, "Item") != NULL;
	json_decref(ans);
	return rc;
}

/* The item for a small value: {k, v} (no v when empty). */
static json_t *small_item(const char *key, const void *data, size_t len)
{
	json_t *item = key_attr(key);

	if (item && len)
		json_object_set_new(item, "v", b64_value(data, len));
	return item;
}

static int put_large(struct ddb_store *s, const char *key, const void *data, size_t len)
{
	size_t n = (len + INLINE_MAX - 1) / INLINE_MAX, i;
	json_t **items, *ans = NULL;
	unsigned char rnd[8];
	char gen[17], ck[DH_KEY_MAX + 64];
	struct ddb_req q;
	int rc;

	if (!strncmp(key, "nodes/", 6) && (rc = ddb_has(&s->base, key)) != 0)
		return rc < 0 ? rc : 0;  /* content-addressed: already there */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return dh_error_set(DH_EIO, "cannot draw a random chunk generation");
	dh_hex(gen, rnd, sizeof(rnd));
	if (!(items = calloc(n, sizeof(*items))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		size_t off = i * INLINE_MAX, l = len - off < INLINE_MAX ? len - off : INLINE_MAX;

		chunk_key(ck, sizeof(ck), key, gen, i);
		items[i] = json_pack("{s:{s:o}}", "PutRequest", "Item", small_item(ck, (const char *)data + off, l));
	}
	rc = batch_write(s, items, n, "write chunks of");
	for (i = 0; i < n; i++)
		json_decref(items[i]);
	free(items);
	if (rc)
		return rc;
	{
		char sn[32], sz[32];
		json_t *item = key_attr(key);

		snprintf(sn, sizeof(sn), "%zu", n);
		snprintf(sz, sizeof(sz), "%zu", len);
		json_object_set_new(item, "g", json_pack("{s:s}", "S", gen));
		json_object_set_new(item, "n", json_pack("{s:s}", "N", sn));
		json_object_set_new(item, "z", json_pack("{s:s}", "N", sz));
		rc = req_init(&q, s, "PutItem",
			      json_pack("{s:s,s:o,s:s}", "TableName", s->table, "Item", item, "ReturnValues", "ALL_OLD"));
	}
	if (rc)
		return rc;
	rc = run1(s, &q, "write", key, &ans);
	req_release(&q);
	if (!rc)
		drop_old_chunks(s, key, json_object_get(ans, "Attributes"));
	json_decref(ans);
	return rc;
}

static int ddb_put(struct dh_store *st, const char *key, const void *data, size_t len)
{
	struct ddb_store *s = (struct ddb_store *)st;
	int node = !strncmp(key, "nodes/", 6), rc;
	struct ddb_req q;
	json_t *ans = NULL;

	if (len > INLINE_MAX)
		return put_large(s, key, data, len);
	/* a node never replaces a large value: only other keys ask for the old item */
	rc = req_init(&q, s, "PutItem",
		      json_pack("{s:s,s:o,s:s}", "TableName", s->table, "Item", small_item(key, data, len), "ReturnValues",
				node ? "NONE" : "ALL_OLD"));
	if (rc)
		return rc;
	rc = run1(s, &q, "write", key, node ? NULL : &ans);
	req_release(&q);
	if (!rc && ans)
		drop_old_chunks(s, key, json_object_get(ans, "Attributes"));
	json_decref(ans);
	return rc;
}

static int ddb_put_many(struct dh_store *st, const struct dh_kv *kvs, size_t n)
{
	struct ddb_store *s = (struct ddb_store *)st;
	json_t **items = calloc(n ? n : 1, sizeof(*items));
	size_t i, m = 0;
	int rc = 0;

	if (!items)
		return dh_error_set(DH_ENOMEM, "out of memory");
	/*
	 * Small nodes go in batches (a node twice in one batch is skipped: same
	 * name, same bytes); large values and mutable keys, whose old value may
	 * have chunks to drop, one by one, in order.
	 */
	for (i = 0; i < n && !rc; i++) {
		int dup = 0;

		if (kvs[i].len > INLINE_MAX || strncmp(kvs[i].key, "nodes/", 6))
			continue;
		for (size_t j = m - m % BATCH_WRITE; j < m && !dup; j++)
			dup = !strcmp(json_string_value(json_object_get(json_object_get(json_object_get(json_object_get(
					      items[j], "PutRequest"), "Item"), "k"), "S")), kvs[i].key);
		if (dup)
			continue;
		items[m] = json_pack("{s:{s:o}}", "PutRequest", "Item", small_item(kvs[i].key, kvs[i].data, kvs[i].len));
		if (!items[m++])
			rc = dh_error_set(DH_ENOMEM, "out of memory");
	}
	if (!rc)
		rc = batch_write(s, items, m, "write");
	for (i = 0; i < m; i++)
		json_decref(items[i]);
	free(items);
	for (i = 0; i < n && !rc; i++)
		if (kvs[i].len > INLINE_MAX || strncmp(kvs[i].key, "nodes/", 6))
			rc = ddb_put(st, kvs[i].key, kvs[i].data, kvs[i].len);
	return rc;
}

static int del_cond(struct ddb_store *s, const char *key, const char *old)
{
	struct ddb_req q;
	json_t *body, *ans = NULL;
	int rc;

	body = json_pack("{s:s,s:o,s:s}", "TableName", s->table, "Key", key_attr(key), "ReturnValues", "ALL_OLD");
	if (body && old) {
		size_t ol = strlen(old);
		char *oldnl = malloc(ol + 2);

		if (oldnl) {
			memcpy(oldnl, old, ol);
			memcpy(oldnl + ol, "\n", 2);
		}
		json_object_set_new(body, "ConditionExpression", json_string("#v = :old OR #v = :oldnl"));
		json_object_set_new(body, "ExpressionAttributeNames", json_pack("{s:s}", "#v", "v"));
		json_object_set_new(body, "ExpressionAttributeValues",
				    json_pack("{s:o,s:o}", ":old", b64_value(old, ol), ":oldnl",
					      b64_value(oldnl ? oldnl : old, oldnl ? ol + 1 : ol)));
		free(oldnl);
	}
	if ((rc = req_init(&q, s, "DeleteItem", body)))
		return rc;
	q.r.once = old != NULL;
	rc = run1(s, &q, "delete", key, &ans);
	req_release(&q);
	if (!rc)
		drop_old_chunks(s, key, json_object_get(ans, "Attributes"));
	json_decref(ans);
	return rc;
}

static int ddb_del(struct dh_store *st, const char *key)
{
	return del_cond((struct ddb_store *)st, key, NULL);
}

struct list_ctx {
	dh_list_cb cb;
	void *payload;
};

static int ddb_list(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload)
{
	struct ddb_store *s = (struct ddb_store *)st;
	json_t *start = NULL;
	int rc = 0;

	do {
		struct ddb_req q;
		json_t *body, *ans = NULL, *it;
		size_t i;

		body = json_pack("{s:s,s:s,s:{s:s},s:b}", "TableName", s->table, "ProjectionExpression", "#k",
				 "ExpressionAttributeNames", "#k", "k", "ConsistentRead", 1);
		if (body && prefix[0]) {
			json_object_set_new(body, "FilterExpression", json_string("begins_with(#k, :p)"));
			json_object_set_new(body, "ExpressionAttributeValues", json_pack("{s:{s:s}}", ":p", "S", prefix));
		}
		if (body && start)
			json_object_set(body, "ExclusiveStartKey", start);
		json_decref(start);
		start = NULL;
		if ((rc = req_init(&q, s, "Scan", body)))
			break;
		rc = run1(s, &q, "list", prefix[0] ? prefix : "(all keys)", &ans);
		req_release(&q);
		if (rc)
			break;
		json_array_foreach(json_object_get(ans, "Items"), i, it) {
			const char *k = json_string_value(json_object_get(json_object_get(it, "k"), "S"));

			if (k && !strchr(k, ' ') && !strncmp(k, prefix, strlen(prefix)) && (rc = cb(k, payload)))
				break;
		}
		if (!rc && (start = json_object_get(ans, "LastEvaluatedKey")))
			json_incref(start);
		json_decref(ans);
	} while (!rc && start);
	json_decref(start);
	return rc;
}

static int ddb_cas(struct dh_store *st, const char *key, const char *old, const char *new)
{
	struct ddb_store *s = (struct ddb_store *)st;
	struct ddb_req q;
	json_t *body;
	int rc;

	if (new && strlen(new) > INLINE_MAX)
		return dh_error_set(DH_EUSAGE, "'%s': a compare-and-swap value is limited to %d bytes", key, INLINE_MAX);
	if (!new) {
		if (!old) {
			rc = ddb_has(st, key);
			return rc < 0 ? rc : rc ? dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key) : 0;
		}
		return del_cond(s, key, old);
	}
	body = json_pack("{s:s,s:o}", "TableName", s->table, "Item", small_item(key, new, strlen(new)));
	if (body && !old) {
		json_object_set_new(body, "ConditionExpression", json_string("attribute_not_exists(#k)"));
		json_object_set_new(body, "ExpressionAttributeNames", json_pack("{s:s}", "#k", "k"));
	} else if (body) {
		size_t ol = strlen(old);
		char *oldnl = malloc(ol + 2);

		if (oldnl) {
			memcpy(oldnl, old, ol);
			memcpy(oldnl + ol, "\n", 2);
		}
		json_object_set_new(body, "ConditionExpression", json_string("#v = :old OR #v = :oldnl"));
		json_object_set_new(body, "ExpressionAttributeNames", json_pack("{s:s}", "#v", "v"));
		json_object_set_new(body, "ExpressionAttributeValues",
				    json_pack("{s:o,s:o}", ":old", b64_value(old, ol), ":oldnl",
					      b64_value(oldnl ? oldnl : old, oldnl ? ol + 1 : ol)));
		free(oldnl);
	}
	if ((rc = req_init(&q, s, "PutItem", body)))
		return rc;
	q.r.once = 1;
	rc = run1(s, &q, "write", key, NULL);
	req_release(&q);
	return rc;
}

/* ---- open and close ---- */

static void ddb_free(struct ddb_store *s)
{
	dh_http_free(s->http);
	dh_aws_creds_release(&s->creds);
	free(s->name);
	free(s->table);
	free(s->url);
	free(s->host);
	free(s->region);
	free(s);
}

static void ddb_close(struct dh_store *st)
{
	ddb_free((struct ddb_store *)st);
}

/* DescribeTable: 0 with *status set ("ACTIVE", ...), DH_ENOTFOUND, or an error. */
static int describe(struct ddb_store *s, char *status, size_t cap)
{
	struct ddb_req q;
	json_t *ans = NULL, *t, *ks;
	int rc;

	if ((rc = req_init(&q, s, "DescribeTable", json_pack("{s:s}", "TableName", s->table))))
		return rc;
	rc = run1(s, &q, "describe table", s->table, &ans);
	req_release(&q);
	if (rc)
		return rc;
	t = json_object_get(ans, "Table");
	snprintf(status, cap, "%s", json_string_value(json_object_get(t, "TableStatus")) ?
		 json_string_value(json_object_get(t, "TableStatus")) : "");
	ks = json_object_get(t, "KeySchema");
	if (json_array_size(ks) != 1 ||
	    strcmp(json_string_value(json_object_get(json_array_get(ks, 0), "AttributeName")) ?
		   json_string_value(json_object_get(json_array_get(ks, 0), "AttributeName")) : "", "k"))
		rc = dh_error_set(DH_EUSAGE, "DynamoDB table '%s' is not a dh store: its key must be the string 'k' alone "
				  "(store '%s')", s->table, s->name);
	json_decref(ans);
	return rc;
}

static int create_table(struct ddb_store *s)
{
	struct ddb_req q;
	char status[32] = "";
	int rc, waited = 0;

	rc = req_init(&q, s, "CreateTable",
		      json_pack("{s:s,s:[{s:s,s:s}],s:[{s:s,s:s}],s:s}", "TableName", s->table, "AttributeDefinitions",
				"AttributeName", "k", "AttributeType", "S", "KeySchema", "AttributeName", "k", "KeyType",
				"HASH", "BillingMode", "PAY_PER_REQUEST"));
	if (rc)
		return rc;
	rc = run1(s, &q, "create table", s->table, NULL);
	if (rc) {
		char type[128], msg[256];

		err_type(&q, type, sizeof(type), msg, sizeof(msg));
		if (!strcmp(type, "ResourceInUseException"))
			rc = 0;  /* created by someone else meanwhile */
	}
	req_release(&q);
	while (!rc && waited < CREATE_WAIT_MS) {
		struct timespec ts = { 0, 100 * 1000000L };

		if ((rc = describe(s, status, sizeof(status))) || !strcmp(status, "ACTIVE"))
			break;
		nanosleep(&ts, NULL);
		waited += 100;
	}
	if (!rc && strcmp(status, "ACTIVE"))
		rc = dh_error_set(DH_EIO, "DynamoDB table '%s' is still %s after %d s (store '%s')", s->table, status,
				  CREATE_WAIT_MS / 1000, s->name);
	return rc;
}

static int ddb_open(struct dh_store **out, const struct dh_uri *uri, unsigned flags)
{
	static const char *const known[] = { "region", "endpoint", "retries", "timeout", NULL };
	const char *endpoint = dh_uri_param(uri, "endpoint"), *authority;
	struct ddb_store *s;
	char status[32];
	int rc, retries, timeout;

	if ((rc = dh_uri_check_params(uri, known)) || (rc = dh_http_uri_options(uri, &retries, &timeout)))
		return rc;
	if (!uri->host || strlen(uri->host) < 3 || strlen(uri->host) > 255 || strspn(uri->host,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(uri->host))
		return dh_error_set(DH_EUSAGE, "dynamodb URIs name a table (3-255 of A-Z a-z 0-9 _ . -): dynamodb://table");
	if (uri->path[0] && strcmp(uri->path, "/"))
		return dh_error_set(DH_EUSAGE, "dynamodb URIs take no path: dynamodb://table?region=...");
	if (uri->port || uri->user)
		return dh_error_set(DH_EUSAGE, "dynamodb URIs take no port or user: use ?endpoint=URL");
	if (endpoint && strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8))
		return dh_error_set(DH_EUSAGE, "bad endpoint '%s': want http://host[:port] or https://host[:port]", endpoint);
	if (!(s = calloc(1, sizeof(*s))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	s->name = strdup(uri->text);
	s->table = strdup(uri->host);
	if (!s->name || !s->table) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = dh_aws_creds_load(&s->creds)))
		goto fail;
	s->region = strdup(dh_uri_param(uri, "region") ? dh_uri_param(uri, "region")
			   : s->creds.region ? s->creds.region : "us-east-1");
	if (endpoint) {
		size_t n = strlen(endpoint);

		while (n && endpoint[n - 1] == '/')
			n--;
		if (asprintf(&s->url, "%.*s/", (int)n, endpoint) < 0)
			s->url = NULL;
	} else if (asprintf(&s->url, "https://dynamodb.%s.amazonaws.com/", s->region ? s->region : "") < 0) {
		s->url = NULL;
	}
	if (!s->region || !s->url) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto fail;
	}
	authority = strstr(s->url, "://") + 3;
	if (strchr(authority, '/') != s->url + strlen(s->url) - 1 || strchr(authority, '?')) {
		rc = dh_error_set(DH_EUSAGE, "bad endpoint '%s': want scheme://host[:port], without a path", endpoint);
		goto fail;
	}
	s->host = strndup(authority, strlen(authority) - 1);
	if (!s->host) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = dh_http_new(&s->http, retries, timeout, ddb_retryable)))
		goto fail;
	/*
	 * A read-only open is not checked: its first read finds a missing
	 * table as clearly (ResourceNotFoundException), and a table keyed
	 * otherwise refuses the read.
	 */
	rc = flags & DH_STORE_RDONLY ? 0 : describe(s, status, sizeof(status));
	if (rc == DH_ENOTFOUND && (flags & DH_STORE_CREATE))
		rc = create_table(s);
	if (rc)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	ddb_free(s);
	return rc;
}

const struct dh_store_ops dh_store_dynamodb_ops = {
	.api_version = DH_BACKEND_API_VERSION,
	.scheme = "dynamodb",
	.open = ddb_open,
	.close = ddb_close,
	.get = ddb_get,
	.put = ddb_put,
	.has = ddb_has,
	.list = ddb_list,
	.cas = ddb_cas,
	.del = ddb_del,
	.put_many = ddb_put_many,
	.get_many = ddb_get_many,
	.has_many = ddb_has_many,
};
