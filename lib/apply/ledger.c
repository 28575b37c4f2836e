/* The ledger: what each applied patch changed, kept in the process itself
 * (first page(s) of the patch mapping), so any later hotpatch, or one that
 * restarted, reads the truth from the process and not from a file. */
#include <stddef.h>
#include <stdio.h>
#include "common/common.h"
#include "apply/apply.h"

#define LEDGER_MAX_ENTRIES 4096

static int read_ledger(struct hp_target *t, uint64_t at, struct hp_ledger **ret)
{
	struct hp_ledger h, *l;
	size_t len;
	int r;

	r = hp_target__read(t, at, &h, sizeof(h));
	if (r < 0)
		return r;
	if (memcmp(h.magic, HP_LEDGER_MAGIC, 8) || h.version != HP_LEDGER_VERSION ||
	    h.nentries > LEDGER_MAX_ENTRIES || h.map_start != at)
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

		if (maps[i].offset != 0 || strncmp(maps[i].path, prefix, sizeof(prefix) - 1))
			continue;
		r = read_ledger(t, maps[i].start, &l);
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
