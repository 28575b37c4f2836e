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
 * either way. */
int hp_quiesce(struct hp_target *t, struct hp_safety *safety, struct hp_map **maps,
	       size_t *nmaps, const struct hp_range *ranges, size_t nranges, double timeout_sec,
	       struct hp_quiesce_stats *ret_stats);
#endif
