/* Level-1 fix for tests/victims/victim.c: compute() and compute_slow()
 * answer 3x+7.  No references outside this file; compute_slow() no longer
 * sleeps.  The tests compile it with -O2 and with -O0. */
long compute(long x)
{
	return x * 3 + 7;
}

long compute_slow(long x, unsigned ms)
{
	(void)ms;
	return x * 3 + 7;
}
