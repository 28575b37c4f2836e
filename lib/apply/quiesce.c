/* Stopping the process at a moment when no thread is inside, or due to
 * return into, any of the given ranges: stop all, snapshot every stack in
 * one read per thread, check; if unsafe, resume, back off, retry until the
 * deadline. */
#include <stdio.h>
#include <time.h>
#include "common/common.h"
#include "apply/apply.h"
#include "apply/quiesce.h"

#define STACK_SNAPSHOT_MAX (512u << 10)

static void snapshots_free(struct hp_thread_snap *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((void *)s[i].stack);
	free(s);
}

/* Reads every stopped thread's stack [rsp, end of its mapping) in one read each. */
static int take_snapshots(struct hp_target *t, struct hp_map **maps, size_t *nmaps,
			  struct hp_thread_snap **ret)
{
	struct hp_thread_snap *s = calloc(t->nthreads ? t->nthreads : 1, sizeof(*s));
	int reread = 0;

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < t->nthreads; i++) {
		const struct hp_thread *th = &t->threads[i];
		uint64_t lo, hi;
		uint8_t *buf;

		s[i].tid = th->tid;
		s[i].regs = th->regs;
		if (hp_target__stack_bounds(*maps, *nmaps, th->regs.rsp, &lo, &hi) < 0) {
			/* A thread whose stack was mapped after we read the maps. */
			if (!reread) {
				free(*maps);
				*maps = NULL;
				if (hp_target__maps(t, maps, nmaps) < 0) {
					snapshots_free(s, t->nthreads);
					return -HP_E_GONE;
				}
				reread = 1;
			}
			if (hp_target__stack_bounds(*maps, *nmaps, th->regs.rsp, &lo, &hi) < 0)
				lo = hi = th->regs.rsp;
		}
		if (hi - lo > STACK_SNAPSHOT_MAX)
			hi = lo + STACK_SNAPSHOT_MAX;
		buf = malloc(hi - lo ? hi - lo : 1);
		if (!buf || (hi > lo && hp_target__read(t, lo, buf, hi - lo) < 0)) {
			/* Unreadable stack: an empty snapshot; the unwinder reads on demand. */
			hi = lo;
		}
		s[i].stack_lo = lo;
		s[i].stack_hi = hi;
		s[i].stack = buf;
	}
	*ret = s;
	return 0;
}

int hp_quiesce(struct hp_target *t, struct hp_safety *safety, struct hp_map **maps,
	       size_t *nmaps, const struct hp_range *ranges, size_t nranges, double timeout_sec,
	       unsigned *ret_attempts)
{
	double start = hp_now_ms(), deadline = start + timeout_sec * 1e3;
	unsigned attempts = 0;
	long backoff_us = 1000;
	struct hp_unsafe un = { 0 };
	char why[512] = "";
	int r;

	for (;;) {
		struct hp_thread_snap *snap = NULL;
		size_t n;

		r = hp_target__stop_all(t);
		if (r < 0)
			return r;
		attempts++;
		r = take_snapshots(t, maps, nmaps, &snap);
		if (r < 0) {
			hp_target__resume_all(t);
			return r;
		}
		n = t->nthreads;
		r = hp_safety__check(safety, snap, n, ranges, nranges, &un);
		snapshots_free(snap, n);
		if (r == 0) {
			*ret_attempts = attempts;
			return 0; /* every thread stays stopped */
		}
		if (r != -HP_E_UNSAFE) {
			hp_target__resume_all(t);
			return r;
		}
		snprintf(why, sizeof(why), "%s", hp_errmsg());
		hp_err_clear();
		hp_target__resume_all(t);
		if (hp_now_ms() + backoff_us / 1e3 > deadline)
			break;
		{
			struct timespec ts = { backoff_us / 1000000, (backoff_us % 1000000) * 1000 };

			nanosleep(&ts, NULL);
		}
		if (backoff_us < 50000)
			backoff_us *= 2;
	}
	*ret_attempts = attempts;
	return hp_err(-HP_E_UNSAFE, "%s; still so after %.1f s and %u checks (--timeout)", why,
		      (hp_now_ms() - start) / 1e3, attempts);
}
