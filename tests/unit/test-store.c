/*
 * test-store.c - the store conformance suite.
 *
 *   test-store [URI...]
 *
 * Runs the same checks against every store named (each must be empty), or
 * against fresh mem://, file:// and lmdb:// stores in a temporary directory
 * when none is named.  Besides the key/value contract it races two
 * processes (threads for mem://) doing read-modify-CAS on one head, and kills
 * writers with SIGKILL mid-write to check that no partial node ever becomes
 * visible and the head always names a complete node.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dh.h"
#include "tap.h"

/*
 * Rounds of the race and kill tests.  Local stores get the full count;
 * stores behind a server (each CAS a few round trips through an emulator)
 * get fewer by default.  DH_TEST_RACE_ROUNDS and DH_TEST_KILL_ROUNDS
 * override both.
 */
static int race_rounds = 1000, kill_rounds = 12;

static void set_rounds(const char *uri)
{
	static const char *const local[] = { "mem:", "file:", "lmdb:", "sqlite:", "/", NULL };
	const char *r = getenv("DH_TEST_RACE_ROUNDS"), *k = getenv("DH_TEST_KILL_ROUNDS");
	int is_local = 0;

	for (int i = 0; local[i]; i++)
		is_local |= !strncmp(uri, local[i], strlen(local[i]));
	if (!strncmp(uri, "tiered:", 7))
		is_local = !strstr(uri, "s3%3A") && !strstr(uri, "s3:") && !strstr(uri, "gs:") && !strstr(uri, "dynamodb:") &&
			   !strstr(uri, "redis:") && !strstr(uri, "postgres");
	race_rounds = r ? atoi(r) : is_local ? 1000 : 200;
	kill_rounds = k ? atoi(k) : is_local ? 12 : 6;
}

static struct dh_store *open_store(const char *uri)
{
	struct dh_store *st = NULL;
	int rc = dh_store_open(&st, uri, DH_STORE_CREATE);

	if (rc) {
		tap_diag("cannot open %s: %s", uri, dh_errmsg());
		exit(1);
	}
	return st;
}

static int count_cb(const char *key, void *payload)
{
	(void)key;
	(*(int *)payload)++;
	return 0;
}

struct collect {
	char keys[32][DH_KEY_MAX + 1];
	int n;
};

static int collect_cb(const char *key, void *payload)
{
	struct collect *c = payload;

	if (c->n < 32)
		snprintf(c->keys[c->n], sizeof(c->keys[0]), "%s", key);
	c->n++;
	return 0;
}

static int has_key(struct collect *c, const char *key)
{
	for (int i = 0; i < c->n && i < 32; i++)
		if (!strcmp(c->keys[i], key))
			return 1;
	return 0;
}

static int stop_cb(const char *key, void *payload)
{
	(void)key;
	(*(int *)payload)++;
	return 42;
}

struct many_seen {
	unsigned char hit[2500];
	int calls, bad;
};

static const char *const *many_keys;

static int many_cb(size_t i, const void *data, size_t len, void *payload)
{
	struct many_seen *s = payload;

	s->calls++;
	if (i >= 2500 || len != strlen(many_keys[i]) || memcmp(data, many_keys[i], len))
		s->bad++;
	else
		s->hit[i]++;
	return 0;
}

static int many_stop_cb(size_t i, const void *data, size_t len, void *payload)
{
	(void)i, (void)data, (void)len;
	((struct many_seen *)payload)->calls++;
	return 7;
}

