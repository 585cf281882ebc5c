/*
 * redis.c - the Redis backend (redis://[user:password@]host:port/N?prefix=p).
 *
 * Each store key is one Redis string under `prefix` (default: none) in
 * logical database N (default 0), so `redis-cli --scan --pattern 'p*'` lists
 * a store and the key space is the same as on every other backend.  A Redis
 * store has no container to create: opening one checks that the server
 * answers, accepts the credentials and has database N.
 *
 * Credentials: the URI's user and password (Redis 6 ACL users, or just a
 * password for requirepass); without a password in the URI, REDISCLI_AUTH
 * (redis-cli's variable) is used when set.  Passwords never appear in
 * messages.
 *
 * Writes: put_many() sends MSET commands of up to BATCH_KEYS keys, written
 * with writev() straight from the caller's buffers, and does not wait for
 * their replies: the server stores a batch while the caller prepares the
 * next one.  The replies are read before the handle's next
 * command; a failed one fails every later write, flush and head
 * compare-and-swap on the handle.  get_many() pipelines MGETs and
 * has_many() EXISTS commands, a round trip for many keys.  The head
 * compare-and-swap is a Lua script run atomically by
 * the server (EVALSHA, loaded on first use and again after SCRIPT FLUSH), so
 * no other client can slip a write between the comparison and the update.
 *
 * Durability follows the server's persistence settings (RDB snapshots,
 * AOF and its appendfsync policy); Redis offers a client nothing to wait
 * for, so flush() only makes sure every reply has been read (and none was an
 * error).  Replies arrive in command order on one connection, so a head is
 * moved only after every earlier write of the handle has been applied.
 *
 * list() walks SCAN MATCH <prefix-glob-escaped>* COUNT 1000: streaming,
 * callbacks may use the handle between pages; as SCAN promises, a key may
 * be reported twice if the server resizes its hash table during the walk.
 * Native errors become DH_E* codes in rd_error() and nowhere else; after a
 * connection error the handle fails every later call.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "dh-backend.h"
#include "store/backends.h"

#define BATCH_KEYS 256
#define HAS_INFLIGHT 4096
#define OWED_MAX 64                   /* MSETs sent whose replies are not read yet */
#define PIPE_BYTES ((size_t)16 << 20)
#define CONNECT_TIMEOUT 10
#define IO_TIMEOUT 120

/* KEYS[1]; ARGV: has-old, old, has-new, new.  Returns 1 when swapped, 0 on conflict. */
static const char cas_script[] =
	"local v = redis.call('GET', KEYS[1])\n"
	"if ARGV[1] == '1' then\n"
	"  if v ~= ARGV[2] then return 0 end\n"
	"elseif v then return 0 end\n"
	"if ARGV[3] == '1' then redis.call('SET', KEYS[1], ARGV[4])\n"
	"elseif v then redis.call('DEL', KEYS[1]) end\n"
	"return 1\n";

struct rd_store {
	struct dh_store base;
	redisContext *c;
	const char *name;          /* the store's URI, password masked */
	char *prefix;
	size_t plen;
	char sha[41];              /* of cas_script once loaded */
	struct dh_buf key;         /* scratch: prefix + key */
	/* put_many() replies not read yet, oldest first: the first key of each MSET */
	char (*owed)[DH_KEY_MAX + 1];
	size_t nowed, owed_at;
	size_t owed_bytes;
	int werr;                  /* an owed reply was an error: sticky for writes */
	char *werrmsg;
};

/*
 * hiredis writes with write(2), so a server that hung up would kill the
 * process with SIGPIPE.  The library must not: block SIGPIPE around each
 * call, or around a whole pipeline (one pair of system calls, not one per
 * reply), and swallow one the call raised (libpq does the same).
 */
struct nopipe {
	sigset_t old;
	int pending;
};

