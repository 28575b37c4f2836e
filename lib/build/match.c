/* Comparing an object's functions with a linked binary's (see match.h). */
#include "common/common.h"
#include "build/diff.h"
#include "build/match.h"
#include "build/object.h"
#include "elf/elf.h"
#include "arch/x86_64/arch.h"

/* The linker may rewrite the instruction around a GOT or TLS relocation
 * (mov foo@GOTPCREL -> lea foo, call *foo@GOTPCREL -> addr32 call foo,
 * TLS models relaxed): those bytes say nothing about the source. */
static void relaxable(uint32_t type, uint64_t *before, uint64_t *after)
{
	*before = 0;
	*after = 0;
	switch (type) {
	case R_X86_64_GOTPCRELX: case R_X86_64_REX_GOTPCRELX: case R_X86_64_GOTPCREL:
		*before = 3;
		break;
	case R_X86_64_TLSGD: case R_X86_64_TLSLD: case R_X86_64_GOTTPOFF:
	case R_X86_64_GOTPC32_TLSDESC: case R_X86_64_TLSDESC_CALL: case R_X86_64_TPOFF32:
		*before = 4;
		*after = 12;
		break;
	}
}

static void mask(const struct dobj *o, const struct dent *e, uint8_t *a, uint8_t *b)
{
	const struct dsec *s = &o->sec[e->sec];
	size_t first, n;

	bobj_ent_rels(o, e, &first, &n);
	for (size_t i = first; i < first + n; i++) {
		uint64_t at = s->rel[i].off - e->value, before, after;
		uint64_t w = bobj_rel_width(s->rel[i].type);

		relaxable(s->rel[i].type, &before, &after);
		for (uint64_t k = at >= before ? at - before : 0; k < at + w + after && k < e->size; k++)
			a[k] = b[k] = 0;
	}
}

int hp_match__object(const char *path, const struct hp_elf *t, struct hp_match *m)
{
	struct dobj o;
	const char *file;
	int r;

	memset(m, 0, sizeof(*m));
	r = bobj_open(&o, path);
	if (r < 0) {
		bobj_free(&o);
		return r;
	}
	file = bobj_file(&o);
	if (!file[0])
		file = NULL;
	for (size_t i = 0; i < o.nent && r == 0; i++) {
		const struct dent *e = &o.ent[i];
		struct hp_sym ts;
		uint8_t *a = NULL, *b = NULL;

		if (e->kind != HP_DIFF_FUNC || !e->size)
			continue;
		m->funcs++;
		if (hp_elf__find_symbol(t, e->name, e->global ? NULL : file, 0, &ts) < 0) {
			hp_err_clear();
			continue;
		}
		m->found++;
		a = malloc(ts.size + 1);
		b = malloc(e->size);
		if (!a || !b) {
			r = -ENOMEM;
		} else if (hp_elf__read_vaddr(t, ts.value, a, ts.size) < 0 || !o.sec[e->sec].bytes) {
			hp_err_clear();
		} else {
			int same = 0;

			memcpy(b, o.sec[e->sec].bytes + e->value, e->size);
			/* The same instructions, or the same bytes where the linker
			 * did not write. */
			same = hp_arch__same_code(a, ts.size, ts.value, b, e->size, 0) == 1;
			if (!same && ts.size == e->size) {
				mask(&o, e, a, b);
				same = !memcmp(a, b, e->size);
			}
			if (same) {
				m->same++;
			} else {
				char **l = realloc(m->differ, (m->ndiffer + 1) * sizeof(*l));

				if (!l || !(l[m->ndiffer] = strdup(e->name))) {
					if (l)
						m->differ = l;
					r = -ENOMEM;
				} else {
					m->differ = l;
					m->ndiffer++;
				}
			}
		}
		free(a);
		free(b);
	}
	bobj_free(&o);
	if (r < 0)
		hp_match__free(m);
	return r;
}

int hp_match__is_same(const struct hp_match *m, const char *name)
{
	for (size_t i = 0; i < m->ndiffer; i++)
		if (!strcmp(m->differ[i], name))
			return 0;
	return 1;
}

void hp_match__free(struct hp_match *m)
{
	for (size_t i = 0; m && i < m->ndiffer; i++)
		free(m->differ[i]);
	if (m) {
		free(m->differ);
		memset(m, 0, sizeof(*m));
	}
}