static void values(struct dh_store *st, const char *uri)
{
	struct dh_buf b = DH_BUF_INIT;
	size_t big = 16u << 20, i;
	char *data = malloc(big);
	const char nul[] = { 'a', 0, 'b', 0, 0, 'c' };
	int rc;

	for (i = 0; i < big; i++)
		data[i] = (char)(i * 2654435761u >> 13);
	is_int(dh_store_put(st, "k/empty", "", 0), 0, "%s: put 0 bytes", uri);
	is_int(dh_store_get(st, "k/empty", &b), 0, "%s: get 0 bytes", uri);
	is_int(b.len, 0, "%s: 0 bytes back", uri);
	is_int(dh_store_put(st, "k/one", "x", 1), 0, "%s: put 1 byte", uri);
	dh_store_get(st, "k/one", &b);
	ok(b.len == 1 && b.data[0] == 'x', "%s: 1 byte back", uri);
	is_int(dh_store_put(st, "k/nul", nul, sizeof(nul)), 0, "%s: put bytes with NUL", uri);
	dh_store_get(st, "k/nul", &b);
	ok(b.len == sizeof(nul) && !memcmp(b.data, nul, sizeof(nul)), "%s: NUL bytes kept", uri);
	is_int(dh_store_put(st, "k/big", data, big), 0, "%s: put 16 MiB", uri);
	rc = dh_store_get(st, "k/big", &b);
	ok(!rc && b.len == big && !memcmp(b.data, data, big), "%s: 16 MiB back intact", uri);
	is_int(dh_store_put(st, "k/one", "yz", 2), 0, "%s: overwrite a mutable key", uri);
	dh_store_get(st, "k/one", &b);
	ok(b.len == 2 && !memcmp(b.data, "yz", 2), "%s: overwritten value", uri);
	rc = dh_store_get(st, "k/missing", &b);
	is_int(rc, DH_ENOTFOUND, "%s: get of a missing key is not-found", uri);
	ok(strstr(dh_errmsg(), "k/missing") != NULL, "%s: not-found message names the key", uri);
	is_int(dh_store_has(st, "k/one"), 1, "%s: has present", uri);
	is_int(dh_store_has(st, "k/missing"), 0, "%s: has absent", uri);
	is_int(dh_store_has(st, "k"), 0, "%s: a prefix is not a key", uri);
	is_int(dh_store_del(st, "k/one"), 0, "%s: delete", uri);
	is_int(dh_store_has(st, "k/one"), 0, "%s: deleted key gone", uri);
	is_int(dh_store_del(st, "k/one"), 0, "%s: deleting a missing key is fine", uri);
	{
		struct dh_kv kvs[3] = { { "m/1", "one", 3 }, { "m/2", "two", 3 }, { "m/3", "", 0 } };

		is_int(dh_store_put_many(st, kvs, 3), 0, "%s: put_many", uri);
		dh_store_get(st, "m/2", &b);
		ok(b.len == 3 && !memcmp(b.data, "two", 3), "%s: put_many value back", uri);
		is_int(dh_store_has(st, "m/3"), 1, "%s: put_many empty value", uri);
	}
	{
		/* 2500 keys: several statements / pipelined commands; odd ones missing, one twice */
		static char names[2500][24];
		const char *keys[2500];
		struct dh_kv kvs[1250];
		struct many_seen seen = { { 0 }, 0, 0 };

		for (int i = 0; i < 2500; i++) {
			snprintf(names[i], sizeof(names[i]), "g/\"{%d,}", i % 2 ? i : i / 2 * 2);
			keys[i] = names[i];
			if (i % 2 == 0)
				kvs[i / 2] = (struct dh_kv){ names[i], names[i], strlen(names[i]) };
		}
		keys[2499] = names[0];
		many_keys = keys;
		is_int(dh_store_put_many(st, kvs, 1250), 0, "%s: put_many of 1250", uri);
		is_int(dh_store_get_many(st, keys, 2500, many_cb, &seen), 0, "%s: get_many", uri);
		ok(seen.calls == 1251 && seen.bad == 0, "%s: get_many calls back once per present key with its bytes (%d, %d bad)",
		   uri, seen.calls, seen.bad);
		ok(seen.hit[0] == 1 && seen.hit[2499] == 1 && seen.hit[1] == 0 && seen.hit[2498] == 1,
		   "%s: get_many indices map to keys", uri);
		seen.calls = 0;
		is_int(dh_store_get_many(st, keys, 2500, many_stop_cb, &seen), 7, "%s: get_many stops at a non-zero return", uri);
		is_int(seen.calls, 1, "%s: ... after one call", uri);
		is_int(dh_store_get_many(st, (const char *[]){ "ok", "a//b" }, 2, many_cb, &seen), DH_EUSAGE,
		       "%s: get_many checks keys", uri);
		{
			static unsigned char found[2500];
			int wrong = 0;

			memset(found, 7, sizeof(found));
			is_int(dh_store_has_many(st, keys, 2500, found), 0, "%s: has_many", uri);
			for (int i = 0; i < 2500; i++)
				wrong += found[i] != (i % 2 == 0 || i == 2499);
			ok(wrong == 0, "%s: has_many sets 1 for each present key and 0 for each absent one (%d wrong)", uri,
			   wrong);
			is_int(dh_store_has_many(st, (const char *[]){ "ok", "a//b" }, 2, found), DH_EUSAGE,
			       "%s: has_many checks keys", uri);
			is_int(dh_store_has_many(st, keys, 0, found), 0, "%s: has_many of no keys", uri);
		}
		for (int i = 0; i < 2500; i += 2)
			dh_store_del(st, names[i]);
	}
	is_int(dh_store_flush(st), 0, "%s: flush", uri);
	free(data);
	dh_buf_release(&b);
}

