/* One live process: its memory and maps, all its threads held under
 * PTRACE_SEIZE, stop and resume of every thread, and system calls run inside it
 * by borrowing one thread. */
#ifndef HP_TARGET_H
#define HP_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/user.h>

struct hp_map {
	uint64_t start, end, offset;
	char perms[5];		/* "r-xp" */
	uint64_t dev, inode;	/* the file's identity (dev: makedev(major, minor)) */
	char path[256];		/* "" for anonymous, "[stack]", "/memfd:name (deleted)" ... */
};

/* A thread held under PTRACE_SEIZE (every thread in the list is). */
struct hp_thread {
	pid_t tid;
	int stopped;
	int pending_sig;	/* signal seen while stopping; delivered on resume */
	struct user_regs_struct regs;	/* valid while stopped */
	int regs_valid;		/* regs read since the thread last ran */
	int opts;		/* the ptrace options it was seized with */
};

struct hp_target {
	pid_t pid;
	int mem_fd;		/* /proc/pid/mem, read+write */
	struct hp_thread *threads;
	size_t nthreads, cap;
	double stop_started_ms;	/* when the current stop-all began */
	double longest_pause_ms;
	int fifo_raised;	/* tracer runs SCHED_FIFO while it holds the process */
	int saved_policy;	/* the caller's scheduling, put back on close */
	int saved_prio;
	uint64_t syscall_insn;	/* address of a `syscall` instruction in the target */
	sigset_t saved_mask;	/* the caller's signal mask (SIGCHLD is blocked while held) */
	pid_t proc_id;		/* /proc/<proc_id> shows its memory: see hp_proc_live_id */
	uint8_t *scratch;	/* pre-faulted memory for the stack snapshots: see */
	size_t scratch_len;	/* hp_target__scratch() */
};

/* waitpid(tid, __WALL) that cannot hang on a thread that will never report
 * (a zombie thread-group leader): returns tid, -1 on error, 0 when dead. */
pid_t hp_target__waitpid(pid_t tid, int *st);
/* The same, giving up at deadline_ms (hp_now_ms() time; 0: never): -1, errno ETIMEDOUT. */
pid_t hp_target__waitpid_until(pid_t tid, int *st, double deadline_ms);

/* Scheduling of the calling thread while it holds a process. */
void hp_target__raise_priority(struct hp_target *t);
void hp_target__lower_priority(struct hp_target *t);

/* The state letter of a process or thread from /proc/ID/stat ('R', 'S',
 * 'D', 'T', 'Z', ...).  -ENOENT when it does not exist. */
int hp_proc_state(pid_t pid, char *ret_state);

/* The command name of a process or thread (/proc/ID/comm), "?" when unknown. */
void hp_proc_comm(pid_t pid, char *buf, size_t len);
/* Why a seized thread does not stop, from its state and wait channel:
 * "is a vfork parent waiting for its child 12 (sh), which sleeps in
 * pipe_read", "is in uninterruptible sleep (D) in nfs_wait_bit", ... */
void hp_proc_why_stuck(pid_t pid, pid_t tid, char *buf, size_t len);

/* The id under which /proc shows the process's memory, maps, descriptors
 * and executable: pid itself, or a live thread's id when the main thread
 * has exited (pthread_exit) and left a zombie leader, whose /proc/PID/maps,
 * mem, fd and exe are empty while the process runs on; /proc/TID is the
 * same process seen through that thread.  -HP_E_GONE (no message) when no
 * thread lives. */
int hp_proc_live_id(pid_t pid, pid_t *ret_id);
/* The same for a held process (picks another thread should that one exit). */
pid_t hp_target__proc_id(struct hp_target *t);
/* Whether the process has exited (no thread left alive): waits a moment
 * for one that is dying (a SIGKILL ends the threads one by one). */
int hp_target__exited(struct hp_target *t);

/* Opens the process (no ptrace yet).  -HP_E_GONE when it does not exist or is a zombie. */
int hp_target__open(pid_t pid, struct hp_target **ret);
/* The same for a process that may be job-control stopped (repair, status). */
int hp_target__open_any(pid_t pid, struct hp_target **ret);
/* Detaches every seized thread (resuming it) and frees.  Accepts NULL. */
void hp_target__close(struct hp_target *t);

int hp_target__read(struct hp_target *t, uint64_t addr, void *buf, size_t len);
/* At least len bytes of memory whose pages are already present, made
 * before a stop window (mmap MAP_POPULATE, one system call): fresh heap
 * touched inside the window page-faults once per page, and a page fault
 * is dear on some virtual machines (9 ms for the 2.3 MB of stacks of 512
 * threads here).  Kept until hp_target__close; NULL when it cannot be had
 * (the caller then allocates as usual). */
uint8_t *hp_target__scratch(struct hp_target *t, size_t len);

/* Many reads in as few system calls as the kernel allows (the stacks of
 * every stopped thread, inside the stop window).  Each request says
 * whether it was read whole (ok); returns how many were. */
