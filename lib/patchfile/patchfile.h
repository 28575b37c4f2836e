/* The parsed, validated form of a .hp file that the loader consumes.
 * struct hp_patch owns a copy of the file bytes; every pointer below points
 * into it and every index was range-checked by the reader. */
#ifndef HP_PATCHFILE_H
#define HP_PATCHFILE_H

#include <stddef.h>
#include <stdint.h>
#include "hotpatch/hotpatch.h"

struct hp_prela {
	uint64_t offset;
	uint32_t type;
	uint32_t sym;
	int64_t addend;
};

struct hp_psec {
	const char *name;
	uint32_t type;		/* SHT_* */
	uint64_t flags;		/* SHF_* */
	uint64_t size, align;
	const uint8_t *data;	/* NULL for SHT_NOBITS */
	struct hp_prela *relas;	/* relocations applying to this section */
	size_t nrelas;
};

struct hp_psym {
	const char *name;
	uint32_t shndx;		/* SHN_UNDEF, SHN_ABS, or a section index */
	uint64_t value, size;
	uint8_t type, bind;
};

struct hp_tsym {
	const char *name;
	const char *file;
	uint64_t target_addr;
};

struct hp_patch {
	uint8_t *buf;
	size_t len;
	uint8_t sha256[32];
	struct hp_patch_info info;
	struct hp_psec *secs;
	size_t nsecs;
	struct hp_psym *syms;
	size_t nsyms;
	struct hp_patch_func *funcs;
	uint32_t *func_sym;	/* symbol index of each new function */
	size_t nfuncs;
	struct hp_tsym *tsyms;
	size_t ntsyms;
};

/* NULL when id is a valid patch id (1-63 of A-Za-z0-9._-+), else why not. */
const char *hp_patch_id_problem(const char *id);

/* Finds the target-resolved entry for an undefined symbol name, or NULL. */
const struct hp_tsym *hp_patch__tsym(const struct hp_patch *p, const char *name);

#endif