static void listing(struct dh_store *st, const char *uri)
{
	struct collect c = { .n = 0 };
	int n = 0, rc;

	dh_store_put(st, "nodes/aa/1111", "a", 1);
	dh_store_put(st, "nodes/aa/2222", "b", 1);
	dh_store_put(st, "nodes/ab/3333", "c", 1);
	dh_store_put(st, "nodesx", "d", 1);
	dh_store_put(st, "heads/main", "e", 1);
	dh_store_put(st, "heads/feature/x", "f", 1);
	is_int(dh_store_list(st, "nodes/", collect_cb, &c), 0, "%s: list nodes/", uri);
	ok(c.n == 3 && has_key(&c, "nodes/aa/1111") && has_key(&c, "nodes/aa/2222") && has_key(&c, "nodes/ab/3333"),
	   "%s: list nodes/ gives exactly the 3 node keys (%d)", uri, c.n);
	c.n = 0;
	dh_store_list(st, "nodes/aa/", collect_cb, &c);
	ok(c.n == 2 && has_key(&c, "nodes/aa/1111"), "%s: list nodes/aa/ gives 2 (%d)", uri, c.n);
	c.n = 0;
	dh_store_list(st, "nodes/aa/2", collect_cb, &c);
	ok(c.n == 1 && has_key(&c, "nodes/aa/2222"), "%s: list by partial name (%d)", uri, c.n);
	c.n = 0;
	dh_store_list(st, "heads/", collect_cb, &c);
	ok(c.n == 2 && has_key(&c, "heads/feature/x") && has_key(&c, "heads/main"), "%s: list heads/ nested (%d)", uri, c.n);
	c.n = 0;
	dh_store_list(st, "", collect_cb, &c);
	ok(c.n == 6 + 6, "%s: list everything (%d keys)", uri, c.n);
	c.n = 0;
	dh_store_list(st, "zzz", collect_cb, &c);
	is_int(c.n, 0, "%s: list of an unused prefix is empty", uri);
	rc = dh_store_list(st, "nodes/", stop_cb, &n);
	ok(rc == 42 && n == 1, "%s: a callback's non-zero return stops the walk and is returned", uri);
	n = 0;
	dh_store_list(st, "heads/", count_cb, &n);
	is_int(n, 2, "%s: count heads", uri);
}

