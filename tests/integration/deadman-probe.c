/* deadman-probe — checks the kernel behaviour hotpatch's "dead-man stop"
 * relies on (lib/apply/deadman.c), on the running kernel, without hotpatch.
 * faults.sh compiles and runs it; it prints one "ok: ..." or "bad: ..."
 * line per fact and exits 0 only when all hold.
 *
 * A child with 4 busy threads (and a SIGCONT handler that counts) is seized
 * and interrupted by a tracer, exactly as hotpatch holds a process; then:
 *
 *  1. kill(child, SIGSTOP) while every thread is in ptrace-stop: nothing
 *     happens (the signal stays pending; no thread runs, none reports).
 *  2. the tracer is SIGKILLed: the kernel detaches the threads, the first
 *     one to run takes the pending SIGSTOP, the whole group stops, the
 *     counter of the busy threads no longer moves (no code ran in between
 *     that we can see), and SIGCONT lets it run on.
 *  3. disarm by consumption (hotpatch's way): with SIGSTOP pending,
 *     PTRACE_CONT of one thread reports a signal-delivery-stop for SIGSTOP;
 *     resuming it with signal 0 discards it.  After detach the child runs,
 *     is not stopped, and its SIGCONT handler never ran.
 *  4. disarm by SIGCONT (the alternative): kill(SIGCONT) discards the
 *     pending SIGSTOP, but the signal itself is queued (a traced process
 *     ignores nothing) and every seized thread gets a trap notification:
 *     resumed by PTRACE_CONT, a thread first reports PTRACE_EVENT_STOP and
 *     then a signal-delivery-stop for SIGCONT; the handler runs once. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
	volatile unsigned long counter;
	volatile unsigned long conts;	/* SIGCONT handler runs */
};
static struct shared *sh;
static int bad;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "bad", what);
	fflush(stdout);
	if (!ok)
		bad = 1;
}

static void on_cont(int sig)
{
	__atomic_add_fetch(&sh->conts, 1, __ATOMIC_SEQ_CST);
}

static void *spin(void *arg)
{
	for (;;)
		__atomic_add_fetch(&sh->counter, 1, __ATOMIC_RELAXED);
	return arg;
}

static pid_t start_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		pthread_t t;

		signal(SIGCONT, on_cont);
		for (int i = 0; i < 3; i++)
			pthread_create(&t, NULL, spin, NULL);
		spin(NULL);
	}
	usleep(100000);
	return pid;
}

static int tids(pid_t pid, pid_t *out, int max)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	while (d && (de = readdir(d)) && n < max)
		if (atoi(de->d_name) > 0)
			out[n++] = atoi(de->d_name);
	if (d)
		closedir(d);
	return n;
}

/* Seizes and interrupts every thread; returns how many reported an interrupt stop. */
static int hold(pid_t pid, pid_t *t, int n)
{
	int stopped = 0;

	for (int i = 0; i < n; i++)
		ptrace(PTRACE_SEIZE, t[i], 0, 0);
	for (int i = 0; i < n; i++)
		ptrace(PTRACE_INTERRUPT, t[i], 0, 0);
	for (int i = 0; i < n; i++) {
		int st;

		while (waitpid(t[i], &st, __WALL) == t[i]) {
			if (WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_STOP) {
				stopped++;
				break;
			}
			ptrace(PTRACE_CONT, t[i], 0, WIFSTOPPED(st) ? WSTOPSIG(st) : 0);
		}
	}
	return stopped;
}

/* Does any held thread report anything within ms? */
static int quiet_for(pid_t *t, int n, int ms)
{
	for (int k = 0; k < ms; k++) {
		for (int i = 0; i < n; i++) {
			int st;

			if (waitpid(t[i], &st, __WALL | WNOHANG) > 0)
				return 0;
		}
		usleep(1000);
	}
	return 1;
}

static int all_state(pid_t pid, char want)
{
	pid_t t[16];
	int n = tids(pid, t, 16);

	for (int i = 0; i < n; i++) {
		char path[64], buf[512], *p;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, t[i]);
		f = fopen(path, "r");
		if (!f || !fgets(buf, sizeof(buf), f)) {
			if (f)
				fclose(f);
			return 0;
		}
		fclose(f);
		p = strrchr(buf, ')');
		if (!p || p[2] != want)
			return 0;
	}
	return n > 0;
}

static int wait_all_state(pid_t pid, char want, int ms)
{
	for (int k = 0; k < ms / 5; k++) {
		if (all_state(pid, want))
			return 1;
		usleep(5000);
	}
	return 0;
}

