/* Resolving the patch's references to other loaded objects (libc & co). */
#include <elf.h>
#include <stdio.h>
#include "common/common.h"
#include "elf/elf.h"
#include "apply/apply.h"

struct loaded {
	struct hp_elf *elf;	/* NULL when not an ELF we can read */
	uint64_t base;
	char path[256];
};

struct hp_resolver {
	struct hp_target *t;
	const struct hp_object *obj;
	struct hp_elf *obj_elf;
	int owns_obj_elf;
	struct loaded *libs;
	size_t nlibs;
	const struct hp_map *maps;
	size_t nmaps;
	int libs_loaded;
};

int hp_resolver__new(struct hp_target *t, const struct hp_map *maps, size_t nmaps,
		     const struct hp_object *obj, struct hp_resolver **ret)
{
	struct hp_resolver *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->t = t;
	r->obj = obj;
	r->maps = maps;
	r->nmaps = nmaps;
	/* The object's file is open already (hp_object__find); else open it. */
	if (obj->elf) {
		r->obj_elf = obj->elf;
	} else {
		err = hp_elf__open(obj->map_files, &r->obj_elf);
		if (err < 0) {
			free(r);
			return err;
		}
		r->owns_obj_elf = 1;
	}
	*ret = r;
	return 0;
}

void hp_resolver__free(struct hp_resolver *r)
{
	if (!r)
		return;
	if (r->owns_obj_elf)
		hp_elf__close(r->obj_elf);
	for (size_t i = 0; i < r->nlibs; i++)
		hp_elf__close(r->libs[i].elf);
	free(r->libs);
	free(r);
}

/* Opens every other mapped ELF object once, on first need. */
static int load_libs(struct hp_resolver *r)
{
	if (r->libs_loaded)
		return 0;
	r->libs_loaded = 1;
	for (size_t i = 0; i < r->nmaps; i++) {
		const struct hp_map *m = &r->maps[i];
		struct loaded *l, *nl;
		char mf[96];
		int dup = 0;

		if (m->offset != 0 || m->path[0] != '/' || !strncmp(m->path, "/memfd:", 7) ||
		    !strcmp(m->path, r->obj->path))
			continue;
		for (size_t k = 0; k < r->nlibs; k++)
			dup |= !strcmp(r->libs[k].path, m->path);
		if (dup)
			continue;
		nl = realloc(r->libs, (r->nlibs + 1) * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		r->libs = nl;
		l = &r->libs[r->nlibs];
		memset(l, 0, sizeof(*l));
		snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", hp_target__proc_id(r->t),
			 (unsigned long)m->start, (unsigned long)m->end);
		if (hp_elf__open(mf, &l->elf) < 0) {
			hp_err_clear();
			continue; /* not an ELF object (a data file mapped) */
		}
		l->base = m->start - hp_elf__first_load_vaddr(l->elf);
		snprintf(l->path, sizeof(l->path), "%s", m->path);
		r->nlibs++;
	}
	return 0;
}

int hp_resolver__lookup(struct hp_resolver *r, const char *name, uint64_t *ret_addr)
{
	struct hp_sym s;
	uint64_t slot, val;
	int err, saw_ifunc = 0;

	if (hp_elf__dynsym_lookup(r->obj_elf, name, &s) == 0 && s.type != STT_GNU_IFUNC) {
		*ret_addr = r->obj->base + s.value;
		return 0;
	}
	if (hp_elf__got_slot(r->obj_elf, name, &slot) == 0 &&
	    hp_target__read(r->t, r->obj->base + slot, &val, sizeof(val)) == 0 && val) {
		*ret_addr = val;
		return 0;
	}
	err = load_libs(r);
	if (err < 0)
		return err;
	for (size_t i = 0; i < r->nlibs; i++) {
		if (hp_elf__dynsym_lookup(r->libs[i].elf, name, &s) < 0)
			continue;
		if (s.type == STT_GNU_IFUNC) {
			saw_ifunc = 1; /* its address is a resolver, not the function */
			continue;
		}
		*ret_addr = r->libs[i].base + s.value;
		hp_err_clear();
		return 0;
	}
	hp_err_clear();
	if (saw_ifunc)
		return hp_err(-HP_E_SYM_NOT_FOUND,
			      "%s is an IFUNC that %s does not import; call it from the target first or use another function",
			      name, r->obj->path);
	return hp_err(-HP_E_SYM_NOT_FOUND,
		      "symbol %s is defined neither by the patch, nor by %s, nor by a library loaded in process %d",
		      name, r->obj->path, r->t->pid);
}
