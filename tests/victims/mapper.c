/* mapper — a process that maps an ELF file without running it, as a
 * debugger, a scanner or a backup tool does.  hotpatch matches objects by
 * build-id; these mappings carry the right one and must not be patched.
 *
 *   mapper FILE          FILE mapped whole, PROT_READ, MAP_PRIVATE (data)
 *   mapper --exec FILE   the same, plus one page of FILE's executable segment
 *                        mapped r-x at an address the kernel picks: code of
 *                        the file, but not where a loader would put it
 *   mapper --self        its own executable mapped as data, below its load
 *                        address, so that a scan in address order meets the
 *                        data mapping before the loaded image
 *
 * Prints "ready pid=N data=0xA len=N exec=0xA compute=0xA" (exec=0 without
 * --exec), then waits: SIGUSR1 prints "compute(1)=N" (the tests patch
 * compute in --self mode), SIGTERM ends it.  Lives at most 600 s. */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATCHABLE __attribute__((noinline, noclone, noipa, used))

extern char __executable_start;

PATCHABLE long compute(long x)
{
	long a = x * 3;
	__asm__ volatile("" : "+r"(a));
	a += 7;
	__asm__ volatile("" : "+r"(a));
	return a;
}

/* File offset of the first executable PT_LOAD segment, page aligned. */
static long exec_offset(const unsigned char *f, size_t len)
{
	const Elf64_Ehdr *eh = (const void *)f;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_phoff > len || (len - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum)
		return -1;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(f + eh->e_phoff + i * sizeof(Elf64_Phdr));

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X))
			return (long)(ph->p_offset & ~4095ul);
	}
	return -1;
}

int main(int argc, char **argv)
{
	int self = argc == 2 && !strcmp(argv[1], "--self");
	int exec = argc == 3 && !strcmp(argv[1], "--exec");
	const char *path = self ? "/proc/self/exe" : argv[argc - 1];
	void *hint = NULL, *data, *page = NULL;
	struct stat st;
	int fd, flags = MAP_PRIVATE;

	if (argc < 2 || argc > 3 || (argc == 3 && !exec) || (argc == 2 && argv[1][0] == '-' && !self)) {
		fprintf(stderr, "usage: mapper [--exec] FILE | mapper --self\n");
		return 2;
	}
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		return 1;
	}
	if (self) {
		hint = (void *)(((uintptr_t)&__executable_start - (64ul << 20)) & ~4095ul);
		flags |= MAP_FIXED_NOREPLACE;
	}
	data = mmap(hint, (size_t)st.st_size, PROT_READ, flags, fd, 0);
	if (data == MAP_FAILED && hint)
		data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (data == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (exec) {
		long off = exec_offset(data, (size_t)st.st_size);

		if (off < 0) {
			fprintf(stderr, "%s: no executable segment\n", path);
			return 1;
		}
		page = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, off);
		if (page == MAP_FAILED) {
			perror("mmap r-x");
			return 1;
		}
	}
	close(fd);

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGALRM);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("ready pid=%d data=0x%lx len=%lld exec=0x%lx compute=0x%lx\n", (int)getpid(),
	       (unsigned long)data, (long long)st.st_size, (unsigned long)page,
	       (unsigned long)compute);
	fflush(stdout);
	alarm(600);
	for (;;) {
		int sig;

		if (sigwait(&set, &sig) || sig != SIGUSR1)
			return 0;
		printf("compute(1)=%ld\n", compute(1));
		fflush(stdout);
	}
}
