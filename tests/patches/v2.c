/* Level-2 fix for tests/victims/victim.c (packed with --level 2 on top of
 * v1.c): compute() and compute_slow() answer 5x+11. */
long compute(long x)
{
	return x * 5 + 11;
}

long compute_slow(long x, unsigned ms)
{
	(void)ms;
	return x * 5 + 11;
}
