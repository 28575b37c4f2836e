/* A victim with a thread in uninterruptible sleep: it vfork()s a child that
 * sleeps, and a vfork parent waits in state D, where no ptrace interrupt
 * reaches it.  The main thread calls compute() like the other victims.
 * usage: vforker SECONDS (how long each vfork child sleeps) */
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <unistd.h>

static unsigned child_sleep = 8;

__attribute__((noinline)) int compute(int x)
{
	volatile int y = x * 2 + 1;

	return y;
}

static void *vforker(void *arg)
{
	for (;;) {
		pid_t p = vfork();

		if (p == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL); /* ends with the victim */
			sleep(child_sleep);
			_exit(0);
		}
		usleep(100000);
	}
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t t;

	if (argc > 1)
		child_sleep = (unsigned)atoi(argv[1]);
	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel: no zombie left */
	pthread_create(&t, NULL, vforker, NULL);
	for (;;) {
		if (compute(3) != 7 && compute(3) != 10)
			abort();
		usleep(1000);
	}
}
