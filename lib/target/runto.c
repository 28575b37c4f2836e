/* Letting chosen threads run to a safe point while all others stay stopped.
 *
 * A busy thread that spends most of its time inside a function being
 * replaced is almost never found outside it by chance; waiting for every
 * one of 128 such threads to be outside at once would never end.  Instead,
 * each such thread runs alone until it reaches the return address just
 * outside its outermost frame in a replaced function, where a software
 * breakpoint (int3) waits for it.
 *
 * Hardware breakpoints (DR0-DR7) would change no code, but on some virtual
 * machines -- this project's own test machines among them -- they are
 * accepted and then never fire: a thread released to one runs on freely.
 * A software breakpoint works everywhere.  Why it is safe:
 *
 *  - Every thread of the process not released here stays in a ptrace stop
 *    from before the first 0xcc is written until after the last original
 *    byte is back: no such thread can execute it.
 *  - A released thread that executes it stops with a SIGTRAP that only we
 *    see (a traced thread's signals reach the tracer first); we suppress it
 *    and move the thread back onto the original instruction.  A trap that
 *    is not at one of our addresses is the program's own and is delivered.
 *  - The byte is written through /proc/PID/mem into a private mapping: the
 *    kernel gives this process its own copy of the page (copy-on-write), so
 *    no other process that maps the same file or page ever sees it.  An
 *    address in a shared or non-executable mapping is not used.
 *  - A released thread may create threads or processes while the byte is
 *    there.  For the window the released threads trace clone, fork and
 *    vfork: a new thread is held stopped like every other; a new process
 *    (which got a copy of the 0xcc) gets the original bytes back in its
 *    own memory before it runs its first instruction, then is let go.
 *  - A released thread interrupted at the deadline just after it executed
 *    the int3 still has the SIGTRAP queued; it takes it (and we drop it)
 *    before it could run a user instruction again (hp_target__take_trap).
 *
 * The one window that is not safe: hotpatch killed (SIGKILL) while the
 * bytes are in place.  The kernel then lets every thread run, and one that
 * reaches a 0xcc dies of SIGTRAP with its process.  The window lasts at
 * most the escape budget (milliseconds); SIGTERM and SIGINT wait for it.
 *
 * A thread that does not arrive in time (blocked on a lock that a stopped
 * thread holds, asleep) is interrupted where it is; the caller checks every
 * thread again anyway and falls back to resume-and-retry. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include "common/common.h"
#include "target/target.h"

#define INT3 0xcc
/* A released thread found asleep in the kernel this many times in a row,
 * SLEEP_POLL_MS apart, is waiting for something a stopped thread holds:
 * waiting longer for it only lengthens the pause. */
#define SLEEP_POLL_MS 4.0
#define SLEEP_CHECKS 2
#define TRACE_NEW (PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK)

struct breakpoint {
	uint64_t addr;
	uint8_t orig;
	int armed;
};

enum { IDLE, RUNNING, DONE };

struct runner {
	pid_t tid;
	uint64_t addr;
	int state;
	int sleeps;		/* consecutive polls that found it asleep */
	int arrived;
};

struct run {
	struct hp_target *t;
	struct breakpoint *bps;
	size_t nbps;
	struct runner *rs;
	size_t nrs;
	pid_t *traced;		/* threads whose options include TRACE_NEW */
	int *traced_opts;
	size_t ntraced;
};

static struct hp_thread *by_tid(struct hp_target *t, pid_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return &t->threads[i];
	return NULL;
}

/* A private executable mapping holds addr: a write there stays this process's. */
static int private_code(const struct hp_map *maps, size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (addr >= maps[i].start && addr < maps[i].end)
			return maps[i].perms[2] == 'x' && maps[i].perms[3] == 'p';
	return 0;
}

static struct breakpoint *bp_at(struct run *run, uint64_t addr)
{
	for (size_t i = 0; i < run->nbps; i++)
		if (run->bps[i].addr == addr)
			return &run->bps[i];
	return NULL;
}

/* Writes the original bytes back through fd (a /proc/PID/mem). */
static void restore_bytes(struct run *run, int fd)
{
	for (size_t i = 0; i < run->nbps; i++)
		if (run->bps[i].armed)
			pwrite(fd, &run->bps[i].orig, 1, (off_t)run->bps[i].addr);
}

