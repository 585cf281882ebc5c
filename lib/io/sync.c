/*
 * sync.c - copy databases between any two stores (dh_sync, see dh-io.h).
 *
 * The walk starts at a head and goes depth-first through the node graph
 * (dh_node_children knows every kind of node), skipping any node the
 * destination already has: every writer writes children before parents,
 * so a present node is complete below.  A node is written only after all
 * of its children, in batches (dh_node_batch: one transaction or round trip
 * per batch where the backend can), and the destination's head moves by
 * compare-and-swap only after everything is durable.  The stack is
 * explicit, so long commit chains cannot overflow the C stack.  Where a
 * commit records that history stops (dh_node_cut), the walk does not go on
 * into the parents named there: the source may not have them.
 */
#include <stdlib.h>
#include <string.h>

#include "dh-io.h"
#include "io/nodeset.h"
#include "io/walk.h"

#define BATCH_BYTES (4u << 20)
#define BATCH_NODES 1024

struct frame {
	char hex[DH_HASH_HEX + 1];
	struct dh_buf bytes;
	struct dh_buf kids;      /* child names, 65 bytes each (NUL terminated) */
	size_t next;             /* next child to look at, as an index */
};

struct syncer {
	struct dh_store *src, *dst;
	const struct dh_sync_opts *o;
	struct dh_sync_stats st;
	struct nodeset seen;
	struct nodeset cut;      /* commits history no longer includes: never copied */
	struct frame *stack;
	size_t depth, cap;
	struct dh_node_batch *batch;
	uint64_t last_progress;
};

static int add_kid(const char *hex, void *payload)
{
	return dh_buf_add(payload, hex, DH_HASH_HEX + 1);
}

static void progress(struct syncer *s)
{
	if (s->o && s->o->progress && s->st.nodes_read - s->last_progress >= 256) {
		s->last_progress = s->st.nodes_read;
		s->o->progress(&s->st, s->o->payload);
	}
}

/* Push node `hex` (known missing from dst) and read it from src. */
static int push(struct syncer *s, const char *hex)
{
	struct frame *f;
	char key[DH_NODE_KEY_LEN + 1];
	int rc;

	if (s->depth == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct frame *p = realloc(s->stack, cap * sizeof(*p));

		if (!p)
			return dh_error_set(DH_ENOMEM, "out of memory");
		memset(p + s->cap, 0, (cap - s->cap) * sizeof(*p));
		s->stack = p;
		s->cap = cap;
	}
	f = &s->stack[s->depth];
	memcpy(f->hex, hex, DH_HASH_HEX + 1);
	dh_buf_reset(&f->kids);
	f->next = 0;
	if ((rc = dh_node_get(s->src, hex, &f->bytes)))
		return rc;
	s->st.nodes_read++;
	rc = dh_node_cut(f->bytes.data, f->bytes.len, io_learn_cut, &s->cut);
	if (!rc)
		rc = dh_node_children(f->bytes.data, f->bytes.len, add_kid, &f->kids);
	if (rc == DH_ECORRUPT) {
		dh_node_key(key, hex);
		return dh_error_set(DH_ECORRUPT, "node '%s' in store '%s' is not a dh node", key, dh_store_uri(s->src));
	}
	if (rc)
		return rc;
	s->depth++;
	return 0;
}

/* Is `hex` to be copied?  1 yes, 0 no (seen, or present in dst), or error. */
static int wanted(struct syncer *s, const char *hex)
{
	int rc = nodeset_add(&s->seen, hex);

	if (rc <= 0)
		return rc;
	rc = dh_node_has(s->dst, hex);
	if (rc == 1) {
		s->st.nodes_present++;
		return 0;
	}
	return rc < 0 ? rc : 1;
}

static int emit(struct syncer *s, struct frame *f)
{
	int rc = 0;

	s->st.nodes_copied++;
	s->st.bytes_copied += f->bytes.len;
	if (s->o && s->o->dry_run)
		return 0;
	rc = dh_node_batch_add(s->batch, f->bytes.data, f->bytes.len, NULL);
	if (!rc && (dh_node_batch_size(s->batch) >= BATCH_BYTES || s->st.nodes_copied % BATCH_NODES == 0))
		rc = dh_node_batch_write(s->batch);
	return rc;
}

/* Copy everything reachable from `root` that dst lacks. */
static int copy_from(struct syncer *s, const char *root)
{
	int rc = wanted(s, root);

	if (rc <= 0)
		return rc;
	if ((rc = push(s, root)))
		return rc;
	while (s->depth) {
		struct frame *f = &s->stack[s->depth - 1];

		if (f->next * (DH_HASH_HEX + 1) < f->kids.len) {
			char kid[DH_HASH_HEX + 1];

			memcpy(kid, f->kids.data + f->next * (DH_HASH_HEX + 1), sizeof(kid));
			f->next++;
			if (nodeset_has(&s->cut, kid))
				continue;
			rc = wanted(s, kid);
			if (rc > 0)
				rc = push(s, kid);
			if (rc < 0)
				return rc;
			progress(s);
			continue;
		}
		if ((rc = emit(s, f)))
			return rc;
		s->depth--;
	}
	return 0;
}

/*
 * Does src's commit `head` descend from `old` (which dst holds)?  Walks
 * src's commit graph back from head, not below old's max-tx.
 */
