/* Holding every thread of a process: seize while it runs, interrupt all and
 * then wait for all (so the first thread does not wait for the last to be
 * attached), resume or detach all.  During a stop the tracer runs SCHED_FIFO
 * where permitted: with more runnable threads than cores, a normally
 * scheduled tracer is starved by the threads it has just resumed. */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include "common/common.h"
#include "target/target.h"

static int tracer_of(pid_t tid)
{
	char path[64], line[256];
	int tracer = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TracerPid: %d", &tracer) == 1)
			break;
	fclose(f);
	return tracer;
}

static struct hp_thread *find_thread(struct hp_target *t, pid_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return &t->threads[i];
	return NULL;
}

/* Room for one more thread, made before it is seized: a thread we hold
 * but could not record could never be let go (PTRACE_DETACH needs it stopped). */
static int reserve_thread(struct hp_target *t)
{
	struct hp_thread *th;
	size_t cap;

	if (t->nthreads < t->cap)
		return 0;
	cap = t->cap ? t->cap * 2 : 32;
	th = realloc(t->threads, cap * sizeof(*th));
	if (!th)
		return -ENOMEM;
	t->threads = th;
	t->cap = cap;
	return 0;
}

/* Drops threads that have exited. */
static void compact_threads(struct hp_target *t)
{
	size_t j = 0;

	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid > 0)
			t->threads[j++] = t->threads[i];
	t->nthreads = j;
}

static int thread_dead(pid_t tid);

static int seize_one(struct hp_target *t, pid_t tid)
{
	struct hp_thread *th;
	int tracer, ok;

	if (reserve_thread(t) < 0)
		return -ENOMEM;
	/* With a seccomp filter, the system calls we run inside the process
	 * could kill it: suspend the filter for as long as we hold the thread
	 * (CAP_SYS_ADMIN needed; CRIU does the same).  Without the capability,
	 * seize plainly. */
	int opts = PTRACE_O_SUSPEND_SECCOMP;

	ok = ptrace(PTRACE_SEIZE, tid, 0, opts) == 0;
	if (!ok && errno == EPERM && !tracer_of(tid))
		ok = ptrace(PTRACE_SEIZE, tid, 0, opts = 0) == 0;
	if (!ok) {
		int e = errno;

		if (e == ESRCH || thread_dead(tid))
			return 0; /* exited meanwhile, or exiting */
		tracer = tracer_of(tid);
		if (tracer == gettid())
			return 0; /* ours already (a leader we stopped waiting for) */
		if (e == EPERM && tracer && tracer != gettid()) {
			char comm[64];

			hp_proc_comm(tracer, comm, sizeof(comm));
			return hp_err(-HP_E_TRACED, "process %d is traced by pid %d (%s)", t->pid,
				      tracer, comm);
		}
		return hp_err(-e, "cannot ptrace thread %d of process %d: %s", tid, t->pid,
			      strerror(e));
	}
	th = &t->threads[t->nthreads++];
	memset(th, 0, sizeof(*th));
	th->tid = tid;
	th->opts = opts;
	return 1;
}

/* Seizes every thread listed in /proc/pid/task not held yet; returns how
 * many were new, or a negative error. */
static int seize_new_threads(struct hp_target *t)
{
	char path[64];
	struct dirent *de;
	int added = 0, r = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", t->pid);
	d = opendir(path);
	if (!d)
		return hp_err(-HP_E_GONE, "process %d exited", t->pid);
	while ((de = readdir(d))) {
		pid_t tid = atoi(de->d_name);

		if (tid <= 0 || find_thread(t, tid))
			continue;
		r = seize_one(t, tid);
		if (r < 0)
			break;
		added += r;
	}
	closedir(d);
	return r < 0 ? r : added;
}

int hp_target__seize_all(struct hp_target *t)
{
	int r;

	do {
		r = seize_new_threads(t);
	} while (r > 0);
	if (r < 0)
		return r;
	if (!t->nthreads)
		return hp_err(-HP_E_GONE, "process %d has no threads left", t->pid);
	return 0;
}

void hp_target__raise_priority(struct hp_target *t)
{
	struct sched_param sp = { .sched_priority = 1 }, old;

	if (t->fifo_raised)
		return;
	t->saved_policy = sched_getscheduler(0);
	if (t->saved_policy < 0 || sched_getparam(0, &old) < 0)
		return;
	t->saved_prio = old.sched_priority;
	if (sched_setscheduler(0, SCHED_FIFO, &sp) == 0)
		t->fifo_raised = 1;
}

void hp_target__lower_priority(struct hp_target *t)
{
	struct sched_param sp = { .sched_priority = t->saved_prio };

	if (t->fifo_raised) {
		sched_setscheduler(0, t->saved_policy, &sp);
		t->fifo_raised = 0;
	}
}

/* Is the thread dead for good (gone, or a zombie that will report nothing
 * more to us)?  A thread-group leader whose siblings are still exiting is a
 * zombie that waitpid() reports only after them: blocking on it would hang. */
