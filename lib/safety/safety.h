/* The consistency check: is any thread executing, or due to return into,
 * a function that is about to be replaced?  Unwinds every stopped thread with
 * elfutils' CFI unwinder (libdwfl) over stack bytes read in bulk beforehand. */
#ifndef HP_SAFETY_H
#define HP_SAFETY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct hp_safety;

/* Snapshot of one stopped thread. */
struct hp_thread_snap {
	pid_t tid;
	struct user_regs_struct regs;
	uint64_t stack_lo;	/* = regs.rsp (or lower) */
	uint64_t stack_hi;	/* end of the mapping that holds rsp (or less, capped) */
	const uint8_t *stack;	/* bytes [stack_lo, stack_hi), read in one go */
	uint64_t stack_end;	/* end of the stack mapping, >= stack_hi (0: = stack_hi):
				 * a conservative scan reads [stack_hi, stack_end) itself,
				 * so the snapshot can stay small on the common path */
};

/* An address range that no thread may be in or return into.  A data range
 * (data = 1) is stricter: no register and no word of any stack may point
 * into it either (memory about to be unmapped that a thread may still be
 * reading, such as a patch's constants passed on to a libc call). */
struct hp_range {
	uint64_t start, end;	/* [start, end) */
	const char *name;	/* function name for messages */
	int data;
};

struct hp_unsafe {
	pid_t tid;
	size_t range;		/* index into the ranges array */
	uint64_t pc;		/* the PC or return address found in the range */
	unsigned depth;		/* 0: the thread's PC, n: n-th caller frame */
	uint64_t escape_pc;	/* the return address just outside the thread's
				 * outermost frame in a range: once the thread
				 * reaches it, it is out of every range; 0 when
				 * unknown (stack scanned, or unwinding unsure) */
};

/* Prepares the unwinder for process pid while it still runs: reports the
 * mapped modules (reads /proc/pid/maps) and loads their CFI, so that the
 * check inside the stop window does no file I/O. */
int hp_safety__new(pid_t pid, struct hp_safety **ret);
void hp_safety__free(struct hp_safety *s);	/* accepts NULL */

/* Checks every thread.  Returns 0 when no PC and no return address lies in
 * any range; -HP_E_UNSAFE with *ret_unsafe filled (first hit) otherwise.
 * A thread whose stack cannot be unwound to its outermost frame is checked
 * conservatively instead: every 8-byte word of its snapshot stack that points
 * into a range counts as a return address (never a false "safe").
 * A thread whose snapshot is its whole stack, with its PC and every word
 * outside the ranges and no signal frame on it, is safe without unwinding
 * (most threads, most of the time: see clear_of_ranges in safety.c).
 * Memory outside the snapshots (rarely needed by CFI) is read from
 * /proc/pid/mem. */
int hp_safety__check(struct hp_safety *s, const struct hp_thread_snap *threads, size_t nthreads,
		     const struct hp_range *ranges, size_t nranges, struct hp_unsafe *ret_unsafe);

/* Like hp_safety__check, but goes on through every thread and fills
 * ret[0 .. min(max, *ret_n)) with one entry per unsafe thread, escape_pc
 * included.  Returns 0 when all are safe, -HP_E_UNSAFE (detail of the first
 * one in hp_errmsg) otherwise. */
int hp_safety__check_all(struct hp_safety *s, const struct hp_thread_snap *threads,
			 size_t nthreads, const struct hp_range *ranges, size_t nranges,
			 struct hp_unsafe *ret, size_t max, size_t *ret_n);

/* How the threads checked so far were decided (counts since hp_safety__new):
 * cleared by one pass over the stack snapshot, no word of which points into
 * a range; or unwound (CFI, and the stack scan where that is unsure). */
struct hp_safety_stats {
	size_t cleared;
	size_t unwound;
};
void hp_safety__stats(const struct hp_safety *s, struct hp_safety_stats *ret);

#endif
