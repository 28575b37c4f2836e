/* The apply transaction and what it needs: the target object found in the
 * process, the ledgers already there, the plan (layout and relocation of the
 * patch code), and the load into the process.
 *
 * Memory of one applied patch, a memfd named "hotpatch:<id>" mapped
 * MAP_PRIVATE within +-2 GiB of the patched object (so rel32 reaches):
 *
 *   map_start ->  +---------------------------+
 *                 | ledger          r--       |  struct hp_ledger + entries
 *   text      ->  +---------------------------+
 *                 | .text*          r-x       |  replacement and new functions
 *                 | stubs           r-x       |  jmp *got(%rip) to far symbols
 *   rodata    ->  +---------------------------+
 *                 | .rodata*, GOT   r--       |
 *   data      ->  +---------------------------+
 *                 | .data*, .bss*   rw-       |  new globals
 *                 +---------------------------+
 *
 * Never writable and executable at once; the content is written through the
 * memfd before the pages are first touched, later ledger updates through
 * /proc/pid/mem (copy-on-write of the one private page). */
#ifndef HP_APPLY_H
#define HP_APPLY_H

#include <stdint.h>
#include "arch/x86_64/arch.h"
#include "patchfile/patchfile.h"
#include "target/target.h"

#define HP_LEDGER_MAGIC "HPLEDGR1"
#define HP_LEDGER_VERSION 1
#define HP_MEMFD_PREFIX "hotpatch:"
#define PAGE 4096ul
#define HP_LEDGER_MAX_ENTRIES 4096

/* The life of a ledger, and what a hotpatch that died at each point left:
 *
 *   apply:  PENDING (loaded) -> PENDING|ARMED (dead-man stop armed) -> jumps
 *           -> level below SUPERSEDED -> ACTIVE|ARMED (the commit) -> disarm
 *           -> ACTIVE
 *   revert: ACTIVE -> REVERTING|ARMED -> original bytes back -> level below
 *           ACTIVE -> PENDING|ARMED (the commit) -> disarm -> PENDING -> unmap
 *
 * So a PENDING ledger is never in effect (repair puts back the bytes of any
 * of its jumps still written, reactivates the level below, unmaps it), a
 * REVERTING one is a revert to finish, and ARMED means the process may be
 * held by the dead-man stop (lib/target/deadman.c) that repair lifts. */
enum hp_ledger_state {
	HP_LEDGER_PENDING = 0,	/* loaded, not in effect (or left by a crash) */
	HP_LEDGER_ACTIVE = 1,	/* its jumps are installed */
	HP_LEDGER_SUPERSEDED = 2,	/* a higher level replaced it */
	HP_LEDGER_REVERTING = 3,	/* a revert is restoring the bytes below */
};
#define HP_LEDGER_STATE_MASK 0xffu
#define HP_LEDGER_ARMED 0x100u	/* or'ed in while the dead-man stop is armed */

struct hp_ledger_entry {
	uint64_t addr;		/* where the jump is written: function entry + endbr64 */
	uint64_t func_addr;	/* function entry */
	uint64_t func_size;
	uint64_t new_addr;	/* 0: the level restores the original (function dropped) */
	uint8_t prev[HP_SAVED_LEN];	/* bytes at addr before this level */
	uint8_t orig[HP_SAVED_LEN];	/* bytes at addr in the object file */
	uint32_t len;		/* bytes written at addr */
	uint32_t reserved;
	char name[64];
} __attribute__((packed));

struct hp_ledger {
	char magic[8];
	uint32_t version;
	uint32_t state;
	uint32_t level;
	uint32_t nentries;
	uint64_t applied_at;
	uint64_t map_start, map_len;
	uint64_t text_start, text_end;
	uint64_t object_base;
	uint64_t prev_map;	/* map_start of the level below, 0 when none */
	uint32_t build_id_len;
	uint8_t build_id[64];
	char patch_id[64];
	char object[256];
	uint8_t patch_sha256[32];
	struct hp_ledger_entry e[];
} __attribute__((packed));

/* The object of the process a patch is for: loaded, not merely mapped
 * (see object.c). */
