/*
 * test-tiered.c - the tiered store's policies, seen from both tiers.
 *
 * Each check writes or reads through a tiered:// store and then looks at
 * the frontend and the backend directly, so it sees where data really
 * went.  A slow backend is the count plugin (tests/plugins/count.c) with a
 * delay per put; writers of a write-behind store are killed with SIGKILL
 * and the backend alone must then hold every node its head reaches.  (The
 * conformance suite runs on tiered stores from tests/t/8200.)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dh-backend.h"
#include "tap.h"

static char dir[] = "/tmp/dh-test-tiered-XXXXXX";

/* Percent-escape `s` for a query value; up to 4 results live at once. */
static const char *esc(const char *s)
{
	static char bufs[4][2048];
	static int next;
	char *out = bufs[next++ % 4], *p = out;

	for (; *s && p < out + sizeof(bufs[0]) - 4; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr("-._~", *s))
			*p++ = *s;
		else
			p += sprintf(p, "%%%02X", (unsigned char)*s);
	}
	*p = '\0';
	return out;
}

static struct dh_store *open_uri(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static struct dh_store *open_uri(const char *fmt, ...)
{
	char uri[4096];
	struct dh_store *st = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(uri, sizeof(uri), fmt, ap);
	va_end(ap);
	if (dh_store_open(&st, uri, DH_STORE_CREATE)) {
		tap_diag("cannot open %s: %s", uri, dh_errmsg());
		exit(1);
	}
	return st;
}

static int open_rc(const char *uri, unsigned flags)
{
	struct dh_store *st = NULL;
	int rc = dh_store_open(&st, uri, flags);

	dh_store_close(st);
	return rc;
}

static void uris(void)
{
	char uri[1024];

	is_int(open_rc("tiered:?front=mem://a", DH_STORE_CREATE), DH_EUSAGE, "a tiered URI without back is refused");
	ok(strstr(dh_errmsg(), "back=URI") != NULL, "saying what is missing: %s", dh_errmsg());
	is_int(open_rc("tiered:?front=mem://a&back=mem://b&write=sideways", DH_STORE_CREATE), DH_EUSAGE, "unknown write policy");
	ok(strstr(dh_errmsg(), "'sideways'") != NULL, "named: %s", dh_errmsg());
	is_int(open_rc("tiered:?front=mem://a&back=mem://b&read=backend-first", DH_STORE_CREATE), DH_EUSAGE, "unknown read policy");
	is_int(open_rc("tiered:?front=mem://a&back=mem://b&colour=red", DH_STORE_CREATE), DH_EUSAGE, "unknown parameter");
	is_int(open_rc("tiered://host/x?front=mem://a&back=mem://b", DH_STORE_CREATE), DH_EUSAGE, "host and path are refused");
	snprintf(uri, sizeof(uri), "tiered:?front=mem://a&back=%s", esc("file:///nonexistent/dh-tiered"));
	is_int(open_rc(uri, 0), DH_ENOTFOUND, "a missing backend is not found");
	ok(strstr(dh_errmsg(), "/nonexistent/dh-tiered") != NULL, "naming it: %s", dh_errmsg());
	{
		struct dh_store *st;
		char back[512], tiered[1024];

		snprintf(back, sizeof(back), "file://reader:s3cret@localhost%s/secret", dir);
		snprintf(tiered, sizeof(tiered), "tiered:?front=mem://a&back=%s", esc(back));
		is_int(dh_store_open(&st, tiered, DH_STORE_CREATE), 0, "a backend URI with a password opens");
		ok(!strstr(dh_store_uri(st), "s3cret") && strstr(dh_store_uri(st), "***"),
		   "the tiered store's URI masks the nested password: %s", dh_store_uri(st));
		dh_store_close(st);
		snprintf(back, sizeof(back), "file://reader:s3cret@elsewhere%s/secret", dir);
		snprintf(tiered, sizeof(tiered), "tiered:?front=mem://a&back=%s", esc(back));
		ok(dh_store_open(&st, tiered, DH_STORE_CREATE) != 0 && !strstr(dh_errmsg(), "s3cret") &&
		   !strstr(dh_errmsg(), "s3cret"), "an error opening it does not show the password: %s", dh_errmsg());
	}
	is_int(open_rc("tiered:?front=mem://a&back=mem://b&write=write-through&read=frontend-first", DH_STORE_CREATE), 0,
	       "konserve's policy names are accepted");
	is_int(open_rc("tiered:?front=mem://a&back=mem://b&write=around", DH_STORE_CREATE), 0, "and the short ones");
	{
		struct dh_buf inner = DH_BUF_INIT, outer = DH_BUF_INIT;
		struct dh_store *st;
		char back[512];

		snprintf(back, sizeof(back), "file://%s/built?x=1&y=2+3", dir);
		is_int(dh_store_tiered_uri(&inner, "mem://built-mid", back, "write-behind", NULL), 0, "build a tiered URI");
		is_int(dh_store_tiered_uri(&outer, "mem://built-top", inner.data, NULL, "frontend-first"), 0,
		       "and one with it as the backend");
		is_int(dh_store_open(&st, outer.data, DH_STORE_CREATE), DH_EUSAGE, "the nested URI opens down to the bottom");
		ok(strstr(dh_errmsg(), "unknown parameter 'x' for file:// stores") != NULL,
		   "whose own query arrived intact: %s", dh_errmsg());
		snprintf(back, sizeof(back), "file://%s/built", dir);
		dh_store_tiered_uri(&inner, "mem://built-mid", back, "write-behind", NULL);
		dh_store_tiered_uri(&outer, "mem://built-top", inner.data, NULL, "frontend-first");
		is_int(dh_store_open(&st, outer.data, DH_STORE_CREATE), 0, "a built stack opens: %s", outer.data);
		dh_store_close(st);
		dh_buf_release(&inner);
		dh_buf_release(&outer);
	}
}

static void through(void)
{
	struct dh_store *t, *front, *back;
	char back_uri[512], n1[DH_HASH_HEX + 1], n2[DH_HASH_HEX + 1], h[DH_HASH_HEX + 1];
	struct dh_buf b = DH_BUF_INIT;

	snprintf(back_uri, sizeof(back_uri), "file://%s/through", dir);
	t = open_uri("tiered:?front=mem://through&back=%s", esc(back_uri));
	front = open_uri("mem://through");
	back = open_uri("%s", back_uri);
	is_int(dh_node_put(t, "one", 3, n1), 0, "write-through: node put");
	is_int(dh_node_has(back, n1), 1, "write-through: the backend has the node");
	is_int(dh_node_has(front, n1), 1, "write-through: the frontend has the node");
	is_int(dh_head_cas(t, "db", NULL, n1), 0, "write-through: head moved");
	is_int(dh_head_get(back, "db", h) == 0 && !strcmp(h, n1), 1, "the head moved in the backend");

	/* the backend is the authority for heads */
	dh_node_put(back, "two", 3, n2);
	is_int(dh_head_cas(back, "db", n1, n2), 0, "another writer moves the head in the backend");
	is_int(dh_head_get(t, "db", h), 0, "head read through the tiered store");
	is_str(h, n2, "heads come from the backend, not the frontend's copy");
	is_int(dh_head_cas(t, "db", n1, n1), DH_ECONFLICT, "a stale compare-and-swap conflicts in the backend");

	/* nodes: a miss fills the frontend, which then serves them forever */
	is_int(dh_node_has(front, n2), 0, "a node written elsewhere is not in the frontend");
	is_int(dh_node_get(t, n2, &b), 0, "read it through the tiered store");
	is_int(dh_node_has(front, n2), 1, "the miss filled the frontend");
	{
		char key[DH_NODE_KEY_LEN + 1];

		dh_node_key(key, n2);
		dh_store_del(back, key);
	}
	is_int(dh_node_get(t, n2, &b), 0, "a cached node is served from the frontend");
	ok(b.len == 3 && !memcmp(b.data, "two", 3), "with its bytes");
	dh_store_close(t);
	dh_store_close(front);
	dh_store_close(back);
	dh_buf_release(&b);
}

static void around(void)
{
	struct dh_store *t, *front, *back;
	char back_uri[512], n1[DH_HASH_HEX + 1], h[DH_HASH_HEX + 1];
	struct dh_buf b = DH_BUF_INIT;

	snprintf(back_uri, sizeof(back_uri), "file://%s/around", dir);
	t = open_uri("tiered:?front=mem://around&back=%s&write=around", esc(back_uri));
	front = open_uri("mem://around");
	back = open_uri("%s", back_uri);
	dh_store_put(front, "format", "stale", 5);
	is_int(dh_node_put(t, "one", 3, n1), 0, "write-around: node put");
	is_int(dh_node_has(back, n1), 1, "write-around: the backend has it");
	is_int(dh_node_has(front, n1), 0, "write-around: the frontend does not");
	is_int(dh_store_put(t, "format", "dh 1", 4), 0, "write-around: put a mutable key");
	is_int(dh_store_has(front, "format"), 0, "the frontend's stale copy is dropped");
	dh_store_put(front, "heads/db", "stale", 5);
	is_int(dh_head_cas(t, "db", NULL, n1), 0, "write-around: head moved");
	is_int(dh_store_has(front, "heads/db"), 0, "and the frontend's copy dropped");
	is_int(dh_head_get(back, "db", h), 0, "the backend has the head");
	is_int(dh_node_get(t, n1, &b), 0, "a read fills the frontend");
	is_int(dh_node_has(front, n1), 1, "which now has the node");
	dh_store_close(t);
	dh_store_close(front);
	dh_store_close(back);
	dh_buf_release(&b);
}

static int count_cb(const char *key, void *payload)
{
	(void)key;
	(*(int *)payload)++;
	return 0;
}

static void frontend_only(void)
{
	struct dh_store *t, *front, *back;
	char back_uri[512], n1[DH_HASH_HEX + 1], n2[DH_HASH_HEX + 1], h[DH_HASH_HEX + 1];
	struct dh_buf b = DH_BUF_INIT;
	int n = 0;

	snprintf(back_uri, sizeof(back_uri), "file://%s/fonly", dir);
	back = open_uri("%s", back_uri);
	dh_store_put(back, "format", "dh 1", 4);
	dh_node_put(back, "one", 3, n1);
	dh_head_cas(back, "db", NULL, n1);
	t = open_uri("tiered:?front=mem://fonly&back=%s&write=frontend-only", esc(back_uri));
	front = open_uri("mem://fonly");
	is_int(dh_node_get(t, n1, &b), 0, "write=frontend-only: reads the backend's node");
	is_int(dh_node_has(front, n1), 1, "and caches it");
	is_int(dh_node_put(t, "two", 3, n2), 0, "a node put");
	is_int(dh_node_has(front, n2), 1, "goes to the frontend");
	is_int(dh_node_has(back, n2), 0, "and never to the backend");
	is_int(dh_head_cas(t, "db", n2, n2), DH_ECONFLICT, "a head compare-and-swap compares with the backend's head");
	is_int(dh_head_cas(t, "db", n1, n2), 0, "and moves the head locally");
	is_int(dh_head_get(t, "db", h) == 0 && !strcmp(h, n2), 1, "the local head overlays the backend's");
	is_int(dh_head_get(back, "db", h) == 0 && !strcmp(h, n1), 1, "the backend's head did not move");
	is_int(dh_head_cas(t, "db", n1, n1), DH_ECONFLICT, "the next swap compares with the local head");
	is_int(dh_store_list(t, "", count_cb, &n), 0, "list");
	is_int(n, 4, "lists local and backend keys once each (format, 2 nodes, head)");
	is_int(dh_store_del(t, "format"), DH_EUNSUPPORTED, "deleting a key the backend has is refused");
	is_int(dh_store_has(back, "format"), 1, "and the backend still has it");
	dh_store_close(t);
	dh_store_close(front);
	dh_store_close(back);
	dh_buf_release(&b);
}

static void read_frontend_only(const char *count_log)
{
	struct dh_store *t, *back;
	char back_uri[512], count_uri[1024], n1[DH_HASH_HEX + 1];
	struct dh_buf b = DH_BUF_INIT;
	FILE *f;
	char line[256];
	int gets = 0;

	snprintf(back_uri, sizeof(back_uri), "file://%s/ronly", dir);
	back = open_uri("%s", back_uri);
	dh_node_put(back, "one", 3, n1);
	snprintf(count_uri, sizeof(count_uri), "count:?store=%s&log=%s", esc(back_uri), esc(count_log));
	t = open_uri("tiered:?front=mem://ronly&back=%s&read=frontend-only", esc(count_uri));
	is_int(dh_node_get(t, n1, &b), DH_ENOTFOUND, "read=frontend-only: a node only the backend has is not found");
	is_int(dh_node_has(t, n1), 0, "nor there");
	dh_store_close(t);
	f = fopen(count_log, "r");
	while (f && fgets(line, sizeof(line), f))
		gets += !strncmp(line, "get ", 4) || !strncmp(line, "has ", 4);
	if (f)
		fclose(f);
	is_int(gets, 0, "read=frontend-only: no read reached the backend");
	dh_store_close(back);
	dh_buf_release(&b);
}

static void behind(void)
{
	struct dh_store *t, *back;
	char back_uri[512], count_uri[1024], n1[DH_HASH_HEX + 1], n2[DH_HASH_HEX + 1], h[DH_HASH_HEX + 1];
	int n = 0;

	snprintf(back_uri, sizeof(back_uri), "file://%s/behind", dir);
	back = open_uri("%s", back_uri);
	/* a backend that takes 0.3 s per put */
	snprintf(count_uri, sizeof(count_uri), "count:?store=%s&log=/dev/null&delay=300000", esc(back_uri));
	t = open_uri("tiered:?front=mem://behind&back=%s&write=behind", esc(count_uri));
	is_int(dh_node_put(t, "one", 3, n1), 0, "write-behind: node put");
	is_int(dh_node_has(back, n1), 0, "returns before the slow backend has the node");
	is_int(dh_node_has(t, n1), 1, "which is readable at once from the frontend");
	is_int(dh_store_flush(t), 0, "flush");
	is_int(dh_node_has(back, n1), 1, "waits for the backend");
	is_int(dh_node_put(t, "two", 3, n2), 0, "another node put");
	is_int(dh_head_cas(t, "db", NULL, n2), 0, "head moved at once");
	is_int(dh_node_has(back, n2), 1, "the head moved only after its node reached the backend");
	is_int(dh_head_get(back, "db", h) == 0 && !strcmp(h, n2), 1, "the backend has the head");
	dh_node_put(t, "three", 5, NULL);
	dh_node_put(t, "four", 4, NULL);
	is_int(dh_store_list(t, "nodes/", count_cb, &n), 0, "list right after writes");
	is_int(n, 4, "sees the nodes still on their way");
	dh_node_put(t, "five", 4, n1);
	dh_store_close(t);
	is_int(dh_node_has(back, n1), 1, "close waits for the backend");
	dh_store_close(back);
}

static void behind_failure(void)
{
	struct dh_store *t, *back;
	char back_uri[512], path[512], n1[DH_HASH_HEX + 1], h[DH_HASH_HEX + 1];
	FILE *f;
	int rc;

	snprintf(back_uri, sizeof(back_uri), "file://%s/broken", dir);
	back = open_uri("%s", back_uri);
	/* "nodes" is a file: no node can be written under it */
	snprintf(path, sizeof(path), "%s/broken/nodes", dir);
	f = fopen(path, "w");
	fclose(f);
	t = open_uri("tiered:?front=mem://broken&back=%s&write=behind", esc(back_uri));
	is_int(dh_node_put(t, "one", 3, n1), 0, "write-behind to a broken backend: the put itself succeeds");
	rc = dh_store_flush(t);
	is_int(rc, DH_EIO, "the flush reports the background failure");
	ok(strstr(dh_errmsg(), "write-behind") && strstr(dh_errmsg(), back_uri), "naming the backend: %s",
	   dh_errmsg());
	is_int(dh_head_cas(t, "db", NULL, n1), DH_EIO, "and the head cannot move past it");
	is_int(dh_head_get(back, "db", h), DH_ENOTFOUND, "the backend has no head");
	dh_store_close(t);
	dh_store_close(back);
}

/* ---- write-behind writers killed before their flush ---- */

/* Nodes form a chain: each names the one before; the head names the last. */
static void __attribute__((noreturn)) chain_writer(const char *uri, unsigned seed, int ready)
{
	struct dh_store *t = open_uri("%s", uri);
	char prev[DH_HASH_HEX + 1] = "", name[DH_HASH_HEX + 1], head[DH_HASH_HEX + 1];
	char data[4096];
	int have = dh_head_get(t, "chain", head) == 0;

	if (have)
		memcpy(prev, head, sizeof(prev));
	srand(seed);
	for (int i = 0;; i++) {
		size_t len = (size_t)snprintf(data, sizeof(data), "prev=%s i=%d r=%d", prev, i, rand());
		size_t pad = (size_t)rand() % (sizeof(data) - len);

		memset(data + len, 'x', pad);
		if (dh_node_put(t, data, len + pad, name))
			_exit(1);
		memcpy(prev, name, sizeof(prev));
		if (i % 3 == 2) {
			if (dh_head_cas(t, "chain", have ? head : NULL, name)) {
				fprintf(stderr, "# chain writer: %s\n", dh_errmsg());
				_exit(1);
			}
			memcpy(head, name, sizeof(head));
			have = 1;
			if (ready >= 0) {
				if (write(ready, "", 1) != 1)
					_exit(1);
				close(ready);
				ready = -1;
			}
		}
	}
}

/* Walk the chain from the head in `back`; returns its length or -1. */
static int chain_check(struct dh_store *back)
{
	char name[DH_HASH_HEX + 1];
	struct dh_buf b = DH_BUF_INIT;
	int n = 0, rc = dh_head_get(back, "chain", name);

	if (rc == DH_ENOTFOUND)
		return 0;
	while (!rc) {
		if ((rc = dh_node_get(back, name, &b))) {
			tap_diag("node %s of the chain: %s", name, dh_errmsg());
			break;
		}
		n++;
		if (b.len < 5 + DH_HASH_HEX || b.data[5] == ' ')
			break;
		memcpy(name, b.data + 5, DH_HASH_HEX);
		name[DH_HASH_HEX] = '\0';
	}
	dh_buf_release(&b);
	return rc ? -1 : n;
}

static void behind_killed(void)
{
	char back_uri[512], count_uri[1024], front_uri[512], uri[4096];
	struct timespec ts;
	int good = 1, longest = 0;

	snprintf(back_uri, sizeof(back_uri), "file://%s/killed", dir);
	snprintf(front_uri, sizeof(front_uri), "file://%s/killed-front", dir);
	/* the backend lags: 2 ms per put, so the worker is always behind */
	snprintf(count_uri, sizeof(count_uri), "count:?store=%s&log=/dev/null&delay=2000", esc(back_uri));
	snprintf(uri, sizeof(uri), "tiered:?front=%s&back=%s&write=behind", esc(front_uri), esc(count_uri));
	dh_store_close(open_uri("%s", back_uri));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (int round = 0; round < 8; round++) {
		struct dh_store *back;
		pid_t pid;
		int n;

		int ready[2];
		char c;

		/* even rounds let the writer move the head once first (slow machines, valgrind) */
		if (pipe(ready)) {
			perror("pipe");
			exit(1);
		}
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			close(ready[0]);
			chain_writer(uri, (unsigned)ts.tv_nsec + (unsigned)round, round % 2 ? -1 : ready[1]);
		}
		close(ready[1]);
		if (round % 2 == 0 && read(ready[0], &c, 1) != 1)
			tap_diag("round %d: the writer ended before moving the head", round);
		close(ready[0]);
		usleep(50000 + (unsigned)((ts.tv_nsec / 1000 + round * 7919) % 150000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		back = open_uri("%s", back_uri);
		n = chain_check(back);
		if (n < 0)
			good = 0;
		if (n > longest)
			longest = n;
		dh_store_close(back);
	}
	ok(good, "write-behind writers killed before their flush: the backend holds every node its head reaches");
	ok(longest > 0, "the killed writers did move the head (chain of %d nodes)", longest);
}

static void stacked(void)
{
	struct dh_store *t, *back, *mid;
	char back_uri[512], inner[1024], n1[DH_HASH_HEX + 1], h[DH_HASH_HEX + 1];

	snprintf(back_uri, sizeof(back_uri), "file://%s/stacked", dir);
	snprintf(inner, sizeof(inner), "tiered:?front=mem://stack-mid&back=%s&write=behind", esc(back_uri));
	t = open_uri("tiered:?front=mem://stack-top&back=%s", esc(inner));
	is_int(dh_node_put(t, "one", 3, n1), 0, "stacked tiered stores: node put");
	is_int(dh_head_cas(t, "db", NULL, n1), 0, "head moved");
	back = open_uri("%s", back_uri);
	mid = open_uri("mem://stack-mid");
	is_int(dh_node_has(back, n1), 1, "the bottom store has the node");
	is_int(dh_node_has(mid, n1), 1, "the middle frontend has it");
	is_int(dh_head_get(back, "db", h) == 0 && !strcmp(h, n1), 1, "the bottom store has the head");
	dh_store_close(t);
	dh_store_close(mid);
	dh_store_close(back);
}

int main(void)
{
	char cmd[128], log[256];
	int rc;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	rc = dh_plugin_load(DH_TEST_PLUGINS "/count.so");
	if (rc) {
		tap_diag("%s", dh_errmsg());
		return 1;
	}
	uris();
	through();
	around();
	frontend_only();
	snprintf(log, sizeof(log), "%s/ronly.log", dir);
	read_frontend_only(log);
	behind();
	behind_failure();
	behind_killed();
	stacked();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		tap_diag("could not remove %s", dir);
	return done_testing();
}
