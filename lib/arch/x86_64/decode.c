/* Instruction decoding (capstone) for the redirect checks. */
#include <capstone/capstone.h>
#include "common/common.h"
#include "arch/x86_64/arch.h"

static int is_direct_branch(csh cs, const cs_insn *insn, uint64_t *ret_target)
{
	const cs_x86 *x = &insn->detail->x86;

	/* loop/loope/loopne are only in BRANCH_RELATIVE (capstone 4), not JUMP */
	if (!cs_insn_group(cs, insn, CS_GRP_JUMP) && !cs_insn_group(cs, insn, CS_GRP_CALL) &&
	    !cs_insn_group(cs, insn, CS_GRP_BRANCH_RELATIVE))
		return 0;
	if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
		return 0;
	*ret_target = (uint64_t)x->operands[0].imm;
	return 1;
}

int hp_arch__check_redirect(const char *name, const uint8_t *code, size_t size, uint64_t addr,
			    size_t skip)
{
	uint64_t lo = addr + skip, hi = addr + skip + HP_JMP_LEN;
	csh cs;
	cs_insn *insn;
	const uint8_t *p = code;
	size_t left = size;
	uint64_t pc = addr;
	int r = 0;

	if (size < skip + HP_JMP_LEN)
		return hp_err(-HP_E_TOO_SHORT, "%s is %zu bytes, shorter than the %zu-byte jump%s",
			      name, size, skip + HP_JMP_LEN, skip ? " after its endbr64" : "");
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return -ENOMEM;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	insn = cs_malloc(cs);
	if (!insn) {
		cs_close(&cs);
		return -ENOMEM;
	}
	while (left > 0) {
		uint64_t target;

		if (!cs_disasm_iter(cs, &p, &left, &pc, insn)) {
			/* Undecodable byte (padding or data): skip it. */
			p++;
			left--;
			pc++;
			continue;
		}
		/* A branch to exactly lo lands on our jump, which is fine; one
		 * into its tail would execute half an instruction. */
		if (is_direct_branch(cs, insn, &target) && target > addr && target < hi && target != lo) {
			r = hp_err(-HP_E_BRANCH_INTO,
				   "%s: '%s %s' at +0x%lx branches to +0x%lx, inside the %d bytes the jump overwrites",
				   name, insn->mnemonic, insn->op_str, (unsigned long)(insn->address - addr),
				   (unsigned long)(target - addr), HP_JMP_LEN);
			break;
		}
	}
	cs_free(insn, 1);
	cs_close(&cs);
	return r;
}
