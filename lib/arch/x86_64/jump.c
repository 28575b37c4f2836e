/* Jump and stub encodings. */
#include "common/common.h"
#include "arch/x86_64/arch.h"

static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

size_t hp_arch__entry_skip(const uint8_t *code, size_t len)
{
	return len >= 4 && !memcmp(code, endbr64, 4) ? 4 : 0;
}

static int rel32(uint64_t next, uint64_t to, int32_t *ret)
{
	int64_t d = (int64_t)(to - next);

	if (d < INT32_MIN || d > INT32_MAX)
		return -ERANGE;
	*ret = (int32_t)d;
	return 0;
}

int hp_arch__encode_jmp(uint64_t from, uint64_t to, uint8_t out[HP_JMP_LEN])
{
	int32_t d;

	if (rel32(from + HP_JMP_LEN, to, &d) < 0)
		return -ERANGE;
	out[0] = 0xe9;
	memcpy(out + 1, &d, 4);
	return 0;
}

int hp_arch__decode_jmp(const uint8_t *code, uint64_t at, uint64_t *ret_to)
{
	int32_t d;

	if (code[0] != 0xe9)
		return -EINVAL;
	memcpy(&d, code + 1, 4);
	*ret_to = at + HP_JMP_LEN + (int64_t)d;
	return 0;
}

int hp_arch__encode_stub(uint64_t at, uint64_t got, uint8_t out[HP_STUB_LEN])
{
	int32_t d;

	if (rel32(at + 6, got, &d) < 0)
		return -ERANGE;
	out[0] = 0xff;
	out[1] = 0x25;
	memcpy(out + 2, &d, 4);
	out[6] = 0xcc; /* never reached */
	out[7] = 0xcc;
	return 0;
}
