/* Unit test of the consistency check (lib/safety): a forked child runs
 * threads parked in known functions; the test stops them under ptrace,
 * snapshots registers and stacks, and asks hp_safety__check about ranges. */
#include <dirent.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include "harness.h"
#include "common/common.h"
#include "safety/safety.h"

/* ---- what the child's threads run (same addresses in parent and child) -- */

__attribute__((noipa)) void spin_here(void)
{
	for (;;)
		asm volatile("");
}

__attribute__((noipa)) void sleep_inside(void)
{
	struct timespec ts = { 1000, 0 };

	for (;;)
		nanosleep(&ts, NULL);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

__attribute__((noipa)) void wait_inside(void)
{
	pthread_mutex_lock(&mu);
	for (;;)
		pthread_cond_wait(&cv, &mu);
}

__attribute__((noipa, noreturn)) void block_forever(void)
{
	for (;;)
		pause();
}

/* Its call of block_forever is its last instruction: the return address is
 * the first byte after the function. */
__attribute__((noipa)) void call_last(void)
{
	block_forever();
}

static volatile uint64_t sink;

/* Mostly inside the vDSO: unwinding must go through its CFI. */
__attribute__((noipa)) void time_loop(void)
{
	struct timespec ts;

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sink += (uint64_t)ts.tv_nsec;
	}
}

static atomic_int in_victim;

/* Interrupted by a signal whose handler never returns: this function is
 * then only the interrupted context behind a signal frame. */
__attribute__((noipa)) void sig_victim(void)
{
	atomic_store(&in_victim, 1);
	for (;;)
		sink++;
}

static void on_usr1(int sig)
{
	block_forever();
}

/* On an alternate signal stack: the handler's frames and the signal frame
 * are on that stack, the frames it interrupted (alt_inner, called by
 * alt_caller) on the thread's own.  A check that looks only at the stack
 * the thread runs on would call alt_caller safe. */
static atomic_int in_alt;

__attribute__((noipa)) void alt_inner(void)
{
	atomic_store(&in_alt, 1);
	for (;;)
		sink++;
}

__attribute__((noipa)) void alt_caller(void)
{
	alt_inner();
	sink++;
}

static void on_usr2(int sig)
{
	block_forever();
}

static void alt_thread(void)
{
	size_t len = 64 << 10;
	stack_t ss = { .ss_sp = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
		       .ss_size = len };
	struct sigaction sa = { .sa_handler = on_usr2, .sa_flags = SA_ONSTACK };

	sigaltstack(&ss, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	alt_caller();
}

/* Runs in no thread. */
__attribute__((noipa)) int unrelated_function(int x)
{
	return x * 7 + 3;
}

enum role { R_SPIN, R_SLEEP, R_WAIT, R_LAST, R_VDSO, R_ALT, R_SIG, R_MAX };

struct shared {
	atomic_int started;
	pid_t tid[R_MAX];
};

static struct shared *sh;

static void *thread_main(void *arg)
{
	int role = (int)(intptr_t)arg;

	if (role < R_MAX)
		sh->tid[role] = (pid_t)syscall(SYS_gettid);
	atomic_fetch_add(&sh->started, 1);
	switch (role % R_MAX) {
	case R_SPIN:
		spin_here();
		break;
	case R_SLEEP:
		sleep_inside();
		break;
	case R_WAIT:
		wait_inside();
		break;
	case R_LAST:
		call_last();
		break;
	case R_VDSO:
		time_loop();
		break;
	case R_ALT:
		alt_thread();
		break;
	default:
		sig_victim();
	}
	return NULL;
}

/* nbulk > 0: a benchmark child with nbulk threads sleeping or waiting. */
static pid_t start_child(int nbulk)
{
	int nthreads = nbulk ? nbulk : R_MAX;
	pid_t pid;

	memset(sh, 0, sizeof(*sh));
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		pthread_t th[R_MAX];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGUSR1, on_usr1);
		for (int i = 0; i < nthreads; i++) {
			int role = nbulk ? R_MAX + R_SLEEP + (i & 1) : i;

			pthread_create(&th[nbulk ? 0 : i], NULL, thread_main, (void *)(intptr_t)role);
		}
		if (!nbulk) {
			while (!atomic_load(&in_victim))
				usleep(1000);
			pthread_kill(th[R_SIG], SIGUSR1);
			while (!atomic_load(&in_alt))
				usleep(1000);
			pthread_kill(th[R_ALT], SIGUSR2);
		}
		block_forever();
	}
	for (int i = 0; i < 5000 && atomic_load(&sh->started) < nthreads; i++)
		usleep(1000);
	usleep(100 * 1000);	/* let them reach their blocking calls */
	return pid;
}

