/* Signal frames on a stack.  A thread running a signal handler has the
 * context it interrupted saved in a frame the kernel pushed (struct
 * rt_sigframe: the restorer's address, then a ucontext whose sigcontext
 * holds the interrupted registers).  That frame may sit on an alternate
 * signal stack, the interrupted frames on the thread's own: a check that
 * reads one stack only must notice such a frame and defer to the
 * unwinder, which follows it to the other stack. */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include "arch/x86_64/arch.h"

/* The sigcontext keeps cs, gs, fs and ss as four 16-bit fields in one
 * 64-bit word (asm/sigcontext.h): cs is __USER_CS (0x33) in a 64-bit
 * process, and since Linux 4.6 ss is saved too, as __USER_DS (0x2b).
 * gs and fs are not looked at: 64-bit code leaves them 0, but nothing
 * stops a program from loading them.  Ordinary stack words of this shape
 * are rare, and one only costs the full unwinding.  Before 4.6 the ss
 * field is 0 and the word is just 0x33 -- a common small number (the
 * auxiliary vector's AT_MINSIGSTKSZ key, for one), accepted only there. */
#define USER_CS 0x33
#define USER_DS 0x2b

static int kernel_saves_ss(void)
{
	static int known = -1;
	struct utsname u;
	unsigned major = 0, minor = 0;

	if (known < 0) {
		known = uname(&u) == 0 && sscanf(u.release, "%u.%u", &major, &minor) == 2 &&
			(major > 4 || (major == 4 && minor >= 6));
	}
	return known;
}

int hp_arch__stack_may_hold_sigframe(const uint8_t *stack, size_t len)
{
	int old_kernel = !kernel_saves_ss();

	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t word, ss;

		memcpy(&word, stack + i, 8);
		if ((word & 0xffff) != USER_CS)
			continue;
		ss = word >> 48;
		if (ss == USER_DS || (ss == 0 && old_kernel))
			return 1;
	}
	return 0;
}
