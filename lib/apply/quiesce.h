#ifndef HP_QUIESCE_H
#define HP_QUIESCE_H
#include "safety/safety.h"
#include "target/target.h"

/* What it took. */
struct hp_quiesce_stats {
	unsigned attempts;	/* consistency checks run */
	unsigned released;	/* threads run alone towards their escape address */
	unsigned arrived;	/* of them, seen arriving there */
};

/* Returns 0 with every thread of t stopped and outside every range, or an
 * error with every thread running (-HP_E_UNSAFE after timeout_sec).
 * *maps may be re-read (threads born meanwhile).  *ret_stats is filled
 * either way.  cancel (may be NULL): once it is non-zero, the retries end
 * at once with -HP_E_CANCELLED, every thread running. */
int hp_quiesce(struct hp_target *t, struct hp_safety *safety, struct hp_map **maps,
	       size_t *nmaps, const struct hp_range *ranges, size_t nranges, double timeout_sec,
	       const volatile sig_atomic_t *cancel, struct hp_quiesce_stats *ret_stats);

/* Sets memory aside for the stack snapshots before a stop window begins
 * (hp_quiesce does it too: call it earlier when the window starts earlier). */
void hp_quiesce_prepare(struct hp_target *t);

/* -HP_E_CANCELLED (with the detail) when *cancel is set, else 0. */
int hp_cancelled(const volatile sig_atomic_t *cancel);
#endif
