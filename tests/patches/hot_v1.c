/* Level-1 fix of compute_hot() in tests/victims/victim.c: answers 3x+7.
 * Like the original it bumps the victim's static hot_hits and calls its
 * static hot_double(): the patch reaches both through the victim's own
 * symbols. */
extern unsigned long hot_hits;
long hot_double(long x);

long compute_hot(long x)
{
	__atomic_add_fetch(&hot_hits, 1, __ATOMIC_SEQ_CST);
	return hot_double(x) + x + 7;
}
