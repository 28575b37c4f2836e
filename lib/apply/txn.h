/* Pieces shared by apply and revert. */
#ifndef HP_TXN_H
#define HP_TXN_H
#include "apply/apply.h"

struct hp_ledger *hp_txn__top(const struct hp_ledger_set *ls, const struct hp_object *obj);
struct hp_ledger *hp_txn__by_map(const struct hp_ledger_set *ls, uint64_t map_start);
/* forward: write jumps (or originals for dropped functions); else write prev bytes. */
int hp_txn__redirect(struct hp_target *t, struct hp_ledger_entry *es, size_t n, int forward);
/* The bytes an entry holds once its level is in effect. */
int hp_txn__forward_bytes(const struct hp_ledger_entry *e, uint8_t code[HP_SAVED_LEN]);
/* Where an entry stands in memory: 1 its level's bytes are written, 0 the
 * bytes from before it are, -1 a mix of both (a write cut short), -2 other
 * bytes (another level's, or someone else's). */
int hp_txn__entry_written(struct hp_target *t, const struct hp_ledger_entry *e);
int hp_txn__unmap(struct hp_target *t, uint64_t start, uint64_t len);
/* Leftovers of a load that died (status.c): descriptors of hotpatch memfds
 * in the process (up to max into ret_fds; returns the count), and whether a
 * hotpatch mapping was never filled. */
int hp_status__memfd_fds(pid_t pid, int *ret_fds, unsigned max);
int hp_status__empty_map(struct hp_target *t, const struct hp_map *m);
#endif
