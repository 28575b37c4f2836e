/* The patch builder's second half: from a diff of an original and a fixed
 * object, a relocatable object holding only what the patch must carry —
 * the changed functions, the new functions and data they use, the constants
 * they read — with every reference to unchanged code and data of the
 * program turned into an undefined symbol that "hotpatch pack" resolves in
 * the running binary (locals as "FILE:NAME").  What cannot be patched live
 * is refused with one line per reason. */
#ifndef HP_BUILD_EXTRACT_H
#define HP_BUILD_EXTRACT_H

#include <stddef.h>
#include "build/diff.h"

struct hp_fixdiff;

struct hp_extract_opts {
	int include_line_only;	/* also replace functions whose only change is a __LINE__ */
	/* The source fix, when known: a small immediate that changed counts as
	 * a moved __LINE__ only when the fix moved that line; otherwise it is a
	 * real change (an inlined constant).  NULL: every such change is
	 * taken for a line number (hotpatch diff's guess). */
	const struct hp_fixdiff *fix;
};

struct hp_extract_result {
	int nothing;		/* 1: no function to replace (nothing written) */
	char **replace;		/* "OLD=NEW" for hp_pack, one per replaced function */
	size_t nreplace;
	char **reasons;		/* why the change cannot be patched live */
	size_t nreasons;
	char **notes;		/* what a person should know: left-out line changes, new data */
	size_t nnotes;
	size_t nsections;	/* sections copied into the output */
	size_t nimports;	/* references to the running program's own symbols */
};

/* Writes the object to out.  Returns 0 (see ret->nothing), -HP_E_UNSUPPORTED
 * with ret->reasons set when the change cannot be patched live, or another
 * negative error. */
int hp_extract(const struct hp_diff *d, const struct hp_extract_opts *opts, const char *out,
	       struct hp_extract_result *ret);
void hp_extract_result__free(struct hp_extract_result *r);

#endif
