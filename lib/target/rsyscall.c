/* System calls run inside the target.
 *
 * One thread is borrowed: its registers are saved (general and the whole
 * XSAVE area: x87, SSE, AVX, AVX-512), its PC is pointed at an existing
 * `syscall` instruction of the process (found in the vDSO or any executable
 * mapping; no byte of the target is modified, so the other threads may keep
 * running), it is single-stepped over that one instruction, and everything is
 * put back, on the error paths too.  Saving the orig_rax of a thread stopped
 * inside a blocking call and restoring it unchanged lets the kernel restart
 * that call as if nothing had happened. */
#include <elf.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "common/common.h"
#include "target/target.h"

#define XSTATE_MAX (16 * 1024)

static int find_syscall_insn(struct hp_target *t, uint64_t *ret)
{
	struct hp_map *maps = NULL;
	size_t n = 0;
	int r, pass;

	r = hp_target__maps(t, &maps, &n);
	if (r < 0)
		return r;
	/* The vDSO is small and in every process; fall back to any text. */
	for (pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			struct hp_map *m = &maps[i];
			size_t len = m->end - m->start;
			uint8_t *buf, *hit;

			if (m->perms[2] != 'x' || (pass == 0) != !strcmp(m->path, "[vdso]"))
				continue;
			if (!strcmp(m->path, "[vsyscall]") || len > (64u << 20))
				continue;
			buf = malloc(len);
			if (!buf)
				continue;
			if (hp_target__read(t, m->start, buf, len) == 0 &&
			    (hit = memmem(buf, len, "\x0f\x05", 2))) {
				*ret = m->start + (uint64_t)(hit - buf);
				free(buf);
				free(maps);
				return 0;
			}
			free(buf);
		}
	}
	free(maps);
	return hp_err(-HP_E_REMOTE, "no syscall instruction found in process %d", t->pid);
}

int hp_target__find_syscall(struct hp_target *t)
{
	return t->syscall_insn ? 0 : find_syscall_insn(t, &t->syscall_insn);
}

static struct hp_thread *pick_thread(struct hp_target *t)
{
	struct hp_thread *best = NULL;

	for (size_t i = 0; i < t->nthreads; i++) {
		struct hp_thread *th = &t->threads[i];

		if (th->tid <= 0)
			continue;
		if (th->stopped && (!best || !best->stopped))
			best = th;
		else if (!best)
			best = th;
		if (best == th && th->tid == t->pid && th->stopped)
			break;
	}
	return best;
}

