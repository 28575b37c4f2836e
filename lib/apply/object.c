/* Finding the patched object in a process: the mapped file whose build-id
 * is the patch's, read through /proc/pid/map_files so that a file replaced
 * or deleted on disk since the process started is still the one we read.
 *
 * The build-id names a file, not a running program: a debugger, a scanner,
 * a backup tool maps files as data, and their mappings carry the same
 * build-id.  So a match must also be loaded, mapped the way the loader maps
 * it, every executable segment executable at base + p_vaddr from its own
 * file offset:
 *
 *   base + p_vaddr(text) -> +-----------------+  r-xp  offset p_offset(text)
 *                           | .text ...       |  same dev and inode as the
 *                           +-----------------+  offset-0 mapping at base
 *
 * A process that maps the file both ways (it runs it and reads it) has its
 * loaded image patched; one that only reads it is refused. */
#include <elf.h>
#include <stdio.h>
#include "common/common.h"
#include "elf/elf.h"
#include "apply/apply.h"

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* [lo, hi) lies in executable mappings of obj's file that show file offset
 * off at lo and the offsets after it in order.  Maps are sorted by address. */
static int code_at(const struct hp_object *obj, const struct hp_map *maps, size_t nmaps,
		   uint64_t lo, uint64_t hi, uint64_t off)
{
	uint64_t a = lo;

	for (size_t k = 0; k < nmaps && a < hi; k++) {
		const struct hp_map *m = &maps[k];

		if (m->end <= a)
			continue;
		if (m->start > a || m->dev != obj->dev || m->inode != obj->inode ||
		    m->perms[2] != 'x' || m->offset + (a - m->start) != off + (a - lo))
			return 0;
		a = m->end;
	}
	return a > lo && a >= hi;
}

/* Every executable segment is mapped as the loader maps it (whole pages). */
static int loaded(const struct hp_object *obj, const struct hp_map *maps, size_t nmaps)
{
	struct hp_elf_seg s;
	int nexec = 0;

	for (size_t i = 0; hp_elf__load_seg(obj->elf, i, &s) == 0; i++) {
		uint64_t lo = obj->base + (s.vaddr & ~(PAGE - 1));
		uint64_t hi = obj->base + HP_ALIGN_UP(s.vaddr + s.filesz, PAGE);

		if (!(s.flags & PF_X))
			continue;
		if (!code_at(obj, maps, nmaps, lo, hi, s.offset & ~(PAGE - 1)))
			return 0;
		nexec++;
	}
	return nexec > 0;
}

/* The code of [vaddr, vaddr+len) is in an executable mapping of the file,
 * at the file offset its segment gives it. */
static int code_of(const struct hp_object *obj, const struct hp_map *maps, size_t nmaps,
		   uint64_t vaddr, uint64_t len)
{
	struct hp_elf_seg s;

	for (size_t i = 0; hp_elf__load_seg(obj->elf, i, &s) == 0; i++)
		if (vaddr >= s.vaddr && vaddr - s.vaddr < s.filesz && len <= s.filesz - (vaddr - s.vaddr))
			return code_at(obj, maps, nmaps, obj->base + vaddr, obj->base + vaddr + len,
				       s.offset + (vaddr - s.vaddr));
	return 0;
}

int hp_object__check(const struct hp_object *obj, const struct hp_map *maps, size_t nmaps,
		     const struct hp_patch *p, pid_t pid)
{
	if (!loaded(obj, maps, nmaps))
		return hp_err(-HP_E_NOT_LOADED, "process %d maps %s only as data, it does not run it",
			      pid, obj->path);
	for (size_t i = 0; i < p->nfuncs; i++) {
		const struct hp_patch_func *f = &p->funcs[i];

		if (!code_of(obj, maps, nmaps, f->old_addr, f->old_size ? f->old_size : 1))
			return hp_err(-HP_E_NOT_LOADED,
				      "%s at 0x%lx is not in an executable mapping of %s in process %d",
				      f->old_name, (unsigned long)(obj->base + f->old_addr), obj->path, pid);
	}
	return 0;
}

/* 1: maps[i] is the offset-0 mapping of a loaded object with build-id bid
 * (*ret filled); 0: it is not (*data set when it has the build-id but is
 * not loaded). */
static int try_object(struct hp_target *t, const struct hp_map *maps, size_t nmaps, size_t i,
		      const uint8_t *bid, size_t bid_len, struct hp_object *ret, int *data)
{
	const struct hp_map *m = &maps[i];
	struct hp_elf *e = NULL;
	uint8_t got[64];
	size_t got_len = 0;
	char mf[96];
	int r;

	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", hp_target__proc_id(t), (unsigned long)m->start,
		 (unsigned long)m->end);
	r = hp_elf__open(mf, &e);
	if (r < 0) {
		hp_err_clear();
		return 0;
	}
	r = hp_elf__build_id(e, got, sizeof(got), &got_len);
	if (r < 0 || got_len != bid_len || memcmp(got, bid, bid_len)) {
		hp_elf__close(e);
		hp_err_clear();
		return 0;
	}
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->path, sizeof(ret->path), "%s", m->path);
	snprintf(ret->map_files, sizeof(ret->map_files), "%s", mf);
	ret->base = m->start - hp_elf__first_load_vaddr(e);
	ret->dev = m->dev;
	ret->inode = m->inode;
	ret->elf = e;
	if (!loaded(ret, maps, nmaps)) {
		*data = 1;
		hp_object__release(ret);
		return 0;
	}
	/* Its extent as the loader maps it (the .bss after the file included);
	 * other mappings of the same file are not part of it. */
	ret->lo = m->start;
	ret->hi = ret->base + HP_ALIGN_UP(hp_elf__load_end_vaddr(e), PAGE);
	if (ret->hi < m->end)
		ret->hi = m->end;
	return 1;
}

