/* The named steps of apply and revert: their timings, and the test hook
 * that kills hotpatch at a step boundary (tests/integration/faults.sh). */
#ifndef HP_STEPS_H
#define HP_STEPS_H
#include "hotpatch/hotpatch.h"

struct hp_steps {
	double last;	/* when the current step began (hp_now_ms) */
	double *ms;	/* HP_STEP_N accumulators (a result's step_ms) */
	int done;	/* the last step ended, -1 before the first */
	int revert;	/* revert's order of steps, else apply's */
};

void hp_steps__start(struct hp_steps *s, double *ms, int revert);
/* The step under way: the one after the last ended, in the order of the
 * operation (hotpatch.h). */
enum hp_step hp_steps__current(const struct hp_steps *s);
/* Ends a step: its time is added to ms[step]; then the test hook "NAME". */
void hp_steps__end(struct hp_steps *s, enum hp_step step);
/* A point inside a step (the n-th jump written, from 1): test hook "NAME:N". */
void hp_steps__point(enum hp_step step, unsigned n);

#endif
