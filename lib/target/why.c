/* Why a thread did not stop, in the words of its real state: the state
 * letter of /proc/PID/task/TID/stat and the kernel function it waits in
 * (wchan), rather than a guess.
 *
 * Only a thread the kernel cannot wake stays out of a ptrace interrupt: one
 * in uninterruptible sleep (D).  The common case is a vfork parent: vfork()
 * and posix_spawn() keep the parent in D until the child calls exec or
 * exits, and a child that blocks before that (posix_spawn opening a FIFO
 * that has no writer yet, a slow program between vfork and exec) holds the
 * parent with it.  The child is the thread's child sharing its memory
 * (kcmp KCMP_VM), listed in /proc/PID/task/TID/children. */
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <sys/syscall.h>
#include "common/common.h"
#include "target/target.h"

/* The first line of a small /proc file, without its newline; "" on error. */
static void read_line(const char *path, char *buf, size_t len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

void hp_proc_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	read_line(path, buf, len);
	if (!buf[0])
		snprintf(buf, len, "?");
}

/* The kernel function a thread sleeps in; "?" when not shown ("0"). */
static void wchan_of(pid_t tid, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/wchan", tid);
	read_line(path, buf, len);
	if (!buf[0] || !strcmp(buf, "0"))
		snprintf(buf, len, "?");
}

/* The child of tid that shares its memory: its vfork child (0: none). */
static pid_t vfork_child(pid_t pid, pid_t tid, const char *wchan)
{
	char path[96], list[512];
	char *p = list, *end;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, tid);
	read_line(path, list, sizeof(list));
	for (;;) {
		long c = strtol(p, &end, 10);

		if (end == p || c <= 0)
			return 0;
		if (syscall(SYS_kcmp, tid, (pid_t)c, KCMP_VM, 0, 0) == 0)
			return (pid_t)c;
		/* Without kcmp (a kernel without CONFIG_KCMP): where it waits. */
		if (errno == ENOSYS && (strstr(wchan, "vfork") || !strcmp(wchan, "kernel_clone")))
			return (pid_t)c;
		p = end;
	}
}

/* "sleeps in pipe_read", "is in uninterruptible sleep (D) in ...", ... */
static void describe(pid_t tid, char state, const char *wchan, char *buf, size_t len)
{
	switch (state) {
	case 'S':
		snprintf(buf, len, "sleeps in %s", wchan);
		break;
	case 'D':
		snprintf(buf, len, "is in uninterruptible sleep (D) in %s", wchan);
		break;
	case 'R':
		snprintf(buf, len, "is running");
		break;
	case 'T':
		snprintf(buf, len, "is stopped by job control (T)");
		break;
	case 't':
		snprintf(buf, len, "is stopped by a tracer (t)");
		break;
	case 'Z':
	case 'X':
		snprintf(buf, len, "has exited");
		break;
	default:
		snprintf(buf, len, "is in state %c in %s", state, wchan);
	}
}

void hp_proc_why_stuck(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char wchan[128], child_wchan[128], comm[64], what[256], state = 0, cstate = 0;
	pid_t child;

	if (hp_proc_state(tid, &state) < 0) {
		snprintf(buf, len, "has exited");
		return;
	}
	wchan_of(tid, wchan, sizeof(wchan));
	if (state == 'D' && (child = vfork_child(pid, tid, wchan)) > 0) {
		hp_proc_comm(child, comm, sizeof(comm));
		if (hp_proc_state(child, &cstate) < 0)
			cstate = 'X';
		wchan_of(child, child_wchan, sizeof(child_wchan));
		describe(child, cstate, child_wchan, what, sizeof(what));
		snprintf(buf, len,
			 "is a vfork parent waiting for its child %d (%s), which %s (the parent stays in D until the child calls exec or exits)",
			 child, comm, what);
		return;
	}
	describe(tid, state, wchan, what, sizeof(what));
	if (state == 'S' || state == 'R')
		snprintf(buf, len, "%s and did not answer the interrupt", what);
	else
		snprintf(buf, len, "%s", what);
}
