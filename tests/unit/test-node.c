/*
 * test-node.c - node corruption on disk is detected (file backend).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh.h"
#include "tap.h"

int main(void)
{
	char dir[] = "/tmp/dh-test-node-XXXXXX", uri[128], path[256], name[DH_HASH_HEX + 1];
	struct dh_store *st;
	struct dh_buf b = DH_BUF_INIT;
	unsigned char byte;
	int fd;

	if (!mkdtemp(dir))
		return 1;
	snprintf(uri, sizeof(uri), "file://%s", dir);
	ok(dh_store_open(&st, uri, 0) == 0, "open existing dir");
	ok(dh_node_put(st, "some node bytes", 15, name) == 0, "put node");
	ok(dh_store_flush(st) == 0, "flush");
	snprintf(path, sizeof(path), "%s/nodes/%.2s/%s", dir, name, name + 2);
	fd = open(path, O_RDWR);
	ok(fd >= 0, "node is a file at nodes/ab/cd...");
	pread(fd, &byte, 1, 7);
	byte ^= 0x20;
	pwrite(fd, &byte, 1, 7);
	close(fd);
	ok(dh_node_get(st, name, &b) == DH_ECORRUPT, "one flipped byte is reported as corrupt");
	ok(strstr(dh_errmsg(), name + 2) != NULL, "message names the key: %s", dh_errmsg());
	ok(b.len == 0, "no data returned");
	/* a truncated node (as a crash before its data reached the disk could leave) */
	truncate(path, 3);
	ok(dh_node_get(st, name, &b) == DH_ECORRUPT, "truncated node is corrupt");
	ok(dh_node_put(st, "some node bytes", 15, name) == 0, "rewriting the node repairs it");
	ok(dh_node_get(st, name, &b) == 0 && b.len == 15, "repaired node reads back");
	dh_store_close(st);
	{
		char missing[200];

		snprintf(missing, sizeof(missing), "file://%s/nope", dir);
		ok(dh_store_open(&st, missing, 0) == DH_ENOTFOUND, "missing directory is not-found without create");
		ok(strstr(dh_errmsg(), "nope") != NULL, "message names it: %s", dh_errmsg());
	}
	ok(dh_store_open(&st, "bogus://x", 0) == DH_EUSAGE, "unknown scheme");
	ok(strstr(dh_errmsg(), "file") && strstr(dh_errmsg(), "mem"), "lists known schemes: %s", dh_errmsg());
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	system(path);
	dh_buf_release(&b);
	return done_testing();
}
