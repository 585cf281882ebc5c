/*
 * log.c - the commits of a branch, newest first (dh_log, see dh-io.h).
 *
 * A walk back over parent links from the head.  Commits wait in a heap
 * ordered by their last transaction, newest first, so that the commits of
 * two lines of history that a merge joined come out interleaved in the
 * order they were made, each once.  A commit with the same transaction as
 * its child (the commit dh-gc puts on top of a head when it cuts history)
 * comes out after it: ties go to the commit queued first.  History stops
 * at the commits that a history cut names (dh_node_cut): those are absent
 * on purpose, so they are not reported missing.  Any other parent that is
 * missing or is not a commit is corruption, reported with its key.
 */
#include <stdlib.h>
#include <string.h>

#include "dh-io.h"
#include "io/nodeset.h"
#include "util/mem.h"

struct pending {
	struct dh_commit_info ci;
	char hex[DH_HASH_HEX + 1];
	uint64_t seq;
};

struct heap {
	struct pending *v;
	size_t n, cap;
	uint64_t seq;
};

/* a before b: the newer transaction, then the one queued first */
static int before(const struct pending *a, const struct pending *b)
{
	return a->ci.max_tx != b->ci.max_tx ? a->ci.max_tx > b->ci.max_tx : a->seq < b->seq;
}

static int heap_push(struct heap *h, const struct dh_commit_info *ci, const char *hex)
{
	size_t i;
	int rc = dh_grow((void **)&h->v, &h->cap, h->n + 1, sizeof(*h->v), 16);

	if (rc)
		return rc;
	i = h->n++;
	h->v[i].ci = *ci;
	memcpy(h->v[i].hex, hex, DH_HASH_HEX + 1);
	h->v[i].seq = h->seq++;
	while (i && before(&h->v[i], &h->v[(i - 1) / 2])) {
		struct pending t = h->v[i];

		h->v[i] = h->v[(i - 1) / 2];
		h->v[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
	return 0;
}

static void heap_pop(struct heap *h, struct pending *out)
{
	size_t i = 0;

	*out = h->v[0];
	h->v[0] = h->v[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct pending t;

		if (l < h->n && before(&h->v[l], &h->v[m]))
			m = l;
		if (r < h->n && before(&h->v[r], &h->v[m]))
			m = r;
		if (m == i)
			break;
		t = h->v[i];
		h->v[i] = h->v[m];
		h->v[m] = t;
		i = m;
	}
}

/* The commit `hex`, parent of `child`: missing or unreadable is corruption. */
static int parent_info(struct dh_store *st, const char *hex, const char *child, struct dh_commit_info *ci)
{
	char key[DH_NODE_KEY_LEN + 1], ckey[DH_NODE_KEY_LEN + 1];
	int rc = dh_commit_info(ci, st, hex);

	if (rc != DH_ENOTFOUND)
		return rc;
	dh_node_key(key, hex);
	dh_node_key(ckey, child);
	return dh_error_set(DH_ECORRUPT, "commit '%s', parent of '%s', is missing from store '%s' (run dh-verify)", key,
			    ckey, dh_store_uri(st));
}

int dh_log(struct dh_store *st, const char *branch, const char *commit, dh_log_cb cb, void *payload)
{
	struct heap h = { 0 };
	struct nodeset seen, cut;
	struct pending cur;
	struct dh_commit_info pi;
	char head[DH_HASH_HEX + 1];
	int rc;

	nodeset_init(&seen);
	nodeset_init(&cut);
	if (commit) {
		if (!dh_is_node_name(commit))
			return dh_error_set(DH_EUSAGE, "'%s' is not a commit name (64 hex digits)", commit);
		memcpy(head, commit, sizeof(head));
	} else if ((rc = dh_head_get(st, branch ? branch : "db", head))) {
		if (rc == DH_ENOTFOUND)
			dh_error_set(DH_ENOTFOUND, "store '%s' has no branch '%s'", dh_store_uri(st), branch ? branch : "db");
		return rc;
	}
	if ((rc = dh_commit_info(&pi, st, head))) {
		if (rc == DH_ENOTFOUND) {
			char key[DH_NODE_KEY_LEN + 1];

			dh_node_key(key, head);
			rc = dh_error_set(commit ? DH_ENOTFOUND : DH_ECORRUPT, "commit '%s' is not in store '%s'", key,
					  dh_store_uri(st));
		}
		return rc;
	}
	if ((rc = nodeset_add(&seen, head)) < 0 || (rc = heap_push(&h, &pi, head)))
		goto out;
	rc = 0;
	while (!rc && h.n) {
		struct dh_log_entry e = { 0 };
		size_t i;

		heap_pop(&h, &cur);
		for (i = 0; i < cur.ci.ncut && rc >= 0; i++)
			rc = nodeset_add(&cut, cur.ci.cut[i]);
		if (rc < 0)
			break;
		rc = 0;
		e.commit = cur.hex;
		e.info = &cur.ci;
		for (i = 0; i < cur.ci.nparents && !rc; i++) {
			const char *p = cur.ci.parents[i];
			int fresh;

			if (nodeset_has(&cut, p))
				continue;
			if ((fresh = nodeset_add(&seen, p)) < 0) {
				rc = fresh;
				break;
			}
			if (!fresh && i > 0)
				continue;
			/* the first parent is read even when queued already: the change is counted against it */
			if ((rc = parent_info(st, p, cur.hex, &pi)))
				break;
			if (i == 0) {
				e.delta = (int64_t)cur.ci.ndatoms - (int64_t)pi.ndatoms;
				e.has_delta = 1;
			}
			if (fresh)
				rc = heap_push(&h, &pi, p);
		}
		if (!rc)
			rc = cb(&e, payload);
	}
out:
	free(h.v);
	nodeset_release(&seen);
	nodeset_release(&cut);
	return rc;
}