static void disarm_all(struct run *run)
{
	restore_bytes(run, run->t->mem_fd);
	for (size_t i = 0; i < run->nbps; i++)
		run->bps[i].armed = 0;
}

/* After a new process shared our memory (clone with CLONE_VM and no
 * CLONE_THREAD, vfork) and got the original bytes back, so did we. */
static void recheck_armed(struct run *run)
{
	for (size_t i = 0; i < run->nbps; i++) {
		uint8_t b;

		if (run->bps[i].armed && hp_target__read(run->t, run->bps[i].addr, &b, 1) == 0 &&
		    b != INT3)
			run->bps[i].armed = 0;
	}
}

static int note_traced(struct run *run, pid_t tid, int opts)
{
	pid_t *nt = realloc(run->traced, (run->ntraced + 1) * sizeof(*nt));
	int *no;

	if (!nt)
		return -ENOMEM;
	run->traced = nt;
	no = realloc(run->traced_opts, (run->ntraced + 1) * sizeof(*no));
	if (!no)
		return -ENOMEM;
	run->traced_opts = no;
	run->traced[run->ntraced] = tid;
	run->traced_opts[run->ntraced++] = opts;
	return 0;
}

static int proc_field(pid_t tid, const char *key, char *out, size_t n)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			snprintf(out, n, "%s", line + klen + 1);
			r = 0;
			break;
		}
	fclose(f);
	return r;
}

/* The thread has a SIGTRAP queued that it has not taken yet. */
static int sigtrap_pending(pid_t tid)
{
	char v[64];

	if (proc_field(tid, "SigPnd", v, sizeof(v)) < 0)
		return 0;
	return (strtoull(v, NULL, 16) >> (SIGTRAP - 1)) & 1;
}

/* A process (not a thread of ours) the kernel attached to us as it was
 * born: give it the original bytes, then let it go. */
static void release_child(struct run *run, pid_t child)
{
	char path[64];
	int st, fd;

	if (hp_target__waitpid(child, &st) <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/mem", child);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		restore_bytes(run, fd);
		close(fd);
	}
	ptrace(PTRACE_DETACH, child, 0, 0);
	recheck_armed(run);
}

/* A released thread made a thread or a process (a clone/fork/vfork event). */
static void new_child(struct run *run, struct runner *r)
{
	struct hp_thread *th = by_tid(run->t, r->tid);
	unsigned long msg = 0;
	char tgid[32];
	pid_t child;
	int opts = th ? th->opts : 0;

	if (ptrace(PTRACE_GETEVENTMSG, r->tid, 0, &msg) < 0 || !msg)
		return;
	child = (pid_t)msg;
	if (proc_field(child, "Tgid", tgid, sizeof(tgid)) == 0 && atoi(tgid) == run->t->pid) {
		if (hp_target__adopt(run->t, child, opts) == 0)
			note_traced(run, child, opts);
		return;
	}
	release_child(run, child);
}

/* What a released thread reported: returns with r->state DONE when it is
 * stopped for good (arrived or not) or gone. */
static void take_report(struct run *run, struct runner *r, int st)
{
	struct hp_thread *th = by_tid(run->t, r->tid);
	int event = st >> 16;

	if (WIFEXITED(st) || WIFSIGNALED(st) || !WIFSTOPPED(st)) {
		if (th)
			th->tid = 0;
		r->state = DONE;
		return;
	}
	if (!th) {
		r->state = DONE;
		return;
	}
	if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK ||
	    event == PTRACE_EVENT_VFORK) {
		new_child(run, r);
		th = by_tid(run->t, r->tid); /* the thread list may have grown */
		if (ptrace(PTRACE_CONT, r->tid, 0, 0) == 0)
			return; /* on its way still */
		if (th)
			th->tid = 0;
		r->state = DONE;
		return;
	}
	if (event == 0 && WSTOPSIG(st) == SIGTRAP) {
		siginfo_t si;
		struct breakpoint *bp;

		if (ptrace(PTRACE_GETSIGINFO, r->tid, 0, &si) == 0 && si.si_code == SI_KERNEL &&
		    ptrace(PTRACE_GETREGS, r->tid, 0, &th->regs) == 0 &&
		    (bp = bp_at(run, th->regs.rip - 1))) {
			/* Ours: back onto the original instruction. */
			th->regs.rip = bp->addr;
			ptrace(PTRACE_SETREGS, r->tid, 0, &th->regs);
			th->stopped = 1;
			r->arrived = bp->addr == r->addr;
			r->state = DONE;
			return;
		}
	}
	if (event == 0) {
		/* A signal for the thread (the program's own SIGTRAP too):
		 * delivered, and the thread goes on. */
		if (ptrace(PTRACE_CONT, r->tid, 0, WSTOPSIG(st)) < 0) {
			th->tid = 0;
			r->state = DONE;
		}
		return;
	}
	/* An interrupt or group stop (PTRACE_EVENT_STOP). */
	th->stopped = 1;
	r->state = DONE;
}

