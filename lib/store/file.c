/*
 * file.c - the file backend (file:///abs/dir, or a bare path).
 *
 * One file per key under the store's directory, so the store is literally
 * the key space: `format`, `nodes/ab/cdef...` (git's loose-object fan-out)
 * and `heads/<branch>`.  That makes rsync, git and cp valid ways to copy it.
 *
 * Writes: a value goes to a temporary file (`.tmp-*`, in the same directory)
 * that is renamed into place, so no reader ever sees a partial value under
 * its final name.  Durability is batched: put() does not fsync; flush()
 * (which every head compare-and-swap runs first) makes all files written
 * since the last flush durable at once, then the directories that gained
 * entries, so a head is never moved before the nodes it names are on disk.
 *
 * Heads: cas() holds an exclusive flock(2) on `.lock` while it reads,
 * compares and replaces the head (temp file, fsync, rename, fsync of the
 * directory).  flock is released by the kernel when a writer dies, so a
 * killed writer never leaves a stale lock.  Readers take no lock.
 *
 * Names starting with '.' are never keys and are skipped by list().
 *
 * Test hook: DH_FAULT, read once when the first file store is opened, makes
 * one system call of this backend fail so that tests can prove a failure at
 * any write point leaves the store valid (tests/t/9001-crash-safety.sh,
 * scripts/crash-test).  Its value is KIND:N, failing the Nth call (from 1)
 * of that kind in the process: write:N (EIO), enospc:N (ENOSPC), short:N
 * (the write stores half its bytes, the following write fails with EIO),
 * fsync:N (fsync, fdatasync or syncfs fails with EIO), rename:N (EIO), or
 * kill:N (the process SIGKILLs itself at the Nth write, sync or rename,
 * before doing it).  Not for production use.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dh-backend.h"
#include "store/backends.h"

/* More pending files than this are made durable with one syncfs(2). */
#define SYNCFS_THRESHOLD 64
/* put_many() of at least this many values writes them with threads. */
#define PARALLEL_MIN 32
#define WRITERS 4

struct file_store {
	struct dh_store base;
	char *root;
	int rootfd;
	int lockfd;
	unsigned long tmpseq;
	unsigned char fanout_known[32];  /* bitmap: nodes/xx exists */
	struct dh_buf pending;           /* NUL-separated relative paths not yet synced */
	size_t npending;
	struct dh_buf dirty_dirs;        /* NUL-separated directories to fsync */
};

enum fault_kind { FAULT_NONE, FAULT_WRITE, FAULT_ENOSPC, FAULT_SHORT, FAULT_FSYNC, FAULT_RENAME, FAULT_KILL };

static struct {
	enum fault_kind kind;
	long at;
	long writes, syncs, renames, points;  /* counted with atomics: put_many writes on threads */
	int short_done;
} fault;

static void fault_init(void)
{
	static const char *const names[] = { "", "write", "enospc", "short", "fsync", "rename", "kill" };
	const char *v = getenv("DH_FAULT"), *colon;
	size_t i;

	if (!v || !(colon = strchr(v, ':')))
		return;
	for (i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == (size_t)(colon - v) && !strncmp(v, names[i], (size_t)(colon - v)))
			fault.kind = (enum fault_kind)i;
	fault.at = strtol(colon + 1, NULL, 10);
}

/* Count a write, sync or rename point; die there when DH_FAULT=kill:N says so. */
static void fault_point(void)
{
	if (fault.kind == FAULT_KILL && __atomic_add_fetch(&fault.points, 1, __ATOMIC_SEQ_CST) == fault.at)
		raise(SIGKILL);
}

static ssize_t f_write(int fd, const void *p, size_t len)
{
	long n;

	fault_point();
	if (fault.kind < FAULT_WRITE || fault.kind > FAULT_SHORT)
		return write(fd, p, len);
	n = __atomic_add_fetch(&fault.writes, 1, __ATOMIC_SEQ_CST);
	if (fault.kind == FAULT_SHORT && __atomic_load_n(&fault.short_done, __ATOMIC_SEQ_CST) == 1) {
		__atomic_store_n(&fault.short_done, 2, __ATOMIC_SEQ_CST);
		errno = EIO;
		return -1;
	}
	if (n != fault.at)
		return write(fd, p, len);
	if (fault.kind == FAULT_SHORT && len > 1) {
		__atomic_store_n(&fault.short_done, 1, __ATOMIC_SEQ_CST);
		return write(fd, p, len / 2);
	}
	errno = fault.kind == FAULT_ENOSPC ? ENOSPC : EIO;
	return -1;
}

