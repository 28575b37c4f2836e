/* x86_64 specifics: the redirecting jump, the checks that make writing it
 * safe, and the stubs through which patch code reaches far symbols. */
#ifndef HP_ARCH_H
#define HP_ARCH_H

#include <stddef.h>
#include <stdint.h>

#define HP_JMP_LEN 5		/* e9 rel32 */
#define HP_STUB_LEN 8		/* ff 25 rel32 (jmp *GOT(%rip)), padded */
#define HP_SAVED_LEN 16		/* bytes saved at each entry in the ledger */

/* Offset at which the jump goes: after an endbr64 (IBT landing pad, which
 * indirect calls into the function still need), else 0. */
size_t hp_arch__entry_skip(const uint8_t *code, size_t len);

/* Encodes `jmp to` placed at address from.  -ERANGE when beyond rel32. */
int hp_arch__encode_jmp(uint64_t from, uint64_t to, uint8_t out[HP_JMP_LEN]);

/* If code at `at` is a jmp rel32, stores its destination. */
int hp_arch__decode_jmp(const uint8_t *code, uint64_t at, uint64_t *ret_to);

/* Encodes `jmp *got(%rip)` at address at. */
int hp_arch__encode_stub(uint64_t at, uint64_t got, uint8_t out[HP_STUB_LEN]);

/* Decides whether a jump may overwrite bytes [skip, skip + HP_JMP_LEN) of
 * the function whose bytes are code[0, size) at address addr: the function
 * must be long enough and no direct branch inside it may land inside the
 * overwritten bytes.  Returns 0, -HP_E_TOO_SHORT or -HP_E_BRANCH_INTO (with
 * the offending instruction in hp_errmsg()).  Indirect branches (jump
 * tables) cannot be followed; gcc places their targets after a function's
 * prologue in practice. */
int hp_arch__check_redirect(const char *name, const uint8_t *code, size_t size, uint64_t addr,
			    size_t skip);

/* 1 when the two byte strings encode the same instructions (branch
 * encodings, padding and addresses of relocated fields aside), else 0; a
 * function of a relocatable object against the same one linked. */
int hp_arch__same_code(const uint8_t *a, size_t alen, uint64_t aaddr, const uint8_t *b,
		       size_t blen, uint64_t baddr);

/* 1 when one of the 8-byte words of stack[0, len) (8-aligned) could be the
 * segment word of a signal frame's saved context (see sigframe.c): then the
 * stack may hold a signal handler's frame, and the frames it interrupted
 * may be on another stack. */
int hp_arch__stack_may_hold_sigframe(const uint8_t *stack, size_t len);

#endif