/* ---- stopping the child and taking snapshots ------------------------------ */

struct stopped {
	pid_t pid;
	size_t n;
	struct hp_thread_snap snaps[512];
	uint8_t *bufs[512];
};

static int stack_end(pid_t pid, uint64_t sp, uint64_t *ret_end)
{
	char path[64], line[512];
	FILE *f;
	int r = -1;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;

		if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && sp >= lo && sp < hi) {
			*ret_end = hi;
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

static int stop_all(pid_t pid, struct stopped *st)
{
	char path[64];
	struct dirent *de;
	DIR *d;

	memset(st, 0, sizeof(*st));
	st->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) && st->n < HP_ARRAY_SIZE(st->snaps)) {
		pid_t tid = atoi(de->d_name);

		if (tid <= 0)
			continue;
		if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0)
			continue;
		st->snaps[st->n++].tid = tid;
	}
	closedir(d);
	for (size_t i = 0; i < st->n; i++)
		ptrace(PTRACE_INTERRUPT, st->snaps[i].tid, 0, 0);
	for (size_t i = 0; i < st->n; i++) {
		struct hp_thread_snap *t = &st->snaps[i];
		int status;
		uint64_t end;

		if (waitpid(t->tid, &status, __WALL) != t->tid || !WIFSTOPPED(status))
			return -1;
		if (ptrace(PTRACE_GETREGS, t->tid, 0, &t->regs) != 0)
			return -1;
		if (stack_end(pid, t->regs.rsp, &end) != 0)
			return -1;
		if (end - t->regs.rsp > (1u << 20))
			end = t->regs.rsp + (1u << 20);
		st->bufs[i] = malloc(end - t->regs.rsp);
		struct iovec local = { st->bufs[i], end - t->regs.rsp };
		struct iovec remote = { (void *)(uintptr_t)t->regs.rsp, end - t->regs.rsp };
		if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)local.iov_len)
			return -1;
		t->stack_lo = t->regs.rsp;
		t->stack_hi = end;
		t->stack = st->bufs[i];
	}
	return 0;
}

static void finish_child(struct stopped *st)
{
	for (size_t i = 0; i < st->n; i++) {
		ptrace(PTRACE_DETACH, st->snaps[i].tid, 0, 0);
		free(st->bufs[i]);
	}
	kill(st->pid, SIGKILL);
	waitpid(st->pid, NULL, 0);
	st->n = 0;
}

static const struct hp_thread_snap *snap_of(const struct stopped *st, pid_t tid)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->snaps[i].tid == tid)
			return &st->snaps[i];
	return NULL;
}

/* ---- function ranges from our own symbol table ---------------------------- */

static struct hp_range range_of(const char *name, void *addr)
{
	struct hp_range r = { 0, 0, name, 0 };
	int fd = open("/proc/self/exe", O_RDONLY);
	Elf *elf;
	Elf_Scn *scn = NULL;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh_;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh_) || sh_.sh_type != SHT_SYMTAB)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh_.sh_size / sh_.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;

			if (!gelf_getsym(data, (int)i, &sym))
				continue;
			n = elf_strptr(elf, sh_.sh_link, sym.st_name);
			if (n && !strcmp(n, name) && GELF_ST_TYPE(sym.st_info) == STT_FUNC) {
				r.start = (uint64_t)(uintptr_t)addr;
				r.end = r.start + sym.st_size;
			}
		}
	}
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
	return r;
}

/* ---- tests ------------------------------------------------------------------ */

static struct stopped st;
static struct hp_safety *s;
static struct hp_range r_spin, r_sleep, r_wait, r_last, r_unrelated;

