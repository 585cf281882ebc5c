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
 *
 * A history cut (opts->before) comes first: for each branch, walk its
 * commits back from the head to the cutoff and, when they stop somewhere
 * new, put a commit recording where (dh_commit_cut) on top of the head.
 * Marking then stops there too, so the old commits become garbage.  A dry
 * run writes nothing: it seeds the mark phase with the cuts it would
 * record, and counts an old head that its new commit would replace as
 * unreachable.
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
	struct nodeset *unkept;      /* reachable now, not once the cuts are recorded (dry run) */
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
	if (nodeset_has(s->reachable, hex) && !nodeset_has(s->unkept, hex))
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

/* ---- cutting history ---------------------------------------------------- */

struct cut_plan {
	char *branch;
	char head[DH_HASH_HEX + 1];
	char marker[DH_HASH_HEX + 1];  /* the commit recording the cut; "" when none is needed */
	uint64_t kept;
};

struct cutter {
	struct dh_store *st;
	const struct dh_gc_opts *o;
	struct nodeset cut;          /* where history stops: what the heads record, and the new cuts */
	struct nodeset unkept;       /* dry run: old heads that the new commits replace */
	struct cut_plan *plans;
	size_t nplans;
	uint64_t branches_cut;
};

static void cutter_reset(struct cutter *c)
{
	for (size_t i = 0; i < c->nplans; i++)
		free(c->plans[i].branch);
	free(c->plans);
	c->plans = NULL;
	c->nplans = 0;
	nodeset_release(&c->cut);
	nodeset_release(&c->unkept);
}

