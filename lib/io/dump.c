/*
 * dump.c - Datahike's dump formats as bytes: records, the CBOR sequence
 * container (plain, gzipped, legacy), the chunked directory with its
 * manifest, the semantic digest, and verification.
 *
 * Everything here streams: a writer holds one record and one 1 MiB block
 * (a gzip member's raw bytes, or plain bytes to write at once), a reader
 * one record (at most DH_DUMP_MAX_RECORD bytes) and one read buffer.
 * Records are framed by reading CBOR item heads only (dh_cbor_frame()), so
 * the reader knows how many bytes a record needs before it asks for them,
 * tells a truncated record from a malformed one, and refuses a huge
 * declared length without reserving memory for it.
 * Values are decoded by the value layer (dh_cbor_decode()); the only
 * encoding done here is the legacy format's, a thin wrapper that writes
 * instants as tag 1 and 64-bit bigints as integers and hands everything
 * else to dh_cbor_encode().
 *
 * The manifest is read with the EDN reader and checked as Datahike's
 * importer checks it: format version (newer is refused), compression,
 * chunk names (plain names, never paths), a SHA-256 for every chunk, the
 * semantic digest and the record counts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The digest hashes every record; OpenSSL 3's one-shot SHA256() looks its
 * algorithm up (under a lock) on each call, the low-level functions do not. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <zlib.h>

#include "dh-dump.h"
#include "io.h"

#define GZ_BLOCK (1u << 20)    /* raw bytes per gzip member, as Datahike writes them */
#define IO_CHUNK (256u << 10)
#define MANIFEST_MAX (256u << 20)

const char *dh_dump_format_name(enum dh_dump_format f)
{
	switch (f) {
	case DH_DUMP_SEQ: return "seq";
	case DH_DUMP_LEGACY: return "legacy";
	case DH_DUMP_CHUNKED: return "chunked";
	default: return NULL;
	}
}

enum dh_dump_format dh_dump_format_parse(const char *name)
{
	if (!name)
		return DH_DUMP_AUTO;
	if (!strcmp(name, "seq") || !strcmp(name, "cbor"))
		return DH_DUMP_SEQ;
	if (!strcmp(name, "legacy"))
		return DH_DUMP_LEGACY;
	if (!strcmp(name, "chunked") || !strcmp(name, "dir"))
		return DH_DUMP_CHUNKED;
	return DH_DUMP_AUTO;
}

/* ---- framing ----------------------------------------------------------- */

int dh_cbor_frame(const void *data, size_t len, uint64_t *need)
{
	const unsigned char *d = data;
	/* items still owed by each open container; UINT64_MAX: indefinite */
	uint64_t stack[DH_EDN_MAX_DEPTH + 2];
	int depth = 0;
	size_t pos = 0;

	for (;;) {
		size_t at = pos;
		unsigned ib, major, ai;
		uint64_t v = 0;
		int leaf = 1;

		if (pos >= len)
			goto more;
		ib = d[pos++];
		major = ib >> 5;
		ai = ib & 31;
		if (ai < 24) {
			v = ai;
		} else if (ai <= 27) {
			size_t n = (size_t)1 << (ai - 24);

			if (len - pos < n) {
				pos += n;
				goto more;
			}
			for (size_t i = 0; i < n; i++)
				v = v << 8 | d[pos + i];
			pos += n;
		} else if (ai != 31) {
			return dh_error_set(DH_ECORRUPT, "cbor at byte %zu: reserved additional information %u", at, ai);
		}
		if (ai == 31) {
			switch (major) {
			case 2: case 3: case 4: case 5:
				if (depth > DH_EDN_MAX_DEPTH)
					return dh_error_set(DH_ECORRUPT, "cbor at byte %zu: nesting deeper than %d levels",
					                    at, DH_EDN_MAX_DEPTH);
				stack[depth++] = UINT64_MAX;
				leaf = 0;
				break;
			case 7:
				if (!depth || stack[depth - 1] != UINT64_MAX)
					return dh_error_set(DH_ECORRUPT, "cbor at byte %zu: unexpected break", at);
				depth--;
				break;
			default:
				return dh_error_set(DH_ECORRUPT, "cbor at byte %zu: indefinite length on major type %u",
				                    at, major);
			}
		} else {
			switch (major) {
			case 2: case 3:
				if (v > len - pos) {
					uint64_t want = (uint64_t)pos + v;

					*need = want < v ? UINT64_MAX : want;
					return 0;
				}
				pos += (size_t)v;
				break;
			case 4: case 5: case 6:
				if (major == 5)
					v = v > UINT64_MAX / 2 ? UINT64_MAX - 1 : v * 2;
				if (major == 6)
					v = 1;
				if (v) {
					if (depth > DH_EDN_MAX_DEPTH)
						return dh_error_set(DH_ECORRUPT,
						                    "cbor at byte %zu: nesting deeper than %d levels",
						                    at, DH_EDN_MAX_DEPTH);
					stack[depth++] = v;
					leaf = 0;
				}
				break;
			default:
				break;
			}
		}
		if (!leaf)
			continue;
		/* an item ended: count it against the open containers */
		while (depth) {
			if (stack[depth - 1] == UINT64_MAX)
				break;
			if (--stack[depth - 1])
				break;
			depth--;
		}
		if (!depth) {
			*need = pos;
			return 1;
		}
	}
more:
	/* every item still owed needs a byte at least */
	{
		uint64_t want = pos;

		for (int i = 0; i < depth; i++)
			if (stack[i] != UINT64_MAX)
				want = want + stack[i] < want ? UINT64_MAX : want + stack[i];
		*need = want > len ? want : (uint64_t)len + 1;
	}
	return 0;
}

/* ---- records ----------------------------------------------------------- */

static int enc_legacy(struct dh_buf *out, const struct dh_val *v)
{
	int rc;

	if (v->type == DH_INST) {
		double s = (double)v->u.i / 1000.0;
		uint64_t bits;
		unsigned char b[10];

		memcpy(&bits, &s, 8);
		b[0] = 0xc1;
		b[1] = 0xfb;
		for (int i = 0; i < 8; i++)
			b[2 + i] = (unsigned char)(bits >> (56 - 8 * i));
		return dh_buf_add(out, b, sizeof(b));
	}
	if (v->type == DH_BIGINT) {
		char *end;
		long long n;

		errno = 0;
		n = strtoll(v->u.s, &end, 10);
		if (!errno && *end == '\0' && end != v->u.s) {
			struct dh_val l = dh_long(n);

			return dh_cbor_encode(out, &l);
		}
	}
	if (v->type == DH_VECTOR || v->type == DH_LIST) {
		unsigned char h[9];
		size_t n = 0;
		uint64_t len = v->len;

		if (len < 24) {
			h[n++] = (unsigned char)(0x80 | len);
		} else {
			h[n++] = 0x9a;
			for (int i = 3; i >= 0; i--)
				h[n++] = (unsigned char)(len >> (8 * i));
		}
		if ((rc = dh_buf_add(out, h, n)))
			return rc;
		for (uint32_t i = 0; i < v->len; i++)
			if ((rc = enc_legacy(out, &v->u.items[i])))
				return rc;
		return 0;
	}
	return dh_cbor_encode(out, v);
}

