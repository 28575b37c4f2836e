/* Shared scaffolding of the corpus drivers (tests/corpus/drivers/ *.c).
 *
 * A driver is a long-running process whose worker threads keep calling the
 * library code a CVE fix changes.  Each iteration records one outcome:
 *   ok     normal input gave the known-good answer
 *   bad    normal input gave a wrong answer
 *   old    the vulnerable input got the behaviour before the fix
 *   new    the vulnerable input got the behaviour after the fix
 *   other  the vulnerable input got something else (see the "note" lines)
 * Every 100 ms the main thread prints the counts of that interval:
 *   tick N ok=.. bad=.. old=.. new=.. other=..
 * so that a check can judge only what happened after it was called.
 *
 * Options: -t THREADS (default 3), -p PAUSE_US between iterations of a
 * thread (default 2000), -s MAX_SECONDS (default 600; then it exits).
 */
#ifndef CORPUS_H
#define CORPUS_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { OUT_OK, OUT_BAD, OUT_OLD, OUT_NEW, OUT_OTHER, OUT_N };
static const char *const r_name[OUT_N] = {"ok", "bad", "old", "new", "other"};
static atomic_long r_count[OUT_N];
static atomic_int notes_left = 40;
static int opt_threads = 3, opt_pause_us = 2000, opt_seconds = 600;

static void record(int r) { atomic_fetch_add(&r_count[r], 1); }

/* note(fmt, ...): a diagnostic line, at most 40 per run. */
static void note(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (atomic_fetch_sub(&notes_left, 1) <= 0)
		return;
	n = snprintf(buf, sizeof buf, "note ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	if (write(1, buf, n) < 0) {
		/* nothing to do */
	}
}

/* The driver's work: called in a loop by each worker thread. */
static void work(int tid, long iter);

static void *worker(void *arg)
{
	int tid = (int)(long)arg;
	long i;

	for (i = 0;; i++) {
		work(tid, i);
		if (opt_pause_us > 0)
			usleep(opt_pause_us);
	}
	return NULL;
}

/* probe_in_child(fn, arg): runs fn(arg) in a forked child (fork copies the
 * code as it is now, patched or not) and returns its exit status: the
 * value fn returned (0..125), 128+SIG when a signal killed it, 127 when the
 * fork failed, 126 when it hung (more than 5 s). */
static __attribute__((unused)) int probe_in_child(int (*fn)(void *), void *arg)
{
	int st, i;
	pid_t pid = fork();

	if (pid < 0)
		return 127;
	if (pid == 0) {
		struct rlimit no_core = {0, 0};

		setrlimit(RLIMIT_CORE, &no_core);	/* a crash is expected: no core */
		alarm(5);
		_exit(fn(arg) & 0x7f);
	}
	for (i = 0; i < 600; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			if (WIFSIGNALED(st))
				return WTERMSIG(st) == SIGALRM ? 126 : 128 + WTERMSIG(st);
			return WEXITSTATUS(st);
		}
		if (r < 0 && errno != EINTR)
			return 127;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return 126;
}

static void driver_options(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "t:p:s:")) != -1) {
		switch (c) {
		case 't': opt_threads = atoi(optarg); break;
		case 'p': opt_pause_us = atoi(optarg); break;
		case 's': opt_seconds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-t THREADS] [-p PAUSE_US] [-s MAX_SECONDS] [ARGS]\n", argv[0]);
			exit(2);
		}
	}
	if (opt_threads < 1 || opt_threads > 16)
		opt_threads = 3;
}

/* run_workers: starts the worker threads, prints a tick line every 100 ms
 * and exits after opt_seconds. */
static void run_workers(void)
{
	long t, i;
	pthread_t th;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("start pid=%d threads=%d\n", (int)getpid(), opt_threads);
	for (i = 0; i < opt_threads; i++)
		if (pthread_create(&th, NULL, worker, (void *)i) != 0) {
			perror("pthread_create");
			exit(1);
		}
	for (t = 1; t <= (long)opt_seconds * 10; t++) {
		char buf[256];
		int n, r;
		long v[OUT_N];

		usleep(100000);
		for (r = 0; r < OUT_N; r++)
			v[r] = atomic_exchange(&r_count[r], 0);
		n = snprintf(buf, sizeof buf, "tick %ld", t);
		for (r = 0; r < OUT_N; r++)
			n += snprintf(buf + n, sizeof buf - n, " %s=%ld", r_name[r], v[r]);
		buf[n++] = '\n';
		if (write(1, buf, n) < 0)
			exit(1);
	}
	printf("exit after %d s\n", opt_seconds);
	exit(0);
}

#endif
