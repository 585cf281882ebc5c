/*
 * flatdir.c - an example store backend, loaded by dh as a plugin.
 *
 *   flatdir:///abs/dir
 *
 * Keeps every key as one file directly in one directory, with the key
 * encoded into the file name: '/' becomes "%2F", '%' becomes "%25" and a
 * leading '.' becomes "%2E" (names starting with '.' are the backend's own:
 * temporary files and the lock).  So "nodes/ab/cd..." is the file
 * "nodes%2Fab%2Fcd...".  Keys whose encoded name would pass NAME_MAX (255)
 * are refused.
 *
 * It shows everything a backend owes libdh (see dh-backend(3)):
 *  - a value is written to a temporary file and renamed into place, so a
 *    reader (or a writer killed mid-write) never leaves a partial value;
 *  - put() only remembers what it wrote; flush() fsyncs those files and the
 *    directory; cas() flushes first, so a head never names data a crash
 *    could lose;
 *  - cas() reads, compares and replaces the head under an exclusive
 *    flock(2) on ".lock", which the kernel drops if the writer dies;
 *  - errors become DH_E* codes with a message naming the key, here only.
 *
 * Build it outside the dh tree with
 *
 *   cc -shared -fPIC -o flatdir.so flatdir.c $(pkg-config --cflags --libs dh)
 *
 * and put flatdir.so into the plugin directory or a DH_BACKEND_PATH one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dh/dh-backend.h>

#define NAME_MAX_BYTES 255

struct flatdir {
	struct dh_store base;
	char *root;
	int dirfd;
	int lockfd;
	unsigned long seq;
	struct dh_buf pending;   /* NUL-separated file names not yet fsynced */
};

/* The file name of `key` into name[NAME_MAX_BYTES + 1]. */
static int encode(char *name, const char *key)
{
	size_t n = 0;

	for (const char *c = key; *c; c++) {
		const char *rep = NULL;

		if (*c == '/')
			rep = "%2F";
		else if (*c == '%')
			rep = "%25";
		else if (*c == '.' && c == key)
			rep = "%2E";
		if (n + (rep ? 3 : 1) > NAME_MAX_BYTES)
			return dh_error_set(DH_EUSAGE, "key '%s' is too long for a flatdir store", key);
		if (rep) {
			memcpy(name + n, rep, 3);
			n += 3;
		} else {
			name[n++] = *c;
		}
	}
	name[n] = '\0';
	return 0;
}

/* The key of file `name` into key[DH_KEY_MAX + 1]; -1 for a foreign name. */
static int decode(char *key, const char *name)
{
	size_t n = 0;

	for (const char *c = name; *c; c++) {
		if (n == DH_KEY_MAX)
			return -1;
		if (*c != '%') {
			key[n++] = *c;
		} else if (!strncmp(c, "%2F", 3)) {
			key[n++] = '/';
			c += 2;
		} else if (!strncmp(c, "%25", 3)) {
			key[n++] = '%';
			c += 2;
		} else if (!strncmp(c, "%2E", 3)) {
			key[n++] = '.';
			c += 2;
		} else {
			return -1;
		}
	}
	key[n] = '\0';
	return 0;
}

static int os_error(const char *what, const char *key)
{
	int e = errno;

	return dh_error_set(e == ENOMEM ? DH_ENOMEM : DH_EIO, "cannot %s '%s': %s", what, key, strerror(e));
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write a temporary file and rename it to `name`; fsync it first when `sync`. */
static int replace(struct flatdir *fs, const char *name, const char *key, const void *data, size_t len, int sync)
{
	char tmp[64];
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), ".tmp-%ld-%lu", (long)getpid(), ++fs->seq);
	fd = openat(fs->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return os_error("create a temporary file for", key);
	if (write_all(fd, data, len) || (sync && fsync(fd)))
		rc = os_error("write", key);
	if (close(fd) && !rc)
		rc = os_error("write", key);
	if (!rc && renameat(fs->dirfd, tmp, fs->dirfd, name))
		rc = os_error("rename into place", key);
	if (rc)
		unlinkat(fs->dirfd, tmp, 0);
	return rc;
}

