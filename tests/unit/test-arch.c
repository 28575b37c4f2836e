/* Unit test of lib/arch/x86_64: the endbr64 skip, the jmp rel32 and stub
 * encodings, and the redirect check over hand-assembled machine code (every
 * instruction written out as bytes with its disassembly beside it).  Needs
 * no root and no live process. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/common.h"
#include "arch/x86_64/arch.h"
#include "harness.h"

/* An arbitrary, page-aligned function address; branch targets below are
 * written relative to it, as the decoder computes them. */
#define ADDR 0x555555561000ull

static int64_t le32(const uint8_t *b)
{
	int32_t d;

	memcpy(&d, b, 4);
	return d;
}

/* ---- hp_arch__entry_skip ---------------------------------------------- */

static void test_entry_skip(void)
{
	static const uint8_t with_endbr[] = {
		0xf3, 0x0f, 0x1e, 0xfa,		/* endbr64 */
		0x31, 0xc0,			/* xor %eax,%eax */
		0xc3,				/* ret */
	};
	static const uint8_t without[] = {
		0x55,				/* push %rbp */
		0x48, 0x89, 0xe5,		/* mov %rsp,%rbp */
		0x5d,				/* pop %rbp */
		0xc3,				/* ret */
	};
	static const uint8_t endbr32[] = {
		0xf3, 0x0f, 0x1e, 0xfb,		/* endbr32: not the 64-bit landing pad */
		0xc3,				/* ret */
	};

	CHECK_EQ_INT(hp_arch__entry_skip(with_endbr, sizeof(with_endbr)), 4);
	CHECK_EQ_INT(hp_arch__entry_skip(with_endbr, 4), 4);	/* exactly the endbr64 */
	CHECK_EQ_INT(hp_arch__entry_skip(with_endbr, 3), 0);	/* short buffer */
	CHECK_EQ_INT(hp_arch__entry_skip(with_endbr, 1), 0);
	CHECK_EQ_INT(hp_arch__entry_skip(with_endbr, 0), 0);
	CHECK_EQ_INT(hp_arch__entry_skip(without, sizeof(without)), 0);
	CHECK_EQ_INT(hp_arch__entry_skip(endbr32, sizeof(endbr32)), 0);
	/* endbr64 later in the function is not an entry landing pad. */
	{
		static const uint8_t later[] = {
			0x90,				/* nop */
			0xf3, 0x0f, 0x1e, 0xfa,		/* endbr64 */
			0xc3,				/* ret */
		};
		CHECK_EQ_INT(hp_arch__entry_skip(later, sizeof(later)), 0);
	}
}

/* ---- hp_arch__encode_jmp / hp_arch__decode_jmp ------------------------- */

static void jmp_round_trip(uint64_t from, uint64_t to)
{
	uint8_t b[HP_JMP_LEN + 1];
	uint64_t back = 0;

	memset(b, 0xaa, sizeof(b));
	CHECK_EQ_INT(hp_arch__encode_jmp(from, to, b), 0);
	CHECK_EQ_INT(b[0], 0xe9);
	/* rel32 counts from the end of the 5-byte instruction */
	CHECK_EQ_INT(le32(b + 1), (int64_t)(to - (from + 5)));
	CHECK_EQ_INT(b[HP_JMP_LEN], 0xaa);	/* writes exactly 5 bytes */
	CHECK_EQ_INT(hp_arch__decode_jmp(b, from, &back), 0);
	CHECK(back == to);
}

