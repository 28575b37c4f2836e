/* On-disk layout of the hotpatch sections inside a .hp file (format 1).
 * All integers little-endian; every *_off is relative to the start of the
 * section's string area; every string is NUL-terminated inside that area.
 * See docs/patch-format.md. */
#ifndef HP_PATCHFILE_FORMAT_H
#define HP_PATCHFILE_FORMAT_H

#include <stdint.h>

#define HP_FORMAT_VERSION 1
#define HP_SEC_INFO ".hotpatch.info"
#define HP_SEC_FUNCS ".hotpatch.funcs"
#define HP_SEC_SYMS ".hotpatch.syms"

#define HP_INFO_MAGIC "HPINFO\0\0"
#define HP_FUNCS_MAGIC "HPFUNCS\0"
#define HP_SYMS_MAGIC "HPSYMS\0\0"

/* Limits on sizes that come from the file. */
#define HP_MAX_FILE (64u << 20)
#define HP_MAX_FUNCS 4096
#define HP_MAX_SYMS 65536
#define HP_MAX_SECTIONS 4096
#define HP_MAX_ID 63

struct hp_disk_info {
	char magic[8];
	uint32_t version;
	uint32_t level;
	uint32_t severity;
	uint32_t build_id_len;
	uint8_t build_id[64];
	uint32_t id;			/* string offsets */
	uint32_t target_name;
	uint32_t description;
	uint32_t cves;
	uint32_t supersedes;
	uint32_t strings_len;		/* the string area follows this header */
} __attribute__((packed));

/* Table header shared by .hotpatch.funcs and .hotpatch.syms: count entries
 * of entsize bytes follow, then strings_len bytes of strings. */
struct hp_disk_table {
	char magic[8];
	uint32_t count;
	uint32_t entsize;
	uint32_t strings_len;
	uint32_t reserved;
} __attribute__((packed));

struct hp_disk_func {
	uint32_t old_name;
	uint32_t old_file;
	uint32_t old_sympos;
	uint32_t new_name;
	uint64_t old_addr;
	uint64_t old_size;
	uint8_t old_sha256[32];
} __attribute__((packed));

/* An undefined symbol of the patch code that pack resolved to a symbol of
 * the target object (static functions and variables included). */
struct hp_disk_sym {
	uint32_t name;
	uint32_t file;
	uint64_t target_addr;		/* st_value in the target object */
} __attribute__((packed));

#endif