static int thread_dead(pid_t tid)
{
	char state;

	return hp_proc_state(tid, &state) < 0 || state == 'Z' || state == 'X';
}

pid_t hp_target__waitpid(pid_t tid, int *st)
{
	return hp_target__waitpid_until(tid, st, 0);
}

pid_t hp_target__waitpid_until(pid_t tid, int *st, double deadline_ms)
{
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		struct timespec ts = { 0, 1000000 };
		pid_t w = waitpid(tid, st, __WALL | WNOHANG);

		if (w != 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return w;
		}
		/* SIGCHLD is blocked while a process is held (hp_target__open):
		 * it wakes us when a tracee changes state.  Only when none came
		 * for a millisecond is the thread looked at (a /proc read: too
		 * slow to do for each of hundreds of threads on every stop). */
		if (sigtimedwait(&chld, NULL, &ts) == SIGCHLD)
			continue;
		if (thread_dead(tid))
			return 0;
		if (deadline_ms > 0 && hp_now_ms() > deadline_ms) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

/* How long a thread may take to stop: one in uninterruptible sleep (a hung
 * network file system, a vfork parent) does not stop until it wakes, and
 * every other thread of the process would wait stopped meanwhile.  Any
 * other thread answers within microseconds (hp_proc_why_stuck says which
 * it was). */
#define STOP_WAIT_MS 2000
/* A runnable thread (state R) has not been given a CPU yet to take the
 * interrupt: a low-priority thread beside CPU hogs can wait seconds for
 * one.  It is not stuck, so it is waited for longer. */
#define STOP_WAIT_RUNNABLE_MS 10000

static int wait_stopped(struct hp_thread *th)
{
	double start = hp_now_ms(), deadline = start + STOP_WAIT_MS;

	for (;;) {
		int st, sig;
		pid_t w = hp_target__waitpid_until(th->tid, &st, deadline);

		if (w < 0 && errno == ETIMEDOUT) {
			char state;

			if (hp_proc_state(th->tid, &state) == 0 && state == 'R' &&
			    deadline < start + STOP_WAIT_RUNNABLE_MS) {
				deadline = start + STOP_WAIT_RUNNABLE_MS;
				continue;
			}
			return -ETIMEDOUT; /* still seized, not stopped */
		}
		if (w <= 0) {
			th->tid = 0;
			return -ESRCH;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			th->tid = 0;
			return -ESRCH;
		}
		if (!WIFSTOPPED(st))
			continue;
		sig = WSTOPSIG(st);
		if ((st >> 16) == PTRACE_EVENT_STOP) {
			th->stopped = 1;
			return 0;
		}
		if ((st >> 16) == 0 && sig != SIGTRAP) {
			/* A signal-delivery stop that raced with our interrupt. */
			if (ptrace(PTRACE_CONT, th->tid, 0, sig) < 0) {
				th->tid = 0;
				return -ESRCH;
			}
			continue;
		}
		/* SIGTRAP or another event: we are stopped. */
		th->stopped = 1;
		return 0;
	}
}

/* A thread stopped at a single step or a hardware breakpoint is in a
 * signal-delivery-stop for SIGTRAP, and a tracer that dies leaves it that
 * signal: its default action kills the process.  So such a thread is parked
 * in an interrupt stop, which a dying tracer leaves harmless: PTRACE_INTERRUPT
 * marks a trap, and resumed with signal 0 the thread takes that trap in
 * get_signal() before anything else (no user code runs, other pending
 * signals stay queued).  Checked by the fault tests (faults.sh, load:N). */
int hp_target__park(struct hp_target *t, struct hp_thread *th)
{
	if (th->tid <= 0 || !th->stopped)
		return 0;
	if (ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) < 0 || ptrace(PTRACE_CONT, th->tid, 0, 0) < 0) {
		th->tid = 0;
		return -ESRCH;
	}
	th->stopped = 0;
	return wait_stopped(th);
}

int hp_target__adopt(struct hp_target *t, pid_t tid, int opts)
{
	struct hp_thread *th;

	if (find_thread(t, tid))
		return 0;
	if (reserve_thread(t) < 0) {
		/* Cannot hold it: let it go (it waits in its first stop). */
		ptrace(PTRACE_DETACH, tid, 0, 0);
		return -ENOMEM;
	}
	th = &t->threads[t->nthreads++];
	memset(th, 0, sizeof(*th));
	th->tid = tid;
	th->opts = opts;
	return wait_stopped(th);
}

