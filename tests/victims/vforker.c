/* A victim with a thread in uninterruptible sleep: it vfork()s a child that
 * sleeps, and a vfork parent waits in state D, where no ptrace interrupt
 * reaches it.  The main thread calls compute() like the other victims.
 * usage: vforker SECONDS [FIFO]
 * SECONDS: how long each vfork child sleeps; with FIFO, a single vfork
 * child opens it for reading instead (as posix_spawn() does for a
 * redirection), which blocks until someone opens it for writing: what looks
 * like a reader of a FIFO keeps its parent thread in D until then. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <unistd.h>

static unsigned child_sleep = 8;
static const char *fifo;

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
			if (fifo)
				open(fifo, O_RDONLY);
			else
				sleep(child_sleep);
			_exit(0);
		}
		if (fifo)
			break; /* once: a writer releases it for good */
		usleep(100000);
	}
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t t;

	if (argc > 1)
		child_sleep = (unsigned)atoi(argv[1]);
	if (argc > 2)
		fifo = argv[2];
	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel: no zombie left */
	pthread_create(&t, NULL, vforker, NULL);
	for (;;) {
		if (compute(3) != 7 && compute(3) != 10)
			abort();
		usleep(1000);
	}
}