static void test_jmp(void)
{
	uint8_t b[HP_JMP_LEN];
	uint64_t to = 0;

	CHECK_EQ_INT(HP_JMP_LEN, 5);
	/* forward and backward */
	jmp_round_trip(ADDR, ADDR + 0x1000);
	jmp_round_trip(ADDR + 0x1000, ADDR);
	jmp_round_trip(ADDR, ADDR + 5);		/* rel32 0: jump to the next byte */
	jmp_round_trip(ADDR, ADDR);		/* jump to itself: rel32 -5 */
	/* a patch mapped ~2 GiB away, at the exact limits of rel32 */
	jmp_round_trip(ADDR, ADDR + 5 + INT32_MAX);
	jmp_round_trip(ADDR, ADDR + 5 + (uint64_t)(int64_t)INT32_MIN);
	jmp_round_trip(0x7fff0000, 0x10);	/* low addresses */

	/* one byte beyond, either way, and far away */
	CHECK_EQ_INT(hp_arch__encode_jmp(ADDR, ADDR + 5 + (uint64_t)INT32_MAX + 1, b), -ERANGE);
	CHECK_EQ_INT(hp_arch__encode_jmp(ADDR, ADDR + 5 + (uint64_t)((int64_t)INT32_MIN - 1), b),
		     -ERANGE);
	CHECK_EQ_INT(hp_arch__encode_jmp(ADDR, ADDR + (3ull << 30), b), -ERANGE);
	CHECK_EQ_INT(hp_arch__encode_jmp(ADDR, ADDR - (3ull << 30), b), -ERANGE);
	CHECK_EQ_INT(hp_arch__encode_jmp(0x400000, 0x7f0000001000ull, b), -ERANGE);
	CHECK_EQ_INT(hp_arch__encode_jmp(0x7f0000001000ull, 0x400000, b), -ERANGE);

	/* decode refuses anything but e9 */
	{
		static const uint8_t short_jmp[] = { 0xeb, 0x05, 0, 0, 0 };	/* jmp .+7 */
		static const uint8_t call[] = { 0xe8, 0x00, 0x10, 0, 0 };	/* call .+0x1005 */
		static const uint8_t back[] = { 0xe9, 0xfb, 0xff, 0xff, 0xff };	/* jmp . */

		to = 1234;
		CHECK_EQ_INT(hp_arch__decode_jmp(short_jmp, ADDR, &to), -EINVAL);
		CHECK_EQ_INT(hp_arch__decode_jmp(call, ADDR, &to), -EINVAL);
		CHECK_EQ_INT(to, 1234);
		CHECK_EQ_INT(hp_arch__decode_jmp(back, ADDR, &to), 0);
		CHECK(to == ADDR);
	}
}

/* ---- hp_arch__encode_stub ---------------------------------------------- */

static void test_stub(void)
{
	uint8_t b[HP_STUB_LEN + 1];
	uint64_t at = ADDR + 0x40;

	memset(b, 0xaa, sizeof(b));
	/* slot after the stub */
	CHECK_EQ_INT(hp_arch__encode_stub(at, at + 0x2000, b), 0);
	CHECK_EQ_INT(b[0], 0xff);	/* jmp *rel32(%rip) */
	CHECK_EQ_INT(b[1], 0x25);
	CHECK_EQ_INT(le32(b + 2), 0x2000 - 6);	/* relative to at + 6 */
	CHECK_EQ_INT(b[6], 0xcc);	/* padding to 8, int3 */
	CHECK_EQ_INT(b[7], 0xcc);
	CHECK_EQ_INT(b[HP_STUB_LEN], 0xaa);
	/* slot before the stub */
	CHECK_EQ_INT(hp_arch__encode_stub(at, at - 0x18, b), 0);
	CHECK_EQ_INT(le32(b + 2), -0x18 - 6);
	/* slot right behind the 6-byte instruction */
	CHECK_EQ_INT(hp_arch__encode_stub(at, at + 6, b), 0);
	CHECK_EQ_INT(le32(b + 2), 0);
	/* limits */
	CHECK_EQ_INT(hp_arch__encode_stub(at, at + 6 + INT32_MAX, b), 0);
	CHECK_EQ_INT(le32(b + 2), INT32_MAX);
	CHECK_EQ_INT(hp_arch__encode_stub(at, at + 6 + (uint64_t)(int64_t)INT32_MIN, b), 0);
	CHECK_EQ_INT(le32(b + 2), INT32_MIN);
	CHECK_EQ_INT(hp_arch__encode_stub(at, at + 6 + (uint64_t)INT32_MAX + 1, b), -ERANGE);
	CHECK_EQ_INT(hp_arch__encode_stub(at, at + 6 + (uint64_t)((int64_t)INT32_MIN - 1), b), -ERANGE);
	CHECK_EQ_INT(hp_arch__encode_stub(at, at + (1ull << 40), b), -ERANGE);
}

/* ---- hp_arch__check_redirect ------------------------------------------- */

static int redirect(const uint8_t *code, size_t size)
{
	hp_err_clear();
	return hp_arch__check_redirect("fn", code, size, ADDR, hp_arch__entry_skip(code, size));
}

