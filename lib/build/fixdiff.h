/* A source fix as a unified diff (what `patch -p1` reads), for the one
 * question the patch builder asks it: did the fix move line L of a file to
 * line L'?  A function whose only difference is a small immediate is a
 * __LINE__ that moved only when the fix explains the move; otherwise the
 * immediate is a real change (a constant of inlined code, say). */
#ifndef HP_BUILD_FIXDIFF_H
#define HP_BUILD_FIXDIFF_H

#include <stdint.h>

struct hp_fixdiff;

/* Parses the diff text (NUL-terminated).  -HP_E_FORMAT when it holds no hunk. */
int hp_fixdiff__parse(const char *text, struct hp_fixdiff **ret);
void hp_fixdiff__free(struct hp_fixdiff *fd);

/* The line of the fixed file that line `line` of the original became: the
 * same number shifted by the lines added and removed above it; 0 when the
 * line itself was removed.  Files are matched by basename ("" matches all:
 * the first file whose mapping moves the line). */
uint32_t hp_fixdiff__map_line(const struct hp_fixdiff *fd, const char *file, uint32_t line);

/* 1 when the fix moves line `orig` of `file` to `fixed` (and orig != fixed). */
int hp_fixdiff__line_moved(const struct hp_fixdiff *fd, const char *file, uint32_t orig,
			   uint32_t fixed);

#endif