int hp_target__take_trap(struct hp_target *t, struct hp_thread *th)
{
	double deadline = hp_now_ms() + STOP_WAIT_MS;

	if (ptrace(PTRACE_CONT, th->tid, 0, 0) < 0) {
		th->tid = 0;
		return -ESRCH;
	}
	th->stopped = 0;
	for (;;) {
		int st;
		pid_t w = hp_target__waitpid_until(th->tid, &st, deadline);

		if (w < 0 && errno == ETIMEDOUT)
			return hp_target__stop_one(t, th);
		if (w <= 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
			th->tid = 0;
			return -ESRCH;
		}
		if (!WIFSTOPPED(st))
			continue;
		if ((st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP) {
			/* Another signal dequeued first: delivered as usual. */
			if (ptrace(PTRACE_CONT, th->tid, 0, WSTOPSIG(st)) < 0) {
				th->tid = 0;
				return -ESRCH;
			}
			continue;
		}
		th->stopped = 1;
		/* The SIGTRAP (or an event stop): parked, the signal dropped. */
		return hp_target__park(t, th);
	}
}

int hp_target__stop_one(struct hp_target *t, struct hp_thread *th)
{
	if (th->stopped)
		return 0;
	if (ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) < 0) {
		th->tid = 0;
		return -ESRCH;
	}
	if (wait_stopped(th) < 0)
		return -ESRCH;
	if (ptrace(PTRACE_GETREGS, th->tid, 0, &th->regs) < 0)
		return -errno;
	th->regs_valid = 1;
	return 0;
}

int hp_target__stop_all(struct hp_target *t)
{
	pid_t stuck = 0;
	int r;

	if (t->stop_started_ms == 0) /* not already inside a stop window */
		t->stop_started_ms = hp_now_ms();
	for (;;) {
		for (size_t i = 0; i < t->nthreads; i++) {
			struct hp_thread *th = &t->threads[i];

			if (!th->stopped && ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) < 0)
				th->tid = 0; /* gone */
		}
		for (size_t i = 0; i < t->nthreads; i++) {
			struct hp_thread *th = &t->threads[i];

			if (th->tid > 0 && !th->stopped && wait_stopped(th) == -ETIMEDOUT && !stuck)
				stuck = th->tid;
		}
		compact_threads(t);
		if (stuck) {
			char why[512];

			hp_proc_why_stuck(t->pid, stuck, why, sizeof(why));
			return hp_err(-HP_E_UNSAFE, "thread %d of process %d did not stop within %d ms: it %s",
				      stuck, t->pid, STOP_WAIT_MS, why);
		}
		/* Threads cloned before their parent stopped are listed now. */
		r = seize_new_threads(t);
		if (r < 0)
			return r;
		if (r == 0)
			break;
	}
	if (!t->nthreads)
		return hp_err(-HP_E_GONE, "process %d exited", t->pid);
	for (size_t i = 0; i < t->nthreads; i++) {
		struct hp_thread *th = &t->threads[i];

		/* Threads that stayed stopped since their registers were read
		 * (most of them, when only a few were run to a safe point) are
		 * not asked again: each read is a system call in the stop window. */
		if (th->regs_valid)
			continue;
		if (ptrace(PTRACE_GETREGS, th->tid, 0, &th->regs) < 0)
			return hp_err(-HP_E_GONE, "thread %d of process %d vanished", th->tid, t->pid);
		th->regs_valid = 1;
	}
	return 0;
}

static void note_pause_end(struct hp_target *t)
{
	if (t->stop_started_ms > 0) {
		double d = hp_now_ms() - t->stop_started_ms;

		if (d > t->longest_pause_ms)
			t->longest_pause_ms = d;
		t->stop_started_ms = 0;
	}
}

int hp_target__resume_all(struct hp_target *t)
{
	for (size_t i = 0; i < t->nthreads; i++) {
		struct hp_thread *th = &t->threads[i];

		if (th->stopped) {
			if (ptrace(PTRACE_CONT, th->tid, 0, th->pending_sig) < 0)
				th->tid = 0;
			th->stopped = 0;
			th->regs_valid = 0;
			th->pending_sig = 0;
		}
	}
	note_pause_end(t);
	compact_threads(t);
	return 0;
}

int hp_target__detach_all(struct hp_target *t)
{
	int stopped_any = 0, held = 0, detached = 0;

	/* PTRACE_DETACH needs a stopped tracee: interrupt the running ones first. */
	for (size_t i = 0; i < t->nthreads; i++) {
		struct hp_thread *th = &t->threads[i];

		if (th->tid > 0 && !th->stopped) {
			if (ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) < 0)
				th->tid = 0;
			stopped_any = 1;
		}
	}
	if (stopped_any) {
			if (t->stop_started_ms == 0)
			t->stop_started_ms = hp_now_ms();
		for (size_t i = 0; i < t->nthreads; i++) {
			struct hp_thread *th = &t->threads[i];

			if (th->tid > 0 && !th->stopped)
				wait_stopped(th);
		}
	}
	for (size_t i = 0; i < t->nthreads; i++) {
		struct hp_thread *th = &t->threads[i];

		held++;
		if (th->tid > 0 && ptrace(PTRACE_DETACH, th->tid, 0, th->pending_sig) == 0)
			detached++;
	}
	note_pause_end(t);
	t->nthreads = 0;
	/* Every thread that could not be let go had died (a SIGKILL wakes a
	 * thread out of any ptrace stop): none ran again while we held it. */
	if (held && !detached)
		return -HP_E_GONE;
	return 0;
}