static void kill_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Facts 1 and 2: the tracer is a forked process that we SIGKILL. */
static void tracer_dies(void)
{
	pid_t child = start_child(), tracer;
	int pfd[2];
	char c;
	unsigned long c0, c1;

	if (pipe(pfd) < 0)
		exit(2);
	tracer = fork();
	if (tracer == 0) {
		pid_t t[16];
		int n = tids(child, t, 16), ok;

		ok = hold(child, t, n) == n;
		kill(child, SIGSTOP);
		ok = ok && quiet_for(t, n, 100);
		if (write(pfd[1], ok ? "y" : "n", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	if (read(pfd[0], &c, 1) != 1)
		c = 'n';
	check(c == 'y', "pending SIGSTOP: no thread in ptrace-stop reports or runs");
	kill(tracer, SIGKILL);
	waitpid(tracer, NULL, 0);
	check(wait_all_state(child, 'T', 2000), "tracer killed: every thread group-stopped (state T)");
	c0 = sh->counter;
	usleep(100000);
	c1 = sh->counter;
	check(c0 == c1, "group-stopped: the threads run no code");
	kill(child, SIGCONT);
	usleep(50000);
	check(sh->counter != c1 && !all_state(child, 'T'), "SIGCONT: the process runs on");
	kill_child(child);
}

/* Fact 3: the pending SIGSTOP consumed through one thread's signal-delivery-stop. */
static void consume(void)
{
	pid_t child = start_child(), t[16];
	int n = tids(child, t, 16), st, got = 0, other = 0;
	unsigned long c0;

	sh->conts = 0;
	check(hold(child, t, n) == n, "all threads held");
	kill(child, SIGSTOP);
	ptrace(PTRACE_CONT, t[0], 0, 0);
	while (waitpid(t[0], &st, __WALL) == t[0] && WIFSTOPPED(st)) {
		if ((st >> 16) == 0 && WSTOPSIG(st) == SIGSTOP) {
			got = 1;
			break;
		}
		other++;
		ptrace(PTRACE_CONT, t[0], 0, (st >> 16) ? 0 : WSTOPSIG(st));
	}
	check(got && !other, "PTRACE_CONT of one thread: a signal-delivery-stop for SIGSTOP, nothing else");
	check(quiet_for(t + 1, n - 1, 50), "the other threads report nothing meanwhile");
	for (int i = 0; i < n; i++)
		ptrace(PTRACE_DETACH, t[i], 0, 0);
	usleep(100000);
	c0 = sh->counter;
	usleep(50000);
	check(!all_state(child, 'T') && sh->counter != c0,
	      "detached with signal 0: the SIGSTOP is gone, the process runs");
	check(sh->conts == 0, "no SIGCONT reached the process");
	kill_child(child);
}

/* Fact 4: disarming by SIGCONT, and what a later PTRACE_CONT then sees. */
static void by_sigcont(void)
{
	pid_t child = start_child(), t[16];
	int n = tids(child, t, 16), st, event = 0, cont = 0, stopsig = 0;

	sh->conts = 0;
	check(hold(child, t, n) == n, "all threads held");
	kill(child, SIGSTOP);
	kill(child, SIGCONT);
	ptrace(PTRACE_CONT, t[0], 0, 0);
	for (int k = 0; k < 3 && waitpid(t[0], &st, __WALL) == t[0] && WIFSTOPPED(st); k++) {
		if ((st >> 16) == PTRACE_EVENT_STOP)
			event++;
		else if (WSTOPSIG(st) == SIGCONT)
			cont++;
		else if (WSTOPSIG(st) == SIGSTOP)
			stopsig++;
		if (cont)
			break;
		ptrace(PTRACE_CONT, t[0], 0, 0);
	}
	check(event == 1 && cont == 1 && stopsig == 0,
	      "SIGCONT disarm: a resumed thread reports an extra PTRACE_EVENT_STOP, then SIGCONT; no SIGSTOP");
	ptrace(PTRACE_DETACH, t[0], 0, SIGCONT);
	for (int i = 1; i < n; i++)
		ptrace(PTRACE_DETACH, t[i], 0, 0);
	for (int k = 0; k < 200 && !sh->conts; k++)
		usleep(10000);
	usleep(50000);
	printf("  (SIGCONT handler ran %lu time(s))\n", sh->conts);
	check(sh->conts >= 1, "SIGCONT disarm: the target's SIGCONT handler runs (spurious)");
	kill_child(child);
}

int main(void)
{
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	alarm(30);
	tracer_dies();
	consume();
	by_sigcont();
	return bad;
}
