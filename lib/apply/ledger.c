/* The ledger: what each applied patch changed, kept in the process itself
 * (first page(s) of the patch mapping), so any later hotpatch, or one that
 * restarted, reads the truth from the process and not from a file. */
#include <stddef.h>
#include <stdio.h>
#include "common/common.h"
#include "apply/apply.h"


/* The ledger is read back from the target's memory: every field that
 * steers a write, an unmap or a check is verified against the mapping. */
static int ledger_sane(const struct hp_ledger *l, uint64_t map_end)
{
	uint64_t hdr = sizeof(*l) + (uint64_t)l->nentries * sizeof(struct hp_ledger_entry);

	if (l->map_len == 0 || l->map_start + l->map_len != map_end || l->map_len % PAGE)
		return 0;
	if (l->text_start < l->map_start + hdr || l->text_start > l->text_end ||
	    l->text_end > map_end)
		return 0;
	if (l->build_id_len > sizeof(l->build_id))
		return 0;
	if ((l->state & ~(HP_LEDGER_STATE_MASK | HP_LEDGER_ARMED)) ||
	    hp_ledger_state(l) > HP_LEDGER_REVERTING)
		return 0;
	for (uint32_t i = 0; i < l->nentries; i++) {
		const struct hp_ledger_entry *e = &l->e[i];

		if (e->len != HP_JMP_LEN || e->func_size > (16u << 20) || e->addr < e->func_addr ||
		    e->func_addr + e->func_size < e->func_addr ||
		    e->addr + e->len > e->func_addr + e->func_size)
			return 0;
		if (e->new_addr && (e->new_addr < l->text_start || e->new_addr >= l->text_end))
			return 0;
	}
	return 1;
}

static int read_ledger(struct hp_target *t, uint64_t at, uint64_t map_end, struct hp_ledger **ret)
{
	struct hp_ledger h, *l;
	size_t len;
	int r;

	r = hp_target__read(t, at, &h, sizeof(h));
	if (r < 0)
		return r;
	if (memcmp(h.magic, HP_LEDGER_MAGIC, 8) || h.version != HP_LEDGER_VERSION ||
	    h.nentries > HP_LEDGER_MAX_ENTRIES || h.map_start != at)
		return hp_err(-HP_E_LEDGER, "damaged ledger at 0x%lx in process %d",
			      (unsigned long)at, t->pid);
	len = sizeof(h) + (size_t)h.nentries * sizeof(struct hp_ledger_entry);
	l = malloc(len);
	if (!l)
		return -ENOMEM;
	r = hp_target__read(t, at, l, len);
	if (r < 0) {
		free(l);
		return r;
	}
	if (!ledger_sane(l, map_end)) {
		free(l);
		return hp_err(-HP_E_LEDGER, "inconsistent ledger at 0x%lx in process %d",
			      (unsigned long)at, t->pid);
	}
	l->patch_id[sizeof(l->patch_id) - 1] = 0;
	l->object[sizeof(l->object) - 1] = 0;
	for (uint32_t i = 0; i < l->nentries; i++)
		l->e[i].name[sizeof(l->e[i].name) - 1] = 0;
	*ret = l;
	return 0;
}

int hp_ledger__scan(struct hp_target *t, const struct hp_map *maps, size_t nmaps,
		    struct hp_ledger_set *ret)
{
	static const char prefix[] = "/memfd:" HP_MEMFD_PREFIX;
	struct hp_ledger_set s = { 0 };
	int r = 0;

	for (size_t i = 0; i < nmaps; i++) {
		struct hp_ledger *l, **nl;
		uint64_t end = maps[i].end;

		if (maps[i].offset != 0 || strncmp(maps[i].path, prefix, sizeof(prefix) - 1))
			continue;
		/* The regions of one patch mapping are consecutive VMAs of the same memfd. */
		for (size_t k = i + 1; k < nmaps && maps[k].start == end &&
				       maps[k].inode == maps[i].inode && !strcmp(maps[k].path, maps[i].path);
		     k++)
			end = maps[k].end;
		r = read_ledger(t, maps[i].start, end, &l);
		if (r == -HP_E_LEDGER) {
			/* Not ours to trust (a leftover of a killed hotpatch, or forged):
			 * skip it, never act on it. */
			hp_err_clear();
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		nl = realloc(s.l, (s.n + 1) * sizeof(*nl));
		if (!nl) {
			free(l);
			r = -ENOMEM;
			break;
		}
		s.l = nl;
		s.l[s.n++] = l;
	}
	if (r < 0) {
		hp_ledger__free(&s);
		return r;
	}
	*ret = s;
	return 0;
}

void hp_ledger__free(struct hp_ledger_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->l[i]);
	free(s->l);
	s->l = NULL;
	s->n = 0;
}

int hp_ledger__set_state(struct hp_target *t, const struct hp_ledger *l, uint32_t state)
{
	return hp_target__write(t, l->map_start + offsetof(struct hp_ledger, state), &state,
				sizeof(state));
}
