/* The soak's patch: answer() of tests/victims/soakd.c, version 2.  `served`
 * (file-static) and mix() are the running server's; hotpatch pack resolves
 * them in its symbol table. */
#include <stdio.h>

extern unsigned long served;
unsigned long mix(unsigned long x);

int answer(unsigned long x, char *buf, size_t len)
{
	__atomic_fetch_add(&served, 1, __ATOMIC_RELAXED);
	return snprintf(buf, len, "%lu v2 %lu\n", x, mix(x) ^ (x << 7));
}
