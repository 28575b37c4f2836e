/* tracer PID — holds every thread of PID under ptrace (PTRACE_SEIZE, the
 * threads keep running) until SIGTERM, so that the tests can check how
 * hotpatch treats a process that someone else already traces.  Signals the
 * tracees receive are passed on.  Prints "tracing N" once all N threads are
 * seized; exits 1 if it could not seize them.  Lives at most 600 s. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: tracer PID\n");
		return 2;
	}
	pid_t pid = atoi(argv[1]);
	prctl(PR_SET_PDEATHSIG, SIGTERM);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: waitpid returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	alarm(600);

	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	int n = 0;
	/* seize until a full pass over the task list finds nothing new */
	for (int pass = 0, added = 1; added && pass < 10; pass++) {
		added = 0;
		DIR *d = opendir(path);
		if (!d) {
			fprintf(stderr, "tracer: %s: %s\n", path, strerror(errno));
			return 1;
		}
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			pid_t tid = atoi(de->d_name);
			if (ptrace(PTRACE_SEIZE, tid, 0, 0) == 0) {
				n++;
				added = 1;
			} else if (errno != EPERM) {
				/* EPERM: already ours */
				fprintf(stderr, "tracer: seize %d: %s\n", (int)tid, strerror(errno));
				closedir(d);
				return 1;
			}
		}
		closedir(d);
	}
	printf("tracing %d\n", n);
	fflush(stdout);

	while (!stop) {
		int st;
		pid_t t = waitpid(-1, &st, __WALL);
		if (t < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				break;
			continue;
		}
		if (WIFSTOPPED(st)) {
			int sig = WSTOPSIG(st);
			if ((st >> 16) == PTRACE_EVENT_STOP)
				sig = 0;	/* group-stop / interrupt: just continue */
			ptrace(PTRACE_CONT, t, 0, (void *)(long)sig);
		}
	}
	/* Exiting detaches every tracee. */
	return 0;
}
