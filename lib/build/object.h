/* The objects "hotpatch diff" and "hotpatch build" read: a relocatable
 * object's sections, symbols, relocations (sorted by offset) and entities —
 * the functions and data objects that get a status.  Internal to lib/build. */
#ifndef HP_BUILD_OBJECT_H
#define HP_BUILD_OBJECT_H

#include <gelf.h>
#include <libelf.h>
#include <stddef.h>
#include <stdint.h>

struct drel {
	uint64_t off;
	uint32_t type;
	uint32_t sym;
	int64_t addend;
};

struct dsec {
	const char *name;
	uint32_t type;
	uint64_t flags, size, entsize, align;
	const uint8_t *bytes;	/* NULL for SHT_NOBITS or empty */
	struct drel *rel;	/* sorted by offset */
	size_t nrel;
};

struct dsym {
	const char *name;
	int type, bind;
	size_t shndx;		/* 0 when undefined or special (ABS, COMMON, XINDEX) */
	uint64_t value, size;
	long ent;		/* entity index or -1 */
};

/* A function or data object: what gets a status. */
struct dent {
	const char *name;
	char *key;		/* name without the numeric suffixes */
	const char *owner;	/* key of the first function referencing it, or NULL */
	int kind, global;
	size_t sec;
	uint64_t value, size;
	long peer;		/* entity in the other object, -1 when none */
};

struct dobj {
	const char *path;
	int fd;
	Elf *elf;
	struct dsec *sec;
	size_t nsec;
	struct dsym *sym;
	size_t nsym;
	struct dent *ent;
	size_t nent;
};

/* What a relocation points at: an entity (+ delta), constant content (a
 * string or merged constant, compared by bytes), or a name (undefined
 * symbols; a section with no entity at that offset). */
enum { T_ENT, T_CONTENT, T_NAME };

struct tdesc {
	int kind;
	long ent;		/* T_ENT */
	int64_t delta;		/* T_ENT: offset from the entity; T_NAME: addend */
	const uint8_t *p;	/* T_CONTENT */
	size_t len;
	const char *name;	/* T_NAME */
};

int bobj_open(struct dobj *o, const char *path);
/* The object's source file (its first STT_FILE symbol), "" when none. */
const char *bobj_file(const struct dobj *o);
void bobj_free(struct dobj *o);
/* "calls.3" -> "calls": the name without gcc's renumbered suffixes. */
void bobj_canon(const char *in, char *out, size_t outsz);
unsigned bobj_rel_width(uint32_t type);
int bobj_rel_pcrel(uint32_t type);
long bobj_ent_at(const struct dobj *o, size_t sec, uint64_t off);
void bobj_resolve(const struct dobj *o, const struct drel *r, struct tdesc *t);
void bobj_ent_rels(const struct dobj *o, const struct dent *e, size_t *first, size_t *n);
uint8_t *bobj_masked_bytes(const struct dobj *o, const struct dent *e);

/* The objects a diff compared: 0 the original, 1 the fixed one. */
struct hp_diff;
const struct dobj *bobj_of_diff(const struct hp_diff *d, int fixed);

#endif