int dh_record_encode(struct dh_buf *out, const struct dh_record *r, int legacy)
{
	size_t mark = out->len;
	struct dh_val e = dh_long(r->e), tx = dh_long(r->tx);
	unsigned char op = r->added ? 0xf5 : 0xf4;
	int rc;

	if ((rc = dh_buf_addc(out, (char)0x85)) || (rc = dh_cbor_encode(out, &e)) ||
	    (rc = dh_cbor_encode(out, &r->a)) ||
	    (rc = legacy ? enc_legacy(out, &r->v) : dh_cbor_encode(out, &r->v)) ||
	    (rc = dh_cbor_encode(out, &tx)) || (rc = dh_buf_addc(out, (char)op))) {
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
		return rc;
	}
	return 0;
}

int dh_record_decode(struct dh_record *out, struct dh_arena *a, const void *data, size_t len)
{
	struct dh_val v;
	size_t used = 0;
	const struct dh_val *it;
	int rc = dh_cbor_decode(&v, a, data, len, &used);

	if (rc == DH_ENOTFOUND)
		return dh_error_set(DH_ECORRUPT, "empty record");
	if (rc)
		return rc;
	if (used != len)
		return dh_error_set(DH_ECORRUPT, "%zu stray bytes after the record", len - used);
	if (v.type != DH_VECTOR || v.len != 5)
		return dh_error_set(DH_ECORRUPT, "malformed record: not an array [e a v tx added]");
	it = v.u.items;
	if (it[0].type != DH_LONG || it[0].u.i < 0)
		return dh_error_set(DH_ECORRUPT, "malformed record: e is not an entity id");
	if (it[1].type != DH_KEYWORD)
		return dh_error_set(DH_ECORRUPT, "malformed record: a is not a keyword");
	if (it[2].type == DH_NIL)
		return dh_error_set(DH_ECORRUPT, "malformed record: v is nil");
	if (it[3].type != DH_LONG || it[3].u.i < DH_DUMP_TX0)
		return dh_error_set(DH_ECORRUPT, "malformed record: tx is not a transaction id");
	if (it[4].type != DH_BOOL)
		return dh_error_set(DH_ECORRUPT, "malformed record: added is not a boolean");
	out->e = it[0].u.i;
	out->a = it[1];
	out->v = it[2];
	out->tx = it[3].u.i;
	out->added = it[4].u.b;
	return 0;
}

/* ---- digests ----------------------------------------------------------- */

void dh_digest_add(struct dh_digest *d, const void *rec, size_t len)
{
	unsigned char h[DH_HASH_LEN];
	uint64_t x = 0;
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, rec, len);
	SHA256_Final(h, &c);
	for (int i = 0; i < 8; i++)
		x = x << 8 | h[i];
	d->x ^= x;
	d->sum += x;
	d->count++;
}

int dh_digest_edn(struct dh_buf *out, const struct dh_digest *d)
{
	return dh_buf_addf(out, "{:algo :xor64+sum64 :xor \"%016" PRIx64 "\" :sum \"%016" PRIx64
	                   "\" :count %" PRIu64 "}", d->x, d->sum, d->count);
}

int dh_digest_eq(const struct dh_digest *a, const struct dh_digest *b)
{
	return a->x == b->x && a->sum == b->sum && a->count == b->count;
}

/* Incremental SHA-256 (the one-shot dh_sha256() cannot stream a chunk). */
struct sha {
	SHA256_CTX ctx;
};

static int sha_begin(struct sha *s)
{
	SHA256_Init(&s->ctx);
	return 0;
}

static void sha_update(struct sha *s, const void *p, size_t n)
{
	if (n)
		SHA256_Update(&s->ctx, p, n);
}

static void sha_end(struct sha *s, char hex[DH_HASH_HEX + 1])
{
	unsigned char h[DH_HASH_LEN];

	SHA256_Final(h, &s->ctx);
	dh_hex(hex, h, DH_HASH_LEN);
}

static void sha_free(struct sha *s)
{
	(void)s;
}

/* ---- output: plain or gzip members of GZ_BLOCK raw bytes ---------------- */

struct out {
	FILE *f;
	const char *name;
	struct sha *sha;          /* raw bytes hashed here, a block at a time (chunks) */
	int gzip;
	z_stream z;
	int zinit;
	unsigned char *block;     /* raw bytes waiting for the next member */
	size_t nblock;
	unsigned char *zbuf;
	uint64_t stored;          /* bytes written to f */
};

static int out_fail(struct out *o)
{
	return dh_error_set(DH_EIO, "cannot write '%s': %s", o->name, strerror(errno ? errno : EIO));
}

static int out_put(struct out *o, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, o->f) != n)
		return out_fail(o);
	o->stored += n;
	return 0;
}

