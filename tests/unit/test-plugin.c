/*
 * test-plugin.c - backends registered at run time and loaded from plugins.
 *
 * Loads the plugins meson built under tests/plugins (the bad ones must be
 * refused with a message naming the file, leave nothing registered and be
 * unloaded again) and the flatdir example, and checks that the registry
 * keeps built-in schemes working throughout.  Needs no environment: the
 * build directory is compiled in.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh-backend.h"
#include "tap.h"

static char tmp[] = "/tmp/dh-test-plugin-XXXXXX";

/* Is a file whose path contains `needle` mapped into this process? */
static int mapped(const char *needle)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			found = 1;
	fclose(f);
	return found;
}

static void refused(const char *file, const char *scheme, int code, const char *why)
{
	char path[1024];
	int rc;

	snprintf(path, sizeof(path), "%s/bad/%s", DH_TEST_PLUGINS, file);
	rc = dh_plugin_load(path);
	is_int(rc, code, "%s refused with %s", file, dh_strerror(code));
	ok(strstr(dh_errmsg(), path) && strstr(dh_errmsg(), why), "%s: message names the file and says '%s': %s", file,
	   why, dh_errmsg());
	ok(dh_store_lookup(scheme) == NULL, "%s: scheme '%s' not registered", file, scheme);
	is_int(mapped(path), 0, "%s: unloaded again", file);
	is_int(dh_plugin_load(path), code, "%s: a second load is refused the same way", file);
}

static void registry(void)
{
	static const struct dh_store_ops bad_version = { .api_version = DH_BACKEND_API_VERSION + 1, .scheme = "bv" };
	/* registered tables must live as long as the process: not on the stack */
	static struct dh_store_ops copy;

	copy = *dh_store_lookup("mem");

	ok(dh_store_lookup("file") && dh_store_lookup("mem"), "built-in schemes are registered");
	ok(dh_store_lookup("flatdir") == NULL, "plugins are not loaded before they are needed");
	is_int(dh_store_register(&copy), DH_EEXISTS, "registering a taken scheme: DH_EEXISTS");
	ok(strstr(dh_errmsg(), "'mem'") != NULL, "message names the scheme: %s", dh_errmsg());
	is_int(dh_store_register(&bad_version), DH_EUSAGE, "registering another API version: DH_EUSAGE");
	copy.scheme = "Mem!";
	is_int(dh_store_register(&copy), DH_EUSAGE, "a bad scheme name is refused");
	copy.scheme = "memcopy";
	copy.cas = NULL;
	is_int(dh_store_register(&copy), DH_EUSAGE, "a table without cas() is refused");
	ok(strstr(dh_errmsg(), "cas()") != NULL, "message names the missing slot: %s", dh_errmsg());
	copy.cas = dh_store_lookup("mem")->cas;
	is_int(dh_store_register(&copy), 0, "a copy of mem under a new scheme registers");
	ok(dh_store_lookup("memcopy") == &copy, "and is found by its scheme");
	{
		struct dh_store *st;

		is_int(dh_store_open(&st, "memcopy://x", 0), 0, "dh_store_open uses a registered backend");
		is_str(dh_store_scheme(st), "memcopy", "with its scheme");
		dh_store_close(st);
	}
}

static void plugins(void)
{
	char path[1024], link[1024], mark[1024], uri[1024], speaks[64];
	struct dh_store *st;
	struct dh_buf b = DH_BUF_INIT;
	int rc;

	snprintf(mark, sizeof(mark), "%s/mark", tmp);
	setenv("DH_TEST_MARK", mark, 1);
	snprintf(speaks, sizeof(speaks), "this libdh speaks %d", DH_BACKEND_API_VERSION);
	refused("badversion.so", "badversion", DH_EUSAGE, speaks);
	ok(access(mark, F_OK) != 0, "the wrong-version plugin's code never ran");
	refused("nosym.so", "nosym", DH_EUSAGE, "no symbol 'dh_plugin_backends'");
	refused("taken.so", "takenextra", DH_EEXISTS, "scheme 'file' is already registered");
	ok(dh_store_lookup("file") != NULL && dh_store_lookup("file")->open != NULL &&
	   dh_store_open(&st, "file:///nonexistent/x", 0) == DH_ENOTFOUND,
	   "file:// is still the built-in backend");
	refused("badops.so", "badops", DH_EUSAGE, "lacks the required operation cas()");
	refused("unresolved.so", "unresolved", DH_EIO, "dh_no_such_function");
	snprintf(path, sizeof(path), "%s/garbage.so", tmp);
	{
		FILE *f = fopen(path, "w");

		fputs("not an ELF file\n", f);
		fclose(f);
	}
	is_int(dh_plugin_load(path), DH_EIO, "a file that is no shared object is refused");
	ok(strstr(dh_errmsg(), path) != NULL, "naming it: %s", dh_errmsg());
	snprintf(path, sizeof(path), "%s/none.so", tmp);
	is_int(dh_plugin_load(path), DH_ENOTFOUND, "a missing file: DH_ENOTFOUND");

	snprintf(path, sizeof(path), "%s/flatdir.so", DH_TEST_EXAMPLES);
	rc = dh_plugin_load(path);
	is_int(rc, 0, "the flatdir example loads%s%s", rc ? ": " : "", rc ? dh_errmsg() : "");
	ok(dh_store_lookup("flatdir") != NULL, "and registers flatdir");
	is_int(mapped(path), 1, "and stays mapped (so the unloading checks above can see a plugin)");
	is_int(dh_plugin_load(path), 0, "loading it again is success");
	snprintf(link, sizeof(link), "%s/other-name.so", tmp);
	if (symlink(path, link))
		perror("symlink");
	is_int(dh_plugin_load(link), 0, "the same file under another name is the same plugin");
	snprintf(uri, sizeof(uri), "flatdir://%s/fd", tmp);
	is_int(dh_store_open(&st, uri, DH_STORE_CREATE), 0, "open %s", uri);
	is_int(dh_store_put(st, "nodes/ab/cd", "v", 1), 0, "put through the plugin");
	is_int(dh_store_get(st, "nodes/ab/cd", &b), 0, "get through the plugin");
	ok(b.len == 1 && b.data[0] == 'v', "value back");
	dh_store_close(st);
	snprintf(path, sizeof(path), "%s/fd/nodes%%2Fab%%2Fcd", tmp);
	ok(access(path, F_OK) == 0, "stored as one flat file with an encoded name");
	dh_buf_release(&b);
}

int main(void)
{
	char cmd[128];

	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	registry();
	plugins();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd))
		tap_diag("could not remove %s", tmp);
	return done_testing();
}
