/*
 * sync.c - copy databases between any two stores (dh_sync, see dh-io.h).
 *
 * The walk starts at a head and goes depth-first through the node graph
 * (dh_node_links knows every kind of node), skipping any node the
 * destination already has: every writer writes children before parents,
 * so a present node is complete below.
 *
 * Round trips: a node's children are asked about in one
 * dh_store_has_many() on the destination, together with the children of
 * the siblings that wait to be entered after it (asked ahead, so entering
 * those costs no round trip), and those missing are read from the source
 * in one dh_store_get_many(), each one hashed against its name.  While the
 * destination lacks everything it is asked about (a first copy), children
 * are taken as missing without asking but for one set in BARREN_PROBE:
 * should that be wrong, a node is written that was there already, which is
 * harmless; a node the destination lacks is never skipped.
 *
 * Order: children without children of their own (leaves, log and schema
 * nodes) are queued for writing at once; the others wait in their
 * parent's frame and are entered last first, so a commit's trees are
 * complete before its parent commit is entered, and the older commit finds
 * the subtrees the two share already queued.  A node meeting a child that
 * still waits in an older frame takes it over, so every node is queued
 * after all of its children.  The queue goes to the destination in order,
 * in batches of a few megabytes (one transaction or pipeline per batch
 * where the backend can), each handed to a writer thread that writes it
 * while the walk reads the source and fills the next; it is also handed
 * over just after each has_many, so the destination is busy while the
 * source is read.  One batch is in flight at a time, so batches land in
 * order.  The destination's head moves by compare-and-swap only after the
 * last batch is written and everything is durable.  The stack is explicit, so long commit chains cannot
 * overflow the C stack.  Where a commit records that history stops
 * (dh_node_cut), the walk does not go on into the parents named there: the
 * source may not have them.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dh-io.h"
#include "io/nodeset.h"
#include "io/walk.h"
#include "util/mem.h"

#define WRITE_BYTES (4u << 20)   /* the queue is written from this size on ... */
#define WRITE_NODES 4096         /* ... or this many nodes, */
#define WRITE_IDLE (256u << 10)  /* ... or from this size when the writer is idle */
#define LOOKAHEAD 8192           /* names asked ahead in one has_many */
#define BARREN_ASKS 2            /* asks finding nothing present before asks are skipped ... */
#define BARREN_PROBE 32          /* ... but for one in this many */
#define KID (DH_HASH_HEX + 1)    /* bytes of one child name in pend.kids */

/* flags of a name in syncer.names */
enum {
	SEEN = 1,     /* met as a child by the walk */
	DONE = 2,     /* present in dst, or queued for writing */
	ABSENT = 4,   /* asked ahead: missing from dst */
};

/* A node read from the source: its bytes and its children's names. */
struct pend {
	char hex[DH_HASH_HEX + 1];
	struct dh_buf bytes;
	struct dh_buf kids;
};

/* A node being entered, and its children that wait to be entered. */
struct frame {
	struct pend *self;
	struct pend **todo;        /* NULL slots were taken over by a younger frame */
	size_t n, cap;
};

/* Nodes queued for writing, in order, and the put_many arguments for them. */
struct batch {
	struct pend **p;
	size_t n, cap, bytes;
	struct dh_kv *kvs;
	char (*keys)[DH_NODE_KEY_LEN + 1];
	size_t kcap;
};

/*
 * The writer thread writes one batch while the walk reads the source and
 * fills the next, so the destination stores while the source is read.  The
 * destination handle is used by one thread at a time: the writer holds
 * dst_lock for put_many, the walk for has_many.
 */
struct writer {
	pthread_t thread;
	int running, stop, busy;
	pthread_mutex_t lock;      /* guards busy, stop, rc, msg and the handoff */
	pthread_cond_t cond;
	pthread_mutex_t dst_lock;
	struct dh_store *dst;
	struct batch *b;           /* being written while busy */
	int rc;                    /* the first failure, kept */
	char *msg;
};