static void test_setup(void)
{
	pid_t pid;

	r_spin = range_of("spin_here", (void *)spin_here);
	r_sleep = range_of("sleep_inside", (void *)sleep_inside);
	r_wait = range_of("wait_inside", (void *)wait_inside);
	r_last = range_of("call_last", (void *)call_last);
	r_unrelated = range_of("unrelated_function", (void *)unrelated_function);
	CHECK(r_spin.end > r_spin.start && r_sleep.end > r_sleep.start);
	CHECK(r_wait.end > r_wait.start && r_last.end > r_last.start);
	CHECK(r_unrelated.end > r_unrelated.start);

	pid = start_child(0);
	CHECK(pid > 0);
	CHECK(atomic_load(&sh->started) == R_MAX);
	if (pid <= 0)
		return;
	CHECK_EQ_INT(hp_safety__new(pid, &s), 0);
	CHECK_EQ_INT(stop_all(pid, &st), 0);
	CHECK_EQ_INT(st.n, R_MAX + 1);
	for (int i = 0; i < R_MAX; i++)
		CHECK(snap_of(&st, sh->tid[i]) != NULL);
}

static void test_pc_in_range(void)
{
	struct hp_unsafe u = { 0 };
	int r = hp_safety__check(s, st.snaps, st.n, &r_spin, 1, &u);

	CHECK_EQ_INT(r, -HP_E_UNSAFE);
	CHECK_EQ_INT(u.tid, sh->tid[R_SPIN]);
	CHECK_EQ_INT(u.depth, 0);
	CHECK_EQ_INT(u.range, 0);
	CHECK(u.pc >= r_spin.start && u.pc < r_spin.end);
	CHECK(strstr(hp_errmsg(), "spin_here") != NULL);
	hp_err_clear();
}

/* sleep_inside is on the stack only as a return address, below libc's
 * nanosleep: found only if the CFI unwinding through libc works. */
static void test_return_address(void)
{
	struct hp_unsafe u = { 0 };
	int r = hp_safety__check(s, st.snaps, st.n, &r_sleep, 1, &u);

	CHECK_EQ_INT(r, -HP_E_UNSAFE);
	CHECK_EQ_INT(u.tid, sh->tid[R_SLEEP]);
	CHECK(u.depth >= 1 && u.depth < 1000);
	hp_err_clear();

	r = hp_safety__check(s, st.snaps, st.n, &r_wait, 1, &u);
	CHECK_EQ_INT(r, -HP_E_UNSAFE);
	CHECK_EQ_INT(u.tid, sh->tid[R_WAIT]);
	CHECK(u.depth >= 1 && u.depth < 1000);
	hp_err_clear();
}

/* Through the vDSO (when stopped there) and through a signal frame. */
static void test_vdso_signal(void)
{
	struct hp_unsafe u = { 0 };
	struct hp_range r_time = range_of("time_loop", (void *)time_loop);
	struct hp_range r_victim = range_of("sig_victim", (void *)sig_victim);
	struct hp_range r_handler = range_of("on_usr1", (void *)on_usr1);

	CHECK_EQ_INT(hp_safety__check(s, st.snaps, st.n, &r_time, 1, &u), -HP_E_UNSAFE);
	CHECK_EQ_INT(u.tid, sh->tid[R_VDSO]);
	CHECK(u.depth < 1000);
	hp_err_clear();

	CHECK_EQ_INT(hp_safety__check(s, st.snaps, st.n, &r_handler, 1, &u), -HP_E_UNSAFE);
	CHECK_EQ_INT(u.tid, sh->tid[R_SIG]);
	CHECK(u.depth >= 1 && u.depth < 1000);
	hp_err_clear();
	CHECK_EQ_INT(hp_safety__check(s, st.snaps, st.n, &r_victim, 1, &u), -HP_E_UNSAFE);
	CHECK_EQ_INT(u.tid, sh->tid[R_SIG]);
	CHECK(u.depth >= 3 && u.depth < 1000);
	hp_err_clear();
}

/* The thread on its alternate signal stack: the snapshot holds only that
 * stack (signal frame, handler), no word of it points into alt_caller, and
 * yet alt_caller is due to be returned into.  It must be unwound (through
 * the signal frame), not cleared by its stack alone. */