static int f_sync(int fd, int (*fn)(int))
{
	fault_point();
	if (fault.kind == FAULT_FSYNC && __atomic_add_fetch(&fault.syncs, 1, __ATOMIC_SEQ_CST) == fault.at) {
		errno = EIO;
		return -1;
	}
	return fn(fd);
}

static int f_renameat(int ofd, const char *o, int nfd, const char *n)
{
	fault_point();
	if (fault.kind == FAULT_RENAME && __atomic_add_fetch(&fault.renames, 1, __ATOMIC_SEQ_CST) == fault.at) {
		errno = EIO;
		return -1;
	}
	return renameat(ofd, o, nfd, n);
}

static int io_error(const char *what, const char *key)
{
	int e = errno;

	if (e == ENOSPC || e == EDQUOT)
		return dh_error_set(DH_EIO, "cannot %s '%s': %s", what, key, strerror(e));
	if (e == ENOMEM)
		return dh_error_set(DH_ENOMEM, "cannot %s '%s': %s", what, key, strerror(e));
	return dh_error_set(DH_EIO, "cannot %s '%s': %s", what, key, strerror(e));
}

static int mark_dir_dirty(struct file_store *fs, const char *dir)
{
	size_t i, n;

	for (i = 0; i < fs->dirty_dirs.len; i += n + 1) {
		n = strlen(fs->dirty_dirs.data + i);
		if (!strcmp(fs->dirty_dirs.data + i, dir))
			return 0;
	}
	return dh_buf_add(&fs->dirty_dirs, dir, strlen(dir) + 1);
}

static int fanout_index(const char *key)
{
	unsigned char b;

	if (strncmp(key, "nodes/", 6) || key[8] != '/' || dh_unhex(&b, key + 6, 1))
		return -1;
	return b;
}