struct syncer {
	struct dh_store *src, *dst;
	const struct dh_sync_opts *o;
	struct dh_sync_stats st;
	struct nodeset names;      /* SEEN, DONE and ABSENT flags by name */
	struct nodeset cut;        /* commits history no longer includes: never copied */
	struct frame *stack;
	size_t depth, cap;
	struct pend **spare;       /* released pends, kept for their buffers */
	size_t nspare, capspare;
	/* one has_many */
	char (*ask)[DH_HASH_HEX + 1];
	char (*keys)[DH_NODE_KEY_LEN + 1];
	const char **kp;
	unsigned char *found;
	size_t acap;
	/* the children to read for the node being entered */
	char (*want)[DH_HASH_HEX + 1];
	const char **wkp;
	char (*wkeys)[DH_NODE_KEY_LEN + 1];
	struct pend **got;
	size_t wcap;
	/* the write queue (filled by the walk) and the batch the writer writes */
	struct batch *q, *flying;
	struct batch b[2];
	struct writer w;
	unsigned barren;           /* asks in a row (of 16 names or more) that found nothing present */
	unsigned unasked;          /* children sets taken as missing since, unasked */
	uint64_t last_progress;
};

static void progress(struct syncer *s)
{
	if (s->o && s->o->progress && s->st.nodes_read - s->last_progress >= 256) {
		s->last_progress = s->st.nodes_read;
		s->o->progress(&s->st, s->o->payload);
	}
}

static int grow(void **p, size_t *cap, size_t want, size_t size)
{
	return dh_grow(p, cap, want, size, 64);
}

static struct pend *pend_new(struct syncer *s, const char *hex)
{
	struct pend *p = s->nspare ? s->spare[--s->nspare] : calloc(1, sizeof(struct pend));

	if (!p)
		return NULL;
	memcpy(p->hex, hex, DH_HASH_HEX + 1);
	dh_buf_reset(&p->bytes);
	dh_buf_reset(&p->kids);
	return p;
}

static void pend_free(struct pend *p)
{
	dh_buf_release(&p->bytes);
	dh_buf_release(&p->kids);
	free(p);
}

static void pend_release(struct syncer *s, struct pend *p)
{
	if (p && !grow((void **)&s->spare, &s->capspare, s->nspare + 1, sizeof(*s->spare)))
		s->spare[s->nspare++] = p;
	else if (p)
		pend_free(p);
}

/* ---- reading ---- */

static int add_kid(const char *hex, void *payload)
{
	return dh_buf_add(payload, hex, KID);
}

struct fetch {
	struct syncer *s;
	struct pend **p;
	size_t m;
};

/* A node read from src: check it against its name, list its children. */
static int fetched(size_t i, const void *data, size_t len, void *payload)
{
	struct fetch *f = payload;
	char got[DH_HASH_HEX + 1], key[DH_NODE_KEY_LEN + 1];
	struct pend *p;
	int rc;

	if (i >= f->m || f->p[i])
		return 0;
	dh_node_key(key, f->s->want[i]);
	dh_node_name(got, data, len);
	if (memcmp(got, f->s->want[i], DH_HASH_HEX))
		return dh_error_set(DH_ECORRUPT, "node '%s' in store '%s' is corrupt: its bytes hash to %.12s...", key,
				    dh_store_uri(f->s->src), got);
	if (!(p = f->p[i] = pend_new(f->s, f->s->want[i])))
		return dh_error_set(DH_ENOMEM, "out of memory");
	if ((rc = dh_buf_add(&p->bytes, data, len)))
		return rc;
	rc = dh_node_cut(p->bytes.data, p->bytes.len, io_learn_cut, &f->s->cut);
	if (!rc)
		rc = dh_node_links(p->bytes.data, p->bytes.len, add_kid, &p->kids);
	if (rc == DH_ECORRUPT)
		return dh_error_set(DH_ECORRUPT, "node '%s' in store '%s' is not a dh node", key, dh_store_uri(f->s->src));
	return rc;
}