/* Polls every running thread once (never waitpid(-1): the caller may have
 * children of its own whose exit is not ours to reap).  Returns how many
 * reported. */
static int poll_all(struct run *run, size_t *running)
{
	int progressed = 0;

	for (size_t i = 0; i < run->nrs; i++) {
		struct runner *r = &run->rs[i];
		int st;
		pid_t w;

		if (r->state != RUNNING)
			continue;
		w = waitpid(r->tid, &st, __WALL | WNOHANG);
		if (w == 0)
			continue;
		progressed++;
		if (w < 0)
			st = 0; /* gone: WIFEXITED */
		take_report(run, r, st);
		if (r->state == DONE)
			(*running)--;
	}
	return progressed;
}

/* Threads asleep in the kernel for SLEEP_CHECKS polls in a row are
 * interrupted: what they wait for is held by a stopped thread. */
static void give_up_sleepers(struct run *run)
{
	for (size_t i = 0; i < run->nrs; i++) {
		struct runner *r = &run->rs[i];
		char state;

		if (r->state != RUNNING)
			continue;
		if (hp_proc_state(r->tid, &state) == 0 && (state == 'S' || state == 'D'))
			r->sleeps++;
		else
			r->sleeps = 0;
		if (r->sleeps >= SLEEP_CHECKS)
			ptrace(PTRACE_INTERRUPT, r->tid, 0, 0);
	}
}

static void wait_tick(void)
{
	/* Sleep until a tracee changes state (SIGCHLD, blocked and waited
	 * for here); never spin: a spinning SCHED_FIFO tracer would keep the
	 * threads queued on its core from running.  The short timeout covers
	 * a SIGCHLD taken by another thread. */
	sigset_t chld;
	struct timespec ts = { 0, 200000 };

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigtimedwait(&chld, NULL, &ts);
}

static void run_until(struct run *run, size_t running, double deadline)
{
	double next_sleep_check = hp_now_ms() + SLEEP_POLL_MS;
	int interrupted = 0;

	while (running) {
		double now;

		if (!poll_all(run, &running))
			wait_tick();
		now = hp_now_ms();
		if (!interrupted && now >= deadline) {
			/* Late ones: stopped where they are. */
			for (size_t i = 0; i < run->nrs; i++)
				if (run->rs[i].state == RUNNING)
					ptrace(PTRACE_INTERRUPT, run->rs[i].tid, 0, 0);
			interrupted = 1;
			deadline = now + 2000; /* for them to stop */
		} else if (interrupted && now >= deadline) {
			break; /* not stopping (uninterruptible sleep): the caller sees it */
		} else if (!interrupted && now >= next_sleep_check) {
			give_up_sleepers(run);
			next_sleep_check = now + SLEEP_POLL_MS;
		}
	}
}

/* Every runner ends stopped, out of any SIGTRAP, in an interrupt stop
 * (where a dying tracer leaves it harmless), registers read. */
