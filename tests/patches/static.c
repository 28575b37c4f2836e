/* A patch of tag() that reaches into the victim: its file-static variable
 * `counter`, its static helper scramble(), and libc (snprintf, strlen).
 * tag() then answers "t1:<x>:<scramble(x)>"; counter must go on counting
 * from where it was, in the victim's own variable. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

extern unsigned long counter;			/* static in victim.c */
extern unsigned long scramble(unsigned long x);	/* static in victim.c */

int tag(long x, char *buf, size_t n)
{
	__atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
	snprintf(buf, n, "t1:%ld:%lu", x, scramble((unsigned long)x));
	return (int)strlen(buf);
}
