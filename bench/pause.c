/* The pause benchmark: how long does apply stop a process, against a bare
 * stop/resume of the same process in the same run?
 *
 * For each round: a quiet window (no operation: the machine's own noise),
 * a bare stop/resume (seize, interrupt, wait, detach: the floor), an apply
 * and a revert.  Two measures each: the stop window the tool measures (all
 * threads stopped), and the longest gap any worker of the target saw
 * between two iterations (the pause as the process feels it, noise
 * included).  Medians over the rounds; ratios against the bare stop.
 *
 * usage: pause HP_FILE PATCH_ID GAPVICTIM THREADS busy|idle ROUNDS */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "hotpatch/hotpatch.h"

#define MAX_THREADS 1024
struct shared {
	volatile uint64_t generation, ready, bad;
	volatile uint64_t gap_ns[MAX_THREADS];
};

static struct shared *sh;
static int nthreads;

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void reset(void)
{
	sh->generation++;
	sleep_ms(5); /* every busy worker has seen it; idle ones within 1 ms */
}

static double max_gap_ms(void)
{
	uint64_t m = 0;

	for (int i = 0; i < nthreads; i++)
		if (sh->gap_ns[i] > m)
			m = sh->gap_ns[i];
	return m / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* BENCH_STEPS=1: the time of each step, to stderr. */
static void print_steps(const double *ms)
{
	for (int k = 0; k < HP_STEP_N; k++)
		if (ms[k] > 0)
			fprintf(stderr, " %s %.2f", hp_step_name(k), ms[k]);
	fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
	char file[] = "/tmp/hotpatch-bench.XXXXXX";
	struct hp_patch *p = NULL;
	struct hp_apply_opts ao = { .timeout_sec = 10 };
	int rounds, fd, r, failed = 0;
	pid_t pid;
	double *q, *bs, *bg, *as, *ag, *rs, *rg, *tot;

	if (argc != 7)
		return fprintf(stderr, "usage: pause HP_FILE PATCH_ID GAPVICTIM THREADS busy|idle ROUNDS\n"), 2;
	nthreads = atoi(argv[4]);
	rounds = atoi(argv[6]);
	if (hp_patch__open(argv[1], &p) < 0)
		return fprintf(stderr, "pause: %s: %s\n", argv[1], hp_errmsg()), 1;
	fd = mkstemp(file);
	if (fd < 0)
		return 1;
	close(fd);
	pid = fork();
	if (pid == 0) {
		execl(argv[3], argv[3], file, argv[4], argv[5], (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct stat st;

		fd = open(file, O_RDWR);
		/* The victim truncates the file to size: map it only then. */
		if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(*sh))) {
			close(fd);
			fd = -1;
		}
		if (fd >= 0) {
			sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			close(fd);
			if (sh != MAP_FAILED && sh->ready)
				break;
			if (sh != MAP_FAILED)
				munmap((void *)sh, sizeof(*sh));
			sh = NULL;
		}
		sleep_ms(10);
	}
	if (!sh) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		unlink(file);
		return fprintf(stderr, "pause: the victim did not start\n"), 1;
	}
	sleep_ms(200);
	q = calloc(rounds, sizeof(double));
	bs = calloc(rounds, sizeof(double));
	bg = calloc(rounds, sizeof(double));
	as = calloc(rounds, sizeof(double));
	ag = calloc(rounds, sizeof(double));
	rs = calloc(rounds, sizeof(double));
	rg = calloc(rounds, sizeof(double));
	tot = calloc(rounds, sizeof(double));
	for (int i = 0; i < rounds && !failed; i++) {
		struct hp_apply_result res;
		double steps[HP_STEP_N];
		unsigned n;

		reset();
		sleep_ms(30);
		q[i] = max_gap_ms();

		reset();
		r = hp_stop_resume(pid, &bs[i], &n);
		sleep_ms(25);
		bg[i] = max_gap_ms();

		reset();
		r = r ? r : hp_apply(p, pid, &ao, &res);
		as[i] = res.pause_ms;
		tot[i] = res.total_ms;
		sleep_ms(25);
		ag[i] = max_gap_ms();
		memcpy(steps, res.step_ms, sizeof(steps));

		reset();
		r = r ? r : hp_revert(argv[2], pid, &ao, &res);
		rs[i] = res.pause_ms;
		if (getenv("BENCH_STEPS")) {
			fprintf(stderr, "round %d: apply gap %.2f stop %.2f |", i, ag[i], as[i]);
			print_steps(steps);
			fprintf(stderr, "round %d: revert stop %.2f |", i, rs[i]);
			print_steps(res.step_ms);
		}
		sleep_ms(25);
		rg[i] = max_gap_ms();
		if (r < 0) {
			fprintf(stderr, "pause: round %d: %s: %s\n", i, hp_strerror(r), hp_errmsg());
			failed = 1;
		}
	}
	if (!failed) {
		double mq = median(q, rounds), mbs = median(bs, rounds), mbg = median(bg, rounds);
		double mas = median(as, rounds), mag = median(ag, rounds), mrs = median(rs, rounds);
		double mrg = median(rg, rounds), mt = median(tot, rounds);

		printf("| %4d | %-4s | %7.2f | %7.2f | %7.2f | %7.2f | %7.2f | %7.2f | %7.2f | %5.2f | %5.2f | %7.2f |\n",
		       nthreads, argv[5], mq, mbs, mbg, mas, mag, mrs, mrg, mas / mbs,
		       mag / (mbg > 0 ? mbg : 1), mt);
	}
	if (sh->bad)
		fprintf(stderr, "pause: the victim saw %lu wrong results\n", (unsigned long)sh->bad), failed = 1;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(file);
	hp_patch__close(p);
	return failed;
}