static int out_member(struct out *o)
{
	int zr, rc;

	if (!o->nblock)
		return 0;
	if (!o->zinit) {
		memset(&o->z, 0, sizeof(o->z));
		/*
		 * zlib's fastest level: three times the speed of its default on
		 * dumps, which still shrink five- to sevenfold, a third larger.
		 */
		if (deflateInit2(&o->z, Z_BEST_SPEED, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			return dh_error_set(DH_ENOMEM, "cannot start gzip");
		o->zinit = 1;
	} else {
		deflateReset(&o->z);
	}
	o->z.next_in = o->block;
	o->z.avail_in = (uInt)o->nblock;
	do {
		o->z.next_out = o->zbuf;
		o->z.avail_out = IO_CHUNK;
		zr = deflate(&o->z, Z_FINISH);
		if (zr == Z_STREAM_ERROR)
			return dh_error_set(DH_EIO, "gzip failed for '%s'", o->name);
		if ((rc = out_put(o, o->zbuf, IO_CHUNK - o->z.avail_out)))
			return rc;
	} while (zr != Z_STREAM_END);
	o->nblock = 0;
	return 0;
}

static int out_init(struct out *o, FILE *f, const char *name, int gzip)
{
	memset(o, 0, sizeof(*o));
	o->f = f;
	o->name = name;
	o->gzip = gzip;
	/* plain output is gathered into blocks too: one write per MiB, not per record */
	if (!(o->block = malloc(GZ_BLOCK)) || (gzip && !(o->zbuf = malloc(IO_CHUNK))))
		return dh_error_set(DH_ENOMEM, "out of memory");
	return 0;
}

/* Write out the raw bytes gathered so far: a gzip member, or as they are. */
static int out_block(struct out *o)
{
	int rc;

	if (o->sha)
		sha_update(o->sha, o->block, o->nblock);
	if (o->gzip)
		return out_member(o);
	rc = out_put(o, o->block, o->nblock);
	o->nblock = 0;
	return rc;
}

static int out_write(struct out *o, const void *p, size_t n)
{
	const unsigned char *s = p;
	int rc;

	while (n) {
		size_t k = GZ_BLOCK - o->nblock;

		if (k > n)
			k = n;
		memcpy(o->block + o->nblock, s, k);
		o->nblock += k;
		s += k;
		n -= k;
		if (o->nblock == GZ_BLOCK && (rc = out_block(o)))
			return rc;
	}
	return 0;
}

static int out_flush(struct out *o)
{
	int rc = out_block(o);

	if (!rc && (fflush(o->f) || ferror(o->f)))
		rc = out_fail(o);
	return rc;
}

static void out_release(struct out *o)
{
	if (o->zinit)
		deflateEnd(&o->z);
	free(o->block);
	free(o->zbuf);
	memset(o, 0, sizeof(*o));
}

/* ---- writers ----------------------------------------------------------- */

struct dh_dump_writer {
	enum dh_dump_format fmt;
	int gzip;
	uint64_t chunk_records;
	struct out o;
	struct dh_buf enc;
	struct dh_digest digest;
	/* chunked */
	char *dir;
	FILE *cf;
	char *tmp;                /* the open chunk's temporary path */
	char *final;
	unsigned chunkno;
	uint64_t in_chunk, raw;
	struct sha sha;
	struct dh_buf chunks;     /* manifest entries so far */
	int finished;
};

static int path_join(char **out, const char *dir, const char *name)
{
	if (asprintf(out, "%s/%s", dir, name) < 0) {
		*out = NULL;
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	return 0;
}

static int writer_new(struct dh_dump_writer **out, const struct dh_dump_opts *o)
{
	struct dh_dump_writer *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (!w)
		return dh_error_set(DH_ENOMEM, "out of memory");
	w->fmt = o->format;
	w->gzip = o->gzip;
	w->chunk_records = o->chunk_records ? o->chunk_records : DH_DUMP_CHUNK_RECORDS;
	*out = w;
	return 0;
}

int dh_dump_writer_file(struct dh_dump_writer **out, FILE *f, const char *name, const struct dh_dump_opts *o)
{
	struct dh_dump_writer *w;
	int rc;

	*out = NULL;
	if (o->format != DH_DUMP_SEQ && o->format != DH_DUMP_LEGACY)
		return dh_error_set(DH_EUSAGE, "a %s dump cannot be written to a file",
		                    dh_dump_format_name(o->format) ? dh_dump_format_name(o->format) : "?");
	if ((rc = writer_new(&w, o)))
		return rc;
	if ((rc = out_init(&w->o, f, name ? name : "<stdout>", o->gzip))) {
		dh_dump_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

static int is_chunk_name(const char *s)
{
	size_t n = 0;

	if (strncmp(s, "datoms-", 7))
		return 0;
	s += 7;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n < 6)
		return 0;
	s += n;
	return !strcmp(s, ".cbor") || !strcmp(s, ".cbor.gz");
}

/* Remove an old dump from `dir` (manifest first) or refuse a non-empty one. */
static int clear_dir(const char *dir, int force)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char *p = NULL;
	int rc = 0, other = 0;

	if (!d)
		return dh_error_set(DH_EIO, "cannot open directory '%s': %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		other = 1;
		break;
	}
	if (!other)
		goto out;
	if (!force) {
		rc = dh_error_set(DH_EEXISTS, "directory '%s' is not empty (use --force to replace a dump)", dir);
		goto out;
	}
	if ((rc = path_join(&p, dir, "manifest.edn")))
		goto out;
	if (unlink(p) && errno != ENOENT) {
		rc = dh_error_set(DH_EIO, "cannot remove '%s': %s", p, strerror(errno));
		goto out;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		int tmp = n > 4 && !strcmp(de->d_name + n - 4, ".tmp");

		if (!is_chunk_name(de->d_name) && !tmp)
			continue;
		free(p);
		if ((rc = path_join(&p, dir, de->d_name)))
			goto out;
		if (unlink(p) && errno != ENOENT) {
			rc = dh_error_set(DH_EIO, "cannot remove '%s': %s", p, strerror(errno));
			goto out;
		}
	}
out:
	free(p);
	closedir(d);
	return rc;
}

int dh_dump_writer_dir(struct dh_dump_writer **out, const char *dir, const struct dh_dump_opts *o)
{
	struct dh_dump_writer *w = NULL;
	struct stat st;
	int rc;

	*out = NULL;
	if (o->format != DH_DUMP_CHUNKED)
		return dh_error_set(DH_EUSAGE, "a directory takes a chunked dump");
	if (stat(dir, &st)) {
		if (errno != ENOENT || mkdir(dir, 0700))
			return dh_error_set(DH_EIO, "cannot create directory '%s': %s", dir, strerror(errno));
	} else if (!S_ISDIR(st.st_mode)) {
		return dh_error_set(DH_EEXISTS, "'%s' exists and is not a directory", dir);
	} else if ((rc = clear_dir(dir, o->force))) {
		return rc;
	}
	if ((rc = writer_new(&w, o)))
		return rc;
	if (!(w->dir = strdup(dir))) {
		dh_dump_writer_free(w);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	*out = w;
	return 0;
}

static int sync_file(FILE *f, const char *name)
{
	if (fflush(f) || fsync(fileno(f)))
		return dh_error_set(DH_EIO, "cannot write '%s': %s", name, strerror(errno));
	return 0;
}

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int chunk_open(struct dh_dump_writer *w)
{
	char name[64];
	int rc;

	w->chunkno++;
	snprintf(name, sizeof(name), "datoms-%06u.cbor%s.tmp", w->chunkno, w->gzip ? ".gz" : "");
	if ((rc = path_join(&w->tmp, w->dir, name)))
		return rc;
	name[strlen(name) - 4] = '\0';
	if ((rc = path_join(&w->final, w->dir, name)))
		return rc;
	if (!(w->cf = fopen(w->tmp, "wb")))
		return dh_error_set(DH_EIO, "cannot create '%s': %s", w->tmp, strerror(errno));
	/* a history dump holds every value ever asserted: owner only, as Datahike does */
	fchmod(fileno(w->cf), 0600);
	if ((rc = out_init(&w->o, w->cf, w->tmp, w->gzip)) || (rc = sha_begin(&w->sha)))
		return rc;
	w->o.sha = &w->sha;
	w->in_chunk = 0;
	w->raw = 0;
	return 0;
}

static int chunk_close(struct dh_dump_writer *w)
{
	char hex[DH_HASH_HEX + 1];
	const char *base;
	int rc;

	if (!w->cf)
		return 0;
	if ((rc = out_flush(&w->o)) || (rc = sync_file(w->cf, w->tmp)))
		return rc;
	if (fclose(w->cf)) {
		w->cf = NULL;
		return dh_error_set(DH_EIO, "cannot write '%s': %s", w->tmp, strerror(errno));
	}
	w->cf = NULL;
	if (rename(w->tmp, w->final))
		return dh_error_set(DH_EIO, "cannot rename '%s': %s", w->tmp, strerror(errno));
	sha_end(&w->sha, hex);
	base = strrchr(w->final, '/') + 1;
	rc = dh_buf_addf(&w->chunks, "%s{:file \"%s\" :count %" PRIu64 " :bytes %" PRIu64
	                 " :raw-bytes %" PRIu64 " :sha256 \"%s\"}",
	                 w->chunks.len ? "\n           " : "", base, w->in_chunk, w->o.stored, w->raw, hex);
	out_release(&w->o);
	free(w->tmp);
	free(w->final);
	w->tmp = w->final = NULL;
	return rc;
}

int dh_dump_write_raw(struct dh_dump_writer *w, const void *rec, size_t len)
{
	int rc;

	if (w->fmt == DH_DUMP_CHUNKED) {
		if (!w->cf && (rc = chunk_open(w)))
			return rc;
		w->raw += len;
	}
	if ((rc = out_write(&w->o, rec, len)))
		return rc;
	/* only a manifest carries the digest; a sequence just counts */
	if (w->fmt == DH_DUMP_CHUNKED)
		dh_digest_add(&w->digest, rec, len);
	else
		w->digest.count++;
	if (w->fmt == DH_DUMP_CHUNKED && ++w->in_chunk >= w->chunk_records)
		return chunk_close(w);
	return 0;
}

int dh_dump_write(struct dh_dump_writer *w, const struct dh_record *r)
{
	int rc;

	dh_buf_reset(&w->enc);
	if ((rc = dh_record_encode(&w->enc, r, w->fmt == DH_DUMP_LEGACY)))
		return rc;
	return dh_dump_write_raw(w, w->enc.data, w->enc.len);
}

enum dh_dump_format dh_dump_writer_format(const struct dh_dump_writer *w)
{
	return w->fmt;
}

const struct dh_digest *dh_dump_writer_digest(const struct dh_dump_writer *w)
{
	return &w->digest;
}

static int write_manifest(struct dh_dump_writer *w, const struct dh_dump_meta *m)
{
	struct dh_buf t = DH_BUF_INIT;
	char *tmp = NULL, *final = NULL;
	FILE *f = NULL;
	int rc;

	rc = dh_buf_addf(&t, "{:datahike.migrate/format-version %d\n :history? %s\n :serialization :cbor-seq\n"
	                 " :datahike/meta {:dh/version \"%s\"}\n :requires %s\n :source-config %s\n"
	                 " :schema %s\n :system-idents {}\n :stats {:datom-count %" PRIu64,
	                 DH_DUMP_FORMAT_VERSION, m && m->history ? "true" : "false", DH_VERSION,
	                 m && m->requires_edn ? m->requires_edn : "[:datahike.migrate/cbor-seq]",
	                 m && m->source_config_edn ? m->source_config_edn : "{}",
	                 m && m->schema_edn ? m->schema_edn : "{}", w->digest.count);
	if (!rc && m && m->source_count >= 0)
		rc = dh_buf_addf(&t, " :source-datom-count %" PRId64, m->source_count);
	else if (!rc)
		rc = dh_buf_adds(&t, " :source-datom-count nil");
	if (!rc)
		rc = dh_buf_addf(&t, " :transformed? false :max-eid %" PRId64 " :max-tx %" PRId64 "}\n"
		                 " :semantic-digest ", m ? m->max_eid : 0, m ? m->max_tx : 0);
	if (!rc)
		rc = dh_digest_edn(&t, &w->digest);
	if (!rc)
		rc = dh_buf_addf(&t, "\n :store-refs nil\n :chunks [%s]\n :compression %s}\n",
		                 w->chunks.len ? w->chunks.data : "", w->gzip ? ":gzip" : ":none");
	if (rc || (rc = path_join(&tmp, w->dir, "manifest.edn.tmp")) ||
	    (rc = path_join(&final, w->dir, "manifest.edn")))
		goto out;
	if (!(f = fopen(tmp, "wb"))) {
		rc = dh_error_set(DH_EIO, "cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	fchmod(fileno(f), 0600);
	if (fwrite(t.data, 1, t.len, f) != t.len) {
		rc = dh_error_set(DH_EIO, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if ((rc = sync_file(f, tmp)))
		goto out;
	if (fclose(f)) {
		f = NULL;
		rc = dh_error_set(DH_EIO, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	sync_dir(w->dir);   /* the chunks' renames first */
	if (rename(tmp, final)) {
		rc = dh_error_set(DH_EIO, "cannot rename '%s': %s", tmp, strerror(errno));
		goto out;
	}
	sync_dir(w->dir);
out:
	if (f) {
		fclose(f);
		unlink(tmp);
	}
	free(tmp);
	free(final);
	dh_buf_release(&t);
	return rc;
}

int dh_dump_writer_finish(struct dh_dump_writer *w, const struct dh_dump_meta *m)
{
	int rc;

	if (w->finished)
		return 0;
	if (w->fmt == DH_DUMP_CHUNKED) {
		if ((rc = chunk_close(w)) || (rc = write_manifest(w, m)))
			return rc;
	} else if ((rc = out_flush(&w->o))) {
		return rc;
	}
	w->finished = 1;
	return 0;
}

void dh_dump_writer_free(struct dh_dump_writer *w)
{
	if (!w)
		return;
	if (w->cf) {
		fclose(w->cf);
		unlink(w->tmp);
	}
	if (w->dir && !w->finished) {
		char *p = NULL;

		if (!path_join(&p, w->dir, "manifest.edn.tmp"))
			unlink(p);
		free(p);
	}
	out_release(&w->o);
	sha_free(&w->sha);
	dh_buf_release(&w->enc);
	dh_buf_release(&w->chunks);
	free(w->tmp);
	free(w->final);
	free(w->dir);
	free(w);
}

/* ---- input: plain or gzip (concatenated members), optionally teed ----- */

struct src {
	FILE *f;
	const char *name;
	int own;                  /* fclose f at the end */
	int gzip;
	int raw_eof;
	int zdone;                /* a member ended and no more input followed */
	z_stream z;
	int zinit;
	unsigned char *in;        /* raw input buffer */
	size_t in_pos, in_len;
	FILE *tee;                /* raw bytes copied here (stdin spool) */
	struct sha *sha;          /* uncompressed bytes hashed here */
};

static int src_fill(struct src *s)
{
	size_t n;

	if (s->raw_eof) {
		/* nothing more: say so, or a truncated gzip stream loops forever */
		s->in_pos = s->in_len = 0;
		return 0;
	}
	n = fread(s->in, 1, IO_CHUNK, s->f);
	if (n < IO_CHUNK) {
		if (ferror(s->f))
			return dh_error_set(DH_EIO, "cannot read '%s': %s", s->name, strerror(errno ? errno : EIO));
		s->raw_eof = 1;
	}
	if (s->tee && n && fwrite(s->in, 1, n, s->tee) != n)
		return dh_error_set(DH_EIO, "cannot spool '%s' to a temporary file: %s", s->name, strerror(errno));
	s->in_pos = 0;
	s->in_len = n;
	return 0;
}

/* Open over `f`; the first bytes decide gzip unless `gzip` is 0 or 1. */
static int src_open(struct src *s, FILE *f, const char *name, int own, int gzip, FILE *tee)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->f = f;
	s->name = name;
	s->own = own;
	s->tee = tee;
	if (!(s->in = malloc(IO_CHUNK)))
		return dh_error_set(DH_ENOMEM, "out of memory");
	if ((rc = src_fill(s)))
		return rc;
	if (gzip < 0)
		gzip = s->in_len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b;
	s->gzip = gzip;
	if (gzip) {
		if (inflateInit2(&s->z, 31) != Z_OK)
			return dh_error_set(DH_ENOMEM, "cannot start gunzip");
		s->zinit = 1;
	}
	return 0;
}

/* Up to n uncompressed bytes into dst; 0 at the end. */
static long src_read(struct src *s, unsigned char *dst, size_t n)
{
	int rc;

	if (!s->gzip) {
		if (s->in_pos == s->in_len) {
			if ((rc = src_fill(s)))
				return rc;
			if (!s->in_len)
				return 0;
		}
		if (n > s->in_len - s->in_pos)
			n = s->in_len - s->in_pos;
		memcpy(dst, s->in + s->in_pos, n);
		s->in_pos += n;
		if (s->sha)
			sha_update(s->sha, dst, n);
		return (long)n;
	}
	for (;;) {
		int zr;
		size_t got;

		if (s->zdone)
			return 0;
		if (s->in_pos == s->in_len) {
			if ((rc = src_fill(s)))
				return rc;
			if (!s->in_len)
				return dh_error_set(DH_ECORRUPT, "%s: truncated gzip stream", s->name);
		}
		s->z.next_in = s->in + s->in_pos;
		s->z.avail_in = (uInt)(s->in_len - s->in_pos);
		s->z.next_out = dst;
		s->z.avail_out = (uInt)n;
		zr = inflate(&s->z, Z_NO_FLUSH);
		s->in_pos = s->in_len - s->z.avail_in;
		got = n - s->z.avail_out;
		if (zr == Z_STREAM_END) {
			/* another member may follow */
			if (s->in_pos == s->in_len && (rc = src_fill(s)))
				return rc;
			if (s->in_pos == s->in_len)
				s->zdone = 1;
			else
				inflateReset(&s->z);
		} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			return dh_error_set(DH_ECORRUPT, "%s: not a valid gzip stream (%s)", s->name,
			                    s->z.msg ? s->z.msg : "inflate failed");
		}
		if (got) {
			if (s->sha)
				sha_update(s->sha, dst, got);
			return (long)got;
		}
	}
}

static void src_close(struct src *s)
{
	if (s->zinit)
		inflateEnd(&s->z);
	if (s->own && s->f)
		fclose(s->f);
	free(s->in);
	memset(s, 0, sizeof(*s));
}

/* ---- readers ----------------------------------------------------------- */

struct chunk {
	char *file;
	char sha[DH_HASH_HEX + 1];
	int64_t count;            /* -1: not declared */
};

struct dh_dump_reader {
	enum dh_dump_format fmt;
	char *dir;                /* chunked */
	char *path;               /* single file; NULL: stdin */
	int gzip;                 /* chunked: from the manifest */
	struct dh_arena *marena;
	struct dh_val manifest;
	int has_manifest;
	struct chunk *chunks;
	size_t nchunks;
	size_t ci;                /* next chunk to open */
	int open;                 /* a source is open */
	int ended;
	struct src in;
	struct sha sha;
	const char *cur;          /* name of the open chunk or file */
	unsigned char *buf;
	size_t start, end, cap;
	uint64_t base;            /* stream offset of buf[0] */
	uint64_t rec_index;       /* records read from the current chunk */
	uint64_t rec_off;         /* stream offset of the last record */
	int src_eof;
	FILE *spool;              /* stdin copy made by verify */
	off_t stdin_off;          /* where a regular-file stdin started; -1: unknown */
	int stdin_used;
	int use_spool;
	int legacy_seen;
	int no_digest;            /* a single file's digest is not wanted */
	int checked;
	struct dh_dump_check check;
	char where[600];
};

static int bad_manifest(const struct dh_dump_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad_manifest(const struct dh_dump_reader *r, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return dh_error_set(DH_ECORRUPT, "%s/manifest.edn: %s", r->dir, msg);
}

static int is_hex64(const struct dh_val *v)
{
	if (!v || v->type != DH_STRING || v->len != DH_HASH_HEX)
		return 0;
	for (uint32_t i = 0; i < v->len; i++)
		if (!strchr("0123456789abcdef", v->u.s[i]))
			return 0;
	return 1;
}

/* Capabilities a dump may require that we honour (Datahike's names). */
static int capability_known(const struct dh_val *v)
{
	static const char *const known[] = {
		"datahike.migrate/cbor-seq", "datahike.migrate/history",
		"db.type/string", "db.type/keyword", "db.type/symbol", "db.type/long", "db.type/double",
		"db.type/float", "db.type/boolean", "db.type/instant", "db.type/uuid", "db.type/ref",
		"db.type/bigint", "db.type/bigdec", "db.type/bytes", "db.type/tuple", "db.type/number",
		"db.type/valueType", "db.type/cardinality", "db.type/unique", "db.type.install/attribute",
		NULL,
	};

	if (v->type != DH_KEYWORD)
		return 0;
	for (int i = 0; known[i]; i++)
		if (dh_val_is_kw(v, known[i]))
			return 1;
	return 0;
}

static int read_manifest(struct dh_dump_reader *r)
{
	struct dh_buf text = DH_BUF_INIT;
	char *path = NULL;
	const struct dh_val *m, *v, *cs;
	FILE *f = NULL;
	int rc;

	if ((rc = path_join(&path, r->dir, "manifest.edn")))
		goto out;
	if (!(f = fopen(path, "rb"))) {
		if (errno == ENOENT)
			rc = dh_error_set(DH_ENOTFOUND, "'%s' is not a dump: no manifest.edn "
			                  "(written last, so an export that did not finish has none)", r->dir);
		else
			rc = dh_error_set(DH_EIO, "cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		size_t n;

		if ((rc = dh_buf_grow(&text, IO_CHUNK)))
			goto out;
		n = fread(text.data + text.len, 1, IO_CHUNK, f);
		text.len += n;
		if (text.len > MANIFEST_MAX) {
			rc = bad_manifest(r, "larger than %u bytes", MANIFEST_MAX);
			goto out;
		}
		if (n < IO_CHUNK)
			break;
	}
	if (ferror(f)) {
		rc = dh_error_set(DH_EIO, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	if ((rc = dh_arena_new(&r->marena)))
		goto out;
	if ((rc = dh_edn_parse(&r->manifest, r->marena, text.data, text.len, path))) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", dh_errmsg());
		rc = rc == DH_ENOMEM ? rc : dh_error_set(DH_ECORRUPT, "%s", msg);
		goto out;
	}
	r->has_manifest = 1;
	m = &r->manifest;
	if (m->type != DH_MAP) {
		rc = bad_manifest(r, "not a map");
		goto out;
	}
	v = dh_map_getk(m, "datahike.migrate/format-version");
	if (!v) {
		rc = bad_manifest(r, "not a datahike dump: no :datahike.migrate/format-version");
		goto out;
	}
	if (v->type != DH_LONG) {
		rc = bad_manifest(r, "not a datahike dump: :datahike.migrate/format-version is not a number");
		goto out;
	}
	if (v->u.i > DH_DUMP_FORMAT_VERSION || v->u.i < 1) {
		rc = dh_error_set(DH_EUNSUPPORTED, "%s/manifest.edn: dump format version %" PRId64
		                  " is not one this dh reads (%d)", r->dir, v->u.i, DH_DUMP_FORMAT_VERSION);
		goto out;
	}
	v = dh_map_getk(m, "compression");
	if (!v || dh_val_is_kw(v, "none")) {
		r->gzip = 0;
	} else if (dh_val_is_kw(v, "gzip")) {
		r->gzip = 1;
	} else {
		struct dh_buf t = DH_BUF_INIT;

		dh_edn_print(&t, v);
		rc = dh_error_set(DH_EUNSUPPORTED, "%s/manifest.edn: compression %s is not supported "
		                  "(:gzip and :none are)", r->dir, t.data ? t.data : "?");
		dh_buf_release(&t);
		goto out;
	}
	v = dh_map_getk(m, "source-config");
	if (v && v->type == DH_MAP) {
		const struct dh_val *ar = dh_map_getk(v, "attribute-refs?");

		if (ar && ar->type == DH_BOOL && ar->u.b) {
			rc = dh_error_set(DH_EUNSUPPORTED, "%s/manifest.edn: dumps of attribute-refs databases "
			                  "are not supported", r->dir);
			goto out;
		}
	}
	v = dh_map_getk(m, "requires");
	if (v && (v->type == DH_VECTOR || v->type == DH_LIST || v->type == DH_SET)) {
		for (uint32_t i = 0; i < v->len; i++) {
			if (!capability_known(&v->u.items[i])) {
				struct dh_buf t = DH_BUF_INIT;

				dh_edn_print(&t, &v->u.items[i]);
				rc = dh_error_set(DH_EUNSUPPORTED, "%s/manifest.edn: the dump requires %s, "
				                  "which dh cannot read", r->dir, t.data ? t.data : "?");
				dh_buf_release(&t);
				goto out;
			}
		}
	}
	cs = dh_map_getk(m, "chunks");
	if (!cs || (cs->type != DH_VECTOR && cs->type != DH_LIST)) {
		rc = bad_manifest(r, "no :chunks vector");
		goto out;
	}
	if (cs->len && !(r->chunks = calloc(cs->len, sizeof(*r->chunks)))) {
		rc = dh_error_set(DH_ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < cs->len; i++) {
		const struct dh_val *c = &cs->u.items[i], *file, *sha, *cnt;

		if (c->type != DH_MAP) {
			rc = bad_manifest(r, "chunk %u is not a map", i + 1);
			goto out;
		}
		file = dh_map_getk(c, "file");
		if (!file || file->type != DH_STRING || strlen(file->u.s) != file->len ||
		    !is_chunk_name(file->u.s)) {
			rc = bad_manifest(r, "chunk %u: :file is not a chunk name (datoms-NNNNNN.cbor[.gz])", i + 1);
			goto out;
		}
		sha = dh_map_getk(c, "sha256");
		if (!sha) {
			rc = bad_manifest(r, "chunk %s has no :sha256", file->u.s);
			goto out;
		}
		if (!is_hex64(sha)) {
			rc = bad_manifest(r, "chunk %s: :sha256 is not 64 lowercase hex digits", file->u.s);
			goto out;
		}
		cnt = dh_map_getk(c, "count");
		if (cnt && (cnt->type != DH_LONG || cnt->u.i < 0)) {
			rc = bad_manifest(r, "chunk %s: :count is not a count", file->u.s);
			goto out;
		}
		r->chunks[i].file = (char *)file->u.s;
		memcpy(r->chunks[i].sha, sha->u.s, DH_HASH_HEX + 1);
		r->chunks[i].count = cnt ? cnt->u.i : -1;
		r->nchunks++;
	}
out:
	if (f)
		fclose(f);
	free(path);
	dh_buf_release(&text);
	return rc;
}

int dh_dump_reader_open(struct dh_dump_reader **out, const char *path, enum dh_dump_format want)
{
	struct dh_dump_reader *r = calloc(1, sizeof(*r));
	struct stat st;
	int rc = 0;

	*out = NULL;
	if (!r)
		return dh_error_set(DH_ENOMEM, "out of memory");
	if (path && !strcmp(path, "-"))
		path = NULL;
	if (path && stat(path, &st)) {
		rc = dh_error_set(errno == ENOENT ? DH_ENOTFOUND : DH_EIO, "cannot open '%s': %s", path,
		                  strerror(errno));
		goto out;
	}
	if (path && !S_ISDIR(st.st_mode)) {
		const char *b = strrchr(path, '/');

		if (!strcmp(b ? b + 1 : path, "manifest.edn")) {
			r->dir = b ? strndup(path, (size_t)(b - path) + (b == path)) : strdup(".");
			if (!r->dir) {
				rc = dh_error_set(DH_ENOMEM, "out of memory");
				goto out;
			}
		}
	} else if (path) {
		if (!(r->dir = strdup(path))) {
			rc = dh_error_set(DH_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (r->dir) {
		if (want != DH_DUMP_AUTO && want != DH_DUMP_CHUNKED) {
			rc = dh_error_set(DH_EUSAGE, "'%s' is a directory: a chunked dump, not %s", path,
			                  dh_dump_format_name(want));
			goto out;
		}
		r->fmt = DH_DUMP_CHUNKED;
		rc = read_manifest(r);
		goto out;
	}
	if (want == DH_DUMP_CHUNKED) {
		rc = dh_error_set(DH_EUSAGE, "a chunked dump is a directory, not '%s'", path ? path : "<stdin>");
		goto out;
	}
	r->fmt = want == DH_DUMP_LEGACY ? DH_DUMP_LEGACY : DH_DUMP_SEQ;
	if (path && !(r->path = strdup(path)))
		rc = dh_error_set(DH_ENOMEM, "out of memory");
out:
	if (rc) {
		dh_dump_reader_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static void close_source(struct dh_dump_reader *r)
{
	if (r->open)
		src_close(&r->in);
	r->open = 0;
}

void dh_dump_reader_free(struct dh_dump_reader *r)
{
	if (!r)
		return;
	close_source(r);
	sha_free(&r->sha);
	if (r->spool)
		fclose(r->spool);
	free(r->chunks);
	dh_arena_free(r->marena);
	free(r->buf);
	free(r->dir);
	free(r->path);
	free(r);
}

enum dh_dump_format dh_dump_reader_format(const struct dh_dump_reader *r)
{
	if (r->fmt == DH_DUMP_SEQ && r->legacy_seen)
		return DH_DUMP_LEGACY;
	return r->fmt;
}

const struct dh_val *dh_dump_reader_manifest(const struct dh_dump_reader *r)
{
	return r->has_manifest ? &r->manifest : NULL;
}

const char *dh_dump_reader_where(struct dh_dump_reader *r)
{
	snprintf(r->where, sizeof(r->where), "%s: record %" PRIu64 " (byte %" PRIu64 ")",
	         r->cur ? r->cur : "?", r->rec_index, r->rec_off);
	return r->where;
}

/* Open the next chunk (or the single file); 0 when there is none. */
static int open_next(struct dh_dump_reader *r)
{
	FILE *f = NULL, *tee = NULL;
	char *p = NULL;
	int rc, own = 1, gz = -1;

	if (r->fmt == DH_DUMP_CHUNKED) {
		if (r->ci >= r->nchunks)
			return 0;
		if ((rc = path_join(&p, r->dir, r->chunks[r->ci].file)))
			return rc;
		f = fopen(p, "rb");
		if (!f) {
			rc = dh_error_set(errno == ENOENT ? DH_ECORRUPT : DH_EIO, "%s/%s: cannot open chunk: %s",
			                  r->dir, r->chunks[r->ci].file, strerror(errno));
			free(p);
			return rc;
		}
		free(p);
		r->cur = r->chunks[r->ci].file;
		gz = r->gzip;
		r->ci++;
	} else {
		if (r->ci)
			return 0;
		r->ci++;
		if (r->use_spool) {
			f = r->spool;
			own = 0;
			rewind(f);
		} else if (r->path) {
			if (!(f = fopen(r->path, "rb")))
				return dh_error_set(DH_EIO, "cannot open '%s': %s", r->path, strerror(errno));
		} else {
			f = stdin;
			own = 0;
			tee = r->spool;
			if (!r->stdin_used) {
				r->stdin_off = ftello(stdin);
				r->stdin_used = 1;
			} else if (r->stdin_off < 0 || fseeko(stdin, r->stdin_off, SEEK_SET)) {
				return dh_error_set(DH_EIO, "cannot read <stdin> a second time");
			}
			clearerr(stdin);
		}
		r->cur = r->path ? r->path : "<stdin>";
	}
	/* only a chunk has a SHA-256 to check */
	if (r->fmt == DH_DUMP_CHUNKED && (rc = sha_begin(&r->sha)))
		goto fail;
	if ((rc = src_open(&r->in, f, r->cur, own, gz, tee)))
		goto fail;
	r->in.sha = r->fmt == DH_DUMP_CHUNKED ? &r->sha : NULL;
	r->open = 1;
	r->start = r->end = 0;
	r->base = 0;
	r->rec_index = 0;
	r->rec_off = 0;
	r->src_eof = 0;
	return 1;
fail:
	if (!r->in.f && own && f)
		fclose(f);
	src_close(&r->in);
	return rc;
}

/* The open chunk ended: check its count and hash. */
static int end_chunk(struct dh_dump_reader *r)
{
	char hex[DH_HASH_HEX + 1];
	const struct chunk *c;

	close_source(r);
	if (r->fmt != DH_DUMP_CHUNKED)
		return 0;
	sha_end(&r->sha, hex);
	c = &r->chunks[r->ci - 1];
	if (strcmp(hex, c->sha))
		return dh_error_set(DH_ECORRUPT, "%s: checksum mismatch: sha256 %s, the manifest says %s",
		                    c->file, hex, c->sha);
	if (c->count >= 0 && (uint64_t)c->count != r->rec_index)
		return dh_error_set(DH_ECORRUPT, "%s: %" PRIu64 " records, the manifest says %" PRId64,
		                    c->file, r->rec_index, c->count);
	return 0;
}

static int where_fail(struct dh_dump_reader *r, int rc)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s", dh_errmsg());
	return dh_error_set(rc, "%s: %s", dh_dump_reader_where(r), msg);
}

/*
 * Old Datahike (clj-cbor) wrote the doubles 0.0, -0.0, NaN and the
 * infinities as half-precision floats; nothing else writes halves into a
 * dump, so a half-precision value is read back as the double it was.
 */
static void widen_half(struct dh_record *out, const unsigned char *p, size_t len)
{
	uint64_t n;
	size_t off = 1;

	for (int i = 0; i < 2; i++) {
		if (dh_cbor_frame(p + off, len - off, &n) != 1)
			return;
		off += (size_t)n;
	}
	if (off < len && p[off] == 0xf9)
		out->v.type = DH_DOUBLE;
}

int dh_dump_read(struct dh_dump_reader *r, struct dh_arena *a, struct dh_record *out,
                 const unsigned char **raw, size_t *rawlen)
{
	uint64_t need = 0;
	int rc;

	if (r->ended)
		return 0;
	for (;;) {
		size_t avail;
		long n;

		if (!r->open) {
			rc = open_next(r);
			if (rc < 0)
				return rc;
			if (!rc) {
				r->ended = 1;
				return 0;
			}
		}
		avail = r->end - r->start;
		if (avail) {
			rc = dh_cbor_frame(r->buf + r->start, avail, &need);
			if (rc < 0) {
				r->rec_index++;
				r->rec_off = r->base + r->start;
				return where_fail(r, rc);
			}
			if (rc == 1)
				break;
			if (need > DH_DUMP_MAX_RECORD) {
				r->rec_index++;
				r->rec_off = r->base + r->start;
				return dh_error_set(DH_ECORRUPT, "%s: the record declares at least %" PRIu64
				                    " bytes, more than the limit of %u", dh_dump_reader_where(r),
				                    need, DH_DUMP_MAX_RECORD);
			}
		} else {
			need = 1;
		}
		if (r->src_eof) {
			if (!avail) {
				if ((rc = end_chunk(r)))
					return rc;
				continue;
			}
			r->rec_index++;
			r->rec_off = r->base + r->start;
			return dh_error_set(DH_ECORRUPT, "%s: truncated record: %zu bytes left, it needs %" PRIu64,
			                    dh_dump_reader_where(r), avail, need);
		}
		/* make room: keep the partial record, grow to what it needs */
		if (r->start) {
			memmove(r->buf, r->buf + r->start, avail);
			r->base += r->start;
			r->start = 0;
			r->end = avail;
		}
		/*
		 * Grow with the bytes that actually arrive, not to what the record
		 * claims: a few bytes claiming 64 MiB must not allocate 64 MiB.
		 */
		if (r->cap - r->end < IO_CHUNK) {
			size_t cap = r->cap ? r->cap : IO_CHUNK * 2;
			unsigned char *nb;

			while (cap - r->end < IO_CHUNK)
				cap *= 2;
			if (!(nb = realloc(r->buf, cap)))
				return dh_error_set(DH_ENOMEM, "out of memory");
			r->buf = nb;
			r->cap = cap;
		}
		n = src_read(&r->in, r->buf + r->end, r->cap - r->end);
		if (n < 0) {
			r->rec_off = r->base + r->end;
			return n == DH_ECORRUPT ? where_fail(r, (int)n) : (int)n;
		}
		if (!n)
			r->src_eof = 1;
		r->end += (size_t)n;
	}
	r->rec_index++;
	r->rec_off = r->base + r->start;
	{
		const unsigned char *p = r->buf + r->start;
		size_t len = (size_t)need;

		r->start += len;
		if ((rc = dh_record_decode(out, a, p, len)))
			return where_fail(r, rc);
		if (out->v.type == DH_FLOAT)
			widen_half(out, p, len);
		if (raw)
			*raw = p;
		if (rawlen)
			*rawlen = len;
	}
	return 1;
}

static int rewind_reader(struct dh_dump_reader *r)
{
	close_source(r);
	r->ci = 0;
	r->ended = 0;
	r->cur = NULL;
	return 0;
}

/* Check the manifest's own claims against what the pass found. */
static int check_manifest_totals(struct dh_dump_reader *r, const struct dh_dump_check *c)
{
	const struct dh_val *m = &r->manifest, *d, *st, *x;
	struct dh_digest want = { 0, 0, 0 };

	d = dh_map_getk(m, "semantic-digest");
	if (d) {
		const struct dh_val *xv, *sv, *cv;
		char *end;

		if (d->type != DH_MAP)
			return bad_manifest(r, ":semantic-digest is not a map");
		xv = dh_map_getk(d, "xor");
		sv = dh_map_getk(d, "sum");
		cv = dh_map_getk(d, "count");
		if (!xv || xv->type != DH_STRING || !sv || sv->type != DH_STRING || !cv || cv->type != DH_LONG)
			return bad_manifest(r, ":semantic-digest needs :xor, :sum and :count");
		want.x = strtoull(xv->u.s, &end, 16);
		if (*end || xv->len != 16)
			return bad_manifest(r, ":semantic-digest :xor is not 16 hex digits");
		want.sum = strtoull(sv->u.s, &end, 16);
		if (*end || sv->len != 16)
			return bad_manifest(r, ":semantic-digest :sum is not 16 hex digits");
		want.count = (uint64_t)cv->u.i;
		if (!dh_digest_eq(&want, &c->digest)) {
			struct dh_buf g = DH_BUF_INIT, w = DH_BUF_INIT;
			int rc;

			dh_digest_edn(&g, &c->digest);
			dh_digest_edn(&w, &want);
			rc = dh_error_set(DH_ECORRUPT, "%s: semantic digest mismatch: the records give %s, "
			                  "the manifest says %s", r->dir, g.data ? g.data : "?", w.data ? w.data : "?");
			dh_buf_release(&g);
			dh_buf_release(&w);
			return rc;
		}
	}
	st = dh_map_getk(m, "stats");
	if (st && st->type == DH_MAP) {
		const struct dh_val *tr;

		x = dh_map_getk(st, "datom-count");
		if (x && x->type == DH_LONG && (uint64_t)x->u.i != c->records)
			return dh_error_set(DH_ECORRUPT, "%s: %" PRIu64 " records, the manifest's "
			                    ":datom-count says %" PRId64, r->dir, c->records, x->u.i);
		x = dh_map_getk(st, "source-datom-count");
		tr = dh_map_getk(st, "transformed?");
		if (x && x->type == DH_LONG && (uint64_t)x->u.i > c->records &&
		    !(tr && tr->type == DH_BOOL && tr->u.b))
			return dh_error_set(DH_ECORRUPT, "%s: incomplete dump: %" PRIu64 " records, but the "
			                    "source database held %" PRId64, r->dir, c->records, x->u.i);
	}
	return 0;
}

/* An unlinked temporary file in $TMPDIR (tmpfile() ignores it). */
static int spool_open(FILE **out)
{
	const char *dir = getenv("TMPDIR");
	char *path = NULL;
	int fd;

	*out = NULL;
	if (!dir || !*dir)
		dir = "/tmp";
	if (asprintf(&path, "%s/dh-import-XXXXXX", dir) < 0)
		return dh_error_set(DH_ENOMEM, "out of memory");
	fd = mkstemp(path);
	if (fd < 0) {
		int rc = dh_error_set(DH_EIO, "cannot create a temporary file in '%s': %s", dir, strerror(errno));

		free(path);
		return rc;
	}
	unlink(path);
	free(path);
	if (!(*out = fdopen(fd, "w+b"))) {
		close(fd);
		return dh_error_set(DH_EIO, "cannot open a temporary file: %s", strerror(errno));
	}
	return 0;
}

int dh_dump_verify(struct dh_dump_reader *r, struct dh_dump_check *out)
{
	struct dh_dump_check c;
	struct dh_arena *a = NULL;
	struct dh_record rec;
	const unsigned char *raw;
	size_t rawlen;
	int64_t cur_tx = -1;
	int data_seen = 0;
	int rc;

	memset(&c, 0, sizeof(c));
	c.tx_ordered = 1;
	c.min_tx = INT64_MAX;
	if ((rc = rewind_reader(r)) || (rc = dh_arena_new(&a)))
		goto out;
	if (r->fmt != DH_DUMP_CHUNKED && !r->path && !r->spool) {
		struct stat st;

		if (fstat(fileno(stdin), &st) || !S_ISREG(st.st_mode)) {
			if ((rc = spool_open(&r->spool)))
				goto out;
		}
	}
	while ((rc = dh_dump_read(r, a, &rec, &raw, &rawlen)) > 0) {
		c.records++;
		if (r->fmt == DH_DUMP_CHUNKED || !r->no_digest)
			dh_digest_add(&c.digest, raw, rawlen);
		else
			c.digest.count++;
		if (rec.tx != cur_tx) {
			if (rec.tx < cur_tx)
				c.tx_ordered = 0;
			cur_tx = rec.tx;
			data_seen = 0;
		}
		if (rec.e == rec.tx) {
			if (data_seen)
				c.legacy = 1;
		} else {
			data_seen = 1;
		}
		if (rec.tx < c.min_tx)
			c.min_tx = rec.tx;
		if (rec.tx > c.max_tx)
			c.max_tx = rec.tx;
		if (rec.e != rec.tx && rec.e > c.max_eid && rec.e < DH_DUMP_TX0)
			c.max_eid = rec.e;
		dh_arena_reset(a);
	}
	if (rc < 0)
		goto out;
	rc = 0;
	if (!c.records)
		c.min_tx = 0;
	c.chunks = r->fmt == DH_DUMP_CHUNKED ? r->nchunks : 1;
	if (r->fmt == DH_DUMP_CHUNKED && (rc = check_manifest_totals(r, &c)))
		goto out;
	if (r->fmt == DH_DUMP_SEQ && c.legacy)
		r->legacy_seen = 1;
	if (r->spool) {
		if (fflush(r->spool)) {
			rc = dh_error_set(DH_EIO, "cannot write a temporary file: %s", strerror(errno));
			goto out;
		}
		r->use_spool = 1;
	}
	rewind_reader(r);
	r->checked = 1;
	r->check = c;
	if (out)
		*out = c;
out:
	dh_arena_free(a);
	return rc;
}

void dh_dump_reader_no_digest(struct dh_dump_reader *r)
{
	r->no_digest = 1;
}

int dh_dump_reader_checked(const struct dh_dump_reader *r, struct dh_dump_check *out)
{
	if (!r->checked)
		return 0;
	if (out)
		*out = r->check;
	return 1;
}
