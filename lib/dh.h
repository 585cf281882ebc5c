/*
 * dh.h - the public interface of libdh.
 *
 * libdh is Datahike's data model, query language and storage model as a C
 * library.  This header is the contract for programs that use it: errors,
 * byte buffers, store URIs, the store interface (a key -> bytes map with one
 * interface over many backends) and the node layer (immutable blobs named by
 * the SHA-256 of their bytes).  Backend authors also include dh-backend.h.
 *
 * Conventions, everywhere in the library:
 *  - Functions that can fail return int: 0 on success or a negative DH_E*
 *    code.  The detail of the last failure is kept per thread and read with
 *    dh_errmsg().  The library never prints and never exits.
 *  - Out-parameters come first; whatever a function hands back through
 *    `**out` belongs to the caller, who releases it with the matching
 *    _free/_close.  Returned `const` pointers are borrowed; each prototype
 *    says for how long they stay valid.
 *  - dh_x_free(NULL) and dh_x_close(NULL) are no-ops.
 */
#ifndef DH_H
#define DH_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DH_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------ */

enum dh_error {
	DH_OK = 0,
	DH_ENOTFOUND = -1,    /* key, head, entity or file does not exist */
	DH_EEXISTS = -2,      /* something exists that must not (a database on create) */
	DH_ECONFLICT = -3,    /* a head moved under us: compare-and-swap lost */
	DH_EINVAL = -4,       /* bad input: parse error, wrong type, schema violation */
	DH_EUNSUPPORTED = -5, /* the backend or build cannot do this */
	DH_ECORRUPT = -6,     /* stored data fails its checks (hash, structure) */
	DH_EIO = -7,          /* the operating system, a server or the network failed */
	DH_ENOMEM = -8,       /* out of memory, or an input claims more than allowed */
	DH_EUSAGE = -9,       /* malformed URI, unknown scheme, bad option value */
	DH_EAUTH = -10,       /* credentials missing or refused */
};

/*
 * dh_strerror() - a short fixed text for an error code ("not found", ...).
 * The returned string is static.
 */
const char *dh_strerror(int code);

/*
 * dh_errmsg() - the message of the last failure in this thread: what failed
 * and where, e.g. "cannot open 'nodes/ab/cd..': No such file or directory".
 * Falls back to dh_strerror() of the last code when no message was set.
 * Valid until the next libdh call in this thread.
 */
const char *dh_errmsg(void);

/*
 * dh_error_set() - record a failure for dh_errmsg() and return `code`, so a
 * failing path can say `return dh_error_set(DH_EIO, "cannot read '%s': %s",
 * key, strerror(errno));`.  Messages are lowercase with no final period.
 */
int dh_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int dh_error_setv(int code, const char *fmt, va_list ap);

/*
 * dh_error_prefix() - put "<text>: " in front of the current message, to add
 * context on the way up ("store 'file:///x': ...").  Returns `code`.
 */
