/* The benchmark's patch: the same function, compiled apart (same answers). */
#include <stdint.h>

uint64_t work(uint64_t x)
{
	uint64_t h = x * 0x9e3779b97f4a7c15ull;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}
