/* Revert: the exact reverse of apply, newest level first.  The bytes each
 * redirect overwrote come from the ledger in the process; the patch code is
 * unmapped only once no thread is in it or due to return into it.  The
 * window from the first byte restored to the commit runs under the dead-man
 * stop, with the ledger REVERTING|ARMED: should hotpatch die in it, the
 * process stays stopped and hotpatch repair finishes the revert. */
#include <stdio.h>
#include "common/common.h"
#include "safety/safety.h"
#include "apply/apply.h"
#include "apply/quiesce.h"
#include "apply/steps.h"
#include "apply/txn.h"

/* The process runs the level below now, but a thread may still be reading
 * the patch's data: a constant a patched function passed to a call it
 * tail-jumped into (snprintf's format string), a pointer it returned.
 * The mapping goes when no register and no stack word points into it;
 * if that moment does not come within the timeout it stays (harmless
 * garbage: no jump leads into it), reported, and a later revert or
 * hotpatch repair removes it. */
static int unmap_when_unused(struct hp_target *t, struct hp_safety *safety, struct hp_map **maps,
			     size_t *nmaps, const struct hp_ledger *l, double timeout,
			     const volatile sig_atomic_t *cancel,
			     struct hp_apply_result *res)
{
	/* Only the patch's constants and data: no thread runs or returns into
	 * its code any more (checked before the jumps went), and a stack is
	 * full of stale return addresses into it that would never go away. */
	struct hp_range data = { l->text_end, l->map_start + l->map_len, l->patch_id, 1 };
	struct hp_quiesce_stats qs;
	int r = 0;

	/* hp_quiesce returns the threads stopped, else running: either way the
	 * detach that follows lets them go (no resume here: the detach would
	 * have to stop them all again, a second pause). */
	if (data.start < data.end)
		r = hp_quiesce(t, safety, maps, nmaps, &data, 1, timeout, cancel, &qs);
	if (r == 0)
		r = hp_txn__unmap(t, l->map_start, l->map_len);
	/* The revert is committed: whatever stops the unmap (a thread still
	 * reading, the process exiting, a failed remote call) leaves only an
	 * unreachable mapping for repair, never a failed revert. */
	if (r < 0) {
		hp_err_clear();
		res->kept_mapped = 1;
	}
	return 0;
}

int hp_revert(const char *patch_id, pid_t pid, const struct hp_apply_opts *opts,
	      struct hp_apply_result *res)
{
	double t0 = hp_now_ms(), timeout = opts && opts->timeout_sec > 0 ? opts->timeout_sec : 5.0;
	const volatile sig_atomic_t *cancel = opts ? opts->cancel : NULL;
	struct hp_target *t = NULL;
	struct hp_map *maps = NULL;
	size_t nmaps = 0;
	struct hp_ledger_set ls = { 0 };
	struct hp_ledger *l = NULL, *prev = NULL;
	struct hp_safety *safety = NULL;
	struct hp_range range;
	struct hp_steps steps;
	struct hp_quiesce_stats qs = { 0 };
	int r;

	hp_err_clear();
	memset(res, 0, sizeof(*res));
	hp_steps__start(&steps, res->step_ms, 1);
	r = hp_target__open(pid, &t);
	if (r == 0) /* exclusive from here: see hp_apply */
		r = hp_target__seize_all(t);
	if (r == 0)
		r = hp_target__maps(t, &maps, &nmaps);
	if (r == 0)
		r = hp_ledger__scan(t, maps, nmaps, &ls);
	if (r < 0)
		goto out;
	hp_steps__end(&steps, HP_STEP_ATTACH);
	for (size_t i = 0; i < ls.n; i++)
		if (!strcmp(ls.l[i]->patch_id, patch_id) && hp_ledger_state(ls.l[i]) != HP_LEDGER_PENDING)
			l = ls.l[i];
	if (!l) {
		r = hp_err(-HP_E_NOT_APPLIED, "patch %s is not applied to process %d", patch_id, pid);
		goto out;
	}
	if (hp_ledger_state(l) == HP_LEDGER_REVERTING) {
		r = hp_err(-HP_E_LEDGER, "an interrupted revert of %s is recorded in process %d: run hotpatch repair %d",
			   patch_id, pid, pid);
		goto out;
	}
	if (hp_ledger_state(l) != HP_LEDGER_ACTIVE) {
		const char *on_top = "a higher level";

		for (size_t i = 0; i < ls.n; i++)
			if (hp_ledger_state(ls.l[i]) == HP_LEDGER_ACTIVE && ls.l[i]->object_base == l->object_base)
				on_top = ls.l[i]->patch_id;
		r = hp_err(-HP_E_NOT_TOP, "patch %s (level %u) is superseded by %s in process %d; revert that first",
			   patch_id, l->level, on_top, pid);
		goto out;
	}
	if (l->prev_map) {
		prev = hp_txn__by_map(&ls, l->prev_map);
		if (!prev) {
			r = hp_err(-HP_E_LEDGER, "the level below %s is missing from process %d", patch_id, pid);
			goto out;
		}
	}
	range = (struct hp_range){ l->text_start, l->text_end, l->patch_id, 0 };
	r = hp_safety__new(pid, &safety);
	if (r < 0)
		goto out;
	hp_steps__end(&steps, HP_STEP_CHECK);
	r = hp_cancelled(cancel);
	if (r == 0)
		r = hp_quiesce(t, safety, &maps, &nmaps, &range, 1, timeout, cancel, &qs);
	if (r < 0)
		goto out;
	hp_steps__end(&steps, HP_STEP_STOP);
	/* The last moment to cancel: the patch is still in place. */
	r = hp_cancelled(cancel);
	if (r < 0)
		goto out;