static int is_old(const struct dh_gc_opts *o, const struct dh_commit_info *ci)
{
	return o->before_kind == DH_GC_BEFORE_TX ? ci->max_tx < o->before : ci->instant_ms < o->before;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int commit_info(struct cutter *c, struct dh_commit_info *ci, const char *hex)
{
	char key[DH_NODE_KEY_LEN + 1];
	int rc = dh_commit_info(ci, c->st, hex);

	if (rc != DH_ENOTFOUND && rc != DH_ECORRUPT)
		return rc;
	dh_node_key(key, hex);
	return dh_error_set(DH_ECORRUPT, "store '%s' cannot be collected: commit '%s' is %s (run dh-verify)",
			    dh_store_uri(c->st), key, rc == DH_ENOTFOUND ? "missing" : "not readable");
}

static int learn(struct nodeset *set, const struct dh_commit_info *ci)
{
	int rc = 0;

	for (size_t i = 0; rc >= 0 && i < ci->ncut; i++)
		rc = nodeset_add(set, ci->cut[i]);
	return rc < 0 ? rc : 0;
}

/*
 * Where the history of the branch at `head` (*hi) stops at the cutoff:
 * walking back from the head, which stays, every commit not older than the
 * cutoff stays (counted in *kept); the walk stops at older commits and at
 * those cut already, whose names go to stop[], sorted.
 */
static int find_stop(struct cutter *c, const char *branch, const char *head, const struct dh_commit_info *hi,
	char (*stop)[DH_HASH_HEX + 1], size_t *nstop, uint64_t *kept)
{
	struct nodeset seen;
	struct dh_buf queue = DH_BUF_INIT;
	struct dh_commit_info ci;
	size_t at;
	int rc;

	*nstop = 0;
	*kept = 0;
	nodeset_init(&seen);
	if ((rc = nodeset_add(&seen, head)) < 0 || (rc = dh_buf_add(&queue, head, DH_HASH_HEX + 1)))
		goto out;
	for (at = 0; at < queue.len; at += DH_HASH_HEX + 1) {
		const char *name = queue.data + at;

		if (at == 0) {
			ci = *hi;
		} else if (nodeset_has(&c->cut, name)) {
			ci.nparents = 0;   /* stop here, absent or not */
		} else if ((rc = commit_info(c, &ci, name))) {
			goto out;
		}
		if (at && (nodeset_has(&c->cut, name) || is_old(c->o, &ci))) {
			if (*nstop == DH_MAX_CUT) {
				rc = dh_error_set(DH_EUNSUPPORTED, "history of branch '%s' would stop at more than %d commits",
						  branch, DH_MAX_CUT);
				goto out;
			}
			memcpy(stop[(*nstop)++], name, DH_HASH_HEX + 1);
			continue;
		}
		(*kept)++;
		if ((rc = learn(&c->cut, &ci)))
			goto out;
		for (size_t i = 0; i < ci.nparents; i++) {
			if ((rc = nodeset_add(&seen, ci.parents[i])) < 0)
				goto out;
			if (rc && (rc = dh_buf_add(&queue, ci.parents[i], DH_HASH_HEX + 1)))
				goto out;
		}
		rc = 0;
	}
	qsort(stop, *nstop, sizeof(*stop), cmp_name);
out:
	nodeset_release(&seen);
	dh_buf_release(&queue);
	return rc;
}

static int add_plan(const char *branch, void *payload)
{
	struct cutter *c = payload;
	struct cut_plan *p = realloc(c->plans, (c->nplans + 1) * sizeof(*p));

	if (!p)
		return dh_error_set(DH_ENOMEM, "out of memory");
	c->plans = p;
	p += c->nplans;
	memset(p, 0, sizeof(*p));
	if (!(p->branch = strdup(branch)))
		return dh_error_set(DH_ENOMEM, "out of memory");
	c->nplans++;
	return 0;
}

/*
 * Cut the history of every branch at the cutoff.  Every branch is planned
 * first (so nothing is written when a commit is missing), then each new
 * commit is written and its head moved by compare-and-swap; DH_ECONFLICT
 * when a writer moved a head meanwhile (the caller starts over).
 */
static int cut_history(struct cutter *c)
{
	struct dh_commit_info *infos = NULL;
	size_t i, j;
	int dry = c->o->dry_run, rc;

	cutter_reset(c);
	if ((rc = dh_head_list(c->st, add_plan, c)))
		goto out;
	if (!(infos = calloc(c->nplans + 1, sizeof(*infos)))) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	/* every head's cut first, so that no branch walks past another's */
	for (i = 0; i < c->nplans; i++) {
		if ((rc = dh_head_get(c->st, c->plans[i].branch, c->plans[i].head)) ||
		    (rc = commit_info(c, &infos[i], c->plans[i].head)) || (rc = learn(&c->cut, &infos[i])))
			goto out;
	}
	for (i = 0; i < c->nplans; i++) {
		struct cut_plan *p = &c->plans[i];
		struct dh_commit_info *hi = &infos[i];
		char stop[DH_MAX_CUT][DH_HASH_HEX + 1], had[DH_MAX_CUT][DH_HASH_HEX + 1];
		size_t nstop;

		if ((rc = find_stop(c, p->branch, p->head, hi, stop, &nstop, &p->kept)))
			goto out;
		memcpy(had, hi->cut, sizeof(had));
		qsort(had, hi->ncut, sizeof(*had), cmp_name);
		if (nstop == hi->ncut && !memcmp(stop, had, nstop * sizeof(*stop)))
			continue;  /* history stops there already */
		for (j = 0; dry && j < nstop; j++)
			if ((rc = nodeset_add(&c->cut, stop[j])) < 0)
				goto out;
		/* an old head goes too: the new commit holds its value */
		if (is_old(c->o, hi)) {
			memcpy(stop[0], p->head, sizeof(p->head));
			nstop = 1;
			p->kept = 0;
			if (dry && ((rc = nodeset_add(&c->cut, p->head)) < 0 || (rc = nodeset_add(&c->unkept, p->head)) < 0))
				goto out;
		}
		if ((rc = dh_commit_cut(p->marker, c->st, p->head, (const char (*)[DH_HASH_HEX + 1])stop, nstop, dry)))
			goto out;
	}
	for (i = 0; !dry && i < c->nplans; i++) {
		struct cut_plan *p = &c->plans[i];

		if (!p->marker[0])
			continue;
		if ((rc = dh_head_cas(c->st, p->branch, p->head, p->marker))) {
			if (rc == DH_ECONFLICT)
				dh_error_set(rc, "branch '%s' of '%s' moved while its history was cut", p->branch,
					     dh_store_uri(c->st));
			goto out;
		}
		c->branches_cut++;
		if (c->o->cut)
			c->o->cut(p->branch, p->head, p->marker, p->kept, c->o->payload);
	}
	rc = 0;
out:
	free(infos);
	return rc;
}

/* A dry run tells what it would cut once, when done. */
static void report_dry_cuts(struct cutter *c)
{
	for (size_t i = 0; i < c->nplans; i++) {
		struct cut_plan *p = &c->plans[i];

		if (!p->marker[0])
			continue;
		c->branches_cut++;
		if (c->o->cut)
			c->o->cut(p->branch, p->head, p->marker, p->kept, c->o->payload);
	}
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
	static const struct dh_gc_opts defaults = { .grace_ms = -1 };
	struct nodeset reachable;
	struct cutter cut = { .st = st, .o = opts ? opts : &defaults };
	struct sweep sw = { NULL, &cut.unkept, DH_BUF_INIT, 0 };
	struct dh_buf before = DH_BUF_INIT, after = DH_BUF_INIT, problem = DH_BUF_INIT, out = DH_BUF_INIT;
	struct pending *pend = NULL;
	struct dh_gc_stats gs = { 0 };
	size_t npend = 0;
	int64_t now = now_ms(), grace = opts && opts->grace_ms >= 0 ? opts->grace_ms : DEFAULT_GRACE_MS;
	int dry = opts && opts->dry_run, rc, tries;

	nodeset_init(&reachable);
	for (tries = 0;; tries++) {
		struct dh_verify_stats vs;

		if (tries == 6) {
			rc = dh_error_set(DH_ECONFLICT, "heads of '%s' keep moving: try again later", dh_store_uri(st));
			goto out;
		}
		if (cut.o->before_kind != DH_GC_KEEP_HISTORY) {
			rc = cut_history(&cut);
			if (rc == DH_ECONFLICT)
				continue;
			if (rc)
				goto out;
		}
		if ((rc = snapshot_heads(st, &before)))
			goto out;
		nodeset_release(&reachable);
		dh_buf_reset(&problem);
		rc = io_walk_heads(st, NULL, &reachable, &cut.cut, 0, count_problem, &problem, &vs);
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
	}
	if (dry)
		report_dry_cuts(&cut);
	gs.nodes = sw.nodes;
	gs.reachable = sw.nodes - sw.unreachable.len / (DH_HASH_HEX + 1);
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
	gs.branches_cut = cut.branches_cut;
	if (stats)
		*stats = gs;
	cutter_reset(&cut);
	nodeset_release(&reachable);
	dh_buf_release(&sw.unreachable);
	dh_buf_release(&before);
	dh_buf_release(&after);
	dh_buf_release(&problem);
	dh_buf_release(&out);
	free(pend);
	return rc;
}