/* Create the parent directories of `key` (relative to the root). */
static int make_parents(struct file_store *fs, const char *key)
{
	char path[DH_KEY_MAX + 1];
	char *slash;
	int fi = fanout_index(key), rc;

	if (fi >= 0 && (fs->fanout_known[fi / 8] & (1 << (fi % 8))))
		return 0;
	snprintf(path, sizeof(path), "%s", key);
	for (slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdirat(fs->rootfd, path, 0777) == 0) {
			char *up = strrchr(path, '/');

			if (up) {
				*up = '\0';
				rc = mark_dir_dirty(fs, path);
				*up = '/';
			} else {
				rc = mark_dir_dirty(fs, ".");
			}
			if (rc)
				return rc;
		} else if (errno != EEXIST) {
			return io_error("create directory", path);
		}
		*slash = '/';
	}
	if (fi >= 0)
		fs->fanout_known[fi / 8] |= (unsigned char)(1 << (fi % 8));
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = f_write(fd, p, len > (1 << 30) ? (1 << 30) : len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Write `data` to a new temporary file next to `key` (a dot name, never a
 * key), creating the directories it needs; its name goes to `tmp`.
 */
static int write_temp(struct file_store *fs, const char *key, const void *data, size_t len, char *tmp, size_t size)
{
	const char *slash = strrchr(key, '/');
	int fd, rc;

	snprintf(tmp, size, "%.*s.tmp-%ld-%lu", slash ? (int)(slash - key + 1) : 0, key, (long)getpid(),
		 ++fs->tmpseq);
	fd = openat(fs->rootfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0 && errno == ENOENT) {
		if ((rc = make_parents(fs, key)))
			return rc;
		fd = openat(fs->rootfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	}
	if (fd < 0)
		return io_error("create a temporary file for", key);
	if (write_all(fd, data, len)) {
		rc = io_error("write", key);
		close(fd);
		unlinkat(fs->rootfd, tmp, 0);
		return rc;
	}
	if (close(fd)) {
		rc = io_error("write", key);
		unlinkat(fs->rootfd, tmp, 0);
		return rc;
	}
	return 0;
}

/* Rename temporary file `tmp` over `key`; on failure the temporary file goes. */
static int rename_into_place(struct file_store *fs, const char *tmp, const char *key)
{
	int rc;

	if (f_renameat(fs->rootfd, tmp, fs->rootfd, key)) {
		rc = io_error("rename into place", key);
		unlinkat(fs->rootfd, tmp, 0);
		return rc;
	}
	return 0;
}

/* Write `data` to a temporary file next to `key` and rename it over `key`. */
static int replace_file(struct file_store *fs, const char *key, const void *data, size_t len)
{
	char tmp[DH_KEY_MAX + 64];
	int rc = write_temp(fs, key, data, len, tmp, sizeof(tmp));

	return rc ? rc : rename_into_place(fs, tmp, key);
}

static int file_open(struct dh_store **out, const struct dh_uri *uri, unsigned flags)
{
	struct file_store *fs;
	struct stat sb;
	int rc;

	static pthread_once_t fault_once = PTHREAD_ONCE_INIT;

	pthread_once(&fault_once, fault_init);
	if ((rc = dh_uri_check_params(uri, NULL)))
		return rc;
	if (uri->host && uri->host[0] && strcmp(uri->host, "localhost"))
		return dh_error_set(DH_EUSAGE, "file:// URIs name a local directory: use file:///abs/dir");
	if (uri->path[0] != '/')
		return dh_error_set(DH_EUSAGE, "file store path must be absolute: file:///abs/dir");
	fs = calloc(1, sizeof(*fs));
	if (!fs || !(fs->root = strdup(uri->path))) {
		free(fs);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	fs->lockfd = -1;
	if ((flags & DH_STORE_CREATE) && mkdir(fs->root, 0777) && errno != EEXIST) {
		rc = dh_error_set(DH_EIO, "cannot create directory '%s': %s", fs->root, strerror(errno));
		goto fail;
	}
	fs->rootfd = open(fs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->rootfd < 0) {
		rc = dh_error_set(errno == ENOENT ? DH_ENOTFOUND : DH_EIO, "cannot open store directory '%s': %s",
				  fs->root, strerror(errno));
		goto fail;
	}
	if (fstat(fs->rootfd, &sb) || !S_ISDIR(sb.st_mode)) {
		rc = dh_error_set(DH_EIO, "'%s' is not a directory", fs->root);
		close(fs->rootfd);
		goto fail;
	}
	*out = &fs->base;
	return 0;
fail:
	free(fs->root);
	free(fs);
	return rc;
}

/*
 * Make the files written since the last flush durable, and `extra` (a
 * temporary file the caller is about to rename into place) with them,
 * then the directories that gained entries.
 *
 * Each fdatasync(2) of a new file on a journaling file system commits the
 * journal: a few hundred microseconds apiece.  So writeback of every file
 * is started first (sync_file_range(2), which allocates their blocks into
 * the running journal transaction); then the first fdatasync commits that
 * one transaction for all of them, and the later ones, and the fsyncs of
 * the directories whose entries it committed, find little left to do.  Past
 * SYNCFS_THRESHOLD files one syncfs(2) does the same.
 */
static int sync_pending(struct file_store *fs, const char *extra)
{
	int fds[SYNCFS_THRESHOLD];
	const char *names[SYNCFS_THRESHOLD];
	size_t i, n, nfd = 0, j;
	int rc = 0;

	if (fs->npending + (extra != NULL) >= SYNCFS_THRESHOLD) {
		if (f_sync(fs->rootfd, syncfs))
			rc = dh_error_set(DH_EIO, "cannot sync the file system of '%s': %s", fs->root, strerror(errno));
	} else {
		for (i = 0; i <= fs->pending.len && !rc; i += n + 1) {
			const char *key = i < fs->pending.len ? fs->pending.data + i : extra;
			int fd;

			if (!key)
				break;
			n = i < fs->pending.len ? strlen(key) : 0;
			fd = openat(fs->rootfd, key, O_RDONLY | O_CLOEXEC);
			if (fd < 0 && errno == ENOENT && key != extra)
				continue;  /* deleted since: nothing to make durable */
			if (fd < 0) {
				rc = io_error("sync", key);
				break;
			}
			sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
			names[nfd] = key;
			fds[nfd++] = fd;
		}
		for (j = 0; j < nfd; j++) {
			if (!rc && f_sync(fds[j], fdatasync))
				rc = io_error("sync", names[j]);
			close(fds[j]);
		}
	}
	for (i = 0; i < fs->dirty_dirs.len && !rc; i += n + 1) {
		const char *dir = fs->dirty_dirs.data + i;
		int fd = openat(fs->rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		n = strlen(dir);
		if (fd < 0 || f_sync(fd, fsync))
			rc = io_error("sync directory", dir);
		if (fd >= 0)
			close(fd);
	}
	if (!rc) {
		dh_buf_reset(&fs->pending);
		dh_buf_reset(&fs->dirty_dirs);
		fs->npending = 0;
	}
	return rc;
}

static int file_flush(struct dh_store *st)
{
	return sync_pending((struct file_store *)st, NULL);
}

static void file_close(struct dh_store *st)
{
	struct file_store *fs = (struct file_store *)st;

	file_flush(st);
	close(fs->rootfd);
	if (fs->lockfd >= 0)
		close(fs->lockfd);
	dh_buf_release(&fs->pending);
	dh_buf_release(&fs->dirty_dirs);
	free(fs->root);
	free(fs);
}

/*
 * open, read, close: no fstat(2) first.  Values are written whole and
 * renamed into place, so a file is complete when opened, and a read of a
 * regular file that returns less than was asked for is at its end: a cold
 * query reads hundreds of nodes, and two system calls fewer per node count.
 */
static int file_get(struct dh_store *st, const char *key, struct dh_buf *out)
{
	struct file_store *fs = (struct file_store *)st;
	size_t got = 0;
	int fd, rc = 0;

	fd = openat(fs->rootfd, key, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return dh_error_set(DH_ENOTFOUND, "'%s' not found in '%s'", key, fs->root);
		return io_error("open", key);
	}
	dh_buf_reset(out);
	if ((rc = dh_buf_grow(out, 16384)))
		goto out;
	for (;;) {
		size_t want = out->cap - 1 - got;
		ssize_t n = read(fd, out->data + got, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EISDIR) {
			rc = dh_error_set(DH_ENOTFOUND, "'%s' in '%s' is not a file", key, fs->root);
			goto out;
		}
		if (n < 0) {
			rc = io_error("read", key);
			goto out;
		}
		got += (size_t)n;
		out->len = got;
		if ((size_t)n < want)
			break;
		if ((rc = dh_buf_grow(out, out->cap)))
			goto out;
	}
	out->data[got] = '\0';
out:
	close(fd);
	return rc;
}

static int note_pending(struct file_store *fs, const char *key)
{
	char dir[DH_KEY_MAX + 1];
	const char *slash = strrchr(key, '/');
	int rc = dh_buf_add(&fs->pending, key, strlen(key) + 1);

	if (rc)
		return rc;
	fs->npending++;
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - key) : 1, slash ? key : ".");
	return mark_dir_dirty(fs, dir);
}

static int file_put(struct dh_store *st, const char *key, const void *data, size_t len)
{
	struct file_store *fs = (struct file_store *)st;
	int rc;

	if (!strncmp(key, "nodes/", 6)) {
		struct stat sb;

		/*
		 * Content-addressed: the same name means the same bytes, so an
		 * existing file of the right size is this value.  A wrong size
		 * (a file truncated by a crash) is rewritten.
		 */
		if (!fstatat(fs->rootfd, key, &sb, 0) && S_ISREG(sb.st_mode) && (size_t)sb.st_size == len)
			return 0;
	}
	if ((rc = replace_file(fs, key, data, len)))
		return rc;
	return note_pending(fs, key);
}

/*
 * put_many: the costly part of a put (creating the file and copying the
 * bytes) runs on WRITERS threads, each value into its own temporary file;
 * then this thread renames them into place in the caller's order.  So
 * values become visible in order, children before parents, exactly as a
 * loop of put() would make them, and a writer killed mid-batch leaves no
 * parent without its children.
 */
struct job {
	struct file_store *fs;
	const struct dh_kv *kvs;
	char (*tmp)[DH_KEY_MAX + 64];   /* "" when the value exists already */
	size_t n, next;
	pthread_mutex_t lock;
	int rc;
	char msg[512];
};

static void *writer(void *arg)
{
	struct job *j = arg;

	for (;;) {
		size_t i;
		const struct dh_kv *kv;
		struct stat sb;
		int fd;

		pthread_mutex_lock(&j->lock);
		i = j->rc ? j->n : j->next++;
		pthread_mutex_unlock(&j->lock);
		if (i >= j->n)
			return NULL;
		kv = &j->kvs[i];
		if (!strncmp(kv->key, "nodes/", 6) && !fstatat(j->fs->rootfd, kv->key, &sb, 0) && S_ISREG(sb.st_mode) &&
		    (size_t)sb.st_size == kv->len) {
			j->tmp[i][0] = '\0';  /* present already: nothing to rename */
			continue;
		}
		fd = openat(j->fs->rootfd, j->tmp[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (fd < 0 || write_all(fd, kv->data, kv->len) || close(fd)) {
			int e = errno;

			if (fd >= 0)
				unlinkat(j->fs->rootfd, j->tmp[i], 0);
			pthread_mutex_lock(&j->lock);
			if (!j->rc) {
				j->rc = DH_EIO;
				snprintf(j->msg, sizeof(j->msg), "cannot write '%s': %s", kv->key, strerror(e));
			}
			pthread_mutex_unlock(&j->lock);
			j->tmp[i][0] = '\0';
			continue;
		}
	}
}

static int file_put_many(struct dh_store *st, const struct dh_kv *kvs, size_t n)
{
	struct file_store *fs = (struct file_store *)st;
	struct job j;
	pthread_t th[WRITERS];
	int nth = 0, rc = 0;
	size_t i;

	if (n < PARALLEL_MIN) {
		for (i = 0; i < n && !rc; i++)
			rc = file_put(st, kvs[i].key, kvs[i].data, kvs[i].len);
		return rc;
	}
	memset(&j, 0, sizeof(j));
	j.fs = fs;
	j.kvs = kvs;
	j.n = n;
	j.tmp = malloc(n * sizeof(*j.tmp));
	if (!j.tmp)
		return dh_error_set(DH_ENOMEM, "out of memory");
	for (i = 0; i < n && !rc; i++) {
		const char *slash = strrchr(kvs[i].key, '/');

		snprintf(j.tmp[i], sizeof(j.tmp[i]), "%.*s.tmp-%ld-%lu", slash ? (int)(slash - kvs[i].key + 1) : 0,
			 kvs[i].key, (long)getpid(), ++fs->tmpseq);
		rc = make_parents(fs, kvs[i].key);
	}
	if (rc)
		goto out;
	pthread_mutex_init(&j.lock, NULL);
	for (nth = 0; nth < WRITERS; nth++)
		if (pthread_create(&th[nth], NULL, writer, &j))
			break;
	if (nth == 0)
		writer(&j);
	for (int t = 0; t < nth; t++)
		pthread_join(th[t], NULL);
	pthread_mutex_destroy(&j.lock);
	rc = j.rc ? dh_error_set(j.rc, "%s", j.msg) : 0;
	for (i = 0; i < n; i++) {
		if (!j.tmp[i][0])
			continue;
		if (rc) {
			unlinkat(fs->rootfd, j.tmp[i], 0);
		} else if ((rc = rename_into_place(fs, j.tmp[i], kvs[i].key))) {
			continue;
		} else {
			rc = note_pending(fs, kvs[i].key);
		}
	}
out:
	free(j.tmp);
	return rc;
}

static int file_has(struct dh_store *st, const char *key)
{
	struct file_store *fs = (struct file_store *)st;
	struct stat sb;

	if (!fstatat(fs->rootfd, key, &sb, 0))
		return S_ISREG(sb.st_mode);
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	return io_error("stat", key);
}

static int file_del(struct dh_store *st, const char *key)
{
	struct file_store *fs = (struct file_store *)st;

	if (unlinkat(fs->rootfd, key, 0) && errno != ENOENT && errno != ENOTDIR)
		return io_error("delete", key);
	return 0;
}

struct walk {
	struct file_store *fs;
	const char *prefix;
	size_t plen;
	dh_list_cb cb;
	void *payload;
	char path[DH_KEY_MAX + 2];
};

/* Walk directory `fd` whose key path (without trailing '/') has length `len`. */
static int walk_dir(struct walk *w, int fd, size_t len)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		close(fd);
		return io_error("list", len ? w->path : ".");
	}
	while (!rc && (errno = 0, de = readdir(d))) {
		size_t nlen = strlen(de->d_name), plen2;
		int isdir;

		if (de->d_name[0] == '.')
			continue;
		if (len + 1 + nlen >= DH_KEY_MAX)
			continue;
		plen2 = len ? len + 1 + nlen : nlen;
		if (len)
			w->path[len] = '/';
		memcpy(w->path + (len ? len + 1 : 0), de->d_name, nlen + 1);
		/* prune: the path must be a prefix of the prefix, or start with it */
		if (strncmp(w->path, w->prefix, plen2 < w->plen ? plen2 : w->plen))
			goto next;
		isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat sb;

			isdir = !fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) && S_ISDIR(sb.st_mode);
		}
		if (isdir) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (sub < 0) {
				if (errno != ENOENT)
					rc = io_error("list", w->path);
			} else {
				rc = walk_dir(w, sub, plen2);
			}
		} else if (plen2 >= w->plen && (de->d_type == DT_REG || de->d_type == DT_UNKNOWN)) {
			rc = w->cb(w->path, w->payload);
		}
next:
		w->path[len] = '\0';
	}
	if (!rc && errno)
		rc = io_error("list", len ? w->path : ".");
	closedir(d);
	return rc;
}