static void test_too_short(void)
{
	static const uint8_t four[] = {
		0x31, 0xc0,			/* xor %eax,%eax */
		0xff, 0xc0,			/* inc %eax */
	};
	static const uint8_t five[] = {
		0x31, 0xc0,			/* xor %eax,%eax */
		0xff, 0xc0,			/* inc %eax */
		0xc3,				/* ret */
	};
	static const uint8_t ret_only[] = {
		0xc3,				/* ret */
	};
	static const uint8_t endbr_eight[] = {
		0xf3, 0x0f, 0x1e, 0xfa,		/* endbr64 */
		0x31, 0xc0,			/* xor %eax,%eax */
		0xc3,				/* ret */
		0xcc,				/* int3 */
	};
	static const uint8_t endbr_nine[] = {
		0xf3, 0x0f, 0x1e, 0xfa,		/* endbr64 */
		0x31, 0xc0,			/* xor %eax,%eax */
		0xff, 0xc0,			/* inc %eax */
		0xc3,				/* ret */
	};

	CHECK_EQ_INT(redirect(ret_only, sizeof(ret_only)), -HP_E_TOO_SHORT);
	CHECK(strstr(hp_errmsg(), "fn") != NULL);
	CHECK_EQ_INT(redirect(four, sizeof(four)), -HP_E_TOO_SHORT);
	CHECK(strstr(hp_errmsg(), "fn is 4 bytes") != NULL);
	CHECK(strstr(hp_errmsg(), "endbr64") == NULL);
	CHECK_EQ_INT(redirect(five, sizeof(five)), 0);
	CHECK_EQ_INT(redirect(endbr_eight, sizeof(endbr_eight)), -HP_E_TOO_SHORT);
	CHECK(strstr(hp_errmsg(), "after its endbr64") != NULL);
	CHECK(strstr(hp_errmsg(), "9-byte") != NULL);
	CHECK_EQ_INT(redirect(endbr_nine, sizeof(endbr_nine)), 0);
	/* size 0 */
	CHECK_EQ_INT(redirect(five, 0), -HP_E_TOO_SHORT);
	/* hp_strerror names the code */
	CHECK(strstr(hp_strerror(-HP_E_TOO_SHORT), "short") != NULL);
}

static void test_normal_function(void)
{
	static const uint8_t fn[] = {
		0x55,				/* push %rbp */
		0x48, 0x89, 0xe5,		/* mov %rsp,%rbp */
		0x89, 0x7d, 0xfc,		/* mov %edi,-0x4(%rbp) */
		0x8b, 0x45, 0xfc,		/* mov -0x4(%rbp),%eax */
		0x83, 0xc0, 0x01,		/* add $0x1,%eax */
		0x5d,				/* pop %rbp */
		0xc3,				/* ret */
	};
	/* gcc -O2 -fcf-protection shape: early-out branch forward past the
	 * jump, a call, a tail jump, and padding after the ret. */
	static const uint8_t cet_fn[] = {
		0xf3, 0x0f, 0x1e, 0xfa,		/*  0: endbr64 */
		0x85, 0xff,			/*  4: test %edi,%edi */
		0x74, 0x0e,			/*  6: je 0x16 */
		0x48, 0x83, 0xec, 0x08,		/*  8: sub $0x8,%rsp */
		0xe8, 0xef, 0x0f, 0x00, 0x00,	/*  c: call +0x1000 */
		0x48, 0x83, 0xc4, 0x08,		/* 11: add $0x8,%rsp */
		0xc3,				/* 15: ret */
		0x31, 0xc0,			/* 16: xor %eax,%eax */
		0xc3,				/* 18: ret */
		0x66, 0x90,			/* 19: xchg %ax,%ax (padding) */
		0xe9, 0x00, 0x00, 0x00, 0x00,	/* 1b: jmp 0x20 (tail jump outside) */
	};

	CHECK_EQ_INT(redirect(fn, sizeof(fn)), 0);
	CHECK(hp_errmsg()[0] == 0);
	CHECK_EQ_INT(redirect(cet_fn, sizeof(cet_fn)), 0);
	CHECK(hp_errmsg()[0] == 0);
}