static void test_sigaltstack(void)
{
	struct hp_unsafe u = { 0 };
	struct hp_range r_caller = range_of("alt_caller", (void *)alt_caller);
	const struct hp_thread_snap *t = snap_of(&st, sh->tid[R_ALT]);
	struct hp_safety_stats before, after;
	int words_in_range = 0;

	CHECK(t != NULL);
	if (!t)
		return;
	/* The case is what it claims: nothing in the snapshot points there. */
	for (uint64_t a = t->stack_lo; a + 8 <= t->stack_hi; a += 8) {
		uint64_t v;

		memcpy(&v, t->stack + (a - t->stack_lo), 8);
		words_in_range += v >= r_caller.start && v <= r_caller.end;
	}
	CHECK_EQ_INT(words_in_range, 0);
	hp_safety__stats(s, &before);
	CHECK_EQ_INT(hp_safety__check(s, t, 1, &r_caller, 1, &u), -HP_E_UNSAFE);
	CHECK_EQ_INT(u.tid, sh->tid[R_ALT]);
	CHECK(u.depth >= 3 && u.depth < 1000);
	hp_safety__stats(s, &after);
	CHECK_EQ_INT(after.unwound - before.unwound, 1);
	CHECK_EQ_INT(after.cleared - before.cleared, 0);
	hp_err_clear();
}

/* Threads parked away from a range are cleared by their stack alone (the
 * main thread may not be: its stack was copied by fork() with stale words
 * of the parent's calls); the thread on its alternate stack and the one
 * in a handler on its own stack have signal frames and are unwound; a
 * thread whose stack holds a return address into the range is unwound,
 * and found. */
static void test_cleared(void)
{
	const enum role clear[] = { R_SPIN, R_SLEEP, R_WAIT, R_LAST, R_VDSO };
	const enum role unwind[] = { R_ALT, R_SIG };
	struct hp_unsafe u = { 0 };
	struct hp_safety_stats before, after;

	for (size_t i = 0; i < HP_ARRAY_SIZE(clear) + HP_ARRAY_SIZE(unwind); i++) {
		int is_clear = i < HP_ARRAY_SIZE(clear);
		enum role role = is_clear ? clear[i] : unwind[i - HP_ARRAY_SIZE(clear)];

		hp_safety__stats(s, &before);
		CHECK_EQ_INT(hp_safety__check(s, snap_of(&st, sh->tid[role]), 1, &r_unrelated, 1, &u), 0);
		hp_safety__stats(s, &after);
		CHECK_EQ_INT(after.cleared - before.cleared, is_clear);
		CHECK_EQ_INT(after.unwound - before.unwound, !is_clear);
	}
	hp_safety__stats(s, &before);
	CHECK_EQ_INT(hp_safety__check(s, snap_of(&st, sh->tid[R_SLEEP]), 1, &r_sleep, 1, &u),
		     -HP_E_UNSAFE);
	hp_safety__stats(s, &after);
	CHECK_EQ_INT(after.unwound - before.unwound, 1);
	CHECK(u.depth >= 1 && u.depth < 1000);
	hp_err_clear();
}

/* A call as the last instruction: its return address is the end of the
 * range; pc-1 must still count, and the next function must not. */
static void test_call_last(void)
{
	struct hp_unsafe u = { 0 };
	const uint8_t *end = (const uint8_t *)(uintptr_t)r_last.end;
	struct hp_range after = { r_last.end, r_last.end + 1, "after call_last", 0 };
	int r = hp_safety__check(s, st.snaps, st.n, &r_last, 1, &u);

	CHECK_EQ_INT(r, -HP_E_UNSAFE);
	CHECK_EQ_INT(u.tid, sh->tid[R_LAST]);
	CHECK(u.depth >= 1 && u.depth < 1000);
	hp_err_clear();
	if (end[-5] == 0xe8) {	/* the compiler did end call_last with a call */
		CHECK_EQ_INT(u.pc, r_last.end);
		CHECK_EQ_INT(hp_safety__check(s, st.snaps, st.n, &after, 1, &u), 0);
	} else {
		printf("INFO: call_last does not end with a call; boundary case not tested\n");
	}
}

static void test_safe(void)
{
	struct hp_unsafe u = { 0 };
	struct hp_range two[2] = { r_unrelated, r_wait };

	CHECK_EQ_INT(hp_safety__check(s, st.snaps, st.n, &r_unrelated, 1, &u), 0);
	CHECK_EQ_INT(hp_safety__check(s, st.snaps, st.n, NULL, 0, &u), 0);
	CHECK_EQ_INT(hp_safety__check(s, st.snaps, st.n, two, 2, &u), -HP_E_UNSAFE);
	CHECK_EQ_INT(u.range, 1);
	hp_err_clear();
}

