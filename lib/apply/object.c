/* Finding the patched object in a process: the mapped file whose build-id
 * is the patch's, read through /proc/pid/map_files so that a file replaced
 * or deleted on disk since the process started is still the one we read. */
#include <stdio.h>
#include "common/common.h"
#include "elf/elf.h"
#include "apply/apply.h"

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static int try_object(struct hp_target *t, const struct hp_map *maps, size_t nmaps, size_t i,
		      const uint8_t *bid, size_t bid_len, struct hp_object *ret)
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
	ret->elf = e;
	ret->lo = m->start;
	ret->hi = m->end;
	for (size_t k = 0; k < nmaps; k++)
		if (!strcmp(maps[k].path, m->path) && maps[k].inode == m->inode) {
			if (maps[k].start < ret->lo)
				ret->lo = maps[k].start;
			if (maps[k].end > ret->hi)
				ret->hi = maps[k].end;
		}
	/* The anonymous .bss after the last file mapping belongs to it too. */
	if (ret->base + HP_ALIGN_UP(hp_elf__load_end_vaddr(e), PAGE) > ret->hi)
		ret->hi = ret->base + HP_ALIGN_UP(hp_elf__load_end_vaddr(e), PAGE);
	return 1;
}

void hp_object__release(struct hp_object *obj)
{
	hp_elf__close(obj->elf);
	obj->elf = NULL;
}

int hp_object__find(struct hp_target *t, const struct hp_map *maps, size_t nmaps,
		    const uint8_t *bid, size_t bid_len, const char *hint, struct hp_object *ret)
{
	char hex[129], exe[64];

	/* The file named like the hint first: usually the only one opened. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < nmaps; i++) {
			const struct hp_map *m = &maps[i];
			int named;

			if (m->offset != 0 || m->path[0] != '/' || !strncmp(m->path, "/memfd:", 7))
				continue;
			named = hint && hint[0] && !strcmp(base_name(m->path), hint);
			if ((pass == 0) != named)
				continue;
			if (try_object(t, maps, nmaps, i, bid, bid_len, ret))
				return 0;
		}
	}
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