static void test_branch_into(void)
{
	/* a backward jcc rel8 into byte 2 of the jump */
	static const uint8_t jl_back[] = {
		0x31, 0xc0,			/* 0: xor %eax,%eax */
		0xff, 0xc0,			/* 2: inc %eax          <- target */
		0x83, 0xf8, 0x0a,		/* 4: cmp $0xa,%eax */
		0x7c, 0xf9,			/* 7: jl 2 */
		0xc3,				/* 9: ret */
	};
	/* a forward short jmp from the entry into byte 4 */
	static const uint8_t jmp_fwd[] = {
		0xeb, 0x02,			/* 0: jmp 4 */
		0x90,				/* 2: nop */
		0x90,				/* 3: nop */
		0x31, 0xc0,			/* 4: xor %eax,%eax     <- target */
		0xc3,				/* 6: ret */
	};
	/* a jcc rel32 (0f 85) back into byte 2 */
	static const uint8_t jne_near[] = {
		0x89, 0xf8,			/* 0: mov %edi,%eax */
		0xff, 0xc8,			/* 2: dec %eax          <- target */
		0x85, 0xc0,			/* 4: test %eax,%eax */
		0x0f, 0x85, 0xf6, 0xff, 0xff, 0xff, /* 6: jne 2 */
		0xc3,				/* c: ret */
	};
	/* with endbr64 the jump covers 4..8; a loop back to 6 */
	static const uint8_t endbr_jl[] = {
		0xf3, 0x0f, 0x1e, 0xfa,		/* 0: endbr64 */
		0x31, 0xc0,			/* 4: xor %eax,%eax */
		0xff, 0xc0,			/* 6: inc %eax          <- target */
		0x83, 0xf8, 0x0a,		/* 8: cmp $0xa,%eax */
		0x7c, 0xf9,			/* b: jl 6 */
		0xc3,				/* d: ret */
	};
	/* a direct call into byte 1 (a recursion that skips a prefix) */
	static const uint8_t call_into[] = {
		0x90,				/* 0: nop */
		0x31, 0xc0,			/* 1: xor %eax,%eax     <- target */
		0x90,				/* 3: nop */
		0x90,				/* 4: nop */
		0x90,				/* 5: nop */
		0xe8, 0xf6, 0xff, 0xff, 0xff,	/* 6: call 1 */
		0xc3,				/* b: ret */
	};
	/* loop (e2 rel8) is a conditional branch too */
	static const uint8_t loop_into[] = {
		0x31, 0xc0,			/* 0: xor %eax,%eax */
		0xff, 0xc0,			/* 2: inc %eax          <- target */
		0x90,				/* 4: nop */
		0xe2, 0xfb,			/* 5: loop 2 */
		0xc3,				/* 7: ret */
	};
	static const uint8_t loopne_into[] = {
		0x31, 0xc0,			/* 0: xor %eax,%eax */
		0xff, 0xc0,			/* 2: inc %eax */
		0x90,				/* 4: nop */
		0xe0, 0xfa,			/* 5: loopne 1 (mid-instruction) */
		0xc3,				/* 7: ret */
	};
	static const uint8_t jrcxz_into[] = {
		0x31, 0xc0,			/* 0: xor %eax,%eax */
		0xff, 0xc0,			/* 2: inc %eax */
		0x48, 0xff, 0xc9,		/* 4: dec %rcx */
		0xe3, 0xfa,			/* 7: jrcxz 3 */
		0xc3,				/* 9: ret */
	};
	/* an RTM abort handler inside the jump */
	static const uint8_t xbegin_into[] = {
		0x31, 0xc0,			/* 0: xor %eax,%eax */
		0xff, 0xc0,			/* 2: inc %eax          <- abort target */
		0x90,				/* 4: nop */
		0xc7, 0xf8, 0xf8, 0xff, 0xff, 0xff, /* 5: xbegin 2 */
		0x0f, 0x01, 0xd5,		/* b: xend */
		0xc3,				/* e: ret */
	};

	CHECK_EQ_INT(redirect(jl_back, sizeof(jl_back)), -HP_E_BRANCH_INTO);
	CHECK(strstr(hp_errmsg(), "fn: 'jl ") != NULL);
	CHECK(strstr(hp_errmsg(), "+0x7") != NULL);
	CHECK(strstr(hp_errmsg(), "+0x2") != NULL);

	CHECK_EQ_INT(redirect(jmp_fwd, sizeof(jmp_fwd)), -HP_E_BRANCH_INTO);
	CHECK(strstr(hp_errmsg(), "'jmp ") != NULL);
	CHECK(strstr(hp_errmsg(), "+0x4") != NULL);

	CHECK_EQ_INT(redirect(jne_near, sizeof(jne_near)), -HP_E_BRANCH_INTO);
	CHECK(strstr(hp_errmsg(), "'jne ") != NULL);

	CHECK_EQ_INT(redirect(endbr_jl, sizeof(endbr_jl)), -HP_E_BRANCH_INTO);
	CHECK(strstr(hp_errmsg(), "'jl ") != NULL);
	CHECK(strstr(hp_errmsg(), "+0xb") != NULL);
	CHECK(strstr(hp_errmsg(), "+0x6") != NULL);

	CHECK_EQ_INT(redirect(call_into, sizeof(call_into)), -HP_E_BRANCH_INTO);
	CHECK(strstr(hp_errmsg(), "'call ") != NULL);

	CHECK_EQ_INT(redirect(loop_into, sizeof(loop_into)), -HP_E_BRANCH_INTO);
	CHECK(strstr(hp_errmsg(), "'loop ") != NULL);
	CHECK_EQ_INT(redirect(loopne_into, sizeof(loopne_into)), -HP_E_BRANCH_INTO);
	CHECK(strstr(hp_errmsg(), "'loopne ") != NULL);
	CHECK_EQ_INT(redirect(jrcxz_into, sizeof(jrcxz_into)), -HP_E_BRANCH_INTO);
	CHECK(strstr(hp_errmsg(), "'jrcxz ") != NULL);
	CHECK_EQ_INT(redirect(xbegin_into, sizeof(xbegin_into)), -HP_E_BRANCH_INTO);
	CHECK(strstr(hp_errmsg(), "'xbegin ") != NULL);

	CHECK(strstr(hp_strerror(-HP_E_BRANCH_INTO), "branch") != NULL);
}