static void keys(struct dh_store *st, const char *uri)
{
	const char *badkeys[] = { "", "/abs", "a//b", "../x", "a/../b", "a/./b", "a/", "sp ace", "back\\slash",
				  "tab\tx", "nodes/..", "\x80" };

	for (size_t i = 0; i < sizeof(badkeys) / sizeof(badkeys[0]); i++) {
		ok(dh_store_put(st, badkeys[i], "x", 1) == DH_EUSAGE, "%s: put refuses key '%s'", uri, badkeys[i]);
		ok(dh_store_get(st, badkeys[i], &(struct dh_buf)DH_BUF_INIT) == DH_EUSAGE, "%s: get refuses key '%s'", uri,
		   badkeys[i]);
	}
	{
		char longkey[DH_KEY_MAX + 10];

		memset(longkey, 'a', sizeof(longkey) - 1);
		longkey[sizeof(longkey) - 1] = '\0';
		ok(dh_store_put(st, longkey, "x", 1) == DH_EUSAGE, "%s: over-long key refused", uri);
	}
	const char *badbranches[] = { "", "..", "a/../b", ".hidden", "x.lock", "a b", "a//b", "/a", "a/" };
	for (size_t i = 0; i < sizeof(badbranches) / sizeof(badbranches[0]); i++)
		ok(dh_head_cas(st, badbranches[i], NULL, "0000000000000000000000000000000000000000000000000000000000000000") ==
			   DH_EUSAGE,
		   "%s: branch name '%s' refused", uri, badbranches[i]);
}

static void cas(struct dh_store *st, const char *uri)
{
	struct dh_buf b = DH_BUF_INIT;
	char h[DH_HASH_HEX + 1];
	const char *h1 = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *h2 = "2222222222222222222222222222222222222222222222222222222222222222";

	is_int(dh_store_cas(st, "heads/c", NULL, "v1"), 0, "%s: CAS from absent", uri);
	dh_store_get(st, "heads/c", &b);
	ok(b.len == 2 && !memcmp(b.data, "v1", 2), "%s: CAS value stored", uri);
	is_int(dh_store_cas(st, "heads/c", NULL, "v9"), DH_ECONFLICT, "%s: CAS from absent when present conflicts", uri);
	is_int(dh_store_cas(st, "heads/c", "v1", "v2"), 0, "%s: CAS success", uri);
	is_int(dh_store_cas(st, "heads/c", "v1", "v3"), DH_ECONFLICT, "%s: stale CAS conflicts", uri);
	dh_store_get(st, "heads/c", &b);
	ok(b.len == 2 && !memcmp(b.data, "v2", 2), "%s: stale CAS changed nothing", uri);
	is_int(dh_store_cas(st, "heads/c", "v2", NULL), 0, "%s: CAS delete", uri);
	is_int(dh_store_has(st, "heads/c"), 0, "%s: CAS-deleted key gone", uri);
	is_int(dh_store_cas(st, "heads/c", "v2", "v4"), DH_ECONFLICT, "%s: CAS on absent with an old value conflicts", uri);

	is_int(dh_head_get(st, "hx", h), DH_ENOTFOUND, "%s: missing head", uri);
	is_int(dh_head_cas(st, "hx", NULL, h1), 0, "%s: head CAS from absent", uri);
	is_int(dh_head_get(st, "hx", h), 0, "%s: head read", uri);
	is_str(h, h1, "%s: head value", uri);
	is_int(dh_head_cas(st, "hx", h2, h1), DH_ECONFLICT, "%s: head CAS stale", uri);
	ok(strstr(dh_errmsg(), "hx") != NULL, "%s: conflict message names the branch: %s", uri, dh_errmsg());
	is_int(dh_head_cas(st, "hx", h1, h2), 0, "%s: head CAS", uri);
	is_int(dh_head_cas(st, "feature/y", NULL, h2), 0, "%s: nested branch", uri);
	is_int(dh_head_get(st, "feature/y", h), 0, "%s: nested branch read", uri);
	is_int(dh_head_cas(st, "hx", h2, "not-a-hash"), DH_EUSAGE, "%s: head must be a node name", uri);
	dh_store_put(st, "heads/junk", "garbage", 7);
	is_int(dh_head_get(st, "junk", h), DH_ECORRUPT, "%s: a head that is no node name is corrupt", uri);
	dh_buf_release(&b);
}

