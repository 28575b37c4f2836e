/* other — a second, different program with functions of the same names as
 * victim.c.  The tests pack patches against it to get a patch whose
 * build-id matches no object mapped in the victim.  It can also run:
 * `other` prints "ready" and waits for SIGTERM (at most 600 s). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#define PATCHABLE __attribute__((noinline, noclone, noipa, used))

PATCHABLE long compute(long x)
{
	long a = x * 2;
	__asm__ volatile("" : "+r"(a));
	a += 1;
	__asm__ volatile("" : "+r"(a));
	return a ^ 0x5a5a;	/* not the victim's code: other bytes, other build-id */
}

PATCHABLE long compute_slow(long x, unsigned ms)
{
	if (ms)
		usleep(ms * 1000u);
	return x * 4 + 1;
}

int main(void)
{
	volatile long sink = compute(1) + compute_slow(2, 0);
	(void)sink;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	alarm(600);
	int sig;
	sigwait(&set, &sig);
	return 0;
}