static void test_loop_to_entry(void)
{
	/* back to exactly entry + skip, with endbr64: lands on the jump itself */
	static const uint8_t endbr_loop[] = {
		0xf3, 0x0f, 0x1e, 0xfa,		/* 0: endbr64 */
		0xff, 0xcf,			/* 4: dec %edi          <- target */
		0x85, 0xff,			/* 6: test %edi,%edi */
		0x75, 0xfa,			/* 8: jne 4 */
		0x31, 0xc0,			/* a: xor %eax,%eax */
		0xc3,				/* c: ret */
	};
	/* back to the entry (skip 0) */
	static const uint8_t loop[] = {
		0xff, 0xcf,			/* 0: dec %edi          <- target */
		0x85, 0xff,			/* 2: test %edi,%edi */
		0x75, 0xfa,			/* 4: jne 0 */
		0x31, 0xc0,			/* 6: xor %eax,%eax */
		0xc3,				/* 8: ret */
	};
	/* with endbr64, back to the endbr64 itself (a recursive tail call) */
	static const uint8_t endbr_to_entry[] = {
		0xf3, 0x0f, 0x1e, 0xfa,		/* 0: endbr64           <- target */
		0xff, 0xcf,			/* 4: dec %edi */
		0x85, 0xff,			/* 6: test %edi,%edi */
		0x75, 0xf6,			/* 8: jne 0 */
		0xc3,				/* a: ret */
	};
	/* to the first byte after the jump */
	static const uint8_t after[] = {
		0x31, 0xc0,			/* 0: xor %eax,%eax */
		0x31, 0xd2,			/* 2: xor %edx,%edx */
		0x90,				/* 4: nop */
		0xff, 0xc0,			/* 5: inc %eax          <- target */
		0x83, 0xf8, 0x0a,		/* 7: cmp $0xa,%eax */
		0x7c, 0xf9,			/* a: jl 5 */
		0xc3,				/* c: ret */
	};

	CHECK_EQ_INT(redirect(endbr_loop, sizeof(endbr_loop)), 0);
	CHECK_EQ_INT(redirect(loop, sizeof(loop)), 0);
	CHECK_EQ_INT(redirect(endbr_to_entry, sizeof(endbr_to_entry)), 0);
	CHECK_EQ_INT(redirect(after, sizeof(after)), 0);
}

/* Every target offset 0..10 of a short jmp placed after a nop sled: only
 * the bytes the jump overwrites (except its first) are refused. */