static int descends(struct syncer *s, const char *head, const char *old)
{
	struct dh_commit_info oi, ci;
	struct nodeset seen;
	struct dh_buf queue = DH_BUF_INIT;
	size_t at = 0;
	int rc, found = 0;

	if (!strcmp(head, old))
		return 1;
	if ((rc = dh_commit_info(&oi, s->dst, old)))
		return rc;
	nodeset_init(&seen);
	rc = dh_buf_add(&queue, head, DH_HASH_HEX + 1);
	while (!rc && !found && at < queue.len) {
		const char *c = queue.data + at;

		at += DH_HASH_HEX + 1;
		if (!strcmp(c, old)) {
			found = 1;
			break;
		}
		if ((rc = nodeset_add(&seen, c)) <= 0) {
			rc = rc < 0 ? rc : 0;
			continue;
		}
		if (nodeset_has(&s->cut, c))
			continue;  /* history stops here */
		rc = dh_commit_info(&ci, s->src, c);
		if (rc == DH_ENOTFOUND) {
			rc = 0;  /* history pruned by gc: nothing older to find here */
			continue;
		}
		if (rc || ci.max_tx < oi.max_tx)
			continue;
		for (size_t i = 0; i < ci.ncut && !rc; i++)
			rc = io_learn_cut(ci.cut[i], &s->cut);
		for (size_t i = 0; i < ci.nparents && !rc; i++)
			rc = dh_buf_add(&queue, ci.parents[i], DH_HASH_HEX + 1);
	}
	nodeset_release(&seen);
	dh_buf_release(&queue);
	return rc < 0 ? rc : found;
}

static int sync_format(struct syncer *s)
{
	struct dh_buf a = DH_BUF_INIT, b = DH_BUF_INIT;
	int rc = dh_store_get(s->src, "format", &a);

	if (rc == DH_ENOTFOUND)
		rc = 0;
	else if (!rc) {
		rc = dh_store_get(s->dst, "format", &b);
		if (rc == DH_ENOTFOUND) {
			rc = s->o && s->o->dry_run ? 0 : dh_store_put(s->dst, "format", a.data, a.len);
		} else if (!rc && (a.len != b.len || memcmp(a.data, b.data, a.len))) {
			rc = dh_error_set(DH_EINVAL, "stores '%s' and '%s' hold different formats",
					  dh_store_uri(s->src), dh_store_uri(s->dst));
		}
	}
	dh_buf_release(&a);
	dh_buf_release(&b);
	return rc;
}

static int sync_branch(struct syncer *s, const char *branch)
{
	char head[DH_HASH_HEX + 1], old[DH_HASH_HEX + 1];
	int rc, have_old, dry = s->o && s->o->dry_run;
	const char *what;

	if ((rc = dh_head_get(s->src, branch, head)))
		return rc;
	rc = dh_head_get(s->dst, branch, old);
	if (rc && rc != DH_ENOTFOUND)
		return rc;
	have_old = rc == 0;
	if (have_old && !strcmp(old, head)) {
		s->st.heads_current++;
		if (s->o && s->o->branch_done)
			s->o->branch_done(branch, old, head, "current", s->o->payload);
		return 0;
	}
	if (have_old && !(s->o && s->o->force)) {
		rc = descends(s, head, old);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return dh_error_set(DH_ECONFLICT,
					    "branch '%s' of '%s' has commits that '%s' does not contain (not a fast-forward; "
					    "--force overwrites)", branch, dh_store_uri(s->dst), dh_store_uri(s->src));
	}
	if ((rc = copy_from(s, head)))
		return rc;
	if (dry) {
		what = "would move";
	} else {
		if ((rc = dh_node_batch_write(s->batch)) || (rc = dh_store_flush(s->dst)))
			return rc;
		if ((rc = dh_head_cas(s->dst, branch, have_old ? old : NULL, head)))
			return rc;
		what = have_old ? "moved" : "created";
	}
	s->st.heads_moved++;
	if (s->o && s->o->branch_done)
		s->o->branch_done(branch, have_old ? old : NULL, head, what, s->o->payload);
	return 0;
}

int dh_sync(struct dh_store *src, struct dh_store *dst, const struct dh_sync_opts *opts,
	struct dh_sync_stats *stats)
{
	struct syncer s;
	struct dh_buf branches = DH_BUF_INIT;
	int rc;

	memset(&s, 0, sizeof(s));
	s.src = src;
	s.dst = dst;
	s.o = opts;
	nodeset_init(&s.seen);
	nodeset_init(&s.cut);
	if ((rc = dh_node_batch_new(&s.batch, dst)))
		goto out;
	if ((rc = io_branches(src, opts ? opts->branch : NULL, &branches)))
		goto out;
	if (!branches.len) {
		rc = dh_error_set(DH_ENOTFOUND, "store '%s' holds no database (no heads)", dh_store_uri(src));
		goto out;
	}
	if ((rc = sync_format(&s)))
		goto out;
	for (size_t i = 0; i < branches.len && !rc; i += strlen(branches.data + i) + 1)
		rc = sync_branch(&s, branches.data + i);
out:
	if (stats)
		*stats = s.st;
	if (opts && opts->progress)
		opts->progress(&s.st, opts->payload);
	for (size_t i = 0; i < s.cap; i++) {
		dh_buf_release(&s.stack[i].bytes);
		dh_buf_release(&s.stack[i].kids);
	}
	free(s.stack);
	dh_node_batch_free(s.batch);
	nodeset_release(&s.seen);
	nodeset_release(&s.cut);
	dh_buf_release(&branches);
	return rc;
}