/* The same Dwfl over changing thread sets and repeated calls. */
static void test_repeat(void)
{
	struct hp_unsafe u = { 0 };
	const struct hp_thread_snap *b = snap_of(&st, sh->tid[R_SLEEP]);
	struct hp_range r_time = range_of("time_loop", (void *)time_loop);
	struct hp_thread_snap rev[R_MAX + 1];

	if (!b || st.n > HP_ARRAY_SIZE(rev)) {
		CHECK(b != NULL && st.n <= HP_ARRAY_SIZE(rev));
		return;
	}
	CHECK_EQ_INT(hp_safety__check(s, b, 1, &r_spin, 1, &u), 0);
	CHECK_EQ_INT(hp_safety__check(s, b, 1, &r_sleep, 1, &u), -HP_E_UNSAFE);
	CHECK_EQ_INT(u.tid, b->tid);
	hp_err_clear();
	for (size_t i = 0; i < st.n; i++)
		rev[i] = st.snaps[st.n - 1 - i];
	for (int k = 0; k < 3; k++) {
		CHECK_EQ_INT(hp_safety__check(s, rev, st.n, &r_spin, 1, &u), -HP_E_UNSAFE);
		CHECK_EQ_INT(u.tid, sh->tid[R_SPIN]);
		CHECK_EQ_INT(u.depth, 0);
		hp_err_clear();
		CHECK_EQ_INT(hp_safety__check(s, st.snaps, st.n, &r_unrelated, 1, &u), 0);
	}

	/* Resume, let the threads run, stop again: new snapshots, same Dwfl. */
	finish_child(&st);
	pid_t pid = start_child(0);
	struct hp_safety *s2 = NULL;

	CHECK(pid > 0);
	CHECK_EQ_INT(hp_safety__new(pid, &s2), 0);
	CHECK_EQ_INT(stop_all(pid, &st), 0);
	for (int k = 0; k < 3; k++) {
		/* Let the threads run (detach), then stop them again. */
		for (size_t i = 0; i < st.n; i++) {
			ptrace(PTRACE_DETACH, st.snaps[i].tid, 0, 0);
			free(st.bufs[i]);
			st.bufs[i] = NULL;
		}
		usleep(20 * 1000);
		CHECK_EQ_INT(stop_all(pid, &st), 0);
		CHECK_EQ_INT(hp_safety__check(s2, st.snaps, st.n, &r_spin, 1, &u), -HP_E_UNSAFE);
		CHECK_EQ_INT(u.tid, sh->tid[R_SPIN]);
		hp_err_clear();
		CHECK_EQ_INT(hp_safety__check(s2, st.snaps, st.n, &r_wait, 1, &u), -HP_E_UNSAFE);
		CHECK_EQ_INT(u.tid, sh->tid[R_WAIT]);
		hp_err_clear();
		CHECK_EQ_INT(hp_safety__check(s2, st.snaps, st.n, &r_unrelated, 1, &u), 0);
		CHECK_EQ_INT(hp_safety__check(s2, st.snaps, st.n, &r_time, 1, &u), -HP_E_UNSAFE);
		CHECK_EQ_INT(u.tid, sh->tid[R_VDSO]);
		CHECK(u.depth < 1000);
		hp_err_clear();
	}
	hp_safety__free(s);
	s = s2;
}

/* Synthetic threads whose stacks cannot be unwound: every stack word that
 * points into a range counts. */