static void test_every_target(void)
{
	for (int endbr = 0; endbr <= 1; endbr++) {
		size_t skip = endbr ? 4 : 0;

		for (int t = 0; t <= 10; t++) {
			uint8_t fn[32];
			size_t at = 16;
			int want, r;

			memset(fn, 0x90, sizeof(fn));		/* nop sled */
			if (endbr)
				memcpy(fn, "\xf3\x0f\x1e\xfa", 4);	/* endbr64 */
			fn[at] = 0xeb;				/* jmp t */
			fn[at + 1] = (uint8_t)(int8_t)(t - (int)(at + 2));
			fn[at + 2] = 0xc3;			/* ret */
			if (t > (int)skip && t < (int)skip + HP_JMP_LEN)
				want = -HP_E_BRANCH_INTO;
			else if (endbr && t > 0 && t < 4)
				continue;	/* into the endbr64: never generated, not asserted */
			else
				want = 0;
			r = redirect(fn, at + 3);
			if (r != want)
				printf("  endbr %d target +%d: %d, expected %d (%s)\n", endbr, t, r,
				       want, hp_errmsg());
			CHECK_EQ_INT(r, want);
			if (want)
				CHECK(strstr(hp_errmsg(), "'jmp ") != NULL);
		}
	}
}

/* Undecodable bytes (data in .text, a truncated instruction at the end) are
 * stepped over; a branch after them is still seen. */
static void test_undecodable(void)
{
	static const uint8_t fn[] = {
		0x31, 0xc0,			/* 0: xor %eax,%eax     <- target */
		0xff, 0xc0,			/* 2: inc %eax */
		0x90,				/* 4: nop */
		0x06,				/* 5: (invalid in 64-bit mode: push %es) */
		0x0f, 0x0b,			/* 6: ud2 */
		0x7c, 0xf8,			/* 8: jl 2 */
		0x0f, 0x85, 0x00,		/* a: truncated jne rel32 */
	};

	CHECK_EQ_INT(redirect(fn, sizeof(fn)), -HP_E_BRANCH_INTO);
	CHECK(strstr(hp_errmsg(), "'jl ") != NULL);
	CHECK_EQ_INT(redirect(fn, 8), 0);	/* without the jl */
}

/* Two encodings of one function: a short and a near je (the assembler
 * relaxes differently with -ffunction-sections), padding, a call whose
 * target is unrelocated in the object; and real differences. */
static void test_same_code(void)
{
	static const uint8_t shortj[] = { 0x74, 0x06, 0xe8, 0, 0, 0, 0, 0x90, 0xb8, 1, 0, 0, 0, 0xc3 };
	static const uint8_t nearj[] = { 0x0f, 0x84, 0x05, 0, 0, 0, 0xe8, 0x10, 0x20, 0, 0,
					 0xb8, 1, 0, 0, 0, 0xc3 };
	static const uint8_t other[] = { 0x0f, 0x84, 0x05, 0, 0, 0, 0xe8, 0x10, 0x20, 0, 0,
					 0xb8, 2, 0, 0, 0, 0xc3 };
	static const uint8_t elsewhere[] = { 0x0f, 0x84, 0x00, 0, 0, 0, 0xe8, 0x10, 0x20, 0, 0,
					     0xb8, 1, 0, 0, 0, 0xc3 };

	CHECK_EQ_INT(hp_arch__same_code(shortj, sizeof(shortj), 0, nearj, sizeof(nearj), 0x401000), 1);
	CHECK_EQ_INT(hp_arch__same_code(shortj, sizeof(shortj), 0, other, sizeof(other), 0x401000), 0);
	CHECK_EQ_INT(hp_arch__same_code(shortj, sizeof(shortj), 0, elsewhere, sizeof(elsewhere), 0x401000), 0);
	CHECK_EQ_INT(hp_arch__same_code(shortj, sizeof(shortj), 0, shortj, sizeof(shortj) - 1, 0), 0);
}

int main(void)
{
	RUN(test_entry_skip);
	RUN(test_jmp);
	RUN(test_stub);
	RUN(test_too_short);
	RUN(test_normal_function);
	RUN(test_branch_into);
	RUN(test_loop_to_entry);
	RUN(test_every_target);
	RUN(test_undecodable);
	RUN(test_same_code);
	TEST_EXIT();
}
