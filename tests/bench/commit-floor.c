/*
 * commit-floor.c - the file operations of one durable small commit on the
 * file backend, and nothing else, for scripts/bench-db:
 *
 *   commit-floor DIR N
 *
 * Each of N commits writes two new values (a 258-byte log node and a
 * 1,312-byte commit, the sizes a one-entity transaction writes) into
 * fan-out folders of DIR, each to a temporary file renamed into place, and
 * the new head to a temporary file; makes the three files and the two
 * folders durable (fdatasync, fsync); renames the head into place and makes
 * that durable (fsync of its folder) - the order that keeps a head from
 * naming a node not on disk.  No hashing, no encoding, no reads, no lock.
 * Prints "tx_per_s X": what a store of one file per node can reach on this
 * file system, whatever the database above it does.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int put(int root, const char *dir, const char *name, const char *buf, size_t len, int *fd)
{
	char tmp[64], path[128];

	snprintf(tmp, sizeof(tmp), "%s/.tmp", dir);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	*fd = openat(root, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (*fd < 0 || write(*fd, buf, len) != (ssize_t)len)
		return -1;
	return dir[0] == 'h' ? 0 : renameat(root, tmp, root, path);
}

static int sync_dir(int root, const char *dir)
{
	int fd = openat(root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	char buf[1312], dirs[2][16], name[32];
	double t0;
	long n, i;
	int root, k;

	if (argc != 3 || (n = atol(argv[2])) < 1)
		return 2;
	memset(buf, 'x', sizeof(buf));
	if ((mkdir(argv[1], 0777) && access(argv[1], W_OK)) || (root = open(argv[1], O_RDONLY | O_DIRECTORY)) < 0)
		return perror(argv[1]), 1;
	mkdirat(root, "nodes", 0777);
	mkdirat(root, "heads", 0777);
	for (k = 0; k < 256; k++) {
		snprintf(name, sizeof(name), "nodes/%02x", k);
		mkdirat(root, name, 0777);
	}
	sync();
	t0 = now();
	for (i = 0; i < n; i++) {
		int fds[3];

		for (k = 0; k < 2; k++) {
			snprintf(dirs[k], sizeof(dirs[k]), "nodes/%02lx", (unsigned long)((i * 7 + k * 91) % 256));
			snprintf(name, sizeof(name), "%ld-%d", i, k);
			if (put(root, dirs[k], name, buf, k ? 1312 : 258, &fds[k]))
				return perror("write"), 1;
		}
		if (put(root, "heads", "db", buf, 65, &fds[2]))
			return perror("write"), 1;
		for (k = 0; k < 3; k++)
			if (fdatasync(fds[k]) || close(fds[k]))
				return perror("fdatasync"), 1;
		if (sync_dir(root, dirs[0]) || sync_dir(root, dirs[1]) ||
		    renameat(root, "heads/.tmp", root, "heads/db") || sync_dir(root, "heads"))
			return perror("sync"), 1;
	}
	printf("tx_per_s %.0f\n", (double)n / (now() - t0));
	return 0;
}
