/* Status: what the ledgers in a process say, read without stopping it. */
#include <stdio.h>
#include <sys/ptrace.h>
#include "common/common.h"
#include "apply/apply.h"

int hp_status(pid_t pid, struct hp_status_entry *ret, size_t max, size_t *ret_n)
{
	struct hp_target *t = NULL;
	struct hp_map *maps = NULL;
	size_t nmaps = 0, n = 0;
	struct hp_ledger_set ls = { 0 };
	int r;

	hp_err_clear();
	r = hp_target__open(pid, &t);
	if (r == 0)
		r = hp_target__maps(t, &maps, &nmaps);
	if (r == 0)
		r = hp_ledger__scan(t, maps, nmaps, &ls);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < ls.n; i++) {
		const struct hp_ledger *l = ls.l[i];
		struct hp_status_entry *e;

		if (l->state == HP_LEDGER_PENDING)
			continue; /* mapped, never activated (or being reverted) */
		if (n < max) {
			e = &ret[n];
			memset(e, 0, sizeof(*e));
			snprintf(e->patch_id, sizeof(e->patch_id), "%s", l->patch_id);
			snprintf(e->object, sizeof(e->object), "%s", l->object);
			e->build_id_len = l->build_id_len < 64 ? l->build_id_len : 64;
			memcpy(e->build_id, l->build_id, e->build_id_len);
			e->level = l->level;
			e->active = l->state == HP_LEDGER_ACTIVE;
			e->applied_at = l->applied_at;
			e->map_start = l->map_start;
			e->map_len = l->map_len;
			e->nfuncs = l->nentries;
			for (uint32_t k = 0; k < l->nentries && k < HP_ARRAY_SIZE(e->funcs); k++) {
				snprintf(e->funcs[k].name, sizeof(e->funcs[k].name), "%s", l->e[k].name);
				e->funcs[k].old_addr = l->e[k].func_addr;
				e->funcs[k].new_addr = l->e[k].new_addr;
			}
		}
		n++;
	}
	*ret_n = n;
out:
	hp_target__close(t);
	hp_ledger__free(&ls);
	free(maps);
	return r;
}

int hp_stop_resume(pid_t pid, double *ret_pause_ms, unsigned *ret_nthreads)
{
	struct hp_target *t = NULL;
	int r;

	hp_err_clear();
	r = hp_target__open(pid, &t);
	if (r == 0)
		r = hp_target__seize_all(t);
	if (r == 0)
		r = hp_target__stop_all(t);
	if (r == 0) {
		*ret_nthreads = (unsigned)t->nthreads;
		hp_target__detach_all(t);
		*ret_pause_ms = t->longest_pause_ms;
	}
	hp_target__close(t);
	return r;
}