struct hp_read_req {
	uint64_t addr;
	void *buf;
	size_t len;
	int ok;
};
size_t hp_target__read_many(struct hp_target *t, struct hp_read_req *reqs, size_t n);
int hp_target__write(struct hp_target *t, uint64_t addr, const void *buf, size_t len);

/* Whether the address-space limit of the process (RLIMIT_AS) leaves no
 * room for len more bytes; then says so in buf. */
int hp_target__as_full(struct hp_target *t, uint64_t len, char *buf, size_t n);

/* Parses /proc/pid/maps; *ret is malloc'ed. */
int hp_target__maps(struct hp_target *t, struct hp_map **ret, size_t *ret_n);

/* PTRACE_SEIZE every thread while the process runs (repeats the scan of
 * /proc/pid/task until no new thread appears).  -HP_E_TRACED when someone
 * else traces it, -EPERM when ptrace is denied. */
int hp_target__seize_all(struct hp_target *t);
/* Interrupts every seized thread, then waits for all of them; seizes and
 * stops threads born meanwhile; reads every thread's registers. */
int hp_target__stop_all(struct hp_target *t);
/* Moves a thread stopped at a trap (single step, breakpoint) into an
 * interrupt stop, where the death of hotpatch leaves it harmless. */
int hp_target__park(struct hp_target *t, struct hp_thread *th);
/* Interrupts one seized thread and waits for it (registers read). */
int hp_target__stop_one(struct hp_target *t, struct hp_thread *th);
/* Records a thread the kernel attached to us itself (a clone traced with
 * PTRACE_O_TRACECLONE) and waits for its first stop.  opts: the options
 * to give it back when the tracing of clones ends. */
int hp_target__adopt(struct hp_target *t, pid_t tid, int opts);
/* A stopped thread with a SIGTRAP still queued (it hit a breakpoint as it
 * was interrupted): lets it take the signal as a signal-delivery-stop --
 * the kernel dequeues it before any user instruction runs -- and discards
 * it; the thread ends parked in an interrupt stop. */
int hp_target__take_trap(struct hp_target *t, struct hp_thread *th);
/* With the process stopped, lets threads tids[i] run alone until each reaches
 * addrs[i] (a software breakpoint there while every other thread is stopped,
 * runto.c), for at most timeout_ms.  maps: the process's mappings (an
 * address outside a private executable mapping is not used).  Returns with
 * every thread stopped again and every byte of code as it was;
 * *ret_arrived counts the threads seen arriving. */
int hp_target__run_to(struct hp_target *t, const struct hp_map *maps, size_t nmaps,
		      const pid_t *tids, const uint64_t *addrs, size_t n, double timeout_ms,
		      size_t *ret_arrived);
/* Lets every thread run again, staying attached. */
int hp_target__resume_all(struct hp_target *t);
/* Stops (if needed) and detaches every thread.  -HP_E_GONE when not one
 * thread was left to let go: the process died while held. */
int hp_target__detach_all(struct hp_target *t);

/* Runs one system call inside the target on a borrowed thread, which is
 * stopped for it and resumed afterwards with its complete register state
 * (general, FPU/SSE/AVX) restored.  When the process is already stopped
 * (stop_all), it borrows a stopped thread and leaves it stopped.
 * *ret_val gets the raw return value (negative errno on failure). */
int hp_target__syscall(struct hp_target *t, long nr, const uint64_t args[6], long *ret_val);

/* Finds the `syscall` instruction remote calls borrow (reads the maps and
 * the vDSO): call it before stopping threads, so no stop waits for it. */
int hp_target__find_syscall(struct hp_target *t);

/* Keeps one thread stopped across several remote system calls (each one
 * would otherwise stop and resume it: a wake-up each, slow when the
 * process has more busy threads than there are cores). */
int hp_target__hold(struct hp_target *t, pid_t *ret_tid);
void hp_target__release(struct hp_target *t, pid_t tid);

/* The same, with len bytes of data (a path, a name) placed in the borrowed
 * thread's dead stack space below its red zone; args[argidx] is set to
 * their address.  len <= 512. */
int hp_target__syscall_data(struct hp_target *t, long nr, const uint64_t args[6],
			    const void *data, size_t len, int argidx, long *ret_val);

/* The stack mapping [lo, hi) holding sp (from maps), for snapshotting. */
int hp_target__stack_bounds(const struct hp_map *maps, size_t n, uint64_t sp,
			    uint64_t *ret_lo, uint64_t *ret_hi);

/* The dead-man stop (deadman.c): with every thread stopped, queues a
 * SIGSTOP that stops the process should hotpatch die before disarming it.
 * Disarm consumes it through one thread (returns 0), or discards it with a
 * SIGCONT when no thread reports it (returns 1). */
int hp_target__deadman_arm(struct hp_target *t);
int hp_target__deadman_disarm(struct hp_target *t);

#endif