static void nodes(struct dh_store *st, const char *uri)
{
	struct dh_buf b = DH_BUF_INIT;
	char name[DH_HASH_HEX + 1], key[DH_NODE_KEY_LEN + 1], other[DH_HASH_HEX + 1];
	struct dh_node_batch *batch;

	is_int(dh_node_put(st, "hello", 5, name), 0, "%s: node put", uri);
	is_str(name, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "%s: node name is SHA-256", uri);
	is_int(dh_node_put(st, "hello", 5, name), 0, "%s: putting an existing node is success", uri);
	dh_node_key(key, name);
	is_str(key, "nodes/2c/f24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "%s: node key fan-out", uri);
	is_int(dh_node_get(st, name, &b), 0, "%s: node get", uri);
	ok(b.len == 5 && !memcmp(b.data, "hello", 5), "%s: node bytes", uri);
	is_int(dh_node_has(st, name), 1, "%s: node has", uri);
	dh_node_name(other, "bye", 3);
	is_int(dh_node_has(st, other), 0, "%s: node has (absent)", uri);
	is_int(dh_node_get(st, other, &b), DH_ENOTFOUND, "%s: missing node", uri);
	/* a value that does not hash to its name */
	dh_node_key(key, other);
	dh_store_put(st, key, "byf", 3);
	is_int(dh_node_get(st, other, &b), DH_ECORRUPT, "%s: corrupt node detected", uri);
	ok(strstr(dh_errmsg(), key) != NULL, "%s: corruption message names the key: %s", uri, dh_errmsg());
	is_int(dh_node_get(st, "xyz", &b), DH_EUSAGE, "%s: malformed node name refused", uri);
	is_int(dh_store_del(st, key), 0, "%s: corrupt node deleted", uri);

	dh_node_batch_new(&batch, st);
	for (int i = 0; i < 100; i++) {
		char data[64];

		snprintf(data, sizeof(data), "batch node %d", i);
		dh_node_batch_add(batch, data, strlen(data), name);
	}
	is_int(dh_node_batch_size(batch), 1290, "%s: batch size", uri);
	is_int(dh_node_batch_write(batch), 0, "%s: batch write", uri);
	for (int i = 0; i < 100; i++) {
		char data[64];

		snprintf(data, sizeof(data), "batch node %d", i);
		dh_node_batch_add(batch, data, strlen(data), name);
	}
	is_int(dh_node_batch_write(batch), 0, "%s: writing a batch of nodes that all exist already", uri);
	is_int(dh_node_batch_size(batch), 0, "%s: batch emptied", uri);
	is_int(dh_node_get(st, name, &b), 0, "%s: last batch node readable", uri);
	ok(b.len == 13 && !memcmp(b.data, "batch node 99", 13), "%s: batch node bytes", uri);
	dh_node_batch_free(batch);
	dh_buf_release(&b);
}

/* ---- two writers racing on one counter ---- */

static int race_once(struct dh_store *st, int *conflicts)
{
	struct dh_buf b = DH_BUF_INIT;
	char old[32], new[32];
	int rc;

	for (;;) {
		rc = dh_store_get(st, "heads/counter", &b);
		if (rc)
			break;
		snprintf(old, sizeof(old), "%.*s", (int)b.len, b.data);
		snprintf(new, sizeof(new), "%ld", atol(old) + 1);
		rc = dh_store_cas(st, "heads/counter", old, new);
		if (rc != DH_ECONFLICT)
			break;
		(*conflicts)++;
	}
	dh_buf_release(&b);
	return rc;
}

static int race_worker(const char *uri, int *conflicts)
{
	struct dh_store *st = open_store(uri);
	int rc = 0;

	for (int i = 0; i < race_rounds && !rc; i++)
		rc = race_once(st, conflicts);
	dh_store_close(st);
	return rc;
}

struct thread_arg {
	const char *uri;
	int conflicts, rc;
};

static void *race_thread(void *p)
{
	struct thread_arg *a = p;

	a->rc = race_worker(a->uri, &a->conflicts);
	return NULL;
}

static void race(struct dh_store *st, const char *uri)
{
	struct dh_buf b = DH_BUF_INIT;
	int ok_all = 1;

	dh_store_cas(st, "heads/counter", NULL, "0");
	if (!strncmp(uri, "mem:", 4)) {
		struct thread_arg a[2] = { { uri, 0, 0 }, { uri, 0, 0 } };
		pthread_t t[2];

		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, race_thread, &a[i]);
		for (int i = 0; i < 2; i++) {
			pthread_join(t[i], NULL);
			ok_all &= a[i].rc == 0;
		}
		tap_diag("%s: %d conflicts retried", uri, a[0].conflicts + a[1].conflicts);
	} else {
		pid_t pid[2];

		fflush(stdout);
		for (int i = 0; i < 2; i++) {
			pid[i] = fork();
			if (pid[i] == 0) {
				int conflicts = 0;
				int rc = race_worker(uri, &conflicts);

				if (rc)
					fprintf(stderr, "race worker: %s\n", dh_errmsg());
				/* 1 is failure; 2 + conflicts (capped) otherwise */
				_exit(rc ? 1 : 2 + (conflicts > 250 ? 250 : conflicts));
			}
		}
		int total = 0;

		for (int i = 0; i < 2; i++) {
			int status;

			waitpid(pid[i], &status, 0);
			ok_all &= WIFEXITED(status) && WEXITSTATUS(status) >= 2;
			if (WIFEXITED(status) && WEXITSTATUS(status) >= 2)
				total += WEXITSTATUS(status) - 2;
		}
		tap_diag("%s: at least %d conflicts retried", uri, total);
	}
	ok(ok_all, "%s: both racers finished", uri);
	dh_store_get(st, "heads/counter", &b);
	{
		char want[32];

		snprintf(want, sizeof(want), "%d", 2 * race_rounds);
		is_str(b.data, want, "%s: two racers x %d read-modify-CAS: no lost update", uri, race_rounds);
	}
	dh_buf_release(&b);
}