static void settle(struct run *run)
{
	for (size_t i = 0; i < run->nrs; i++) {
		struct runner *r = &run->rs[i];
		struct hp_thread *th = by_tid(run->t, r->tid);

		if (r->state == IDLE || !th || th->tid <= 0 || !th->stopped)
			continue;
		if (ptrace(PTRACE_GETREGS, th->tid, 0, &th->regs) < 0)
			continue;
		if (!r->arrived && bp_at(run, th->regs.rip - 1) && sigtrap_pending(th->tid)) {
			/* Interrupted just after its int3: the trap is still queued. */
			th->regs.rip--;
			ptrace(PTRACE_SETREGS, th->tid, 0, &th->regs);
			hp_target__take_trap(run->t, th);
		} else {
			hp_target__park(run->t, th);
		}
		th = by_tid(run->t, r->tid);
		if (th && th->tid > 0)
			th->regs_valid = ptrace(PTRACE_GETREGS, th->tid, 0, &th->regs) == 0;
	}
	for (size_t i = 0; i < run->ntraced; i++)
		ptrace(PTRACE_SETOPTIONS, run->traced[i], 0, run->traced_opts[i]);
}

/* One breakpoint per distinct address, each byte checked before it is
 * written: an address already holding 0xcc (the program's own) is left
 * alone, and so are its threads. */
static int plan(struct run *run, const struct hp_map *maps, size_t nmaps, const pid_t *tids,
		const uint64_t *addrs, size_t n)
{
	run->rs = calloc(n ? n : 1, sizeof(*run->rs));
	run->bps = calloc(n ? n : 1, sizeof(*run->bps));
	if (!run->rs || !run->bps)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct hp_thread *th = by_tid(run->t, tids[i]);
		struct breakpoint *bp;
		uint8_t b;

		if (!th || !th->stopped || !private_code(maps, nmaps, addrs[i]))
			continue;
		bp = bp_at(run, addrs[i]);
		if (!bp) {
			if (hp_target__read(run->t, addrs[i], &b, 1) < 0 || b == INT3)
				continue;
			bp = &run->bps[run->nbps++];
			bp->addr = addrs[i];
			bp->orig = b;
		}
		run->rs[run->nrs++] = (struct runner){ .tid = tids[i], .addr = addrs[i] };
	}
	return 0;
}

static int arm_all(struct run *run)
{
	static const uint8_t int3 = INT3;

	for (size_t i = 0; i < run->nbps; i++) {
		if (hp_target__write(run->t, run->bps[i].addr, &int3, 1) < 0)
			continue; /* unused: its threads just do not arrive */
		run->bps[i].armed = 1;
	}
	return 0;
}

/* Lets the runners go, each traced for clone/fork/vfork; returns how many run. */
static size_t release(struct run *run)
{
	size_t running = 0;

	for (size_t i = 0; i < run->nrs; i++) {
		struct runner *r = &run->rs[i];
		struct hp_thread *th = by_tid(run->t, r->tid);

		if (!bp_at(run, r->addr)->armed)
			continue;
		if (ptrace(PTRACE_SETOPTIONS, r->tid, 0, th->opts | TRACE_NEW) < 0)
			continue;
		if (note_traced(run, r->tid, th->opts) < 0 || ptrace(PTRACE_CONT, r->tid, 0, 0) < 0) {
			ptrace(PTRACE_SETOPTIONS, r->tid, 0, th->opts);
			continue;
		}
		th->stopped = 0;
		th->regs_valid = 0;
		r->state = RUNNING;
		running++;
	}
	return running;
}

int hp_target__run_to(struct hp_target *t, const struct hp_map *maps, size_t nmaps,
		      const pid_t *tids, const uint64_t *addrs, size_t n, double timeout_ms,
		      size_t *ret_arrived)
{
	struct run run = { .t = t };
	double deadline = hp_now_ms() + timeout_ms;
	size_t arrived = 0;
	int r;

	r = plan(&run, maps, nmaps, tids, addrs, n);
	if (r == 0 && run.nrs) {
		arm_all(&run);
		run_until(&run, release(&run), deadline);
		/* Every released thread is stopped or gone from here on (or,
		 * stuck in the kernel for seconds, not back in user code): the
		 * original bytes go back before anything else. */
		disarm_all(&run);
		settle(&run);
		for (size_t i = 0; i < run.nrs; i++)
			arrived += run.rs[i].arrived;
	}
	free(run.rs);
	free(run.bps);
	free(run.traced);
	free(run.traced_opts);
	*ret_arrived = arrived;
	return r;
}
