/* Level-1 fix for tests/victims/forker.c: both functions answer 3x+7. */
long compute_a(long x)
{
	return x * 3 + 7;
}

long compute_b(long x)
{
	return x * 3 + 7;
}
