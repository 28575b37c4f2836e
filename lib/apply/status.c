/* Status: what the ledgers in a process say, read without stopping it,
 * leftovers of a hotpatch that died included. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include "common/common.h"
#include "apply/apply.h"
#include "apply/txn.h"

const char *hp_patch_state_name(int state)
{
	static const char *const names[] = { [HP_PATCH_PENDING] = "pending",
					     [HP_PATCH_ACTIVE] = "active",
					     [HP_PATCH_SUPERSEDED] = "superseded",
					     [HP_PATCH_REVERTING] = "reverting" };

	return state >= 0 && state <= HP_PATCH_REVERTING ? names[state] : "?";
}

static void fill_entry(struct hp_target *t, const struct hp_ledger *l, struct hp_status_entry *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->patch_id, sizeof(e->patch_id), "%s", l->patch_id);
	snprintf(e->object, sizeof(e->object), "%s", l->object);
	e->build_id_len = l->build_id_len < 64 ? l->build_id_len : 64;
	memcpy(e->build_id, l->build_id, e->build_id_len);
	e->level = l->level;
	/* The ledger states and the public ones have the same numbers. */
	e->state = (int)hp_ledger_state(l);
	e->active = e->state == HP_PATCH_ACTIVE;
	e->interrupted = hp_ledger_armed(l) || e->state == HP_PATCH_REVERTING;
	e->applied_at = l->applied_at;
	e->map_start = l->map_start;
	e->map_len = l->map_len;
	e->nfuncs = l->nentries;
	for (uint32_t k = 0; k < l->nentries; k++) {
		if (k < HP_ARRAY_SIZE(e->funcs)) {
			snprintf(e->funcs[k].name, sizeof(e->funcs[k].name), "%s", l->e[k].name);
			e->funcs[k].old_addr = l->e[k].func_addr;
			e->funcs[k].new_addr = l->e[k].new_addr;
		}
		/* A superseded level's entries carry the level above's jumps. */
		if (e->state == HP_PATCH_SUPERSEDED)
			continue;
		switch (hp_txn__entry_written(t, &l->e[k])) {
		case 1:
			e->jumps_written++;
			break;
		case -1:
			e->jumps_torn++;
			break;
		}
	}
}

int hp_status(pid_t pid, struct hp_status_entry *ret, size_t max, size_t *ret_n)
{
	struct hp_target *t = NULL;
	struct hp_map *maps = NULL;
	size_t nmaps = 0, n = 0;
	struct hp_ledger_set ls = { 0 };
	int r;

	hp_err_clear();
	r = hp_target__open_any(pid, &t);
	if (r == 0)
		r = hp_target__maps(t, &maps, &nmaps);
	if (r == 0)
		r = hp_ledger__scan(t, maps, nmaps, &ls);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < ls.n; i++) {
		const struct hp_ledger *l = ls.l[i];

		/* Between a revert's commit and its unmap, and after an apply
		 * rolled back but could not unmap, a ledger is PENDING and not
		 * ARMED: listed, it is a leftover that repair removes. */
		if (n < max)
			fill_entry(t, l, &ret[n]);
		n++;
	}
	*ret_n = n;
out:
	hp_target__close(t);
	hp_ledger__free(&ls);
	free(maps);
	return r;
}

/* Counts the process's descriptors of hotpatch memfds. */
static unsigned count_memfd_fds(pid_t pid, int *ret_fds, unsigned max)
{
	static const char prefix[] = "/memfd:" HP_MEMFD_PREFIX;
	char path[64];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	if (hp_proc_live_id(pid, &pid) < 0)	/* a zombie main thread has no files */
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char link[64 + 256], target[512];
		ssize_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		if (strncmp(target, prefix, sizeof(prefix) - 1))
			continue;
		if (ret_fds && n < max)
			ret_fds[n] = atoi(de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

int hp_status__memfd_fds(pid_t pid, int *ret_fds, unsigned max)
{
	return (int)count_memfd_fds(pid, ret_fds, max);
}

/* A hotpatch mapping never filled: its first bytes are still the zeros of
 * the fresh memfd (the load died between mmap and writing the image). */
int hp_status__empty_map(struct hp_target *t, const struct hp_map *m)
{
	static const char prefix[] = "/memfd:" HP_MEMFD_PREFIX;
	uint8_t head[sizeof(struct hp_ledger)];

	if (m->offset != 0 || strncmp(m->path, prefix, sizeof(prefix) - 1))
		return 0;
	if (hp_target__read(t, m->start, head, sizeof(head)) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(head); i++)
		if (head[i])
			return 0;
	return 1;
}

int hp_leftovers(pid_t pid, struct hp_leftovers *ret)
{
	static const char prefix[] = "/memfd:" HP_MEMFD_PREFIX;
	struct hp_target *t = NULL;
	struct hp_map *maps = NULL;
	size_t nmaps = 0, nl = 0;
	struct hp_ledger_set ls = { 0 };
	char state = 0;
	int r;

	hp_err_clear();
	memset(ret, 0, sizeof(*ret));
	r = hp_target__open_any(pid, &t);
	if (r == 0)
		r = hp_target__maps(t, &maps, &nmaps);
	if (r == 0)
		r = hp_ledger__scan(t, maps, nmaps, &ls);
	if (r < 0)
		goto out;
	ret->stopped = hp_proc_state(hp_target__proc_id(t), &state) == 0 && state == 'T';
	for (size_t i = 0; i < ls.n; i++)
		if (hp_ledger_armed(ls.l[i]))
			ret->deadman = ret->stopped;
	ret->memfd_fds = count_memfd_fds(pid, NULL, 0);
	for (size_t i = 0; i < nmaps; i++) {
		if (maps[i].offset != 0 || strncmp(maps[i].path, prefix, sizeof(prefix) - 1))
			continue;
		nl++;
		if (hp_status__empty_map(t, &maps[i]))
			ret->empty_maps++;
	}
	/* Mappings the scan skipped: neither a ledger nor never filled. */
	if (nl > ls.n + ret->empty_maps)
		ret->damaged_maps = (unsigned)(nl - ls.n - ret->empty_maps);
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