static void test_fallback_scan(void)
{
	uint64_t stack[64] = { 0 };
	struct hp_thread_snap t = { 0 };
	struct hp_unsafe u = { 0 };
	int r;

	t.tid = 1;
	t.regs.rip = 0x10;	/* in no module: no CFI */
	t.regs.rsp = 0x7000;
	t.regs.orig_rax = (uint64_t)-1;
	t.stack_lo = 0x7000;
	t.stack_hi = 0x7000 + sizeof(stack);
	t.stack = (const uint8_t *)stack;

	CHECK_EQ_INT(hp_safety__check(s, &t, 1, &r_sleep, 1, &u), 0);

	stack[5] = r_sleep.start + 3;
	r = hp_safety__check(s, &t, 1, &r_sleep, 1, &u);
	CHECK_EQ_INT(r, -HP_E_UNSAFE);
	CHECK_EQ_INT(u.tid, 1);
	CHECK_EQ_INT(u.depth, 1005);
	CHECK_EQ_INT(u.pc, r_sleep.start + 3);
	hp_err_clear();

	/* A return address just past the end (a call ending the function). */
	stack[5] = 0;
	stack[9] = r_sleep.end;
	CHECK_EQ_INT(hp_safety__check(s, &t, 1, &r_sleep, 1, &u), -HP_E_UNSAFE);
	CHECK_EQ_INT(u.depth, 1009);
	hp_err_clear();

	/* A PC with CFI but a bogus stack: the unwinder reads a return address
	 * of 0 and stops "cleanly" without reaching a thread entry point;
	 * that must not count as a complete unwinding. */
	t.regs.rip = r_unrelated.start;
	CHECK_EQ_INT(hp_safety__check(s, &t, 1, &r_sleep, 1, &u), -HP_E_UNSAFE);
	CHECK_EQ_INT(u.depth, 1009);
	hp_err_clear();

	/* The return address lies outside the snapshot, in no mapping: the
	 * read fails and libdwfl would end the stack there; the scan decides. */
	t.regs.rsp = t.stack_hi;
	CHECK_EQ_INT(hp_safety__check(s, &t, 1, &r_sleep, 1, &u), -HP_E_UNSAFE);
	CHECK_EQ_INT(u.depth, 1009);
	hp_err_clear();

	/* Nothing to unwind and no stack to scan: never "safe". */
	t.regs.rip = 0x10;
	t.stack_hi = t.stack_lo;
	t.stack = NULL;
	r = hp_safety__check(s, &t, 1, &r_sleep, 1, &u);
	CHECK(r < 0 && r != -HP_E_UNSAFE);
	hp_err_clear();
}

static void test_timing_n(int n)
{
	struct stopped *bst = calloc(1, sizeof(*bst));
	struct hp_safety *bs = NULL;
	struct hp_unsafe u;
	double t0, t_new, first = 0, best = 1e9, sum = 0;
	const int iters = 20;
	pid_t pid = start_child(n);

	CHECK(pid > 0);
	if (pid <= 0) {
		free(bst);
		return;
	}
	t0 = hp_now_ms();
	CHECK_EQ_INT(hp_safety__new(pid, &bs), 0);
	t_new = hp_now_ms() - t0;
	CHECK_EQ_INT(stop_all(pid, bst), 0);
	CHECK_EQ_INT(bst->n, (size_t)n + 1);
	for (int k = 0; k < iters; k++) {
		t0 = hp_now_ms();
		int r = hp_safety__check(bs, bst->snaps, bst->n, &r_unrelated, 1, &u);
		double dt = hp_now_ms() - t0;

		CHECK_EQ_INT(r, 0);
		if (k == 0)
			first = dt;
		sum += dt;
		if (dt < best)
			best = dt;
	}
	CHECK_EQ_INT(hp_safety__check(bs, bst->snaps, bst->n, &r_wait, 1, &u), -HP_E_UNSAFE);
	hp_err_clear();
	printf("INFO: %zu threads: new %.2f ms, check first %.3f ms, best %.3f ms, mean %.3f ms\n",
	       bst->n, t_new, first, best, sum / iters);
	hp_safety__free(bs);
	finish_child(bst);
	free(bst);
}

static void test_timing(void)
{
	test_timing_n(64);
	test_timing_n(128);
}

static void test_errors(void)
{
	struct hp_safety *x = (void *)1;

	hp_safety__free(NULL);
	CHECK_EQ_INT(hp_safety__new(0, &x), -EINVAL);
	CHECK(x == NULL);
	CHECK_EQ_INT(hp_safety__new(0x3ffffff0, &x), -HP_E_GONE);
	hp_err_clear();
}

int main(void)
{
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	RUN(test_setup);
	RUN(test_pc_in_range);
	RUN(test_return_address);
	RUN(test_call_last);
	RUN(test_vdso_signal);
	RUN(test_sigaltstack);
	RUN(test_cleared);
	RUN(test_safe);
	RUN(test_repeat);
	RUN(test_fallback_scan);
	RUN(test_timing);
	RUN(test_errors);
	finish_child(&st);
	hp_safety__free(s);
	TEST_EXIT();
}
