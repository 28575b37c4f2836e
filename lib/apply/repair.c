/* Repair: what a hotpatch that died (SIGKILL, OOM kill, power-user) left in
 * a process, undone or finished from the ledgers the process itself holds
 * (apply.h tells what each ledger state means):
 *
 *   PENDING    an apply that never committed, or a revert that committed
 *              but did not unmap: put back the bytes from before it where
 *              its jumps (or half of one) are written, reactivate the level
 *              below if the apply had superseded it, unmap it;
 *   REVERTING  a revert cut short: the same steps finish it;
 *   ARMED      (on a committed ledger) only the mark is cleared;
 *   a mapping never filled, a memfd descriptor left open: removed;
 *   stopped    the process is continued when a ledger says the dead-man
 *              stop was armed (a process stopped by someone else stays so).
 *
 * Bytes are put back only where memory holds this ledger's bytes (or a mix
 * of before and after, a write cut short): never over a jump another,
 * active, level wrote since. */
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include "common/common.h"
#include "apply/apply.h"
#include "apply/txn.h"

/* Does another active level of the same object own the bytes at e->addr now? */
static int owned_by_other(struct hp_target *t, const struct hp_ledger_set *ls,
			  const struct hp_ledger *l, const struct hp_ledger_entry *e)
{
	for (size_t i = 0; i < ls->n; i++) {
		const struct hp_ledger *o = ls->l[i];

		if (o == l || o->object_base != l->object_base || hp_ledger_state(o) != HP_LEDGER_ACTIVE)
			continue;
		for (uint32_t k = 0; k < o->nentries; k++)
			if (o->e[k].addr == e->addr && hp_txn__entry_written(t, &o->e[k]) == 1)
				return 1;
	}
	return 0;
}

static int other_active(const struct hp_ledger_set *ls, const struct hp_ledger *l)
{
	for (size_t i = 0; i < ls->n; i++)
		if (ls->l[i] != l && ls->l[i]->object_base == l->object_base &&
		    hp_ledger_state(ls->l[i]) == HP_LEDGER_ACTIVE)
			return 1;
	return 0;
}

/* Puts back what was before l and reactivates the level below; with
 * remote, unmaps l too (a system call run inside the process). */
static int undo(struct hp_target *t, const struct hp_ledger_set *ls, struct hp_ledger *l, int remote,
		struct hp_repair_result *res)
{
	int r = 0;

	for (uint32_t k = 0; k < l->nentries && r == 0; k++) {
		const struct hp_ledger_entry *e = &l->e[k];
		int w = hp_txn__entry_written(t, e);

		if ((w != 1 && w != -1) || owned_by_other(t, ls, l, e))
			continue;
		r = hp_target__write(t, e->addr, e->prev, e->len);
		if (r < 0)
			return hp_err(r, "cannot restore %s in process %d: %s", e->name, t->pid,
				      strerror(-r));
		res->jumps_restored++;
	}
	if (l->prev_map && !other_active(ls, l)) {
		struct hp_ledger *below = hp_txn__by_map(ls, l->prev_map);

		if (below && hp_ledger_state(below) == HP_LEDGER_SUPERSEDED)
			r = hp_ledger__set_state(t, below, HP_LEDGER_ACTIVE);
	}
	/* Not in effect from here, whatever the unmap does. */
	if (r == 0)
		r = hp_ledger__set_state(t, l, HP_LEDGER_PENDING);
	if (r == 0 && remote) {
		r = hp_txn__unmap(t, l->map_start, l->map_len);
		if (r == 0)
			res->unmapped++;
	}
	return r;
}

/* Mappings a load never filled: the VMAs of one memfd from offset 0 on. */
static int unmap_empty(struct hp_target *t, const struct hp_map *maps, size_t nmaps,
		       struct hp_repair_result *res)
{
	for (size_t i = 0; i < nmaps; i++) {
		uint64_t end = maps[i].end;
		int r;

		if (!hp_status__empty_map(t, &maps[i]))
			continue;
		for (size_t k = i + 1; k < nmaps && maps[k].start == end &&
				       maps[k].inode == maps[i].inode && !strcmp(maps[k].path, maps[i].path);
		     k++)
			end = maps[k].end;
		r = hp_txn__unmap(t, maps[i].start, end - maps[i].start);
		if (r < 0)
			return r;
		res->unmapped++;
	}
	return 0;
}

