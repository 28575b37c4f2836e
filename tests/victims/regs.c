/* A victim for the register-state promise: its main thread keeps values
 * live in ymm0-ymm14 across a loop and checks them all the time, while
 * worker threads call the function a patch replaces.  hotpatch borrows the
 * main thread for its system calls (memfd, mmap, mprotect, close, munmap):
 * if it did not put back every vector register, the check counts it.
 * (A peer corrupts xmm0-6 of the thread it borrows.)
 *
 * usage: regs STATEFILE THREADS
 * STATEFILE gets "ready" and then, every 100 ms, "bad=N checks=N calls=N". */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t pattern[15 * 4] __attribute__((aligned(32)));
static volatile unsigned long calls;

__attribute__((noinline)) int work(int x)
{
	volatile int y = x * 2 + 1;

	return y;
}

static void *worker(void *arg)
{
	for (;;) {
		int r = work(20);

		if (r != 41 && r != 62) /* 2x+1, or 3x+2 from tests/patches/regs_v1.c */
			abort();
		calls++;
	}
	return arg;
}

/* Checks ymm0-ymm14 against the pattern iters times; returns mismatches
 * (each mismatching register is reloaded so one corruption counts once). */
static long check_regs(long iters)
{
	long bad = 0;

	asm volatile(
		"vmovdqu 0(%[p]), %%ymm0\n"
		"vmovdqu 32(%[p]), %%ymm1\n"
		"vmovdqu 64(%[p]), %%ymm2\n"
		"vmovdqu 96(%[p]), %%ymm3\n"
		"vmovdqu 128(%[p]), %%ymm4\n"
		"vmovdqu 160(%[p]), %%ymm5\n"
		"vmovdqu 192(%[p]), %%ymm6\n"
		"vmovdqu 224(%[p]), %%ymm7\n"
		"vmovdqu 256(%[p]), %%ymm8\n"
		"vmovdqu 288(%[p]), %%ymm9\n"
		"vmovdqu 320(%[p]), %%ymm10\n"
		"vmovdqu 352(%[p]), %%ymm11\n"
		"vmovdqu 384(%[p]), %%ymm12\n"
		"vmovdqu 416(%[p]), %%ymm13\n"
		"vmovdqu 448(%[p]), %%ymm14\n"
		"1:\n"
		"vpcmpeqq 0(%[p]), %%ymm0, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 200f\n"
		"inc %[bad]\n"
		"vmovdqu 0(%[p]), %%ymm0\n"
		"200:\n"
		"vpcmpeqq 32(%[p]), %%ymm1, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 201f\n"
		"inc %[bad]\n"
		"vmovdqu 32(%[p]), %%ymm1\n"
		"201:\n"
		"vpcmpeqq 64(%[p]), %%ymm2, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 202f\n"
		"inc %[bad]\n"
		"vmovdqu 64(%[p]), %%ymm2\n"
		"202:\n"
		"vpcmpeqq 96(%[p]), %%ymm3, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 203f\n"
		"inc %[bad]\n"
		"vmovdqu 96(%[p]), %%ymm3\n"
		"203:\n"
		"vpcmpeqq 128(%[p]), %%ymm4, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 204f\n"
		"inc %[bad]\n"
		"vmovdqu 128(%[p]), %%ymm4\n"
		"204:\n"
		"vpcmpeqq 160(%[p]), %%ymm5, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 205f\n"
		"inc %[bad]\n"
		"vmovdqu 160(%[p]), %%ymm5\n"
		"205:\n"
		"vpcmpeqq 192(%[p]), %%ymm6, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 206f\n"
		"inc %[bad]\n"
		"vmovdqu 192(%[p]), %%ymm6\n"
		"206:\n"
		"vpcmpeqq 224(%[p]), %%ymm7, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 207f\n"
		"inc %[bad]\n"
		"vmovdqu 224(%[p]), %%ymm7\n"
		"207:\n"
		"vpcmpeqq 256(%[p]), %%ymm8, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 208f\n"
		"inc %[bad]\n"
		"vmovdqu 256(%[p]), %%ymm8\n"
		"208:\n"
		"vpcmpeqq 288(%[p]), %%ymm9, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 209f\n"
		"inc %[bad]\n"
		"vmovdqu 288(%[p]), %%ymm9\n"
		"209:\n"
		"vpcmpeqq 320(%[p]), %%ymm10, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 210f\n"
		"inc %[bad]\n"
		"vmovdqu 320(%[p]), %%ymm10\n"
		"210:\n"
		"vpcmpeqq 352(%[p]), %%ymm11, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 211f\n"
		"inc %[bad]\n"
		"vmovdqu 352(%[p]), %%ymm11\n"
		"211:\n"
		"vpcmpeqq 384(%[p]), %%ymm12, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 212f\n"
		"inc %[bad]\n"
		"vmovdqu 384(%[p]), %%ymm12\n"
		"212:\n"
		"vpcmpeqq 416(%[p]), %%ymm13, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 213f\n"
		"inc %[bad]\n"
		"vmovdqu 416(%[p]), %%ymm13\n"
		"213:\n"
		"vpcmpeqq 448(%[p]), %%ymm14, %%ymm15\n"
		"vpmovmskb %%ymm15, %%eax\n"
		"cmp $-1, %%eax\n"
		"je 214f\n"
		"inc %[bad]\n"
		"vmovdqu 448(%[p]), %%ymm14\n"
		"214:\n"
		"dec %[n]\n"
		"jnz 1b\n"
		: [bad] "+r"(bad), [n] "+r"(iters)
		: [p] "r"(pattern)
		: "rax", "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
		  "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	return bad;
}

int main(int argc, char **argv)
{
	unsigned long checks = 0, bad = 0;
	struct timespec last, now;
	pthread_t th;
	char tmp[4096];
	int n;

	if (argc != 3)
		return fprintf(stderr, "usage: regs STATEFILE THREADS\n"), 2;
	n = atoi(argv[2]);
	for (int i = 0; i < 15 * 4; i++)
		pattern[i] = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
	for (int i = 0; i < n; i++)
		pthread_create(&th, NULL, worker, NULL);
	clock_gettime(CLOCK_MONOTONIC, &last);
	for (int first = 1;; first = 0) {
		FILE *f;

		bad += (unsigned long)check_regs(200000);
		checks++;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!first && (now.tv_sec - last.tv_sec) * 1000000000L + (now.tv_nsec - last.tv_nsec) < 100000000L)
			continue;
		last = now;
		/* Written aside and renamed: a reader never sees half a line. */
		snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
		f = fopen(tmp, "w");
		if (f) {
			fprintf(f, "ready bad=%lu checks=%lu calls=%lu\n", bad, checks, calls);
			if (fclose(f) == 0)
				rename(tmp, argv[1]);
		}
	}
}