static void nopipe_begin(struct nopipe *g)
{
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	g->pending = sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void nopipe_end(struct nopipe *g)
{
	sigset_t set, pend;
	struct timespec zero = { 0, 0 };

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	if (!g->pending && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE))
		sigtimedwait(&set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static redisReply *call(redisContext *c, int argc, const char **argv, const size_t *lens)
{
	struct nopipe g;
	redisReply *r;

	nopipe_begin(&g);
	r = redisCommandArgv(c, argc, argv, lens);
	nopipe_end(&g);
	return r;
}

/* The next reply; the caller blocks SIGPIPE around its whole pipeline. */
static int reply(redisContext *c, redisReply **r)
{
	return redisGetReply(c, (void **)r);
}

/*
 * The one place where hiredis' and the server's errors become DH_E* codes:
 * `reply` is the failed reply, or NULL for a connection-level error.
 */
static int rd_error(struct rd_store *rs, const redisReply *reply, const char *what, const char *key)
{
	const char *msg;
	char buf[256];
	int code = DH_EIO;

	if (reply && reply->type == REDIS_REPLY_ERROR) {
		msg = reply->str;
		if (!strncmp(msg, "NOAUTH", 6) || !strncmp(msg, "WRONGPASS", 9) || !strncmp(msg, "NOPERM", 6) ||
		    !strcmp(what, "authenticate to"))
			code = DH_EAUTH;
		else if (!strncmp(msg, "OOM", 3))
			code = DH_ENOMEM;
		else if (strstr(msg, "DB index is out of range"))
			code = DH_ENOTFOUND;
	} else if (reply) {
		snprintf(buf, sizeof(buf), "unexpected reply of type %d", reply->type);
		msg = buf;
	} else if (!rs->c) {
		msg = "out of memory";
		code = DH_ENOMEM;
	} else {
		switch (rs->c->err) {
		case REDIS_ERR_EOF:
			msg = "the server closed the connection";
			break;
		case REDIS_ERR_OOM:
			msg = "out of memory";
			code = DH_ENOMEM;
			break;
		case REDIS_ERR_IO:
			/* hiredis keeps errno's text; a timeout reads "Resource temporarily unavailable" */
			if (rs->c->errstr[0] && strstr(rs->c->errstr, "temporarily unavailable"))
				msg = "timed out waiting for the server";
			else
				msg = rs->c->errstr[0] ? rs->c->errstr : strerror(errno);
			break;
		default:
			msg = rs->c->errstr[0] ? rs->c->errstr : "connection error";
			break;
		}
	}
	if (key)
		return dh_error_set(code, "redis: cannot %s '%s' in store '%s': %s", what, key, rs->name, msg);
	return dh_error_set(code, "redis: cannot %s store '%s': %s", what, rs->name, msg);
}

/* A connection that failed once is not used again (replies could be out of step). */
static int connected(struct rd_store *rs, const char *what, const char *key)
{
	return rs->c && rs->c->err ? rd_error(rs, NULL, what, key) : 0;
}

/*
 * Read every reply put_many() is owed.  An error reply among them is kept
 * (the first one) and fails every later write, flush and compare-and-swap;
 * a connection error is returned.
 */
static int settle(struct rd_store *rs, const char *what, const char *key)
{
	struct nopipe g;
	int rc = 0;

	if (!rs->nowed)
		return 0;
	nopipe_begin(&g);
	while (rs->nowed) {
		redisReply *r = NULL;
		const char *k = rs->owed[rs->owed_at];

		if (redisGetReply(rs->c, (void **)&r) != REDIS_OK) {
			rc = rd_error(rs, NULL, what, key);
			break;
		}
		if (r->type == REDIS_REPLY_ERROR && !rs->werr) {
			rs->werr = rd_error(rs, r, "write", k);
			rs->werrmsg = strdup(dh_errmsg());
		}
		freeReplyObject(r);
		rs->owed_at = (rs->owed_at + 1) % OWED_MAX;
		rs->nowed--;
	}
	nopipe_end(&g);
	if (!rs->nowed)
		rs->owed_bytes = 0;
	return rc;
}

/* Ready for a command: connected, and every owed reply read. */
static int alive(struct rd_store *rs, const char *what, const char *key)
{
	int rc = connected(rs, what, key);

	return rc ? rc : settle(rs, what, key);
}

/* Ready for a write: alive, and no earlier write failed. */
static int writable(struct rd_store *rs, const char *what, const char *key)
{
	int rc = alive(rs, what, key);

	if (!rc && rs->werr)
		rc = dh_error_set(rs->werr, "%s", rs->werrmsg ? rs->werrmsg : "redis: an earlier write failed");
	return rc;
}

/* Send one command and read its reply; an error reply is an error. */
static int command(redisReply **out, struct rd_store *rs, int argc, const char **argv, const size_t *lens,
		   const char *what, const char *key)
{
	redisReply *r;
	int rc;

	*out = NULL;
	if ((rc = alive(rs, what, key)))
		return rc;
	r = call(rs->c, argc, argv, lens);
	if (!r)
		return rd_error(rs, NULL, what, key);
	if (r->type == REDIS_REPLY_ERROR) {
		rc = rd_error(rs, r, what, key);
		freeReplyObject(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* prefix + key into rs->key */
static int full_key(struct rd_store *rs, const char *key)
{
	dh_buf_reset(&rs->key);
	if (dh_buf_add(&rs->key, rs->prefix, rs->plen) || dh_buf_adds(&rs->key, key))
		return DH_ENOMEM;
	return 0;
}

static int rd_open(struct dh_store **out, const struct dh_uri *uri, unsigned flags)
{
	static const char *const known[] = { "prefix", NULL };
	struct rd_store *rs;
	const char *prefix = dh_uri_param(uri, "prefix"), *password = uri->password;
	const char *host = uri->host && uri->host[0] ? uri->host : "127.0.0.1";
	struct timeval tv = { CONNECT_TIMEOUT, 0 };
	redisReply *r = NULL;
	long db = 0;
	int rc;

	if ((rc = dh_uri_check_params(uri, known)))
		return rc;
	if (uri->path[0] && uri->path[1]) {
		char *end;

		errno = 0;
		db = strtol(uri->path + 1, &end, 10);
		if (*end || errno || db < 0 || db > 1000000)
			return dh_error_set(DH_EUSAGE, "redis URI path is a database number: redis://host:port/N, not '%s'",
					    uri->path);
	}
	if (!password || !password[0])
		password = getenv("REDISCLI_AUTH");
	rs = calloc(1, sizeof(*rs));
	if (!rs || !(rs->prefix = strdup(prefix ? prefix : ""))) {
		free(rs);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	rs->plen = strlen(rs->prefix);
	rs->name = uri->text;
	rs->c = redisConnectWithTimeout(host, uri->port ? uri->port : 6379, tv);
	if (!rs->c || rs->c->err) {
		rc = rd_error(rs, NULL, "connect to", NULL);
		goto out;
	}
	tv.tv_sec = IO_TIMEOUT;
	redisSetTimeout(rs->c, tv);
	if (password && password[0]) {
		const char *argv[3] = { "AUTH", uri->user && uri->user[0] ? uri->user : password, password };

		if ((rc = command(&r, rs, uri->user && uri->user[0] ? 3 : 2, argv, NULL, "authenticate to", NULL)))
			goto out;
		freeReplyObject(r);
	}
	{
		char n[24];
		const char *argv[2] = { "SELECT", n };

		snprintf(n, sizeof(n), "%ld", db);
		if ((rc = command(&r, rs, 2, argv, NULL, "open", NULL))) {
			if (rc == DH_ENOTFOUND)
				rc = dh_error_set(DH_ENOTFOUND, "redis: no database %ld on the server of store '%s'", db,
						  rs->name);
			goto out;
		}
		freeReplyObject(r);
	}
	{
		/* shows in CLIENT LIST, so operators can tell dh's connections apart */
		const char *argv[3] = { "CLIENT", "SETNAME", program_invocation_short_name };
		int plain = argv[2][0] != '\0';

		for (const unsigned char *c = (const unsigned char *)argv[2]; *c; c++)
			plain &= *c > ' ' && *c < 0x7f;
		if (!plain)
			argv[2] = "dh";
		if ((rc = command(&r, rs, 3, argv, NULL, "open", NULL)))
			goto out;
		freeReplyObject(r);
	}
out:
	if (rc) {
		if (rs->c)
			redisFree(rs->c);
		free(rs->prefix);
		free(rs);
		return rc;
	}
	(void)flags;
	*out = &rs->base;
	return 0;
}

static void rd_close(struct dh_store *st)
{
	struct rd_store *rs = (struct rd_store *)st;

	if (rs->c && !rs->c->err)
		settle(rs, "close", NULL);
	redisFree(rs->c);
	dh_buf_release(&rs->key);
	free(rs->owed);
	free(rs->werrmsg);
	free(rs->prefix);
	free(rs);
}

static int rd_get(struct dh_store *st, const char *key, struct dh_buf *out)
{
	struct rd_store *rs = (struct rd_store *)st;
	redisReply *r;
	int rc = full_key(rs, key);
	const char *argv[2] = { "GET", rs->key.data };
	size_t lens[2] = { 3, rs->key.len };

	if (rc)
		return dh_error_set(rc, "out of memory");
	if ((rc = command(&r, rs, 2, argv, lens, "read", key)))
		return rc;
	if (r->type == REDIS_REPLY_NIL) {
		rc = dh_error_set(DH_ENOTFOUND, "'%s' not found in store '%s'", key, rs->name);
	} else if (r->type != REDIS_REPLY_STRING) {
		rc = rd_error(rs, r, "read", key);
	} else {
		dh_buf_reset(out);
		rc = dh_buf_add(out, r->str, r->len);
	}
	freeReplyObject(r);
	return rc;
}

/* Pipelined MGETs of BATCH_KEYS keys, at most 16 in flight. */
static int rd_get_many(struct dh_store *st, const char *const *keys, size_t n, dh_get_cb cb, void *payload)
{
	struct rd_store *rs = (struct rd_store *)st;
	const char **argv = NULL;
	size_t *lens = NULL, sent = 0, done = 0, chunk[16];
	struct dh_buf kb = DH_BUF_INIT;
	struct nopipe g;
	int rc, inflight = 0;

	if ((rc = alive(rs, "read", keys[0])))
		return rc;
	nopipe_begin(&g);
	argv = malloc((1 + BATCH_KEYS) * sizeof(*argv));
	lens = malloc((1 + BATCH_KEYS) * sizeof(*lens));
	if (!argv || !lens) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	argv[0] = "MGET";
	lens[0] = 4;
	while (done < n) {
		/* send while there is room and keys are left */
		while (!rc && sent < n && inflight < 16) {
			size_t m = n - sent < BATCH_KEYS ? n - sent : BATCH_KEYS, off = 0;

			dh_buf_reset(&kb);
			for (size_t i = 0; i < m && !rc; i++)
				if (dh_buf_add(&kb, rs->prefix, rs->plen) || dh_buf_add(&kb, keys[sent + i], strlen(keys[sent + i]) + 1))
					rc = dh_error_set(DH_ENOMEM, "out of memory");
			for (size_t i = 0; i < m && !rc; i++) {
				argv[1 + i] = kb.data + off;
				lens[1 + i] = strlen(kb.data + off);
				off += lens[1 + i] + 1;
			}
			if (!rc && redisAppendCommandArgv(rs->c, (int)(1 + m), argv, lens) != REDIS_OK)
				rc = rd_error(rs, NULL, "read", keys[sent]);
			if (rc)
				break;
			chunk[inflight++] = m;
			sent += m;
		}
		if (!inflight)
			break;
		/* read the oldest reply; after an error, only drain */
		{
			redisReply *r = NULL;
			size_t m = chunk[0];

			if (reply(rs->c, &r) != REDIS_OK) {
				rc = rd_error(rs, NULL, "read", keys[done]);
				goto out;
			}
			memmove(chunk, chunk + 1, (size_t)(--inflight) * sizeof(chunk[0]));
			if (!rc && (r->type != REDIS_REPLY_ARRAY || r->elements != m))
				rc = rd_error(rs, r, "read", keys[done]);
			for (size_t i = 0; !rc && i < m; i++) {
				const redisReply *v = r->element[i];

				if (v->type == REDIS_REPLY_STRING)
					rc = cb(done + i, v->str, v->len, payload);
				else if (v->type != REDIS_REPLY_NIL)
					rc = rd_error(rs, v, "read", keys[done + i]);
			}
			freeReplyObject(r);
			done += m;
		}
	}
out:
	nopipe_end(&g);
	dh_buf_release(&kb);
	free(argv);
	free(lens);
	return rc;
}

static int rd_has(struct dh_store *st, const char *key)
{
	struct rd_store *rs = (struct rd_store *)st;
	redisReply *r;
	int rc = full_key(rs, key);
	const char *argv[2] = { "EXISTS", rs->key.data };
	size_t lens[2] = { 6, rs->key.len };

	if (rc)
		return dh_error_set(rc, "out of memory");
	if ((rc = command(&r, rs, 2, argv, lens, "look up", key)))
		return rc;
	rc = r->type == REDIS_REPLY_INTEGER ? r->integer > 0 : rd_error(rs, r, "look up", key);
	freeReplyObject(r);
	return rc;
}

/* Pipelined EXISTS, one per key, at most HAS_INFLIGHT replies outstanding. */
static int rd_has_many(struct dh_store *st, const char *const *keys, size_t n, unsigned char *found)
{
	struct rd_store *rs = (struct rd_store *)st;
	size_t sent = 0, done = 0;
	struct nopipe g;
	int rc;

	if ((rc = alive(rs, "look up", keys[0])))
		return rc;
	nopipe_begin(&g);
	while (done < n) {
		while (!rc && sent < n && sent - done < HAS_INFLIGHT) {
			const char *argv[2] = { "EXISTS", NULL };
			size_t lens[2] = { 6, 0 };

			if (full_key(rs, keys[sent])) {
				rc = dh_error_set(DH_ENOMEM, "out of memory");
				break;
			}
			argv[1] = rs->key.data;
			lens[1] = rs->key.len;
			if (redisAppendCommandArgv(rs->c, 2, argv, lens) != REDIS_OK) {
				rc = rd_error(rs, NULL, "look up", keys[sent]);
				break;
			}
			sent++;
		}
		if (done == sent)
			break;
		/* read the oldest reply; after an error, only drain what was sent */
		{
			redisReply *r = NULL;

			if (reply(rs->c, &r) != REDIS_OK) {
				rc = rd_error(rs, NULL, "look up", keys[done]);
				break;
			}
			if (!rc && r->type != REDIS_REPLY_INTEGER)
				rc = rd_error(rs, r, "look up", keys[done]);
			else if (!rc)
				found[done] = r->integer > 0;
			freeReplyObject(r);
			done++;
		}
	}
	nopipe_end(&g);
	return rc;
}

static int rd_put(struct dh_store *st, const char *key, const void *data, size_t len)
{
	struct rd_store *rs = (struct rd_store *)st;
	redisReply *r;
	int rc = full_key(rs, key);
	const char *argv[3] = { "SET", rs->key.data, data };
	size_t lens[3] = { 3, rs->key.len, len };

	if (rc)
		return dh_error_set(rc, "out of memory");
	if ((rc = writable(rs, "write", key)) || (rc = command(&r, rs, 3, argv, lens, "write", key)))
		return rc;
	freeReplyObject(r);
	return 0;
}

static int rd_del(struct dh_store *st, const char *key)
{
	struct rd_store *rs = (struct rd_store *)st;
	redisReply *r;
	int rc = full_key(rs, key);
	const char *argv[2] = { "DEL", rs->key.data };
	size_t lens[2] = { 3, rs->key.len };

	if (rc)
		return dh_error_set(rc, "out of memory");
	if ((rc = writable(rs, "delete", key)) || (rc = command(&r, rs, 2, argv, lens, "delete", key)))
		return rc;
	freeReplyObject(r);
	return 0;
}

/*
 * Send MSET kvs[0..k) straight from the caller's buffers with writev():
 * hiredis would copy every value twice into its output buffer first.
 * That buffer is empty here (every other command is sent and answered
 * before its function returns), so the bytes go out in command order.  A
 * failed write marks the connection failed, as hiredis does.
 */
static int send_mset(struct rd_store *rs, const struct dh_kv *kvs, size_t k, struct dh_buf *hdr, struct iovec *iov,
		     size_t *at)
{
	int rc = dh_buf_addf(hdr, "*%zu\r\n$4\r\nMSET\r\n", 1 + 2 * k);
	size_t head = hdr->len, n;

	for (size_t i = 0; i < k && !rc; i++) {
		size_t klen = strlen(kvs[i].key);
		char num[48];
		int m;

		/* [CRLF ending the last value] $<key length> CRLF prefix key CRLF $<value length> CRLF */
		at[i] = hdr->len;
		m = snprintf(num, sizeof(num), "%s$%zu\r\n", i ? "\r\n" : "", rs->plen + klen);
		rc = dh_buf_add(hdr, num, (size_t)m);
		if (!rc)
			rc = dh_buf_add(hdr, rs->prefix, rs->plen);
		if (!rc)
			rc = dh_buf_add(hdr, kvs[i].key, klen);
		if (!rc) {
			m = snprintf(num, sizeof(num), "\r\n$%zu\r\n", kvs[i].len);
			rc = dh_buf_add(hdr, num, (size_t)m);
		}
	}
	if (rc)
		return dh_error_set(DH_ENOMEM, "out of memory");
	/* iov: command header, then per value its header and its bytes, then the last CRLF */
	for (size_t i = k; i-- > 0;) {
		size_t end = i + 1 < k ? at[i + 1] : hdr->len;

		iov[2 + 2 * i].iov_base = (void *)(kvs[i].len ? kvs[i].data : "");
		iov[2 + 2 * i].iov_len = kvs[i].len;
		iov[1 + 2 * i].iov_base = hdr->data + at[i];
		iov[1 + 2 * i].iov_len = end - at[i];
	}
	iov[0].iov_base = hdr->data;
	iov[0].iov_len = head;
	iov[1 + 2 * k].iov_base = (void *)"\r\n";
	iov[1 + 2 * k].iov_len = 2;
	n = 2 + 2 * k;
	for (struct iovec *v = iov; n;) {
		ssize_t w = writev(rs->c->fd, v, (int)(n < IOV_MAX ? n : IOV_MAX));
		size_t done;

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rs->c->err = REDIS_ERR_IO;
			snprintf(rs->c->errstr, sizeof(rs->c->errstr), "%s", strerror(errno));
			return rd_error(rs, NULL, "write", kvs[0].key);
		}
		/* skip what went out, resume inside a part sent halfway */
		for (done = (size_t)w; n && done >= v->iov_len; v++, n--)
			done -= v->iov_len;
		if (n) {
			v->iov_base = (char *)v->iov_base + done;
			v->iov_len -= done;
		}
	}
	return 0;
}

/*
 * MSETs of up to BATCH_KEYS keys, sent at once and not waited for: the
 * server works while the caller goes on, and the replies are read before
 * the handle's next command (settle()).  At most OWED_MAX MSETs or
 * PIPE_BYTES of values are owed at a time.
 */
static int rd_put_many(struct dh_store *st, const struct dh_kv *kvs, size_t n)
{
	struct rd_store *rs = (struct rd_store *)st;
	struct iovec *iov;
	size_t *at;
	struct dh_buf hdr = DH_BUF_INIT;
	struct nopipe g;
	int rc;

	if (n == 0)
		return 0;
	/* no settle(): the replies owed stay owed, and the server keeps working */
	if ((rc = connected(rs, "write", kvs[0].key)))
		return rc;
	if (rs->werr)
		return dh_error_set(rs->werr, "%s", rs->werrmsg ? rs->werrmsg : "redis: an earlier write failed");
	if (!rs->owed && !(rs->owed = malloc(OWED_MAX * sizeof(*rs->owed))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	iov = malloc((2 + 2 * BATCH_KEYS) * sizeof(*iov));
	at = malloc(BATCH_KEYS * sizeof(*at));
	if (!iov || !at) {
		free(iov);
		free(at);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	nopipe_begin(&g);
	for (size_t i = 0, k; i < n && !rc; i += k) {
		size_t bytes = 0;

		k = n - i < BATCH_KEYS ? n - i : BATCH_KEYS;
		if ((rs->nowed == OWED_MAX || rs->owed_bytes >= PIPE_BYTES) && (rc = settle(rs, "write", kvs[i].key)))
			break;
		dh_buf_reset(&hdr);
		if ((rc = send_mset(rs, kvs + i, k, &hdr, iov, at)))
			break;
		for (size_t j = i; j < i + k; j++)
			bytes += kvs[j].len;
		snprintf(rs->owed[(rs->owed_at + rs->nowed) % OWED_MAX], DH_KEY_MAX + 1, "%s", kvs[i].key);
		rs->nowed++;
		rs->owed_bytes += bytes;
	}
	nopipe_end(&g);
	dh_buf_release(&hdr);
	free(iov);
	free(at);
	return rc;
}

/* Escape glob characters so SCAN MATCH takes the prefix literally. */
static int glob_escape(struct dh_buf *b, const char *s, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		if (strchr("*?[]\\^-", s[i]))
			rc = dh_buf_addc(b, '\\');
		if (!rc)
			rc = dh_buf_addc(b, s[i]);
	}
	return rc;
}

static int rd_list(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload)
{
	struct rd_store *rs = (struct rd_store *)st;
	struct dh_buf pattern = DH_BUF_INIT, cursor = DH_BUF_INIT;
	char key[DH_KEY_MAX + 1];
	size_t want = rs->plen + strlen(prefix);
	int rc;

	if (glob_escape(&pattern, rs->prefix, rs->plen) || glob_escape(&pattern, prefix, strlen(prefix)) ||
	    dh_buf_addc(&pattern, '*') || dh_buf_adds(&cursor, "0")) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	do {
		const char *argv[6] = { "SCAN", cursor.data, "MATCH", pattern.data, "COUNT", "1000" };
		redisReply *r;

		if ((rc = command(&r, rs, 6, argv, NULL, "list", prefix)))
			break;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			rc = rd_error(rs, r, "list", prefix);
			freeReplyObject(r);
			break;
		}
		dh_buf_reset(&cursor);
		rc = dh_buf_add(&cursor, r->element[0]->str, r->element[0]->len);
		for (size_t i = 0; i < r->element[1]->elements && !rc; i++) {
			const redisReply *k = r->element[1]->element[i];

			/* keys a dh store could not hold (too long, binary) are not ours */
			if (k->type != REDIS_REPLY_STRING || k->len < want || k->len - rs->plen > DH_KEY_MAX ||
			    memchr(k->str, '\0', k->len))
				continue;
			memcpy(key, k->str + rs->plen, k->len - rs->plen);
			key[k->len - rs->plen] = '\0';
			rc = cb(key, payload);
		}
		freeReplyObject(r);
	} while (!rc && strcmp(cursor.data, "0"));
out:
	dh_buf_release(&pattern);
	dh_buf_release(&cursor);
	return rc;
}

static int rd_flush(struct dh_store *st)
{
	struct rd_store *rs = (struct rd_store *)st;

	return writable(rs, "flush", NULL);
}

static int load_script(struct rd_store *rs, const char *key)
{
	const char *argv[3] = { "SCRIPT", "LOAD", cas_script };
	redisReply *r;
	int rc = command(&r, rs, 3, argv, NULL, "update", key);

	if (rc)
		return rc;
	if (r->type != REDIS_REPLY_STRING || r->len != 40)
		rc = rd_error(rs, r, "update", key);
	else
		memcpy(rs->sha, r->str, 41);
	freeReplyObject(r);
	return rc;
}

static int rd_cas(struct dh_store *st, const char *key, const char *old, const char *new)
{
	struct rd_store *rs = (struct rd_store *)st;
	redisReply *r = NULL;
	int rc = full_key(rs, key);

	if (rc)
		return dh_error_set(rc, "out of memory");
	/* every earlier write is applied (and none failed) before the head moves */
	if ((rc = writable(rs, "update", key)))
		return rc;
	if (!rs->sha[0] && (rc = load_script(rs, key)))
		return rc;
	for (int tries = 0; tries < 2; tries++) {
		const char *argv[8] = { "EVALSHA", rs->sha, "1", rs->key.data, old ? "1" : "0", old ? old : "",
					new ? "1" : "0", new ? new : "" };
		size_t lens[8] = { 7, 40, 1, rs->key.len, 1, old ? strlen(old) : 0, 1, new ? strlen(new) : 0 };

		if ((rc = alive(rs, "update", key)))
			return rc;
		r = call(rs->c, 8, argv, lens);
		if (!r)
			return rd_error(rs, NULL, "update", key);
		if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8) && tries == 0) {
			/* the server restarted or ran SCRIPT FLUSH */
			freeReplyObject(r);
			r = NULL;
			if ((rc = load_script(rs, key)))
				return rc;
			continue;
		}
		break;
	}
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
		rc = 0;
	else if (r->type == REDIS_REPLY_INTEGER && r->integer == 0)
		rc = dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key);
	else
		rc = rd_error(rs, r, "update", key);
	freeReplyObject(r);
	return rc;
}

const struct dh_store_ops dh_store_redis_ops = {
	.api_version = DH_BACKEND_API_VERSION,
	.scheme = "redis",
	.open = rd_open,
	.close = rd_close,
	.get = rd_get,
	.put = rd_put,
	.has = rd_has,
	.list = rd_list,
	.cas = rd_cas,
	.del = rd_del,
	.put_many = rd_put_many,
	.flush = rd_flush,
	.get_many = rd_get_many,
	.has_many = rd_has_many,
};
