/*
 * spawn-time.c - how long a whole process takes, for the cold benchmarks:
 *
 *   spawn-time N CMD [ARG...]
 *
 * Runs CMD once untimed, then N times (posix_spawn, standard output to
 * /dev/null, waited for), each run timed alone on the monotonic clock, and
 * prints "median_ms MS mean_ms MS min_ms MS".  Exits 1 if a run fails.  A
 * shell loop or Python's subprocess adds a millisecond or more of its own
 * to each run, and a mean of a few runs takes in whole the odd run that
 * waited for a CPU on a shared machine; the median of runs timed here
 * does neither.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int run(char **argv, posix_spawn_file_actions_t *fa)
{
	pid_t pid;
	int st;

	if (posix_spawnp(&pid, argv[0], fa, NULL, argv, environ))
		return -1;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	double *t, sum = 0;
	int n, i;

	if (argc < 3 || (n = atoi(argv[1])) < 1) {
		fprintf(stderr, "usage: spawn-time N CMD [ARG...]\n");
		return 2;
	}
	if (!(t = calloc((size_t)n, sizeof(*t))))
		return 1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	for (i = -1; i < n; i++) {
		double t0 = now_ms();

		if (run(argv + 2, &fa)) {
			fprintf(stderr, "spawn-time: %s failed\n", argv[2]);
			return 1;
		}
		if (i >= 0)
			sum += t[i] = now_ms() - t0;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("median_ms %.3f mean_ms %.3f min_ms %.3f\n", n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2,
	       sum / n, t[0]);
	free(t);
	return 0;
}
