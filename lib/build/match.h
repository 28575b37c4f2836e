/* Does an object built from the "original" source reproduce the running
 * binary?  Its functions are looked up in the binary's symbol table and
 * compared byte for byte, the bytes the linker fills in (relocations, and
 * the instructions it may relax around them) left out.  The patch builder
 * uses this to pick the object the binary was linked from, and to refuse a
 * patch whose original does not match what runs. */
#ifndef HP_BUILD_MATCH_H
#define HP_BUILD_MATCH_H

#include <stddef.h>

struct hp_elf;

struct hp_match {
	size_t funcs;		/* functions in the object */
	size_t found;		/* of those, in the binary (by name) */
	size_t same;		/* of those, with the same size and bytes */
	char **differ;		/* names found whose size or bytes differ */
	size_t ndiffer;
};

int hp_match__object(const char *obj, const struct hp_elf *target, struct hp_match *ret);
/* 0 when name was found in the binary with other bytes, else 1. */
int hp_match__is_same(const struct hp_match *m, const char *name);
void hp_match__free(struct hp_match *m);

#endif