static int close_fds(struct hp_target *t, struct hp_repair_result *res)
{
	int fds[64];
	int n = hp_status__memfd_fds(t->pid, fds, 64);

	for (int i = 0; i < n && i < 64; i++) {
		uint64_t args[6] = { (uint64_t)fds[i], 0, 0, 0, 0, 0 };
		long v = 0;
		int r = hp_target__syscall(t, SYS_close, args, &v);

		if (r < 0)
			return r;
		if (v == 0)
			res->fds_closed++;
	}
	return 0;
}

/* One pass over the process, every thread held and stopped (so no thread
 * runs while bytes go back, and no other hotpatch acts meanwhile).
 * Without remote, only memory is written: a job-control stopped process
 * cannot run the system calls of the clean-up (its single-stepped thread
 * reports the group stop instead). */
static int pass(pid_t pid, int remote, struct hp_repair_result *res, int *ret_armed)
{
	struct hp_target *t = NULL;
	struct hp_map *maps = NULL;
	size_t nmaps = 0;
	struct hp_ledger_set ls = { 0 };
	int r;

	r = hp_target__open_any(pid, &t);
	if (r < 0)
		return r;
	r = hp_target__seize_all(t);
	if (r == 0)
		r = hp_target__stop_all(t);
	if (r == 0)
		r = hp_target__maps(t, &maps, &nmaps);
	if (r == 0)
		r = hp_ledger__scan(t, maps, nmaps, &ls);
	for (size_t i = 0; r == 0 && i < ls.n; i++) {
		struct hp_ledger *l = ls.l[i];
		uint32_t st = hp_ledger_state(l);

		*ret_armed |= hp_ledger_armed(l);
		if (st == HP_LEDGER_PENDING || st == HP_LEDGER_REVERTING) {
			unsigned before = res->jumps_restored;

			r = undo(t, &ls, l, remote, res);
			if (st == HP_LEDGER_REVERTING)
				res->finished++;
			else if (hp_ledger_armed(l) || res->jumps_restored > before)
				res->rolled_back++;
			if (st == HP_LEDGER_REVERTING || hp_ledger_armed(l) || remote)
				snprintf(res->patch_id, sizeof(res->patch_id), "%s", l->patch_id);
		} else if (hp_ledger_armed(l)) {
			r = hp_ledger__set_state(t, l, st);
			if (r == 0)
				res->marks_cleared++;
			snprintf(res->patch_id, sizeof(res->patch_id), "%s", l->patch_id);
		}
	}
	if (r == 0 && remote)
		r = unmap_empty(t, maps, nmaps, res);
	if (r == 0 && remote)
		r = close_fds(t, res);
	res->nthreads = (unsigned)t->nthreads;
	hp_target__close(t);	/* detaches */
	hp_ledger__free(&ls);
	free(maps);
	return r;
}

static int is_stopped(pid_t pid)
{
	char state = 0;

	/* the state of a live thread: a zombie main thread's is Z */
	return hp_proc_live_id(pid, &pid) == 0 && hp_proc_state(pid, &state) == 0 && state == 'T';
}

int hp_repair(pid_t pid, struct hp_repair_result *res)
{
	double t0 = hp_now_ms();
	int r = 0, armed = 0;

	hp_err_clear();
	memset(res, 0, sizeof(*res));
	if (is_stopped(pid)) {
		/* The bytes and the ledger first, while it cannot run; then,
		 * when the dead-man stop held it, continue it (detached threads
		 * rejoin the group stop, and SIGCONT ends it as kill -CONT
		 * would) and clean up while it runs. */
		r = pass(pid, 0, res, &armed);
		if (r < 0)
			return r;
		if (!armed) {
			res->total_ms = hp_now_ms() - t0;
			return hp_err(-HP_E_UNSUPPORTED,
				      "process %d is stopped, not by hotpatch: bytes and ledgers are repaired; continue it (kill -CONT %d) and run repair again to remove the mappings",
				      pid, pid);
		}
		if (kill(pid, SIGCONT) == 0)
			res->continued = 1;
		for (int i = 0; i < 1000 && is_stopped(pid); i++)
			usleep(1000);
	}
	r = pass(pid, 1, res, &armed);
	res->total_ms = hp_now_ms() - t0;
	return r;
}
