/* Stopping the process at a moment when no thread is inside, or due to
 * return into, any of the given ranges: stop all, snapshot every stack in
 * one read per thread, check; if unsafe, resume, back off, retry until the
 * deadline. */
#include <stdio.h>
#include <time.h>
#include "common/common.h"
#include "apply/apply.h"
#include "apply/quiesce.h"

/* Read in the stop window for every thread; the safety check reads the
 * rest of a deeper stack itself, only when it has to scan it. */
#define STACK_SNAPSHOT_MAX (512u << 10)

/* The snapshots live in the target's scratch memory, or on the heap when
 * it was too small. */
static void snapshots_free(struct hp_target *t, struct hp_thread_snap *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!t->scratch || s[i].stack < t->scratch || s[i].stack >= t->scratch + t->scratch_len)
			free((void *)s[i].stack);
	free(s);
}

/* Stack bytes set aside per thread before a stop window: a thread asleep
 * in a loop needs 2-3 KiB from its stack pointer to its descriptor. */
#define SNAPSHOT_GUESS (8u << 10)

void hp_quiesce_prepare(struct hp_target *t)
{
	hp_target__scratch(t, t->nthreads * SNAPSHOT_GUESS);
}

static int is_in(pid_t tid, const pid_t *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == tid)
			return 1;
	return 0;
}

/* Reads every stopped thread's stack [rsp, end of its mapping), capped,
 * skipping the threads in skip[] (found safe, stopped ever since).  The
 * stop window is what this costs: one system call for all the stacks
 * (hp_target__read_many), into memory faulted in before the window. */
static int take_snapshots(struct hp_target *t, struct hp_map **maps, size_t *nmaps,
			  const pid_t *skip, size_t nskip, struct hp_thread_snap **ret,
			  size_t *ret_n)
{
	size_t cap = t->nthreads ? t->nthreads : 1, k = 0;
	struct hp_thread_snap *s = calloc(cap, sizeof(*s));
	_cleanup_free_ struct hp_read_req *reqs = calloc(cap, sizeof(*reqs));
	int reread = 0;
	uint8_t *arena;
	size_t total = 0, used = 0;

	if (!s || !reqs) {
		free(s);
		return -ENOMEM;
	}
	for (size_t j = 0; j < t->nthreads; j++) {
		const struct hp_thread *th = &t->threads[j];
		uint64_t lo, hi;
		size_t i;

		if (is_in(th->tid, skip, nskip))
			continue;
		i = k++;

		s[i].tid = th->tid;
		s[i].regs = th->regs;
		if (hp_target__stack_bounds(*maps, *nmaps, th->regs.rsp, &lo, &hi) < 0) {
			/* A thread whose stack was mapped after we read the maps. */
			if (!reread) {
				free(*maps);
				*maps = NULL;
				if (hp_target__maps(t, maps, nmaps) < 0) {
					free(s);
					return -HP_E_GONE;
				}
				reread = 1;
			}
			if (hp_target__stack_bounds(*maps, *nmaps, th->regs.rsp, &lo, &hi) < 0)
				lo = hi = th->regs.rsp;
		}
		s[i].stack_end = hi;
		/* A thread made by glibc keeps its descriptor (at the thread
		 * pointer, fs_base) above its frames at the top of its stack
		 * mapping: no return address is there, so the snapshot -- a page
		 * or two read in the window, per thread -- stops below it.  The
		 * unwinder and the scan read anything above it themselves. */
		if (th->regs.fs_base > lo && th->regs.fs_base < hi)
			hi = th->regs.fs_base;
		if (hi - lo > STACK_SNAPSHOT_MAX)
			hi = lo + STACK_SNAPSHOT_MAX;
		s[i].stack_lo = lo;
		s[i].stack_hi = hi;
		total += HP_ALIGN_UP(hi - lo, 16);
	}
	/* Usually set aside before the window (hp_quiesce_prepare). */
	arena = hp_target__scratch(t, total);
	for (size_t i = 0; i < k; i++) {
		size_t len = s[i].stack_hi - s[i].stack_lo;

		if (arena && used + len <= t->scratch_len) {
			s[i].stack = arena + used;
			used += HP_ALIGN_UP(len, 16);
		} else {
			s[i].stack = malloc(len ? len : 1);
			if (!s[i].stack)
				s[i].stack_hi = s[i].stack_lo;
		}
		reqs[i] = (struct hp_read_req){ s[i].stack_lo, (void *)s[i].stack,
						s[i].stack_hi - s[i].stack_lo, 0 };
	}
	hp_target__read_many(t, reqs, k);
	for (size_t i = 0; i < k; i++)
		if (!reqs[i].ok) /* unreadable: an empty snapshot; the unwinder reads on demand */
			s[i].stack_hi = s[i].stack_lo;
	*ret = s;
	*ret_n = k;
	return 0;
}