/* ---- the write queue and the writer thread ---- */

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		int rc;

		while (!w->busy && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->busy)
			break;
		pthread_mutex_unlock(&w->lock);
		pthread_mutex_lock(&w->dst_lock);
		rc = dh_store_put_many(w->dst, w->b->kvs, w->b->n);
		pthread_mutex_unlock(&w->dst_lock);
		pthread_mutex_lock(&w->lock);
		if (rc && !w->rc) {
			w->rc = rc;
			w->msg = strdup(dh_errmsg());
		}
		w->busy = 0;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int writer_start(struct syncer *s)
{
	struct writer *w = &s->w;

	w->dst = s->dst;
	if (pthread_create(&w->thread, NULL, writer_main, w))
		return dh_error_set(DH_ENOMEM, "cannot start a thread to write '%s'", dh_store_uri(s->dst));
	w->running = 1;
	return 0;
}

/*
 * Wait until the writer has written its batch, and give its pends back.
 * Returns 0 or the first write that failed (its message).
 */
static int writer_wait(struct syncer *s)
{
	struct writer *w = &s->w;
	int rc;

	pthread_mutex_lock(&w->lock);
	while (w->busy)
		pthread_cond_wait(&w->cond, &w->lock);
	rc = w->rc;
	pthread_mutex_unlock(&w->lock);
	for (size_t i = 0; i < s->flying->n; i++)
		pend_release(s, s->flying->p[i]);
	s->flying->n = 0;
	s->flying->bytes = 0;
	return rc ? dh_error_set(rc, "%s", w->msg ? w->msg : dh_strerror(rc)) : 0;
}

static void writer_stop(struct syncer *s)
{
	struct writer *w = &s->w;

	if (!w->running)
		return;
	writer_wait(s);
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->running = 0;
}

/*
 * Whether the writer has nothing to write: then a small batch goes out at
 * once (the destination is kept busy, and what a has_many waits behind
 * stays small); while it writes, the queue grows to WRITE_BYTES (a backend
 * that waits for its writes gets fewer, larger batches).
 */
static int writer_idle(struct syncer *s)
{
	int idle;

	pthread_mutex_lock(&s->w.lock);
	idle = !s->w.busy;
	pthread_mutex_unlock(&s->w.lock);
	return idle;
}