/* ---- a writer killed mid-write ---- */

/* Writes a byte to `tell` after each head move, so the parent knows it is under way. */
static void killed_writer(const char *uri, unsigned seed, int tell)
{
	struct dh_store *st = open_store(uri);
	struct dh_node_batch *batch;
	char name[DH_HASH_HEX + 1], head[DH_HASH_HEX + 1];
	size_t size = 1 << 20;
	unsigned char *data = malloc(size);
	int have_head = dh_head_get(st, "killtest", head) == 0;

	srand(seed);
	dh_node_batch_new(&batch, st);
	for (;;) {
		for (int i = 0; i < 6; i++) {
			size_t n = 1 + (size_t)rand() % size;

			for (size_t j = 0; j < n; j += 64)
				data[j] = (unsigned char)rand();
			data[0] = (unsigned char)i;
			if (i % 2)
				dh_node_put(st, data, n, name);  /* single puts */
			else
				dh_node_batch_add(batch, data, n, name);
		}
		if (dh_node_batch_write(batch) || dh_head_cas(st, "killtest", have_head ? head : NULL, name)) {
			fprintf(stderr, "# killed writer: %s\n", dh_errmsg());
			_exit(1);
		}
		memcpy(head, name, sizeof(head));
		have_head = 1;
		if (tell >= 0 && write(tell, "m", 1) == 1) {
			close(tell);
			tell = -1;
		}
	}
}

struct verify {
	struct dh_store *st;
	int bad, count;
};

