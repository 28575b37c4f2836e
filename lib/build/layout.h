/* Did the fix change the layout of a structure?  Memory the running program
 * already holds (heap blocks, globals, what other threads point at) keeps
 * the old layout, so replaced code that reads a moved or resized member
 * would read garbage.  Compared from the DWARF of the original and the fixed
 * object: every named struct, union or class (typedef'd anonymous ones by
 * their typedef), its size and its members' names, offsets and sizes. */
#ifndef HP_BUILD_LAYOUT_H
#define HP_BUILD_LAYOUT_H

#include <stddef.h>

struct hp_layout_change {
	char *type;		/* "struct redisServer", "union bigname" */
	unsigned long orig_size, fixed_size;
	char *member;		/* the first member that moved, resized, came or went; NULL: only the size */
};

/* Returns 0 and the changes (*ret may be NULL when n is 0); -HP_E_FORMAT when
 * an object has no DWARF (compile with -g). */
int hp_layout__compare(const char *orig, const char *fixed, struct hp_layout_change **ret,
		       size_t *n);
void hp_layout__free(struct hp_layout_change *c, size_t n);

#endif