int dh_error_prefix(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- byte buffers ------------------------------------------------------ */

/*
 * A growable byte buffer.  Initialise with DH_BUF_INIT or dh_buf_init() (no
 * allocation); release with dh_buf_release().  `data` is always NUL
 * terminated after any dh_buf_* call that succeeded, so text can be used
 * directly; `len` does not count that NUL.
 */
struct dh_buf {
	char *data;
	size_t len;
	size_t cap;
};
#define DH_BUF_INIT { NULL, 0, 0 }

void dh_buf_init(struct dh_buf *b);
void dh_buf_release(struct dh_buf *b);
/* Make room for `extra` more bytes.  Returns 0 or DH_ENOMEM. */
int dh_buf_grow(struct dh_buf *b, size_t extra);

/*
 * dh_buf_reserve() - dh_buf_grow() without a call when there is room
 * already: for loops that append a few bytes at a time.
 */
static inline int dh_buf_reserve(struct dh_buf *b, size_t extra)
{
	return b->cap > b->len && extra < b->cap - b->len ? 0 : dh_buf_grow(b, extra);
}
int dh_buf_add(struct dh_buf *b, const void *data, size_t len);
int dh_buf_adds(struct dh_buf *b, const char *s);
int dh_buf_addc(struct dh_buf *b, char c);
int dh_buf_addf(struct dh_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Set len to 0 but keep the memory. */
void dh_buf_reset(struct dh_buf *b);
/* Take the bytes: returns data (caller frees) and leaves b empty. */
char *dh_buf_detach(struct dh_buf *b, size_t *len);

/* ---- hashes ------------------------------------------------------------ */

#define DH_HASH_LEN 32     /* bytes of a SHA-256 */
#define DH_HASH_HEX 64     /* hex characters of a node name */

/* SHA-256 of `len` bytes into out[32]. */
void dh_sha256(unsigned char out[DH_HASH_LEN], const void *data, size_t len);
/* Lowercase hex of `len` bytes into `out` (2*len+1 bytes, NUL terminated). */
void dh_hex(char *out, const unsigned char *bin, size_t len);
/* Parse exactly 2*len hex digits.  Returns 0 or DH_EINVAL. */
int dh_unhex(unsigned char *out, const char *hex, size_t len);
/* 1 when `s` is a node name: DH_HASH_HEX lowercase hex digits and its end. */
int dh_is_node_name(const char *s);

/* ---- store URIs -------------------------------------------------------- */

/*
 * A parsed store URI: scheme://[user[:password]@]host[:port]/path?k=v&...
 * Components are percent-decoded.  A bare path ("/var/db", "./db", "db")
 * means file:// with the path made absolute.  Absent parts are NULL (port:
 * 0).  The password is never part of any message libdh produces.
 */
struct dh_uri_param {
	char *key;
	char *value;
};

struct dh_uri {
	char *scheme;
	char *user;
	char *password;
	char *host;
	int port;
	char *path;          /* "" when absent; starts with '/' when present */
	struct dh_uri_param *params;
	size_t nparams;
	char *text;          /* the URI as given, passwords replaced by "***"
	                        (also those of URIs nested in query values) */
};

/*
 * dh_uri_parse() - parse `text` into a new dh_uri.  Returns 0, DH_EUSAGE for
 * a malformed URI (message says where), or DH_ENOMEM.
 */
int dh_uri_parse(struct dh_uri **out, const char *text);
void dh_uri_free(struct dh_uri *uri);
/* The value of query parameter `key`, or NULL.  Borrowed from `uri`. */
const char *dh_uri_param(const struct dh_uri *uri, const char *key);
/*
 * dh_uri_check_params() - fail with DH_EUSAGE naming the first query
 * parameter that is not in the NULL-terminated list `known`.
 */
int dh_uri_check_params(const struct dh_uri *uri, const char *const *known);

/* ---- stores ------------------------------------------------------------ */

/*
 * A store is a map from keys to bytes.  Every backend holds the same key
 * space (see dh-store(5)):
 *
 *   format                      small text, written once by create
 *   nodes/<2 hex>/<62 hex>      a node: immutable, named by its SHA-256
 *   heads/<branch>              the hash of a branch's commit; changes only
 *                               by compare-and-swap
 *
 * Keys are validated before any backend sees them: printable ASCII, no
 * empty components nor ones starting with '.' (".", "..", ".lock"), no
 * leading '/', no "//", at most DH_KEY_MAX bytes.  A store handle is used by one thread at a time.
 */
#define DH_KEY_MAX 512

struct dh_store;

enum dh_store_flags {
	DH_STORE_CREATE = 1 << 0,  /* create the directory, file or table if missing */
	DH_STORE_RDONLY = 1 << 1,  /* open for reading only */
	/*
	 * Set by the backend (in base.flags at open; the library keeps this bit
	 * and sets the others): its get_many sends one request per key, if in
	 * parallel (S3, GCS).  The library then reads ahead only what it is
	 * sure to need; other stores answer many keys in one request and get
	 * the roots of the trees a query may start from read along.
	 */
	DH_STORE_KEYWISE = 1 << 8,
};

/* dh_store_flags() - the DH_STORE_* flags of an open store. */
unsigned dh_store_flags(const struct dh_store *st);

/*
 * dh_store_open() - open the store at `uri` (a URI or a bare path).
 * Returns 0; DH_EUSAGE for a malformed URI or an unknown scheme (the message
 * lists the schemes compiled in); DH_ENOTFOUND when the store does not exist
 * and DH_STORE_CREATE was not given; DH_EIO, DH_EAUTH or DH_ENOMEM.
 * Close with dh_store_close().
 */
int dh_store_open(struct dh_store **out, const char *uri, unsigned flags);
/* Flushes pending writes (errors are lost: call dh_store_flush first) and frees. */
void dh_store_close(struct dh_store *st);
/* The URI the store was opened with, password masked.  Valid until close. */
const char *dh_store_uri(const struct dh_store *st);
/* The scheme of the backend ("file", "lmdb", ...).  Static. */
const char *dh_store_scheme(const struct dh_store *st);

/*
 * dh_store_get() - read the value of `key` into `out` (replacing its
 * contents).  Returns 0, DH_ENOTFOUND, DH_EIO, DH_ENOMEM.
 */
int dh_store_get(struct dh_store *st, const char *key, struct dh_buf *out);

/*
 * dh_store_put() - store `len` bytes under `key`.  The value becomes durable
 * no later than the next dh_store_flush() or head compare-and-swap on this
 * handle.  Another reader never sees a partial value.  Returns 0, DH_EUSAGE
 * for a bad key, DH_EIO, DH_ENOMEM.
 */
int dh_store_put(struct dh_store *st, const char *key, const void *data, size_t len);

/*
 * dh_store_put_many() - put `n` values at once; backends that can batch
 * (one transaction, one round trip) do.  Same contract as dh_store_put().
 */
struct dh_kv {
	const char *key;
	const void *data;
	size_t len;
};
int dh_store_put_many(struct dh_store *st, const struct dh_kv *kvs, size_t n);

/*
 * dh_store_get_many() - read the values of `n` keys with as few round trips
 * as the backend allows (PostgreSQL: one query per thousand keys; Redis:
 * pipelined MGET; others: one get per key).  Calls `cb` once for each key
 * that exists, with its index in `keys`, in no particular order; `data` is
 * valid only during the call.  Missing keys get no call.  A non-zero return
 * from `cb` stops the reads and is returned.  Returns 0, the callback's
 * value, DH_EUSAGE for a bad key, DH_EIO, DH_ENOMEM.
 */
typedef int (*dh_get_cb)(size_t i, const void *data, size_t len, void *payload);
int dh_store_get_many(struct dh_store *st, const char *const *keys, size_t n, dh_get_cb cb, void *payload);

/* dh_store_has() - 1 if `key` exists, 0 if not, or a negative error. */
int dh_store_has(struct dh_store *st, const char *key);

/*
 * dh_store_has_many() - which of `n` keys exist, with as few round trips as
 * the backend allows (PostgreSQL: one query per thousand keys; Redis:
 * pipelined EXISTS; DynamoDB: BatchGetItem of keys only; S3 and GCS: many
 * requests in flight; others: one has per key).  Sets found[i] to 1 when
 * keys[i] exists and to 0 when not.  Returns 0, DH_EUSAGE for a bad key,
 * DH_EIO, DH_ENOMEM; found[] is undefined after an error.
 */
int dh_store_has_many(struct dh_store *st, const char *const *keys, size_t n, unsigned char *found);

/* dh_store_del() - delete `key`; deleting a missing key is success. */
int dh_store_del(struct dh_store *st, const char *key);

/*
 * dh_store_list() - call `cb` once per key that starts with `prefix`, in no
 * particular order, streaming (the store does not collect all keys first).
 * `key` is valid only during the call.  A non-zero return from `cb` stops the
 * walk and is returned.  Returns 0, the callback's value, or an error.
 */
typedef int (*dh_list_cb)(const char *key, void *payload);
int dh_store_list(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload);

/*
 * dh_store_flush() - make every value put through this handle durable (as
 * far as the backend can).  Returns 0 or DH_EIO.
 */
int dh_store_flush(struct dh_store *st);

/*
 * dh_store_cas() - compare-and-swap the value of mutable key `key` (a head):
 * set it to `new_value` (NULL: delete it) if it currently holds `old_value`
 * (NULL: it must be absent).  Every value put through this handle is made
 * durable first, so a head never names data that a crash could lose.
 * Returns 0, DH_ECONFLICT when the current value differs from `old_value`
 * (nothing changed), DH_EUSAGE for a bad key, DH_EIO.  (The parameters are
 * not called old and new, so that C++ can include this header.)
 */
int dh_store_cas(struct dh_store *st, const char *key, const char *old_value, const char *new_value);

/*
 * dh_store_tiered_uri() - the URI of a tiered store: `front` in front of
 * `back` (any store URIs; escaped here) with the write and read policies
 * named (NULL: the defaults), into `out` (replacing its contents).  See
 * dh-store(5) for the policies.  Returns 0, DH_EUSAGE when a store is
 * missing, DH_ENOMEM.
 */
int dh_store_tiered_uri(struct dh_buf *out, const char *front, const char *back, const char *write_policy,
			const char *read_policy);

/* ---- heads ------------------------------------------------------------- */

#define DH_BRANCH_MAX 200

/*
 * dh_branch_check() - 0 if `name` is a valid branch name (letters, digits,
 * '-', '_', '.', '/' between non-empty components that do not start with
 * '.', not ending in ".lock", at most DH_BRANCH_MAX bytes), else DH_EUSAGE
 * naming the problem.
 */
int dh_branch_check(const char *name);

/*
 * dh_head_get() - read the head of `branch` into out[65] (64 hex digits of a
 * commit node name).  Returns 0, DH_ENOTFOUND, DH_ECORRUPT when the stored
 * head is not a node name, DH_EUSAGE, DH_EIO.
 */
int dh_head_get(struct dh_store *st, const char *branch, char out[DH_HASH_HEX + 1]);

/*
 * dh_head_cas() - move `branch` from `old_value` (NULL: absent) to
 * `new_value` (64 hex digits; NULL deletes the branch).  Returns 0, DH_ECONFLICT when another writer moved it first,
 * DH_EUSAGE, DH_EIO.
 */
int dh_head_cas(struct dh_store *st, const char *branch, const char *old_value, const char *new_value);

/*
 * dh_head_list() - call `cb` with each branch name that has a head.
 */
int dh_head_list(struct dh_store *st, dh_list_cb cb, void *payload);

/* ---- nodes ------------------------------------------------------------- */

/*
 * Nodes are immutable byte strings named by the lowercase hex SHA-256 of
 * their bytes and stored under "nodes/<first 2 hex>/<other 62 hex>".
 */

/* dh_node_key() - the store key of node `hex` into out (DH_NODE_KEY_LEN+1 bytes). */
#define DH_NODE_KEY_LEN (6 + 3 + 62)
void dh_node_key(char out[DH_NODE_KEY_LEN + 1], const char *hex);

/* dh_node_name() - the node name (hex SHA-256) of `len` bytes into out[65]. */
void dh_node_name(char out[DH_HASH_HEX + 1], const void *data, size_t len);

/*
 * dh_node_put() - store a node and write its name into name[65] (may be
 * NULL).  Storing a node that already exists is success.  Durable as
 * dh_store_put() is.  Returns 0, DH_EIO, DH_ENOMEM.
 */
int dh_node_put(struct dh_store *st, const void *data, size_t len, char name[DH_HASH_HEX + 1]);

/*
 * dh_node_get() - read node `hex` into `out` and check that its bytes hash
 * to its name.  Returns 0, DH_ENOTFOUND, DH_ECORRUPT (naming the key) when
 * they do not, DH_EUSAGE for a malformed name, DH_EIO.
 */
int dh_node_get(struct dh_store *st, const char *hex, struct dh_buf *out);

/* dh_node_has() - 1 if node `hex` is stored, 0 if not, or an error. */
int dh_node_has(struct dh_store *st, const char *hex);

/*
 * dh_node_get_many() - read the `n` nodes named in hexes[] with one
 * dh_store_get_many() (few round trips), checking each against its name,
 * and call cb(i, data, len, payload) for each one found (`data` valid
 * during the call only).  Missing nodes get no call.  Returns 0, the
 * callback's non-zero value, DH_ECORRUPT naming the key of a node whose
 * bytes do not hash to its name (no call for it), DH_EUSAGE for a
 * malformed name, DH_EIO, DH_ENOMEM.
 */
int dh_node_get_many(struct dh_store *st, const char *const *hexes, size_t n, dh_get_cb cb, void *payload);

/*
 * A batch of nodes written with as few round trips and syncs as the backend
 * allows.  dh_node_batch_add() copies the bytes and returns the name;
 * dh_node_batch_write() stores everything added so far (children must be
 * added before parents; order is kept) and empties the batch.
 */
struct dh_node_batch;
int dh_node_batch_new(struct dh_node_batch **out, struct dh_store *st);
int dh_node_batch_add(struct dh_node_batch *b, const void *data, size_t len, char name[DH_HASH_HEX + 1]);
int dh_node_batch_write(struct dh_node_batch *b);
/* Bytes currently waiting in the batch. */
size_t dh_node_batch_size(const struct dh_node_batch *b);
/*
 * dh_node_batch_swap() - exchange what two batches of the same store hold,
 * memory included: a writer hands its full batch to another thread to
 * write and goes on filling the other.
 */
void dh_node_batch_swap(struct dh_node_batch *a, struct dh_node_batch *b);
void dh_node_batch_free(struct dh_node_batch *b);

#ifdef __cplusplus
}
#endif

#endif
