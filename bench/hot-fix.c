/* The benchmark's patch of hot() (hot mode of gapvictim.c): the same
 * function compiled apart, reaching the victim's counter and work(). */
#include <stdint.h>

extern uint64_t hot_hits;
uint64_t work(uint64_t x);

uint64_t hot(uint64_t x)
{
	__atomic_add_fetch(&hot_hits, 1, __ATOMIC_SEQ_CST);
	return work(x);
}