	r = hp_target__deadman_arm(t);
	if (r < 0)
		goto out;
	r = hp_ledger__set_state(t, l, HP_LEDGER_REVERTING | HP_LEDGER_ARMED);
	if (r == 0)
		r = hp_txn__redirect(t, l->e, l->nentries, 0);
	if (r == 0) {
		hp_steps__end(&steps, HP_STEP_JUMP);
		if (prev)
			r = hp_ledger__set_state(t, prev, HP_LEDGER_ACTIVE);
		if (r < 0)
			hp_txn__redirect(t, l->e, l->nentries, 1);
	}
	/* The commit: from here the process runs the level below; the mapping is garbage. */
	if (r == 0)
		r = hp_ledger__set_state(t, l, HP_LEDGER_PENDING | HP_LEDGER_ARMED);
	if (r < 0) {
		if (prev)
			hp_ledger__set_state(t, prev, HP_LEDGER_SUPERSEDED);
		hp_ledger__set_state(t, l, HP_LEDGER_ACTIVE);
		hp_target__deadman_disarm(t);
		goto out;
	}
	hp_steps__end(&steps, HP_STEP_LEDGER);
	hp_target__deadman_disarm(t);
	hp_ledger__set_state(t, l, HP_LEDGER_PENDING);
	hp_steps__end(&steps, HP_STEP_RESUME);
	/* Committed: a cancel from here only shortens the wait to unmap. */
	r = unmap_when_unused(t, safety, &maps, &nmaps, l, timeout, cancel, res);
	hp_steps__end(&steps, HP_STEP_UNMAP);
	res->nthreads = (unsigned)t->nthreads;
	r = hp_target__detach_all(t);	/* -HP_E_GONE: it died while held */
	if (r < 0)
		goto out;
	hp_steps__end(&steps, HP_STEP_DETACH);
	snprintf(res->patch_id, sizeof(res->patch_id), "%s", l->patch_id);
	res->level = prev ? prev->level : 0;
	res->prev_level = l->level;
	res->nfuncs = l->nentries;
	res->attempts = qs.attempts;
	res->escaped = qs.released;
	res->arrived = qs.arrived;
	{
		struct hp_safety_stats ss;

		hp_safety__stats(safety, &ss);
		res->cleared = (unsigned)ss.cleared;
		res->unwound = (unsigned)ss.unwound;
	}
	res->pause_ms = t->longest_pause_ms;
	res->map_start = l->map_start;
	res->map_len = l->map_len;
	res->build_id_len = l->build_id_len < 64 ? l->build_id_len : 64;
	memcpy(res->build_id, l->build_id, res->build_id_len);
	memcpy(res->patch_sha256, l->patch_sha256, 32);
out:
	if (r < 0 && t && hp_target__exited(t)) {
		hp_err_clear();
		r = hp_err(-HP_E_GONE, "process %d exited during revert (step %s)", pid,
			   hp_step_name(hp_steps__current(&steps)));
	}
	res->total_ms = hp_now_ms() - t0;
	hp_target__close(t);
	hp_safety__free(safety);
	hp_ledger__free(&ls);
	free(maps);
	return r;
}