/* Snapshots and checks every stopped thread; fills the unsafe list. */
static int snap_and_check(struct hp_target *t, struct hp_safety *safety, struct hp_map **maps,
			  size_t *nmaps, const pid_t *skip, size_t nskip,
			  const struct hp_range *ranges, size_t nranges, struct hp_unsafe *un,
			  size_t max, size_t *ret_n)
{
	struct hp_thread_snap *snap = NULL;
	size_t n = 0;
	int r = take_snapshots(t, maps, nmaps, skip, nskip, &snap, &n);

	if (r < 0)
		return r;
	r = hp_safety__check_all(safety, snap, n, ranges, nranges, un, max, ret_n);
	snapshots_free(t, snap, n);
	return r;
}

/* The threads of t not in the unsafe list (as a malloc'ed tid array). */
static size_t safe_threads(const struct hp_target *t, const struct hp_unsafe *un, size_t nun,
			   pid_t **ret)
{
	pid_t *set = calloc(t->nthreads ? t->nthreads : 1, sizeof(*set));
	size_t n = 0;

	free(*ret);
	*ret = set;
	if (!set)
		return 0;
	for (size_t i = 0; i < t->nthreads; i++) {
		size_t k;

		for (k = 0; k < nun; k++)
			if (un[k].tid == t->threads[i].tid)
				break;
		if (k == nun)
			set[n++] = t->threads[i].tid;
	}
	return n;
}

/* How long the threads released to their escape addresses may take, all
 * together.  Each needs the CPU for microseconds only, but first has to be
 * scheduled: beside R runnable threads per core (CPU hogs, the released
 * threads themselves), a woken thread may wait a few scheduler slices.  So
 * the budget grows with the load the machine has now (the running count of
 * /proc/loadavg), between a floor that a quiet machine never needs and a
 * ceiling that bounds the pause of the stopped threads; threads that all
 * arrive end it early, and threads asleep on a lock are given up on sooner
 * (runto.c). */
#define ESCAPE_FLOOR_MS 10.0
#define ESCAPE_PER_RUNNABLE_MS 3.0
#define ESCAPE_CEILING_MS 400.0

static double escape_budget_ms(size_t nreleased)
{
	double per_core = (double)(hp_machine_runnable() + nreleased) / hp_machine_cpus();
	double b = ESCAPE_FLOOR_MS + ESCAPE_PER_RUNNABLE_MS * per_core;

	return b < ESCAPE_CEILING_MS ? b : ESCAPE_CEILING_MS;
}

/* Runs each unsafe thread whose escape address is known to it, alone, for
 * at most the load's budget or max_ms.  Returns 1 when every unsafe thread
 * had one and arrived (worth checking again). */
static int escape(struct hp_target *t, const struct hp_map *maps, size_t nmaps,
		  const struct hp_unsafe *un, size_t n, double max_ms,
		  struct hp_quiesce_stats *stats)
{
	pid_t *tids = calloc(n ? n : 1, sizeof(*tids));
	uint64_t *addrs = calloc(n ? n : 1, sizeof(*addrs));
	size_t k = 0, arrived = 0;
	int all = 1;

	if (!tids || !addrs) {
		free(tids);
		free(addrs);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (!un[i].escape_pc) {
			all = 0;
			continue;
		}
		tids[k] = un[i].tid;
		addrs[k++] = un[i].escape_pc;
	}
	if (k) {
		double budget = escape_budget_ms(k);

		hp_target__run_to(t, maps, nmaps, tids, addrs, k, budget < max_ms ? budget : max_ms,
				  &arrived);
		stats->released += k;
		stats->arrived += arrived;
	}
	free(tids);
	free(addrs);
	return all && arrived == k;
}