/* Hand the queue to the writer (once it is done with the last batch). */
static int queue_write(struct syncer *s)
{
	struct batch *b = s->q;
	int rc;

	if (!b->n)
		return 0;
	if ((rc = writer_wait(s)))
		return rc;
	if ((rc = grow((void **)&b->kvs, &b->kcap, b->n, sizeof(*b->kvs))))
		return rc;
	if (!(b->keys = realloc(b->keys, b->kcap * sizeof(*b->keys))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	for (size_t i = 0; i < b->n; i++) {
		dh_node_key(b->keys[i], b->p[i]->hex);
		b->kvs[i].key = b->keys[i];
		b->kvs[i].data = b->p[i]->bytes.data;
		b->kvs[i].len = b->p[i]->bytes.len;
	}
	s->q = s->flying;
	s->flying = b;
	pthread_mutex_lock(&s->w.lock);
	s->w.b = b;
	s->w.busy = 1;
	pthread_cond_signal(&s->w.cond);
	pthread_mutex_unlock(&s->w.lock);
	return 0;
}

/* Queue `p` (all of its children are queued or present) for writing; it is the queue's now. */
static int emit(struct syncer *s, struct pend *p)
{
	struct batch *b = s->q;
	int rc;

	s->st.nodes_copied++;
	s->st.bytes_copied += p->bytes.len;
	if ((rc = nodeset_mark(&s->names, p->hex, DONE)) < 0 || (s->o && s->o->dry_run) ||
	    (rc = grow((void **)&b->p, &b->cap, b->n + 1, sizeof(*b->p)))) {
		pend_release(s, p);
		return rc < 0 ? rc : 0;
	}
	b->p[b->n++] = p;
	b->bytes += p->bytes.len;
	if (b->bytes >= WRITE_BYTES || b->n >= WRITE_NODES || (b->bytes >= WRITE_IDLE && writer_idle(s)))
		return queue_write(s);
	return 0;
}

/* ---- the walk ---- */

/*
 * Ask dst about the `n` names in s->ask: the first `own` are children of
 * the node being entered (missing ones are appended to s->want from
 * *nwant on), the others were asked ahead (missing ones are marked
 * ABSENT).  Present ones are done.
 */
static int ask(struct syncer *s, size_t n, size_t own, size_t *nwant)
{
	size_t i, present;
	int rc;

	if (!n)
		return 0;
	for (i = 0; i < n; i++) {
		dh_node_key(s->keys[i], s->ask[i]);
		s->kp[i] = s->keys[i];
	}
	pthread_mutex_lock(&s->w.dst_lock);
	rc = dh_store_has_many(s->dst, s->kp, n, s->found);
	pthread_mutex_unlock(&s->w.dst_lock);
	if (rc)
		return rc;
	for (i = 0, present = 0; i < n; i++)
		present += s->found[i] != 0;
	if (present)
		s->barren = 0;
	else if (n >= 16)
		s->barren++;
	s->unasked = 0;
	for (i = 0; i < n; i++) {
		if (s->found[i]) {
			s->st.nodes_present++;
			rc = nodeset_mark(&s->names, s->ask[i], DONE);
		} else if (i < own) {
			memcpy(s->want[(*nwant)++], s->ask[i], KID);
		} else {
			rc = nodeset_mark(&s->names, s->ask[i], ABSENT);
		}
		if (rc < 0)
			return rc;
	}
	/* write now, while the source is read */
	if (s->q->bytes >= WRITE_IDLE)
		return queue_write(s);
	return 0;
}

static int ask_room(struct syncer *s, size_t n)
{
	size_t cap = s->acap;
	int rc;

	if (n <= s->acap)
		return 0;
	if ((rc = grow((void **)&s->ask, &cap, n, sizeof(*s->ask))))
		return rc;
	cap = s->acap;
	if ((rc = grow((void **)&s->keys, &cap, n, sizeof(*s->keys))))
		return rc;
	cap = s->acap;
	if ((rc = grow((void **)&s->kp, &cap, n, sizeof(*s->kp))))
		return rc;
	cap = s->acap;
	if ((rc = grow((void **)&s->found, &cap, n, sizeof(*s->found))))
		return rc;
	s->acap = cap;
	return 0;
}

/*
 * Append to s->ask (from *n on, LOOKAHEAD names at most) the children
 * nobody has asked about yet of the nodes waiting in the top frame, the
 * next to be entered first.
 */
static int look_ahead(struct syncer *s, size_t *n)
{
	struct frame *g;
	size_t limit = *n + LOOKAHEAD;
	int rc;

	if (!s->depth)
		return 0;
	g = &s->stack[s->depth - 1];
	for (size_t i = g->n; i-- > 0 && *n < limit;) {
		struct pend *w = g->todo[i];

		if (!w)
			continue;
		if ((rc = ask_room(s, *n + w->kids.len / KID)))
			return rc;
		for (size_t j = 0; j < w->kids.len / KID && *n < limit; j++) {
			const char *kid = w->kids.data + j * KID;

			if (!nodeset_flags(&s->names, kid) && !nodeset_has(&s->cut, kid))
				memcpy(s->ask[(*n)++], kid, KID);
		}
	}
	return 0;
}

/* Take over `hex`, waiting in an older frame's todo; NULL if it waits nowhere. */
static struct pend *adopt(struct syncer *s, const char *hex)
{
	for (size_t d = s->depth; d-- > 0;) {
		struct frame *g = &s->stack[d];

		for (size_t i = 0; i < g->n; i++)
			if (g->todo[i] && !memcmp(g->todo[i]->hex, hex, DH_HASH_HEX)) {
				struct pend *p = g->todo[i];

				g->todo[i] = NULL;
				return p;
			}
	}
	return NULL;
}

static int todo_add(struct frame *f, struct pend *p)
{
	int rc = grow((void **)&f->todo, &f->cap, f->n + 1, sizeof(*f->todo));

	if (!rc)
		f->todo[f->n++] = p;
	return rc;
}

/*
 * Read the `m` children in s->want (all missing from dst) from src in one
 * call: each without children is queued, the others wait in `f`.
 */
static int fetch(struct syncer *s, size_t m, struct frame *f)
{
	struct fetch ft = { s, s->got, m };
	size_t i;
	int rc;

	if (!m)
		return 0;
	for (i = 0; i < m; i++) {
		dh_node_key(s->wkeys[i], s->want[i]);
		s->wkp[i] = s->wkeys[i];
		s->got[i] = NULL;
	}
	rc = dh_store_get_many(s->src, s->wkp, m, fetched, &ft);
	for (i = 0; i < m && !rc; i++)
		if (!s->got[i])
			rc = dh_error_set(DH_ENOTFOUND, "node '%s' missing from store '%s'", s->wkeys[i],
					  dh_store_uri(s->src));
	s->st.nodes_read += m;
	for (i = 0; i < m; i++) {
		struct pend *p = s->got[i];

		s->got[i] = NULL;
		if (rc || !p)
			pend_release(s, p);
		else if (!p->kids.len)
			rc = emit(s, p);
		else if ((rc = todo_add(f, p)))
			pend_release(s, p);
	}
	progress(s);
	return rc;
}

static int want_room(struct syncer *s, size_t n)
{
	size_t cap = s->wcap;
	int rc;

	if (n <= s->wcap)
		return 0;
	if ((rc = grow((void **)&s->want, &cap, n, sizeof(*s->want))))
		return rc;
	cap = s->wcap;
	if ((rc = grow((void **)&s->wkeys, &cap, n, sizeof(*s->wkeys))))
		return rc;
	cap = s->wcap;
	if ((rc = grow((void **)&s->wkp, &cap, n, sizeof(*s->wkp))))
		return rc;
	cap = s->wcap;
	if ((rc = grow((void **)&s->got, &cap, n, sizeof(*s->got))))
		return rc;
	s->wcap = cap;
	return 0;
}

/* Push a frame for `p` (it is the frame's now) and work its children. */
static int enter(struct syncer *s, struct pend *p)
{
	struct frame *f;
	size_t n = 0, nwant = 0, nk = p->kids.len / KID, own;
	int rc;

	if ((rc = grow((void **)&s->stack, &s->cap, s->depth + 1, sizeof(*s->stack)))) {
		pend_release(s, p);
		return rc;
	}
	f = &s->stack[s->depth++];
	memset(f, 0, sizeof(*f));
	f->self = p;
	if ((rc = ask_room(s, nk)) || (rc = want_room(s, nk)))
		return rc;
	for (size_t i = 0; i < nk; i++) {
		const char *kid = p->kids.data + i * KID;
		struct pend *w;

		if (nodeset_has(&s->cut, kid))
			continue;  /* history stops here */
		rc = nodeset_mark(&s->names, kid, SEEN);
		if (rc < 0)
			return rc;
		if (rc & DONE)
			continue;
		if (!(rc & SEEN)) {
			/* asked ahead already, and missing; or to be asked now */
			if (rc & ABSENT)
				memcpy(s->want[nwant++], kid, KID);
			else
				memcpy(s->ask[n++], kid, KID);
			continue;
		}
		/* seen, not done: waiting in an older frame (or named twice here) */
		s->depth--;
		w = adopt(s, kid);
		s->depth++;
		if (w && (rc = todo_add(f, w))) {
			pend_release(s, w);
			return rc;
		}
	}
	/*
	 * The destination lacked everything it was asked about lately (a
	 * first copy): take these children as missing without asking, and ask
	 * again after BARREN_PROBE such sets, once the writer is idle (an ask
	 * waits for the writes before it).  Wrong, this copies a node dst has
	 * (which is harmless), never skips one it lacks.
	 */
	if (n && s->barren >= BARREN_ASKS && (++s->unasked < BARREN_PROBE || !writer_idle(s))) {
		for (size_t i = 0; i < n; i++)
			memcpy(s->want[nwant++], s->ask[i], KID);
		n = 0;
	}
	/* a round trip is due: ask about the children of the waiting siblings too */
	own = n;
	if (n) {
		s->depth--;
		rc = look_ahead(s, &n);
		s->depth++;
		if (rc || (rc = ask(s, n, own, &nwant)))
			return rc;
	}
	return fetch(s, nwant, f);
}

static void frame_release(struct syncer *s, struct frame *f)
{
	for (size_t i = 0; i < f->n; i++)
		pend_release(s, f->todo[i]);
	free(f->todo);
	pend_release(s, f->self);
	memset(f, 0, sizeof(*f));
}

/* Copy everything reachable from `root` that dst lacks. */
static int walk(struct syncer *s, const char *root)
{
	struct frame top = { 0 };
	size_t n = 0;
	int rc;

	if ((rc = nodeset_mark(&s->names, root, SEEN)) < 0 || rc & DONE)
		return rc < 0 ? rc : 0;
	if ((rc = ask_room(s, 1)) || (rc = want_room(s, 1)))
		return rc;
	memcpy(s->ask[0], root, KID);
	if ((rc = ask(s, 1, 1, &n)) || (rc = fetch(s, n, &top)))
		goto out;
	if (top.n) {
		rc = enter(s, top.todo[0]);
		top.n = 0;
	}
	while (!rc && s->depth) {
		struct frame *f = &s->stack[s->depth - 1];
		struct pend *p;

		if (!f->n) {
			p = f->self;
			f->self = NULL;
			frame_release(s, f);
			s->depth--;
			rc = emit(s, p);
			continue;
		}
		p = f->todo[--f->n];
		if (p)
			rc = enter(s, p);
	}
out:
	frame_release(s, &top);
	while (s->depth)
		frame_release(s, &s->stack[--s->depth]);
	return rc;
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
		if (nodeset_has(&s->cut, c))
			continue;  /* history stops here */
		if ((rc = nodeset_add(&seen, c)) <= 0) {
			rc = rc < 0 ? rc : 0;
			continue;
		}
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
	if ((rc = walk(s, head)))
		return rc;
	if (dry) {
		what = "would move";
	} else {
		if ((rc = queue_write(s)) || (rc = writer_wait(s)) || (rc = dh_store_flush(s->dst)))
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
	s.q = &s.b[0];
	s.flying = &s.b[1];
	nodeset_init(&s.names);
	nodeset_init(&s.cut);
	pthread_mutex_init(&s.w.lock, NULL);
	pthread_mutex_init(&s.w.dst_lock, NULL);
	pthread_cond_init(&s.w.cond, NULL);
	if ((rc = io_branches(src, opts ? opts->branch : NULL, &branches)))
		goto out;
	if (!branches.len) {
		rc = dh_error_set(DH_ENOTFOUND, "store '%s' holds no database (no heads)", dh_store_uri(src));
		goto out;
	}
	if ((rc = sync_format(&s)) || (!(opts && opts->dry_run) && (rc = writer_start(&s))))
		goto out;
	for (size_t i = 0; i < branches.len && !rc; i += strlen(branches.data + i) + 1)
		rc = sync_branch(&s, branches.data + i);
out:
	if (stats)
		*stats = s.st;
	if (opts && opts->progress)
		opts->progress(&s.st, opts->payload);
	writer_stop(&s);
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < s.b[k].n; i++)
			pend_release(&s, s.b[k].p[i]);
		free(s.b[k].p);
		free(s.b[k].kvs);
		free(s.b[k].keys);
	}
	free(s.w.msg);
	pthread_mutex_destroy(&s.w.lock);
	pthread_mutex_destroy(&s.w.dst_lock);
	pthread_cond_destroy(&s.w.cond);
	for (size_t i = 0; i < s.nspare; i++)
		pend_free(s.spare[i]);
	free(s.spare);
	free(s.stack);
	free(s.ask);
	free(s.keys);
	free(s.kp);
	free(s.found);
	free(s.want);
	free(s.wkeys);
	free(s.wkp);
	free(s.got);
	nodeset_release(&s.names);
	nodeset_release(&s.cut);
	dh_buf_release(&branches);
	return rc;
}