static int fd_open(struct dh_store **out, const struct dh_uri *uri, unsigned flags)
{
	struct flatdir *fs;
	int rc;

	if ((rc = dh_uri_check_params(uri, NULL)))
		return rc;
	if ((uri->host && uri->host[0]) || uri->path[0] != '/')
		return dh_error_set(DH_EUSAGE, "flatdir URIs name an absolute directory: flatdir:///abs/dir");
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
	fs->dirfd = open(fs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->dirfd < 0) {
		rc = dh_error_set(errno == ENOENT ? DH_ENOTFOUND : DH_EIO, "cannot open store directory '%s': %s",
				  fs->root, strerror(errno));
		goto fail;
	}
	*out = &fs->base;
	return 0;
fail:
	free(fs->root);
	free(fs);
	return rc;
}

static int fd_flush(struct dh_store *st)
{
	struct flatdir *fs = (struct flatdir *)st;
	size_t i, n;
	int rc = 0;

	if (!fs->pending.len)
		return 0;
	for (i = 0; i < fs->pending.len && !rc; i += n + 1) {
		const char *name = fs->pending.data + i;
		int f = openat(fs->dirfd, name, O_RDONLY | O_CLOEXEC);

		n = strlen(name);
		if (f < 0 && errno == ENOENT)
			continue;  /* deleted since */
		if (f < 0 || fdatasync(f))
			rc = os_error("sync", name);
		if (f >= 0)
			close(f);
	}
	if (!rc && fsync(fs->dirfd))
		rc = os_error("sync directory", fs->root);
	if (!rc)
		dh_buf_reset(&fs->pending);
	return rc;
}

static void fd_close(struct dh_store *st)
{
	struct flatdir *fs = (struct flatdir *)st;

	fd_flush(st);
	close(fs->dirfd);
	if (fs->lockfd >= 0)
		close(fs->lockfd);
	dh_buf_release(&fs->pending);
	free(fs->root);
	free(fs);
}