int hp_cancelled(const volatile sig_atomic_t *cancel)
{
	if (cancel && *cancel)
		return hp_err(-HP_E_CANCELLED, "cancelled (signal %d) before any change",
			      (int)*cancel);
	return 0;
}

int hp_quiesce(struct hp_target *t, struct hp_safety *safety, struct hp_map **maps,
	       size_t *nmaps, const struct hp_range *ranges, size_t nranges, double timeout_sec,
	       const volatile sig_atomic_t *cancel, struct hp_quiesce_stats *ret_stats)
{
	double start = hp_now_ms(), deadline = start + timeout_sec * 1e3;
	struct hp_quiesce_stats stats = { 0 };
	long backoff_us = 1000;
	char why[1024] = "";
	struct hp_unsafe *un = NULL;
	size_t cap = 0;
	int r;

	hp_quiesce_prepare(t);
	for (;;) {
		size_t nun = 0, nsafe = 0;
		pid_t *safe = NULL;

		r = hp_cancelled(cancel);
		if (r < 0) {
			/* The caller may have begun the window (apply's load on a
			 * busy machine): an error returns the threads running. */
			hp_target__resume_all(t);
			break;
		}
		r = hp_target__stop_all(t);
		if (r < 0) {
			hp_target__resume_all(t);
			break;
		}
		if (cap < t->nthreads) {
			free(un);
			cap = t->nthreads * 2;
			un = calloc(cap, sizeof(*un));
			if (!un) {
				hp_target__resume_all(t);
				return -ENOMEM;
			}
		}
		stats.attempts++;
		r = snap_and_check(t, safety, maps, nmaps, NULL, 0, ranges, nranges, un, cap, &nun);
		/* Threads busy inside a replaced function: let them run out of it
		 * (a few rounds: a thread may enter another one on its way). */
		for (int round = 0; r == -HP_E_UNSAFE && round < 3; round++) {
			double budget = deadline - hp_now_ms();

			if (budget <= 0)
				break;
			snprintf(why, sizeof(why), "%s", hp_errmsg());
			hp_err_clear();
			if (!escape(t, *maps, *nmaps, un, nun < cap ? nun : cap, budget, &stats))
				break;
			/* Only the threads that ran (and any born meanwhile) need a new
			 * look -- unless the unsafe list overflowed: then all do. */
			nsafe = nun <= cap ? safe_threads(t, un, nun, &safe) : 0;
			r = hp_target__stop_all(t); /* registers again; threads born meanwhile */
			if (r == 0 && cap < t->nthreads) {
				struct hp_unsafe *nu = realloc(un, t->nthreads * 2 * sizeof(*un));

				if (!nu) {
					r = -ENOMEM;
					break;
				}
				un = nu;
				cap = t->nthreads * 2;
			}
			if (r == 0)
				r = snap_and_check(t, safety, maps, nmaps, safe, nsafe, ranges, nranges, un,
						   cap, &nun);
		}
		free(safe);
		if (r == 0) {
			free(un);
			*ret_stats = stats;
			return 0; /* every thread stays stopped */
		}
		if (r != -HP_E_UNSAFE) {
			hp_target__resume_all(t);
			break;
		}
		if (hp_errmsg()[0])
			snprintf(why, sizeof(why), "%s", hp_errmsg());
		hp_err_clear();
		hp_target__resume_all(t);
		if (hp_now_ms() + backoff_us / 1e3 > deadline) {
			r = hp_err(-HP_E_UNSAFE, "%s; still so after %.1f s and %u checks (--timeout)",
				   why, (hp_now_ms() - start) / 1e3, stats.attempts);
			break;
		}
		{
			struct timespec ts = { backoff_us / 1000000, (backoff_us % 1000000) * 1000 };

			/* A signal handler that sets *cancel ends the sleep early. */
			nanosleep(&ts, NULL);
		}
		if (backoff_us < 50000)
			backoff_us *= 2;
	}
	free(un);
	*ret_stats = stats;
	return r;
}
