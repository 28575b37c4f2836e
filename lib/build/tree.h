/* The source tree side of "hotpatch build": a private copy of the source,
 * built once as it is (the original) and again after the fix is applied
 * (an incremental rebuild in the same place, so paths and configuration
 * are the same and only what the fix touches is recompiled); the objects
 * of the first build are kept aside to be compared with the second's.
 *
 * The build command runs with a compiler wrapper first in PATH (cc, gcc,
 * clang...) that adds -ffunction-sections -fdata-sections -g to every
 * compilation and keeps every other flag the project's build passes. */
#ifndef HP_BUILD_TREE_H
#define HP_BUILD_TREE_H

#include <stddef.h>

struct hp_tree {
	char *work;		/* the work directory */
	char *src;		/* work/src: the tree built */
	char *saved;		/* work/orig-objs: the original build's objects */
	char *bin;		/* work/bin: the compiler wrapper */
	char *log;		/* work/build.log */
};

/* Creates the work directory (a new one under $TMPDIR when work is NULL;
 * an existing one must be empty), the wrapper, and a copy of src. */
int hp_tree__prepare(const char *src, const char *work, struct hp_tree *t);
/* Runs "sh -c cmd" in the copy; output goes to the log. */
int hp_tree__build(const struct hp_tree *t, const char *cmd, const char *what);
/* Keeps the objects built so far aside; returns how many. */
int hp_tree__save_objects(const struct hp_tree *t, size_t *n);
/* Applies a unified diff with patch -pSTRIP. */
int hp_tree__apply_fix(const struct hp_tree *t, const char *fix, int strip);

/* When the project's build cannot rebuild incrementally (a Makefile whose
 * `ln -s` fails the second time, say): a fresh copy of src at the same
 * place (so paths in the objects are the same), the fix applied, built
 * from scratch.  The saved objects stay. */
int hp_tree__fresh_copy(struct hp_tree *t, const char *src);

/* Objects whose bytes differ between the saved build and the tree now
 * (paths relative to the tree); objects only in the new build too. */
struct hp_tree_change {
	char *rel;
	char *orig;		/* the saved object, NULL for a new one */
	char *fixed;
};
int hp_tree__changed_objects(const struct hp_tree *t, struct hp_tree_change **ret, size_t *n);
void hp_tree__free_changes(struct hp_tree_change *c, size_t n);

/* Removes the work directory (unless keep) and frees t. */
void hp_tree__finish(struct hp_tree *t, int keep);

#endif