/* Single-steps the borrowed thread over the syscall instruction. */
static int step_syscall(struct hp_target *t, struct hp_thread *th, int *pending_sig)
{
	for (;;) {
		int st;

		if (ptrace(PTRACE_SINGLESTEP, th->tid, 0, 0) < 0)
			return -errno;
		if (hp_target__waitpid(th->tid, &st) <= 0) {
			th->tid = 0;
			return hp_err(-HP_E_GONE, "process %d exited during a remote call", t->pid);
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			th->tid = 0;
			return hp_err(-HP_E_GONE, "process %d exited during a remote call", t->pid);
		}
		if (!WIFSTOPPED(st))
			continue;
		if ((st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP) {
			/* A signal arrived before the step: keep it for the resume. */
			*pending_sig = WSTOPSIG(st);
			continue;
		}
		if ((st >> 16) != 0)
			/* A group-stop (the process was stopped meanwhile): the
			 * call did not run. */
			return hp_err(-HP_E_REMOTE, "process %d was stopped during a remote call", t->pid);
		return 0;
	}
}

int hp_target__syscall(struct hp_target *t, long nr, const uint64_t args[6], long *ret_val)
{
	return hp_target__syscall_data(t, nr, args, NULL, 0, -1, ret_val);
}

int hp_target__syscall_data(struct hp_target *t, long nr, const uint64_t args_in[6],
			    const void *data, size_t len, int argidx, long *ret_val)
{
	uint64_t args[6];
	uint8_t stack_saved[512];
	uint64_t data_at = 0;
	struct user_regs_struct saved, regs;
	struct hp_thread *th;
	struct iovec xiov;
	int r, was_stopped, pending = 0, have_xstate;
	_cleanup_free_ uint8_t *xstate = NULL;

	r = hp_target__find_syscall(t);
	if (r < 0)
		return r;
	/* Everything that can fail without touching the thread, first. */
	xstate = malloc(XSTATE_MAX);
	if (!xstate)
		return -ENOMEM;
	if (data && (len > sizeof(stack_saved) || argidx < 0 || argidx > 5))
		return -EINVAL;
	th = pick_thread(t);
	if (!th)
		return hp_err(-HP_E_GONE, "process %d has no thread to borrow", t->pid);
	was_stopped = th->stopped;
	if (!was_stopped) {
		r = hp_target__stop_one(t, th);
		if (r < 0)
			return hp_err(-HP_E_GONE, "process %d exited", t->pid);
	}

	xiov.iov_base = xstate;
	xiov.iov_len = XSTATE_MAX;
	have_xstate = ptrace(PTRACE_GETREGSET, th->tid, (void *)NT_X86_XSTATE, &xiov) == 0;
	if (ptrace(PTRACE_GETREGS, th->tid, 0, &saved) < 0) {
		r = -errno;
		goto resume;
	}

	memcpy(args, args_in, sizeof(args));
	if (data) {
		/* Below the red zone of the borrowed thread: dead stack space. */
		data_at = (saved.rsp - 128 - len - 64) & ~15ull;
		r = hp_target__read(t, data_at, stack_saved, len);
		if (r == 0)
			r = hp_target__write(t, data_at, data, len);
		if (r < 0)
			goto resume;
		args[argidx] = data_at;
	}
	regs = saved;
	regs.rax = nr;
	regs.orig_rax = -1; /* no syscall restart for the injected call */
	regs.rdi = args[0];
	regs.rsi = args[1];
	regs.rdx = args[2];
	regs.r10 = args[3];
	regs.r8 = args[4];
	regs.r9 = args[5];
	regs.rip = t->syscall_insn;
	if (ptrace(PTRACE_SETREGS, th->tid, 0, &regs) < 0) {
		r = -errno;
		goto resume;
	}
	r = step_syscall(t, th, &pending);
	if (r == 0 && ptrace(PTRACE_GETREGS, th->tid, 0, &regs) < 0)
		r = -errno;
	/* The step must have executed exactly the syscall instruction. */
	if (r == 0 && regs.rip != t->syscall_insn + 2)
		r = hp_err(-HP_E_REMOTE, "remote call in process %d did not run (pc 0x%llx)", t->pid,
			   (unsigned long long)regs.rip);
	if (r == 0)
		*ret_val = (long)regs.rax;

	/* Put every register back, whatever happened. */
	if (data_at && th->tid > 0)
		hp_target__write(t, data_at, stack_saved, len);
	if (th->tid > 0) {
		ptrace(PTRACE_SETREGS, th->tid, 0, &saved);
		if (have_xstate)
			ptrace(PTRACE_SETREGSET, th->tid, (void *)NT_X86_XSTATE, &xiov);
	}
resume:
	if (pending && !th->pending_sig)
		th->pending_sig = pending;
	/* It stays stopped (stop_all, hold): out of its SIGTRAP stop. */
	if (was_stopped && th->tid > 0)
		hp_target__park(t, th);
	if (!was_stopped && th->tid > 0) {
		if (ptrace(PTRACE_CONT, th->tid, 0, th->pending_sig) == 0) {
			th->stopped = 0;
			th->regs_valid = 0;
			th->pending_sig = 0;
		}
	}
	return r;
}

int hp_target__hold(struct hp_target *t, pid_t *ret_tid)
{
	struct hp_thread *th = pick_thread(t);
	int r;

	if (!th)
		return hp_err(-HP_E_GONE, "process %d has no thread to borrow", t->pid);
	r = th->stopped ? 0 : hp_target__stop_one(t, th);
	if (r < 0)
		return hp_err(-HP_E_GONE, "process %d exited", t->pid);
	*ret_tid = th->tid;
	return 0;
}

void hp_target__release(struct hp_target *t, pid_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++) {
		struct hp_thread *th = &t->threads[i];

		if (th->tid == tid && th->stopped) {
			if (ptrace(PTRACE_CONT, th->tid, 0, th->pending_sig) == 0) {
				th->stopped = 0;
				th->regs_valid = 0;
				th->pending_sig = 0;
			}
		}
	}
}
