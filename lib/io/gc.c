/*
 * gc.c - delete nodes no head reaches (dh_gc, see dh-io.h).
 *
 * Mark: every node reachable from every head (any problem on the way
 * aborts: a store that cannot be walked completely cannot be collected
 * safely).  Sweep: list nodes/, and delete an unreachable node only when it
 * has been seen unreachable for the grace period.  The time each
 * unreachable node was first seen is kept in the store under `gc/pending`
 * (text: a "dh-gc 1" line, then "<ms> <name>" lines), so the rule holds on
 * every backend without file times.  The heads are read again before
 * deleting; if a writer moved one meanwhile, marking starts over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dh-io.h"
#include "io/nodeset.h"
#include "io/walk.h"

#define DEFAULT_GRACE_MS (60 * 60 * 1000)
#define PENDING_KEY "gc/pending"

struct pending {
	unsigned char bin[DH_HASH_LEN];
	int64_t ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_pending(const void *a, const void *b)
{
	return memcmp(a, b, DH_HASH_LEN);
}

static int read_pending(struct dh_store *st, struct pending **out, size_t *n)
{
	struct dh_buf b = DH_BUF_INIT;
	struct pending *p = NULL;
	size_t cap = 0;
	char *line, *save = NULL;
	int rc = dh_store_get(st, PENDING_KEY, &b);

	*out = NULL;
	*n = 0;
	if (rc == DH_ENOTFOUND) {
		dh_buf_release(&b);
		return 0;
	}
	if (rc)
		return rc;
	for (line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		long long ms;
		char hex[DH_HASH_HEX + 1];

		if (!strncmp(line, "dh-gc ", 6))
			continue;
		if (sscanf(line, "%lld %64s", &ms, hex) != 2 || strlen(hex) != DH_HASH_HEX)
			continue;  /* a damaged line only delays deletion */
		if (*n == cap) {
			struct pending *q = realloc(p, (cap = cap ? cap * 2 : 256) * sizeof(*p));

			if (!q) {
				rc = dh_error_set(DH_ENOMEM, "out of memory");
				break;
			}
			p = q;
		}
		if (dh_unhex(p[*n].bin, hex, DH_HASH_LEN))
			continue;
		p[*n].ms = ms;
		(*n)++;
	}
	dh_buf_release(&b);
	if (rc) {
		free(p);
		*n = 0;
		return rc;
	}
	qsort(p, *n, sizeof(*p), cmp_pending);
	*out = p;
	return 0;
}

struct sweep {
	struct nodeset *reachable;
	struct dh_buf unreachable;   /* names, 65 bytes each */
	uint64_t nodes;
};

static int collect(const char *key, void *payload)
{
	struct sweep *s = payload;
	char hex[DH_HASH_HEX + 1];

	if (strlen(key) != DH_NODE_KEY_LEN || key[8] != '/')
		return 0;  /* not a node key: leave it alone */
	snprintf(hex, sizeof(hex), "%c%c%s", key[6], key[7], key + 9);
	s->nodes++;
	if (nodeset_has(s->reachable, hex))
		return 0;
	return dh_buf_add(&s->unreachable, hex, sizeof(hex));
}

struct heads {
	struct dh_store *st;
	struct dh_buf text;          /* "branch hex\n" lines */
};

static int add_head(const char *branch, void *payload)
{
	struct heads *h = payload;
	char hex[DH_HASH_HEX + 1];
	int rc = dh_head_get(h->st, branch, hex);

	return rc ? rc : dh_buf_addf(&h->text, "%s %s\n", branch, hex);
}

static int snapshot_heads(struct dh_store *st, struct dh_buf *out)
{
	struct heads h = { st, DH_BUF_INIT };
	int rc = dh_head_list(st, add_head, &h);

	dh_buf_release(out);
	*out = h.text;
	return rc;
}

static int count_problem(const char *msg, void *payload)
{
	struct dh_buf *first = payload;

	if (!first->len)
		dh_buf_adds(first, msg);
	return 0;
}

int dh_gc(struct dh_store *st, const struct dh_gc_opts *opts, struct dh_gc_stats *stats)
{
	struct nodeset reachable, cut;
	struct sweep sw = { NULL, DH_BUF_INIT, 0 };
	struct dh_buf before = DH_BUF_INIT, after = DH_BUF_INIT, problem = DH_BUF_INIT, out = DH_BUF_INIT;
	struct pending *pend = NULL;
	struct dh_gc_stats gs = { 0 };
	size_t npend = 0;
	int64_t now = now_ms(), grace = opts && opts->grace_ms >= 0 ? opts->grace_ms : DEFAULT_GRACE_MS;
	int dry = opts && opts->dry_run, rc, tries;

	nodeset_init(&reachable);
	nodeset_init(&cut);
	for (tries = 0;; tries++) {
		struct dh_verify_stats vs;

		if ((rc = snapshot_heads(st, &before)))
			goto out;
		nodeset_release(&reachable);
		dh_buf_reset(&problem);
		rc = io_walk_heads(st, NULL, &reachable, &cut, 0, count_problem, &problem, &vs);
		if (rc)
			goto out;
		if (vs.problems) {
			rc = dh_error_set(DH_ECORRUPT, "store '%s' cannot be collected: %s (run dh-verify)",
					  dh_store_uri(st), problem.data);
			goto out;
		}
		sw.reachable = &reachable;
		sw.nodes = 0;
		dh_buf_reset(&sw.unreachable);
		if ((rc = dh_store_list(st, "nodes/", collect, &sw)))
			goto out;
		if ((rc = snapshot_heads(st, &after)))
			goto out;
		if (before.len == after.len && !memcmp(before.data, after.data, before.len))
			break;
		if (tries == 5) {
			rc = dh_error_set(DH_ECONFLICT, "heads of '%s' keep moving: try again later", dh_store_uri(st));
			goto out;
		}
	}
	gs.nodes = sw.nodes;
	gs.reachable = reachable.count;
	if ((rc = read_pending(st, &pend, &npend)))
		goto out;
	rc = dh_buf_adds(&out, "dh-gc 1\n");
	for (size_t i = 0; !rc && i < sw.unreachable.len; i += DH_HASH_HEX + 1) {
		const char *hex = sw.unreachable.data + i;
		struct pending key, *p;
		int64_t first = now;

		dh_unhex(key.bin, hex, DH_HASH_LEN);
		p = npend ? bsearch(&key, pend, npend, sizeof(*pend), cmp_pending) : NULL;
		if (p)
			first = p->ms;
		if (now - first >= grace) {
			char k[DH_NODE_KEY_LEN + 1];

			dh_node_key(k, hex);
			if (!dry && (rc = dh_store_del(st, k)))
				break;
			gs.deleted++;
			if (opts && opts->deleted)
				opts->deleted(k, opts->payload);
		} else {
			gs.pending++;
			rc = dh_buf_addf(&out, "%lld %s\n", (long long)first, hex);
		}
	}
	if (!rc && !dry) {
		if (gs.pending)
			rc = dh_store_put(st, PENDING_KEY, out.data, out.len);
		else if (npend)
			rc = dh_store_del(st, PENDING_KEY);
		if (!rc)
			rc = dh_store_flush(st);
	}
out:
	if (stats)
		*stats = gs;
	nodeset_release(&reachable);
	nodeset_release(&cut);
	dh_buf_release(&sw.unreachable);
	dh_buf_release(&before);
	dh_buf_release(&after);
	dh_buf_release(&problem);
	dh_buf_release(&out);
	free(pend);
	return rc;
}
