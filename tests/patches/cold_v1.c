/* Version 1 of compute_cold() (3x+7), which no longer sleeps. */
long compute_cold(long x, unsigned ms)
{
	(void)ms;
	return x * 3 + 7;
}
