/*
 * replay.c - a main() for a fuzz harness without libFuzzer: run the harness
 * on every file named on the command line, or on every file of every
 * directory named, and print TAP (one check per directory or file).  A
 * crash or sanitizer report fails the whole run, as it would the fuzzer.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return -1;
	for (;;) {
		if (len == cap) {
			unsigned char *nb = realloc(buf, cap = cap ? cap * 2 : 4096);

			if (!nb) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	/* an exact-size copy, so that ASan sees reads past the end */
	unsigned char *exact = malloc(len ? len : 1);

	if (!exact) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

int main(int argc, char **argv)
{
	int i, t = 0, bad = 0;

	for (i = 1; i < argc; i++) {
		struct stat sb;
		size_t files = 0;

		if (stat(argv[i], &sb)) {
			printf("not ok %d - %s: cannot stat\n", ++t, argv[i]);
			bad = 1;
			continue;
		}
		if (S_ISDIR(sb.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *de;
			int err = !d;

			while (d && (de = readdir(d))) {
				char path[4096];

				if (de->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
				if (run_file(path))
					err = 1;
				files++;
			}
			if (d)
				closedir(d);
			printf("%s %d - %s: %zu inputs replayed\n", err ? "not ok" : "ok", ++t, argv[i], files);
			bad |= err;
		} else {
			int err = run_file(argv[i]);

			printf("%s %d - %s\n", err ? "not ok" : "ok", ++t, argv[i]);
			bad |= err;
		}
	}
	printf("1..%d\n", t);
	return bad;
}