static int verify_cb(const char *key, void *payload)
{
	struct verify *v = payload;
	struct dh_buf b = DH_BUF_INIT;
	char hex[DH_HASH_HEX + 1];

	if (strlen(key) != DH_NODE_KEY_LEN)
		return 0;
	snprintf(hex, sizeof(hex), "%c%c%s", key[6], key[7], key + 9);
	if (dh_node_get(v->st, hex, &b)) {
		v->bad++;
		tap_diag("bad node %s: %s", key, dh_errmsg());
	}
	v->count++;
	dh_buf_release(&b);
	return 0;
}

static void kill_test(const char *uri)
{
	int good = 1, heads = 0;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (int round = 0; round < kill_rounds; round++) {
		pid_t pid;
		struct dh_store *st;
		struct verify v = { NULL, 0, 0 };
		char head[DH_HASH_HEX + 1];
		int rc;

		int fds[2];
		struct pollfd pfd;

		fflush(stdout);
		if (pipe(fds)) {
			tap_diag("pipe: %s", strerror(errno));
			exit(1);
		}
		pid = fork();
		if (pid == 0) {
			close(fds[0]);
			killed_writer(uri, (unsigned)(ts.tv_nsec + round), round % 2 ? -1 : fds[1]);
		}
		close(fds[1]);
		/*
		 * Odd rounds kill after a random delay, maybe before any head
		 * moved; even rounds wait for the first head move first, so that
		 * a slow machine or a slow network store is still killed in the
		 * middle of its work.
		 */
		if (round % 2 == 0) {
			pfd.fd = fds[0];
			pfd.events = POLLIN;
			poll(&pfd, 1, 20000);
		}
		close(fds[0]);
		usleep(20000 + (unsigned)((ts.tv_nsec / 1000 + round * 7919) % 80000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		st = open_store(uri);
		v.st = st;
		dh_store_list(st, "nodes/", verify_cb, &v);
		rc = dh_head_get(st, "killtest", head);
		if (rc == 0) {
			struct dh_buf b = DH_BUF_INIT;

			heads++;
			if (dh_node_get(st, head, &b)) {
				tap_diag("round %d: head names a bad node: %s", round, dh_errmsg());
				good = 0;
			}
			dh_buf_release(&b);
		} else if (rc != DH_ENOTFOUND) {
			tap_diag("round %d: head unreadable: %s", round, dh_errmsg());
			good = 0;
		}
		if (v.bad)
			good = 0;
		dh_store_close(st);
	}
	ok(good, "%s: %d writers killed with SIGKILL: every visible node intact, head names a complete node",
	   uri, kill_rounds);
	ok(heads > 0, "%s: the killed writers did move the head (%d rounds)", uri, heads);
}

static void suite(const char *uri)
{
	struct dh_store *st = open_store(uri);
	int n = 0;

	set_rounds(uri);

	dh_store_list(st, "", count_cb, &n);
	if (!ok(n == 0, "%s: store starts empty", uri)) {
		dh_store_close(st);
		return;
	}
	values(st, uri);
	listing(st, uri);
	keys(st, uri);
	cas(st, uri);
	nodes(st, uri);
	dh_store_close(st);
	/* reopened, the data is still there */
	st = open_store(uri);
	{
		struct dh_buf b = DH_BUF_INIT;

		ok(dh_store_get(st, "k/nul", &b) == 0 && b.len == 6, "%s: data survives close and reopen", uri);
		dh_buf_release(&b);
	}
	race(st, uri);
	dh_store_close(st);
	if (strncmp(uri, "mem:", 4))
		kill_test(uri);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/dh-test-store-XXXXXX", uri[256];

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			suite(argv[i]);
		return done_testing();
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	suite("mem://conformance");
	snprintf(uri, sizeof(uri), "file://%s/file", dir);
	suite(uri);
	snprintf(uri, sizeof(uri), "lmdb://%s/lmdb", dir);
	suite(uri);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			tap_diag("could not remove %s", dir);
	}
	return done_testing();
}
