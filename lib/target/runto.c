/* Letting chosen threads run to a safe point while all others stay stopped.
 *
 * A busy thread that spends most of its time inside a function being
 * replaced is almost never found outside it by chance; waiting for every
 * one of 128 such threads to be outside at once would never end.  Instead,
 * each such thread gets a hardware breakpoint (debug register DR0, which is
 * per thread: no byte of code is changed) at the return address just
 * outside its outermost frame in a replaced function, and runs alone until
 * it arrives there.  A thread that does not arrive in time (blocked on a
 * lock that a stopped thread holds, sleeping) is interrupted again; the
 * caller then falls back to resume-and-retry. */
#include <signal.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include "common/common.h"
#include "target/target.h"

#define DR_OFF(n) (offsetof(struct user, u_debugreg) + (n) * sizeof(long))
#define DR7_L0 0x1ul	/* local enable of DR0, execute, length 1 */

static int set_bp(pid_t tid, uint64_t addr)
{
	if (ptrace(PTRACE_POKEUSER, tid, (void *)DR_OFF(0), (void *)addr) < 0)
		return -errno;
	if (ptrace(PTRACE_POKEUSER, tid, (void *)DR_OFF(7), (void *)DR7_L0) < 0)
		return -errno;
	return 0;
}

/* Disabling DR7 is enough: a disabled DR0 and a stale DR6 status bit
 * change nothing for the thread (and one ptrace call costs ~1 us each). */
static void clear_bp(pid_t tid)
{
	ptrace(PTRACE_POKEUSER, tid, (void *)DR_OFF(7), (void *)0);
}

static struct hp_thread *by_tid(struct hp_target *t, pid_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return &t->threads[i];
	return NULL;
}

int hp_target__run_to(struct hp_target *t, const pid_t *tids, const uint64_t *addrs, size_t n,
		      double timeout_ms, size_t *ret_arrived)
{
	double deadline = hp_now_ms() + timeout_ms;
	size_t running = 0, arrived = 0;
	sigset_t chld;
	char *state = calloc(n ? n : 1, 1); /* 0 idle, 1 running, 2 done */

	if (!state)
		return -ENOMEM;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);	/* blocked since hp_target__open: waited for below */
	for (size_t i = 0; i < n; i++) {
		struct hp_thread *th = by_tid(t, tids[i]);

		if (!th || !th->stopped || set_bp(th->tid, addrs[i]) < 0)
			continue;
		if (ptrace(PTRACE_CONT, th->tid, 0, 0) < 0) {
			clear_bp(th->tid);
			continue;
		}
		th->stopped = 0;
		th->regs_valid = 0;
		state[i] = 1;
		running++;
	}
	/* Poll each running thread (never waitpid(-1): the caller may have
	 * children of its own whose exit is not ours to reap). */
	while (running && hp_now_ms() < deadline) {
		int progressed = 0;

		for (size_t i = 0; i < n; i++) {
			struct hp_thread *th;
			int st;
			pid_t w;

			if (state[i] != 1)
				continue;
			w = waitpid(tids[i], &st, __WALL | WNOHANG);
			if (w == 0)
				continue;
			progressed = 1;
			th = by_tid(t, tids[i]);
			if (w < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
				if (th)
					th->tid = 0;
				state[i] = 2;
				running--;
				continue;
			}
			if ((st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP) {
				/* A signal for the thread: deliver it and let it go on. */
				ptrace(PTRACE_CONT, tids[i], 0, WSTOPSIG(st));
				continue;
			}
			if (th)
				th->stopped = 1;
			state[i] = 2;
			running--;
		}
		/* Sleep until a tracee changes state (SIGCHLD, blocked and
		 * waited for here); never spin: a spinning SCHED_FIFO tracer
		 * would keep the threads queued on its core from running.  The
		 * short timeout covers a SIGCHLD taken by another thread. */
		if (!progressed) {
			struct timespec ts = { 0, 200000 };

			sigtimedwait(&chld, NULL, &ts);
		}
	}
	/* Late ones: stop them where they are. */
	for (size_t i = 0; i < n; i++) {
		struct hp_thread *th;

		if (state[i] != 1 || !(th = by_tid(t, tids[i])))
			continue;
		hp_target__stop_one(t, th);
	}
	for (size_t i = 0; i < n; i++) {
		struct hp_thread *th = by_tid(t, tids[i]);

		if (state[i] && th && th->tid > 0) {
			clear_bp(th->tid);
			/* Arrived at the breakpoint: out of its SIGTRAP stop (see hp_target__park). */
			hp_target__park(t, th);
			th->regs_valid = ptrace(PTRACE_GETREGS, th->tid, 0, &th->regs) == 0;
			if (th->regs_valid && th->regs.rip == addrs[i])
				arrived++;
		}
	}
	free(state);
	*ret_arrived = arrived;
	return 0;
}
