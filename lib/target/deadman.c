/* The dead-man stop: while hotpatch writes the jumps and the ledger of one
 * change (a window in which the process would run a mix of old and new
 * functions), a SIGSTOP is queued to the process, so that should hotpatch
 * die there the kernel stops it instead of letting it run.
 *
 * Kernel behaviour relied on (checked on the running kernel by
 * tests/integration/deadman-probe.c, run by faults.sh):
 *  - a SIGSTOP sent while every thread is in ptrace-stop stays pending; no
 *    thread runs or reports;
 *  - when the tracer dies, the kernel detaches the threads; each one woken
 *    passes through get_signal() before user mode, and the first takes the
 *    SIGSTOP and stops the whole group (under the signal lock, so no thread
 *    slips past into user code); the process stays stopped until SIGCONT;
 *  - when all went well, resuming ONE thread with PTRACE_CONT makes it take
 *    the pending SIGSTOP as a signal-delivery-stop, and resuming it with
 *    signal 0 discards it.  Nothing reaches the process.
 *
 * Lifting it with SIGCONT instead (which discards pending stop signals)
 * would work too, but the probe shows its costs: a traced process ignores
 * no signal, so the SIGCONT itself is queued and a SIGCONT handler of the
 * target runs once for nothing (shells and full-screen programs redraw),
 * and every seized thread gets a trap notification (an extra
 * PTRACE_EVENT_STOP on its next PTRACE_CONT or single-step).  So SIGCONT is
 * only the fallback when the consuming thread does not report. */
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include "common/common.h"
#include "target/target.h"

#define CONSUME_WAIT_MS 1000

int hp_target__deadman_arm(struct hp_target *t)
{
	if (kill(t->pid, SIGSTOP) < 0)
		return hp_err(-errno, "cannot queue the dead-man stop to process %d: %s", t->pid,
			      strerror(errno));
	return 0;
}

/* Resumes th until it reports the SIGSTOP: 1 consumed (th stopped in its
 * signal-delivery-stop, to be resumed with signal 0), 0 th is gone, <0 it
 * did not report in time (stopped again). */
static int consume(struct hp_target *t, struct hp_thread *th, double deadline)
{
	int sig = th->pending_sig;

	th->pending_sig = 0;
	for (;;) {
		int st;
		pid_t w;

		if (ptrace(PTRACE_CONT, th->tid, 0, sig) < 0) {
			th->tid = 0;
			return 0;
		}
		th->stopped = 0;
		th->regs_valid = 0;
		w = hp_target__waitpid_until(th->tid, &st, deadline);
		if (w < 0 && errno == ETIMEDOUT) {
			hp_target__stop_one(t, th);
			return -ETIMEDOUT;
		}
		if (w <= 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
			th->tid = 0;
			return 0;
		}
		if (!WIFSTOPPED(st))
			continue;
		th->stopped = 1;
		if ((st >> 16) == 0 && WSTOPSIG(st) == SIGSTOP)
			return 1;
		/* Another signal came first (lower numbers are dequeued first):
		 * deliver it; the thread takes the SIGSTOP before user code runs.
		 * An event stop or a trap: go on. */
		sig = (st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP ? WSTOPSIG(st) : 0;
	}
}

int hp_target__deadman_disarm(struct hp_target *t)
{
	double deadline = hp_now_ms() + CONSUME_WAIT_MS;

	for (size_t i = 0; i < t->nthreads; i++) {
		struct hp_thread *th = &t->threads[i];
		int r;

		if (th->tid <= 0 || !th->stopped)
			continue;
		r = consume(t, th, deadline);
		if (r > 0)
			return 0;
		if (r < 0)
			break;
	}
	/* No thread took it: discard it the blunt way (see above). */
	if (kill(t->pid, SIGCONT) < 0 && errno != ESRCH)
		return hp_err(-errno, "cannot lift the dead-man stop of process %d: %s", t->pid,
			      strerror(errno));
	return 1;
}