struct hp_object {
	char path[256];		/* as mapped */
	char map_files[96];	/* /proc/pid/map_files/... of its offset-0 mapping */
	uint64_t base;		/* load base: runtime address = base + st_value */
	uint64_t lo, hi;	/* extent of its image as loaded */
	uint64_t dev, inode;	/* its file */
	struct hp_elf *elf;	/* its file, as mapped; hp_object__release() closes it */
};
void hp_object__release(struct hp_object *obj);

/* The object with the patch's build-id that the process runs, its file
 * named like the patch's target first.  -HP_E_NOT_LOADED when the file is
 * mapped only as data (or its code not where the loader puts it),
 * -HP_E_BUILDID when no mapping has the build-id. */
int hp_object__find(struct hp_target *t, const struct hp_map *maps, size_t nmaps,
		    const struct hp_patch *p, struct hp_object *ret);
/* obj is still loaded in maps and every function p replaces lies in an
 * executable mapping of it; else -HP_E_NOT_LOADED. */
int hp_object__check(const struct hp_object *obj, const struct hp_map *maps, size_t nmaps,
		     const struct hp_patch *p, pid_t pid);

/* Resolves symbols the patch code needs but neither it nor the target's
 * symbol table defines: the target object's own exports (copy-relocated
 * data such as stdout included), then the value in the target's GOT for an
 * import (right for IFUNCs and interposition), then the default-version
 * export of every other loaded object. */
struct hp_resolver;
int hp_resolver__new(struct hp_target *t, const struct hp_map *maps, size_t nmaps,
		     const struct hp_object *obj, struct hp_resolver **ret);
void hp_resolver__free(struct hp_resolver *r);
int hp_resolver__lookup(struct hp_resolver *r, const char *name, uint64_t *ret_addr);

/* Ledgers present in the process (one per applied patch mapping). */
struct hp_ledger_set {
	struct hp_ledger **l;
	size_t n;
};
int hp_ledger__scan(struct hp_target *t, const struct hp_map *maps, size_t nmaps,
		    struct hp_ledger_set *ret);
void hp_ledger__free(struct hp_ledger_set *s);
/* Writes the state word (flags included) into the process. */
int hp_ledger__set_state(struct hp_target *t, const struct hp_ledger *l, uint32_t state);

static inline uint32_t hp_ledger_state(const struct hp_ledger *l)
{
	return l->state & HP_LEDGER_STATE_MASK;
}

static inline int hp_ledger_armed(const struct hp_ledger *l)
{
	return !!(l->state & HP_LEDGER_ARMED);
}

/* The laid-out, relocated image of a patch for one process. */
struct hp_image {
	uint8_t *bytes;		/* map_len bytes, ledger page included */
	uint64_t map_start, map_len;
	uint64_t text_off, text_len;	/* page-aligned offsets into bytes */
	uint64_t ro_off, ro_len;
	uint64_t data_off, data_len;
	uint64_t *sec_addr;	/* runtime address of each patch section (0: not loaded) */
	uint64_t *func_new;	/* runtime address of each replacement function */
};

/* Sizes the image (ledger page count included) without addresses. */
int hp_image__size(const struct hp_patch *p, size_t ledger_bytes, uint64_t *ret_len);
/* Resolves the patch's references to other loaded objects in process t
 * (slow: may open and index their files), into ext[symbol index]: done
 * before any thread is stopped. */
int hp_image__resolve(const struct hp_patch *p, struct hp_target *t, const struct hp_map *maps,
		      size_t nmaps, const struct hp_object *obj, uint64_t **ret_ext);
/* Lays out and relocates the patch at map_start (ext from hp_image__resolve;
 * NULL when the patch needs none): memory copies only. */
int hp_image__build(const struct hp_patch *p, const uint64_t *ext, const struct hp_object *obj,
		    uint64_t map_start, size_t ledger_bytes, struct hp_image *img);
void hp_image__free(struct hp_image *img);

/* Finds a free, page-aligned range of len bytes within +-2 GiB of the object. */
int hp_place(const struct hp_map *maps, size_t nmaps, const struct hp_object *obj, uint64_t len,
	     uint64_t *ret_addr);

#endif
