/*
 * verify.c - check a whole store (dh_verify, see dh-io.h).
 *
 * Two passes.  The first walks every node reachable from the heads, with no
 * shortcut: each must be present, hash to its name and be a well-formed
 * libdh node, and whatever it names must be present in turn (so a commit's
 * parents and trees are checked by the same rule), except the commits where
 * history stops on purpose (dh-gc --before; see dh_node_cut).  The second
 * opens each head's commit and lets the database layer check its trees:
 * datoms sorted in index order, separators and counts consistent
 * (dh_db_verify).
 * Problems are reported one by one, each naming its key, and the walk goes
 * on, so one run lists all of them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh-io.h"
#include "io/nodeset.h"
#include "io/walk.h"

struct verifier {
	struct dh_store *st;
	dh_problem_cb cb;
	void *payload;
	struct dh_verify_stats stats;
	struct nodeset seen;
	struct nodeset cut;
	struct dh_buf todo;      /* pairs: node name, referrer name ("" for a head) */
	int stop;
};

static int problem(struct verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int problem(struct verifier *v, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->stats.problems++;
	if (v->cb && v->cb(msg, v->payload))
		v->stop = 1;
	return 0;
}

static int forward(const char *msg, void *payload)
{
	struct verifier *v = payload;

	v->stats.problems++;
	if (v->cb && v->cb(msg, v->payload))
		v->stop = 1;
	return v->stop;
}

struct kids {
	struct verifier *v;
	const char *parent;
};

static int queue_kid(const char *hex, void *payload)
{
	struct kids *k = payload;
	int rc;

	if (nodeset_has(&k->v->cut, hex))
		return 0;  /* history stops here: absent on purpose */
	if ((rc = nodeset_add(&k->v->seen, hex)) <= 0)
		return rc;
	if ((rc = dh_buf_add(&k->v->todo, hex, DH_HASH_HEX + 1)))
		return rc;
	return dh_buf_add(&k->v->todo, k->parent, DH_HASH_HEX + 1);
}

/* Walk from `root`; store errors other than missing/corrupt nodes abort. */
static int walk(struct verifier *v, const char *root)
{
	struct dh_buf node = DH_BUF_INIT;
	char hex[DH_HASH_HEX + 1], from[DH_HASH_HEX + 1], key[DH_NODE_KEY_LEN + 1], fromkey[DH_NODE_KEY_LEN + 1];
	struct kids k = { v, hex };
	int rc = 0;

	if (nodeset_add(&v->seen, root) == 0)
		return 0;
	dh_buf_reset(&v->todo);
	memset(from, 0, sizeof(from));
	rc = dh_buf_add(&v->todo, root, DH_HASH_HEX + 1);
	if (!rc)
		rc = dh_buf_add(&v->todo, from, DH_HASH_HEX + 1);
	while (!rc && !v->stop && v->todo.len) {
		v->todo.len -= 2 * (DH_HASH_HEX + 1);
		memcpy(hex, v->todo.data + v->todo.len, sizeof(hex));
		memcpy(from, v->todo.data + v->todo.len + DH_HASH_HEX + 1, sizeof(from));
		dh_node_key(key, hex);
		if (from[0])
			dh_node_key(fromkey, from);
		rc = dh_node_get(v->st, hex, &node);
		if (rc == DH_ENOTFOUND) {
			rc = problem(v, "'%s' is missing (named by '%s')", key, from[0] ? fromkey : "a head");
			continue;
		}
		if (rc == DH_ECORRUPT) {
			rc = problem(v, "%s", dh_errmsg());
			continue;
		}
		if (rc)
			break;
		v->stats.nodes++;
		v->stats.bytes += node.len;
		if (!dh_node_kind(node.data, node.len)) {
			rc = problem(v, "'%s' is not a dh node", key);
			continue;
		}
		if (!strcmp(dh_node_kind(node.data, node.len), "commit"))
			v->stats.commits++;
		/* a commit's cut is known before its parents are queued */
		rc = dh_node_cut(node.data, node.len, io_learn_cut, &v->cut);
		if (!rc)
			rc = dh_node_children(node.data, node.len, queue_kid, &k);
		if (rc == DH_ECORRUPT)
			rc = problem(v, "'%s' is malformed: %s", key, dh_errmsg());
	}
	dh_buf_release(&node);
	return rc;
}

static int check_trees(struct verifier *v, const char *branch, const char *head)
{
	struct dh_db *db = NULL;
	char key[DH_NODE_KEY_LEN + 1];
	int rc = dh_db_open_commit(&db, v->st, head);

	dh_node_key(key, head);
	if (rc == DH_ECORRUPT || rc == DH_ENOTFOUND)
		return problem(v, "head of branch '%s' ('%s') is not a readable commit: %s", branch, key, dh_errmsg());
	if (rc)
		return rc;
	rc = dh_db_verify(db, forward, v);
	dh_db_close(db);
	return rc == DH_ECORRUPT ? 0 : rc;
}

static int add_branch(const char *name, void *payload)
{
	return dh_buf_add(payload, name, strlen(name) + 1);
}

int io_branches(struct dh_store *st, const char *branch, struct dh_buf *out)
{
	int rc;

	if (!branch)
		return dh_head_list(st, add_branch, out);
	return (rc = dh_branch_check(branch)) ? rc : add_branch(branch, out);
}

int io_learn_cut(const char *hex, void *payload)
{
	int rc = nodeset_add(payload, hex);

	return rc < 0 ? rc : 0;
}

/* Learn the cut each head records; what is wrong with a head, walk() reports. */
static int learn_head_cuts(struct verifier *v, const struct dh_buf *branches)
{
	struct dh_buf node = DH_BUF_INIT;
	int rc = 0;

	for (size_t i = 0; !rc && i < branches->len; i += strlen(branches->data + i) + 1) {
		char head[DH_HASH_HEX + 1];

		if (dh_head_get(v->st, branches->data + i, head) || dh_node_get(v->st, head, &node))
			continue;
		rc = dh_node_cut(node.data, node.len, io_learn_cut, &v->cut);
		if (rc == DH_ECORRUPT)
			rc = 0;
	}
	dh_buf_release(&node);
	return rc;
}

int io_walk_heads(struct dh_store *st, const char *branch, struct nodeset *seen, struct nodeset *cut,
	int trees, dh_problem_cb cb, void *payload, struct dh_verify_stats *stats)
{
	struct verifier v;
	struct dh_buf branches = DH_BUF_INIT;
	int rc;

	memset(&v, 0, sizeof(v));
	v.st = st;
	v.cb = cb;
	v.payload = payload;
	v.seen = *seen;
	v.cut = *cut;
	rc = io_branches(st, branch, &branches);
	if (!rc)
		rc = learn_head_cuts(&v, &branches);
	for (size_t i = 0; !rc && !v.stop && i < branches.len; i += strlen(branches.data + i) + 1) {
		const char *b = branches.data + i;
		char head[DH_HASH_HEX + 1];

		rc = dh_head_get(st, b, head);
		if (rc == DH_ECORRUPT || (rc == DH_ENOTFOUND && branch)) {
			rc = problem(&v, "%s", dh_errmsg());
			continue;
		}
		if (rc)
			break;
		v.stats.heads++;
		rc = walk(&v, head);
		if (!rc && !v.stop && trees)
			rc = check_trees(&v, b, head);
	}
	*seen = v.seen;
	*cut = v.cut;
	if (stats)
		*stats = v.stats;
	dh_buf_release(&v.todo);
	dh_buf_release(&branches);
	return rc;
}

int dh_verify(struct dh_store *st, const char *branch, dh_problem_cb cb, void *payload,
	struct dh_verify_stats *stats)
{
	struct nodeset seen, cut;
	struct dh_verify_stats vs;
	int rc;

	nodeset_init(&seen);
	nodeset_init(&cut);
	rc = io_walk_heads(st, branch, &seen, &cut, 1, cb, payload, &vs);
	nodeset_release(&seen);
	nodeset_release(&cut);
	if (stats)
		*stats = vs;
	if (rc)
		return rc;
	return vs.problems ? dh_error_set(DH_ECORRUPT, "store '%s': %llu problem%s found", dh_store_uri(st),
					  (unsigned long long)vs.problems, vs.problems == 1 ? "" : "s")
			   : 0;
}
