/* Version 1 of lib_compute() of tests/victims/shlib/libvictim.c (3x+7);
 * keeps counting in the library's static lib_calls. */
extern unsigned long lib_calls;	/* static in libvictim.c */

long lib_compute(long x)
{
	__atomic_add_fetch(&lib_calls, 1, __ATOMIC_RELAXED);
	return x * 3 + 7;
}