static int file_list(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload)
{
	struct file_store *fs = (struct file_store *)st;
	struct walk w = { fs, prefix, strlen(prefix), cb, payload, { 0 } };
	int fd = openat(fs->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return io_error("list", fs->root);
	return walk_dir(&w, fd, 0);
}

static int lock_heads(struct file_store *fs)
{
	if (fs->lockfd < 0) {
		fs->lockfd = openat(fs->rootfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
		if (fs->lockfd < 0)
			return io_error("open lock file", ".lock");
	}
	while (flock(fs->lockfd, LOCK_EX)) {
		if (errno != EINTR)
			return io_error("lock", ".lock");
	}
	return 0;
}

/*
 * Under the heads lock: compare; write the new value to a temporary file;
 * make it durable together with every node written since the last flush
 * (one journal commit for all, see sync_pending); rename it into place and
 * make the rename durable.  So the head never names a node that is not on
 * disk, and a crash leaves the old value or the new one.
 */
static int file_cas(struct dh_store *st, const char *key, const char *old, const char *new)
{
	struct file_store *fs = (struct file_store *)st;
	struct dh_buf cur = DH_BUF_INIT;
	char tmp[DH_KEY_MAX + 64];
	int rc, exists;

	if ((rc = lock_heads(fs)))
		return rc;
	rc = file_get(st, key, &cur);
	exists = rc == 0;
	if (rc == DH_ENOTFOUND)
		rc = 0;
	if (rc)
		goto out;
	while (cur.len && (cur.data[cur.len - 1] == '\n' || cur.data[cur.len - 1] == '\r'))
		cur.data[--cur.len] = '\0';
	if (old ? !exists || strcmp(cur.data, old) : exists) {
		rc = dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key);
		goto out;
	}
	if (new) {
		if ((rc = write_temp(fs, key, new, strlen(new), tmp, sizeof(tmp))))
			goto out;
		if ((rc = sync_pending(fs, tmp))) {
			unlinkat(fs->rootfd, tmp, 0);
			goto out;
		}
		rc = rename_into_place(fs, tmp, key);
	} else if (!(rc = sync_pending(fs, NULL)) && unlinkat(fs->rootfd, key, 0) && errno != ENOENT) {
		rc = io_error("delete", key);
	}
	if (!rc) {
		/* the head's directory, and any directory created for it */
		char dir[DH_KEY_MAX + 1];
		const char *slash = strrchr(key, '/');

		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - key) : 1, slash ? key : ".");
		rc = mark_dir_dirty(fs, dir);
		if (!rc)
			rc = sync_pending(fs, NULL);
	}
out:
	flock(fs->lockfd, LOCK_UN);
	dh_buf_release(&cur);
	return rc;
}

const struct dh_store_ops dh_store_file_ops = {
	.api_version = DH_BACKEND_API_VERSION,
	.scheme = "file",
	.open = file_open,
	.close = file_close,
	.get = file_get,
	.put = file_put,
	.has = file_has,
	.list = file_list,
	.cas = file_cas,
	.del = file_del,
	.put_many = file_put_many,
	.flush = file_flush,
};
