/* Reading ELF objects on disk (executables, shared libraries) with libelf:
 * build-id, symbols (local ones with their source file and position),
 * the file bytes behind a virtual address, and dynamic imports/exports. */
#ifndef HP_ELF_H
#define HP_ELF_H

#include <stddef.h>
#include <stdint.h>

struct hp_elf;

/* Opens an ELF file (ET_EXEC or ET_DYN, ELFCLASS64, EM_X86_64; also ET_REL
 * for patch objects: symbols and first_file work, there are no segments).
 * Everything is read and checked here; the queries below do not call libelf.
 * Returns 0 or -errno / -HP_E_FORMAT (untrusted input: anything out of range).
 *
 * Details for hp_errmsg() are recorded for -HP_E_* failures and for open and
 * read errors; the "absent" answers of the lookups meant for probing
 * (build_id, dynsym_lookup, got_slot) record none, so that trying several
 * objects leaves no stale detail. */
int hp_elf__open(const char *path, struct hp_elf **ret);
void hp_elf__close(struct hp_elf *e);	/* accepts NULL */
/* 1 when the file at path is a 32-bit ELF object (which hp_elf__open
 * refuses as not supported), 0 when not, -errno when unreadable. */
int hp_elf__is_32bit(const char *path);

/* GNU build-id note; -ENOENT when the object has none.  *ret_len (if not
 * NULL) gets its length; -ENOBUFS when bufsz is smaller. */
int hp_elf__build_id(const struct hp_elf *e, uint8_t *buf, size_t bufsz, size_t *ret_len);

/* Lowest p_vaddr of the PT_LOAD segments, rounded down to the page: a
 * process maps the file's offset-0 page at load_base + this value. */
uint64_t hp_elf__first_load_vaddr(const struct hp_elf *e);
/* End of the highest PT_LOAD segment in memory (its .bss included), 0 when none. */
uint64_t hp_elf__load_end_vaddr(const struct hp_elf *e);

/* One PT_LOAD segment as its program header says (checked at open: the
 * file-backed part lies inside the file). */
struct hp_elf_seg {
	uint64_t vaddr, offset, filesz, memsz;
	uint32_t flags;		/* PF_R | PF_W | PF_X */
};
/* The idx-th PT_LOAD segment in program header order; -ENOENT past the last. */
int hp_elf__load_seg(const struct hp_elf *e, size_t idx, struct hp_elf_seg *ret);

struct hp_sym {
	const char *name;	/* points into the hp_elf, valid until close */
	const char *file;	/* STT_FILE name preceding a local symbol; "" for globals */
	uint64_t value;		/* st_value (relative to load base for ET_DYN) */
	uint64_t size;
	int type;		/* STT_* */
	int bind;		/* STB_* */
	unsigned sympos;	/* 1-based position among same-named locals; 0 when unique */
};

/* Finds a defined symbol (FUNC, OBJECT, NOTYPE, TLS, GNU_IFUNC; not SECTION/FILE)
 * in .symtab, else .dynsym.
 * - file: when non-NULL and non-empty, only symbols whose file matches (the
 *   basename of either side is compared) are candidates.
 * - sympos: when non-zero, picks the sympos-th same-named local.
 * Exactly one candidate: 0 and *ret filled.  None: -HP_E_SYM_NOT_FOUND.
 * Several: -HP_E_SYM_AMBIGUOUS; the candidates are listed in hp_errmsg() as
 * "name (file.c, 0x1234), ...". A global symbol wins over locals of the same name
 * when file is not given.
 * Details: a file filter keeps only locals (globals have file ""); sympos 1
 * also picks a local whose name is unique among locals (its sympos is 0);
 * file and sympos together must both match; when several locals share the
 * basename and file has a directory, an exact path match decides.  No
 * function here clears hp_errmsg(): hp_err() keeps the first detail, so a
 * caller that recovers from a failure should hp_err_clear(). */
int hp_elf__find_symbol(const struct hp_elf *e, const char *name, const char *file,
			unsigned sympos, struct hp_sym *ret);

/* Copies the file bytes that the object maps at virtual address vaddr
 * (found through the PT_LOAD program headers; [vaddr, vaddr+len) must lie in
 * one segment's p_filesz). -ERANGE if not file-backed, always for ET_REL. */
int hp_elf__read_vaddr(const struct hp_elf *e, uint64_t vaddr, void *buf, size_t len);

/* Looks up a symbol the object exports in .dynsym: defined, global or weak,
 * default version (not hidden). For resolving calls into libc & co.
 * STT_GNU_IFUNC symbols are returned too (ret->type tells).  A GLOBAL wins
 * over a WEAK of the same name.  -HP_E_SYM_NOT_FOUND when absent. */
int hp_elf__dynsym_lookup(const struct hp_elf *e, const char *name, struct hp_sym *ret);

/* The GOT slot (vaddr) through which the object reaches an imported symbol
 * (R_X86_64_GLOB_DAT or R_X86_64_JUMP_SLOT in .rela.dyn/.rela.plt). -ENOENT if none.
 * With both, the GLOB_DAT slot is returned: it is filled at load time, while
 * a JUMP_SLOT may still hold the lazy-binding stub. */
int hp_elf__got_slot(const struct hp_elf *e, const char *name, uint64_t *ret_vaddr);

/* The name of the first STT_FILE symbol of a relocatable object, "" if none. */
const char *hp_elf__first_file(const struct hp_elf *e);

#endif