void hp_object__release(struct hp_object *obj)
{
	hp_elf__close(obj->elf);
	obj->elf = NULL;
}

int hp_object__find(struct hp_target *t, const struct hp_map *maps, size_t nmaps,
		    const struct hp_patch *p, struct hp_object *ret)
{
	const uint8_t *bid = p->info.build_id;
	size_t bid_len = p->info.build_id_len;
	const char *hint = p->info.target_name;
	const char *data = NULL;
	char hex[129], exe[64];
	int r;

	/* The file named like the hint first: usually the only one opened. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < nmaps; i++) {
			const struct hp_map *m = &maps[i];
			int named, as_data = 0;

			if (m->offset != 0 || m->path[0] != '/' || !strncmp(m->path, "/memfd:", 7))
				continue;
			named = hint && hint[0] && !strcmp(base_name(m->path), hint);
			if ((pass == 0) != named)
				continue;
			if (try_object(t, maps, nmaps, i, bid, bid_len, ret, &as_data)) {
				r = hp_object__check(ret, maps, nmaps, p, t->pid);
				if (r < 0)
					hp_object__release(ret);
				return r;
			}
			if (as_data && !data)
				data = m->path;
		}
	}
	if (data)
		return hp_err(-HP_E_NOT_LOADED, "process %d maps %s only as data, it does not run it",
			      t->pid, data);
	/* A 32-bit program maps nothing a patch could be for: say why. */
	snprintf(exe, sizeof(exe), "/proc/%d/exe", hp_target__proc_id(t));
	if (hp_elf__is_32bit(exe) == 1)
		return hp_err(-HP_E_UNSUPPORTED, "process %d runs a 32-bit program: not supported (32-bit)",
			      t->pid);
	hp_hex(bid, bid_len, hex);
	return hp_err(-HP_E_BUILDID,
		      "process %d maps no object with build-id %s (the patch is for %s): wrong target or a different build",
		      t->pid, hex, hint && hint[0] ? hint : "?");
}

int hp_place(const struct hp_map *maps, size_t nmaps, const struct hp_object *obj, uint64_t len,
	     uint64_t *ret_addr)
{
	/* Every byte of the patch must reach every byte of the object with a rel32. */
	const uint64_t reach = (1ull << 31) - (1ull << 20);
	uint64_t win_lo = obj->hi > reach ? obj->hi - reach : PAGE;
	uint64_t win_hi = obj->lo + reach;
	uint64_t best = 0, best_dist = UINT64_MAX;
	const uint64_t guard = 16 * PAGE;	/* keep clear of neighbours (heap, stacks growing) */

	if (win_lo < 0x10000)
		win_lo = 0x10000; /* above vm.mmap_min_addr */
	/* Gaps between consecutive mappings (maps are sorted by address). */
	for (size_t i = 0; i <= nmaps; i++) {
		uint64_t gap_lo = i ? maps[i - 1].end : 0x10000;
		uint64_t gap_hi = i < nmaps ? maps[i].start : 0x7ffffffff000ull;
		uint64_t lo, hi, cand, dist;

		/* Never right above the [heap]: brk grows into it. */
		if (i && !strcmp(maps[i - 1].path, "[heap]"))
			gap_lo += 64ull << 20;
		lo = (gap_lo > win_lo ? gap_lo : win_lo) + guard;
		hi = (gap_hi < win_hi ? gap_hi : win_hi);
		if (hi < guard || hi - guard < lo || hi - guard - lo < len)
			continue;
		hi -= guard;
		/* The end of the gap nearest to the object. */
		if (hi <= obj->lo) {
			cand = (hi - len) & ~(PAGE - 1);
			dist = obj->lo - cand;
		} else {
			cand = HP_ALIGN_UP(lo, PAGE);
			if (cand + len > hi)
				continue;
			/* Above the object comes the brk heap of an executable: prefer below. */
			dist = (cand > obj->hi ? cand - obj->hi : 0) + (1ull << 32);
		}
		if (cand < lo)
			continue;
		if (dist < best_dist) {
			best = cand;
			best_dist = dist;
		}
	}
	if (!best)
		return hp_err(-HP_E_NO_SPACE, "no free %lu bytes within 2 GiB of %s",
			      (unsigned long)len, obj->path);
	*ret_addr = best;
	return 0;
}
