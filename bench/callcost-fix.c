/* The per-call benchmark's patch: f() of bench/callcost.c, the same code
 * compiled apart. */
#include <stdint.h>

uint64_t f(uint64_t x)
{
	uint64_t h = x * 0x9e3779b97f4a7c15ull;

	h ^= h >> 29;
	return h + 1;
}
