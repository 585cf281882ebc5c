/*
 * fuzz-node.c - the node decoder on arbitrary bytes: dh_node_kind,
 * dh_node_children, dh_node_cut, and the bytes stored as a node in a mem:// store and
 * opened as a commit (dh_commit_info, dh_db_open_commit, dh_db_verify), as
 * dh-verify and every reader would meet a corrupt or hostile node.
 */
#include <stdio.h>

#include "dh-db.h"
#include "fuzz.h"

static int count_child(const char *hex, void *payload)
{
	(void)hex;
	return ++*(int *)payload > 100000;
}

static int ignore(const char *msg, void *payload)
{
	(void)msg;
	return ++*(int *)payload > 1000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dh_store *st;
	struct dh_commit_info ci;
	struct dh_db *db = NULL;
	char name[DH_HASH_HEX + 1], key[DH_HASH_HEX + 8];
	int n = 0;

	dh_node_kind(data, size);
	dh_node_children(data, size, count_child, &n);
	dh_node_cut(data, size, count_child, &n);
	if (!st && dh_store_open(&st, "mem://fuzz-node", DH_STORE_CREATE))
		return 0;
	if (dh_node_put(st, data, size, name))
		return 0;
	dh_commit_info(&ci, st, name);
	if (dh_db_open_commit(&db, st, name) == 0) {
		n = 0;
		dh_db_verify(db, ignore, &n);
		dh_db_close(db);
	}
	snprintf(key, sizeof(key), "nodes/%.2s/%s", name, name + 2);
	dh_store_del(st, key);
	return 0;
}
