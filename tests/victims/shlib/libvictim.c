/* libvictim.so — a shared library the victim dlopen()s (victim --lib), so
 * that the tests patch a function of a library rather than of the
 * executable.  Not built by `make victims` (it is in a subdirectory): the
 * tests build it in their temporary directory with
 *     gcc -O2 -g -fPIC -shared -o libvictim.so libvictim.c
 * lib_compute(x) answers 2x+1 (version 0 of the victim's formulas) and counts
 * its calls in a file-static variable. */
static unsigned long lib_calls;

__attribute__((noinline, noclone, noipa)) static long lib_twice(long x)
{
	return x * 2;
}

__attribute__((noinline, noclone, noipa)) long lib_compute(long x)
{
	__atomic_add_fetch(&lib_calls, 1, __ATOMIC_RELAXED);
	return lib_twice(x) + 1;
}

unsigned long lib_call_count(void)
{
	return __atomic_load_n(&lib_calls, __ATOMIC_RELAXED);
}
