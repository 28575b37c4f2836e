/* Like v1.c, but compute_slow() keeps sleeping inside, a hundred times as
 * long as asked, through the victim's static helper nap(): a thread can be
 * caught inside the new code (or returning into it), which revert must
 * respect. */
extern void nap(unsigned ms);	/* static in victim.c */

long compute(long x)
{
	return x * 3 + 7;
}

long compute_slow(long x, unsigned ms)
{
	if (ms)
		nap(ms * 100);
	return x * 3 + 7;
}
