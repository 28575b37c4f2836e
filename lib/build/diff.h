/* The object differ behind "hotpatch diff" (and the future "hotpatch build"):
 * compares two relocatable objects compiled from the original and the fixed
 * source (gcc -O2 -g -ffunction-sections -fdata-sections -c) and says, for
 * every function and data object, whether it is new, changed, the same or
 * removed.
 *
 * Correlation is by name, with the numeric suffixes gcc renumbers between
 * builds stripped ("calls.3" ~ "calls.1", "foo.constprop.0" ~
 * "foo.constprop.1"); several candidates for one stripped name are told apart
 * by their owner (the function that references them), then by content.
 * Functions are compared by their bytes (the bytes under relocations masked)
 * and their relocations, each compared by offset, type, addend and the
 * correlated target (a string or merged constant by its content), never by
 * the target's number or position. */
#ifndef HP_BUILD_DIFF_H
#define HP_BUILD_DIFF_H

#include <stddef.h>
#include <stdint.h>

enum hp_diff_kind { HP_DIFF_FUNC, HP_DIFF_DATA };

#define HP_DIFF_MAX_LINES 16	/* more differing immediates: a real change */

enum hp_diff_status {
	HP_DIFF_SAME,
	HP_DIFF_CHANGED,		/* function: code or relocations differ */
	HP_DIFF_CHANGED_LINE_ONLY,	/* function: only a __LINE__-like immediate differs */
	HP_DIFF_NEW,			/* only in the fixed object */
	HP_DIFF_REMOVED,		/* only in the original object */
	HP_DIFF_DATA_CHANGED,		/* data object: size, initial bytes or pointers differ */
	HP_DIFF_NSTATUS
};

const char *hp_diff_status_name(int status);	/* "same", "changed", ... */

struct hp_diff_entry {
	const char *name;	/* fixed name, or the original one for REMOVED */
	const char *orig_name;	/* NULL for NEW */
	const char *fixed_name;	/* NULL for REMOVED */
	int kind;		/* enum hp_diff_kind */
	int status;		/* enum hp_diff_status */
	int global;		/* STB_GLOBAL or STB_WEAK (in the object that has it) */
	uint64_t orig_size, fixed_size;
	/* CHANGED_LINE_ONLY: the immediates that differ (__LINE__ of several
	 * asserts, say): offset in the function and both values; the first is
	 * also in line_off, line_orig, line_fixed. */
	uint64_t line_off;
	uint32_t line_orig, line_fixed;
	struct hp_diff_line {
		uint64_t off;
		uint32_t orig, fixed;
	} line[HP_DIFF_MAX_LINES];
	size_t nline;
	long orig_ent, fixed_ent;	/* entity index in each object, -1 when absent */
};

struct hp_diff;

/* Reads and compares both objects (ET_REL, ELFCLASS64, x86_64).  Returns 0
 * and *ret, or -errno / -HP_E_FORMAT (details in hp_errmsg()). */
int hp_diff__objects(const char *orig, const char *fixed, struct hp_diff **ret);
void hp_diff__free(struct hp_diff *d);	/* accepts NULL */

/* Entries: functions first, then data; each in the order of the fixed
 * object's symbol table, REMOVED ones at the end.  Valid until free. */
size_t hp_diff__count(const struct hp_diff *d);
const struct hp_diff_entry *hp_diff__entry(const struct hp_diff *d, size_t i);	/* NULL when out of range */
/* How many entries of a kind have a status. */
size_t hp_diff__count_status(const struct hp_diff *d, int kind, int status);
/* 1 when a patch has something to carry: a function new, changed or removed
 * (line-number-only changes not counted), or a data object new, removed or
 * changed.  0 means "nothing to patch". */
int hp_diff__has_changes(const struct hp_diff *d);

#endif
