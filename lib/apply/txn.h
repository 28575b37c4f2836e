/* Pieces shared by apply and revert. */
#ifndef HP_TXN_H
#define HP_TXN_H
#include "apply/apply.h"

struct hp_ledger *hp_txn__top(const struct hp_ledger_set *ls, const struct hp_object *obj);
struct hp_ledger *hp_txn__by_map(const struct hp_ledger_set *ls, uint64_t map_start);
/* forward: write jumps (or originals for dropped functions); else write prev bytes. */
int hp_txn__redirect(struct hp_target *t, struct hp_ledger_entry *es, size_t n, int forward);
int hp_txn__unmap(struct hp_target *t, uint64_t start, uint64_t len);
#endif
