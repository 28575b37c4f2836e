/* A one-thread target for the apply-time, many-process and tool-memory
 * benchmarks: its only thread calls work() (the function bench/work-fix.c
 * replaces) and sleeps SLEEP_US microseconds, for ever.  It checks every
 * answer and exits 1 on a wrong one.
 *
 * usage: one SLEEP_US */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) uint64_t work(uint64_t x)
{
	uint64_t h = x * 0x9e3779b97f4a7c15ull;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

static uint64_t expected(uint64_t x)
{
	uint64_t h = x * 0x9e3779b97f4a7c15ull;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

int main(int argc, char **argv)
{
	long us = argc > 1 ? atol(argv[1]) : 1000;
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	for (uint64_t x = 0;; x++) {
		if (work(x) != expected(x))
			return 1;
		nanosleep(&ts, NULL);
	}
}