static int fd_get(struct dh_store *st, const char *key, struct dh_buf *out)
{
	struct flatdir *fs = (struct flatdir *)st;
	char name[NAME_MAX_BYTES + 1], chunk[65536];
	struct stat sb;
	int f, rc;

	if ((rc = encode(name, key)))
		return rc == DH_EUSAGE ? dh_error_set(DH_ENOTFOUND, "'%s' not found in '%s'", key, fs->root) : rc;
	f = openat(fs->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return errno == ENOENT ? dh_error_set(DH_ENOTFOUND, "'%s' not found in '%s'", key, fs->root)
				       : os_error("open", key);
	dh_buf_reset(out);
	if (fstat(f, &sb))
		rc = os_error("stat", key);
	else
		rc = dh_buf_grow(out, (size_t)sb.st_size);
	while (!rc) {
		ssize_t n = read(f, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = os_error("read", key);
		else if (n == 0)
			break;
		else
			rc = dh_buf_add(out, chunk, (size_t)n);
	}
	if (!rc)  /* NUL terminated even when empty */
		rc = dh_buf_add(out, "", 0);
	close(f);
	return rc;
}

static int fd_put(struct dh_store *st, const char *key, const void *data, size_t len)
{
	struct flatdir *fs = (struct flatdir *)st;
	char name[NAME_MAX_BYTES + 1];
	struct stat sb;
	int rc;

	if ((rc = encode(name, key)))
		return rc;
	/* content addressed: an existing node of the right size is this node */
	if (!strncmp(key, "nodes/", 6) && !fstatat(fs->dirfd, name, &sb, 0) && (size_t)sb.st_size == len)
		return 0;
	if ((rc = replace(fs, name, key, data, len, 0)))
		return rc;
	return dh_buf_add(&fs->pending, name, strlen(name) + 1);
}

static int fd_has(struct dh_store *st, const char *key)
{
	struct flatdir *fs = (struct flatdir *)st;
	char name[NAME_MAX_BYTES + 1];
	struct stat sb;

	if (encode(name, key))
		return 0;
	if (!fstatat(fs->dirfd, name, &sb, 0))
		return S_ISREG(sb.st_mode);
	return errno == ENOENT ? 0 : os_error("stat", key);
}

static int fd_del(struct dh_store *st, const char *key)
{
	struct flatdir *fs = (struct flatdir *)st;
	char name[NAME_MAX_BYTES + 1];

	if (encode(name, key))
		return 0;
	if (unlinkat(fs->dirfd, name, 0) && errno != ENOENT)
		return os_error("delete", key);
	return 0;
}

static int fd_list(struct dh_store *st, const char *prefix, dh_list_cb cb, void *payload)
{
	struct flatdir *fs = (struct flatdir *)st;
	size_t plen = strlen(prefix);
	char key[DH_KEY_MAX + 1];
	struct dirent *de;
	int rc = 0, dfd;
	DIR *d;

	/* a handle of our own: the callback may use the store meanwhile */
	dfd = openat(fs->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		rc = os_error("list", fs->root);
		if (dfd >= 0)
			close(dfd);
		return rc;
	}
	while (!rc && (errno = 0, de = readdir(d)))
		if (de->d_name[0] != '.' && !decode(key, de->d_name) && !strncmp(key, prefix, plen))
			rc = cb(key, payload);
	if (!rc && errno)
		rc = os_error("list", fs->root);
	closedir(d);
	return rc;
}

static int read_small(struct flatdir *fs, const char *name, struct dh_buf *out, int *present)
{
	int f = openat(fs->dirfd, name, O_RDONLY | O_CLOEXEC);
	char chunk[512];
	ssize_t n;
	int rc = 0;

	*present = f >= 0;
	if (f < 0)
		return errno == ENOENT ? 0 : os_error("open", name);
	while (!rc && (n = read(f, chunk, sizeof(chunk))) != 0)
		rc = n < 0 ? (errno == EINTR ? 0 : os_error("read", name)) : dh_buf_add(out, chunk, (size_t)n);
	close(f);
	return rc;
}

static int fd_cas(struct dh_store *st, const char *key, const char *old, const char *new)
{
	struct flatdir *fs = (struct flatdir *)st;
	char name[NAME_MAX_BYTES + 1];
	struct dh_buf cur = DH_BUF_INIT;
	int rc, present;

	if ((rc = encode(name, key)) || (rc = fd_flush(st)))
		return rc;
	if (fs->lockfd < 0) {
		fs->lockfd = openat(fs->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
		if (fs->lockfd < 0)
			return os_error("create the lock of", fs->root);
	}
	while (flock(fs->lockfd, LOCK_EX))
		if (errno != EINTR)
			return os_error("lock", fs->root);
	if ((rc = read_small(fs, name, &cur, &present)))
		goto out;
	if (old ? !present || cur.len != strlen(old) || memcmp(cur.data, old, cur.len) : present) {
		rc = dh_error_set(DH_ECONFLICT, "'%s' changed: compare-and-swap lost", key);
		goto out;
	}
	if (new)
		rc = replace(fs, name, key, new, strlen(new), 1);
	else if (unlinkat(fs->dirfd, name, 0) && errno != ENOENT)
		rc = os_error("delete", key);
	if (!rc && fsync(fs->dirfd))
		rc = os_error("sync directory", fs->root);
out:
	flock(fs->lockfd, LOCK_UN);
	dh_buf_release(&cur);
	return rc;
}

static const struct dh_store_ops flatdir_ops = {
	.api_version = DH_BACKEND_API_VERSION,
	.scheme = "flatdir",
	.open = fd_open,
	.close = fd_close,
	.get = fd_get,
	.put = fd_put,
	.has = fd_has,
	.list = fd_list,
	.cas = fd_cas,
	.del = fd_del,
	.flush = fd_flush,
};

DH_BACKEND_PLUGIN(&flatdir_ops)
