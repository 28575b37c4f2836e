/* forker — a victim for the fault tests: worker threads check the answers
 * of two patchable functions (each old or new, nothing else), while one
 * thread fork()s children that exit at once, all the time.  A child checks
 * that both functions agree: its memory is a copy of the parent's at the
 * fork, so a child that sees one old and one new function caught the
 * parent with half a patch written (a worker cannot check that itself: a
 * patch may legally land between its two calls).  With --seccomp it first installs a
 * seccomp filter that kills the process on memfd_create (the system call
 * hotpatch runs inside it), as a sandboxed service would.
 *
 *   forker [--seccomp] [--no-fork] [--threads N] [--seconds S]
 *
 * Prints "ready" when running; "forks=N calls=N" on SIGTERM or timeout.
 * compute_a(x) and compute_b(x): v0 2x+1, v1 3x+7 (tests/patches/forker_v1.c). */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PATCHABLE __attribute__((noinline, noclone, noipa, used))

static volatile int stop;
static unsigned long calls, forks;

PATCHABLE long compute_a(long x)
{
	long a = x * 2;
	__asm__ volatile("" : "+r"(a));
	return a + 1;
}

PATCHABLE long compute_b(long x)
{
	long a = x * 2;
	__asm__ volatile("" : "+r"(a));
	return a + 1;
}

static int version(long x, long r)
{
	return r == 2 * x + 1 ? 0 : r == 3 * x + 7 ? 1 : -1;
}

static void *worker(void *arg)
{
	unsigned long s = 0x1234567 + (unsigned long)arg * 7919;

	while (!stop) {
		long x;

		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		x = (long)(s & 0xffff);
		int va = version(x, compute_a(x)), vb = version(x, compute_b(x));

		if (va < 0 || vb < 0) {
			fprintf(stderr, "forker: wrong answers: a=%d b=%d\n", va, vb);
			abort();
		}
		__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *forking(void *arg)
{
	while (!stop) {
		pid_t p = fork();

		if (p == 0)
			_exit(compute_a(1) == compute_b(1) ? 0 : 1);
		if (p > 0) {
			int st;

			waitpid(p, &st, 0);
			if (!WIFEXITED(st) || WEXITSTATUS(st)) {
				fprintf(stderr, "forker: a child saw mixed versions\n");
				abort();
			}
			__atomic_add_fetch(&forks, 1, __ATOMIC_RELAXED);
		}
	}
	return arg;
}

static void on_term(int sig)
{
	stop = 1;
}

static int install_seccomp(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_memfd_create, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

int main(int argc, char **argv)
{
	int nthreads = 4, seconds = 120, sec = 0, fork_on = 1;
	pthread_t th;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seccomp"))
			sec = 1;
		else if (!strcmp(argv[i], "--no-fork"))
			fork_on = 0;
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nthreads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atoi(argv[++i]);
	}
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGTERM, on_term);
	if (sec && install_seccomp() < 0) {
		perror("forker: seccomp");
		return 2;
	}
	for (long i = 0; i < nthreads; i++)
		pthread_create(&th, NULL, worker, (void *)i);
	if (fork_on)
		pthread_create(&th, NULL, forking, NULL);
	printf("ready%s\n", sec ? " seccomp" : "");
	fflush(stdout);
	for (int i = 0; i < seconds * 10 && !stop; i++)
		usleep(100000);
	stop = 1;
	usleep(100000);
	printf("forks=%lu calls=%lu\n", forks, calls);
	return 0;
}
