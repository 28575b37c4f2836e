/* Are two encodings of a function the same code?  The assembler may pick
 * different branch encodings (jcc rel8 or rel32: it relaxes differently when
 * each function has its own section) and different padding, and a
 * relocatable object has zeros where the linked binary has addresses.  So
 * the instruction streams are compared, not the bytes: nops left out, a
 * branch inside the function by the index of the instruction it reaches,
 * calls and branches out of it as "external", rip-relative displacements
 * as "some address". */
#include <capstone/capstone.h>
#include <stdio.h>
#include "common/common.h"
#include "arch/x86_64/arch.h"

struct stream {
	cs_insn *insn;
	size_t n;
	uint64_t lo, hi;
};

static int is_padding(const cs_insn *in)
{
	return in->id == X86_INS_NOP || in->id == X86_INS_INT3;
}

/* The position of the instruction at addr among those that are not padding. */
static long index_at(const struct stream *s, uint64_t addr)
{
	long k = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (s->insn[i].address == addr)
			return k;
		k += !is_padding(&s->insn[i]);
	}
	return -1;
}

/* The instruction as text that does not depend on its encoding or place. */
static void token(csh cs, const struct stream *s, size_t i, char *out, size_t sz)
{
	const cs_insn *in = &s->insn[i];
	const cs_x86 *x = &in->detail->x86;
	const char *rip;

	if ((cs_insn_group(cs, in, CS_GRP_JUMP) || cs_insn_group(cs, in, CS_GRP_CALL)) &&
	    x->op_count == 1 && x->operands[0].type == X86_OP_IMM) {
		uint64_t t = (uint64_t)x->operands[0].imm;
		uint64_t next = in->address + in->size;

		/* An object's unrelocated call or tail jump points at the next
		 * instruction; the binary's at the PLT or another function. */
		if (cs_insn_group(cs, in, CS_GRP_CALL) || t < s->lo || t >= s->hi || t == next)
			snprintf(out, sz, "%s ext", in->mnemonic);
		else
			snprintf(out, sz, "%s @%ld", in->mnemonic, index_at(s, t));
		return;
	}
	rip = strstr(in->op_str, "rip");
	if (rip) {
		/* "[rip + 0x1234]" -> "[rip + X]" */
		size_t k = (size_t)(rip - in->op_str) + 3;
		const char *end = in->op_str + k;

		while (*end && *end != ']')
			end++;
		snprintf(out, sz, "%s %.*s X%s", in->mnemonic, (int)k, in->op_str, end);
		return;
	}
	snprintf(out, sz, "%s %s", in->mnemonic, in->op_str);
}

static int decode(csh cs, const uint8_t *code, size_t len, uint64_t addr, struct stream *s)
{
	cs_insn *all = NULL;
	size_t n = cs_disasm(cs, code, len, addr, 0, &all);

	s->lo = addr;
	s->hi = addr + len;
	s->insn = all;
	s->n = n;
	return n ? 0 : -EINVAL;
}

int hp_arch__same_code(const uint8_t *a, size_t alen, uint64_t aaddr, const uint8_t *b,
		       size_t blen, uint64_t baddr)
{
	struct stream sa = { 0 }, sb = { 0 };
	size_t i = 0, k = 0;
	int same = 1;
	csh cs;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return -ENOMEM;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	if (decode(cs, a, alen, aaddr, &sa) < 0 || decode(cs, b, blen, baddr, &sb) < 0) {
		same = 0;
		goto out;
	}
	for (;;) {
		char ta[256], tb[256];

		while (i < sa.n && is_padding(&sa.insn[i]))
			i++;
		while (k < sb.n && is_padding(&sb.insn[k]))
			k++;
		if (i == sa.n || k == sb.n) {
			same = i == sa.n && k == sb.n;
			break;
		}
		token(cs, &sa, i, ta, sizeof(ta));
		token(cs, &sb, k, tb, sizeof(tb));
		if (strcmp(ta, tb)) {
			same = 0;
			break;
		}
		i++;
		k++;
	}
out:
	if (sa.insn)
		cs_free(sa.insn, sa.n);
	if (sb.insn)
		cs_free(sb.insn, sb.n);
	cs_close(&cs);
	return same;
}
