/* A patch that brings its own data and code: compute() answers 7x+3 through
 * a new initialised global (.data), a new zero-initialised global (.bss) that
 * it writes, a new constant table (.rodata) and a new helper function placed
 * in a section of its own (so that calling it needs a relocation).  None of
 * these exist in the victim: if .data were not loaded or a relocation were
 * wrong, the victim would see an answer matching no version. */
long hp_patch_mul = 7;				/* new global, .data */
unsigned long hp_patch_calls;			/* new global, .bss, written */
static const long hp_patch_three[4] = {3, 3, 3, 3};	/* .rodata */

__attribute__((noinline, section(".text.hp_patch_helper")))
static long hp_patch_add(long v, long x)
{
	return v + hp_patch_three[x & 3];
}

long compute(long x)
{
	__atomic_add_fetch(&hp_patch_calls, 1, __ATOMIC_RELAXED);
	return hp_patch_add(x * hp_patch_mul, x);
}
