/* The consistency check.  libdwfl unwinds every stopped thread over the
 * stack bytes the caller read beforehand; a thread whose unwinding cannot be
 * trusted is checked by scanning its whole stack snapshot instead.
 *
 * libdwfl is given our own Dwfl_Thread_Callbacks (not dwfl_linux_proc_attach):
 * the caller already holds every thread stopped under PTRACE_SEIZE, so
 * libdwfl must never ptrace anything itself.  Thread state is not cached by
 * libdwfl between dwfl_getthread_frames() calls (each call asks get_thread and
 * set_initial_registers again), so one Dwfl serves any number of checks over
 * changing thread sets. */
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <elfutils/libdwfl.h>
#include "arch/x86_64/arch.h"
#include "common/common.h"
#include "safety/safety.h"
#include "target/target.h"

#define MAX_FRAMES 256		/* deeper stacks are scanned instead */
#define SCAN_DEPTH 1000		/* depth reported for a hit of the stack scan: + word index */
#define CACHE_SIZE 4096		/* CFI classification cache, power of two */
/* glibc keeps a thread's descriptor (struct pthread, ~2.3 KiB in 2.36) at
 * the very top of the thread's stack mapping, at its thread pointer
 * (fs_base): a snapshot that stops there has every frame. */
#define THREAD_DESCRIPTOR_MAX 4096

/* What the CFI says about a code address. */
enum cfi_class {
	CFI_UNKNOWN = 0,	/* not classified yet (cache slot empty) */
	CFI_NONE,		/* no module or no FDE: libdwfl would guess (frame pointers) */
	CFI_NORMAL,		/* FDE with a return address rule */
	CFI_OUTERMOST,		/* FDE marks the return address undefined: thread entry */
};

struct cfi_cache_ent {
	uint64_t pc;
	uint8_t cls;
};

struct hp_safety {
	pid_t pid;
	Dwfl *dwfl;
	int mem_fd;		/* /proc/pid/mem, -1 when it could not be opened */
	/* The check in progress. */
	const struct hp_thread_snap *threads;
	size_t nthreads;
	const struct hp_thread_snap *cur;	/* thread being unwound */
	bool read_failed;	/* a memory read failed while unwinding cur */
	struct hp_safety_stats stats;
	struct cfi_cache_ent cache[CACHE_SIZE];
};

/* Set while a check runs: no debuginfo search (file I/O, maybe debuginfod
 * network access) may happen inside the stop window. */
static __thread bool in_stop_window;

static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			  const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			  char **debuginfo_file_name)
{
	if (in_stop_window)
		return -1;
	return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
					    debuglink_crc, debuginfo_file_name);
}

static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = find_debuginfo,
};

/* ---- thread callbacks: everything comes from the snapshots ------------- */

static pid_t next_thread(Dwfl *dwfl, void *dwfl_arg, void **thread_argp)
{
	struct hp_safety *s = dwfl_arg;
	const struct hp_thread_snap *t = *thread_argp;

	t = t ? t + 1 : s->threads;
	if (!s->threads || t >= s->threads + s->nthreads)
		return 0;
	*thread_argp = (void *)t;
	return t->tid;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *dwfl_arg, void **thread_argp)
{
	struct hp_safety *s = dwfl_arg;

	if (s->cur && s->cur->tid == tid) {
		*thread_argp = (void *)s->cur;
		return true;
	}
	for (size_t i = 0; i < s->nthreads; i++) {
		if (s->threads[i].tid == tid) {
			*thread_argp = (void *)&s->threads[i];
			return true;
		}
	}
	return false;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *dwfl_arg)
{
	struct hp_safety *s = dwfl_arg;
	const struct hp_thread_snap *t = s->cur;

	if (t && t->stack && t->stack_hi >= t->stack_lo + 8 && addr >= t->stack_lo &&
	    addr <= t->stack_hi - 8) {
		memcpy(result, t->stack + (addr - t->stack_lo), 8);
		return true;
	}
	if (s->mem_fd >= 0 && addr <= INT64_MAX &&
	    pread(s->mem_fd, result, 8, (off_t)addr) == 8)
		return true;
	/* libdwfl may take a failed read of a saved return address for the
	 * end of the stack: remember it, the thread is then scanned instead. */
	s->read_failed = true;
	return false;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	const struct hp_thread_snap *t = thread_arg;
	const struct user_regs_struct *r = &t->regs;
	/* DWARF numbering on x86_64: rax rdx rcx rbx rsi rdi rbp rsp r8..r15, 16 = return address */
	Dwarf_Word regs[17] = {
		r->rax, r->rdx, r->rcx, r->rbx, r->rsi, r->rdi, r->rbp, r->rsp,
		r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15, r->rip,
	};

	if (!dwfl_thread_state_registers(thread, 0, 17, regs))
		return false;
	dwfl_thread_state_register_pc(thread, r->rip);
	return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

/* ---- setup -------------------------------------------------------------- */

static int preload_cb(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start,
		      void *arg)
{
	Dwarf_Addr bias;

	/* Opens the ELF file (or reads the vDSO image) and .eh_frame; the
	 * result, success or failure, is cached in the module. */
	dwfl_module_eh_cfi(mod, &bias);
	return DWARF_CB_OK;
}

int hp_safety__new(pid_t pid, struct hp_safety **ret)
{
	struct hp_safety *s;
	char path[64];
	int r;

	*ret = NULL;
	if (pid <= 0)
		return hp_err(-EINVAL, "invalid pid %d", pid);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->mem_fd = -1;
	/* /proc of a live thread: a zombie main thread (pthread_exit) shows
	 * no maps and no memory (hp_proc_live_id). */
	if (hp_proc_live_id(pid, &s->pid) < 0) {
		r = hp_err(-HP_E_GONE, "no process %d", pid);
		goto fail;
	}
	pid = s->pid;

	s->dwfl = dwfl_begin(&proc_callbacks);
	if (!s->dwfl) {
		r = hp_err(-ENOMEM, "dwfl_begin: %s", dwfl_errmsg(-1));
		goto fail;
	}
	dwfl_report_begin(s->dwfl);
	r = dwfl_linux_proc_report(s->dwfl, pid);
	if (r != 0) {
		if (r == ENOENT || r == ESRCH)
			r = hp_err(-HP_E_GONE, "no process %d", pid);
		else if (r > 0)
			r = hp_err(-r, "cannot read the modules of process %d: %s", pid, strerror(r));
		else
			r = hp_err(-EIO, "cannot read the modules of process %d: %s", pid,
				   dwfl_errmsg(-1));
		dwfl_report_end(s->dwfl, NULL, NULL);
		goto fail;
	}
	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0) {
		r = hp_err(-EIO, "dwfl_report_end: %s", dwfl_errmsg(-1));
		goto fail;
	}

	/* Memory the CFI needs outside the stack snapshots.  Not fatal: a
	 * thread whose unwinding needs it is then scanned conservatively. */
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	s->mem_fd = open(path, O_RDONLY | O_CLOEXEC);

	if (!dwfl_attach_state(s->dwfl, NULL, pid, &thread_callbacks, s)) {
		r = hp_err(-HP_E_UNSUPPORTED, "cannot prepare unwinding of process %d: %s", pid,
			   dwfl_errmsg(-1));
		goto fail;
	}

	/* Load every module's ELF and CFI now, while the process runs.  After
	 * dwfl_attach_state, so that dwfl_linux_proc_find_elf knows the pid and
	 * reads deleted files (replaced by an upgrade) from /proc/pid/mem. */
	dwfl_getmodules(s->dwfl, preload_cb, s, 0);
	dwfl_addrmodule(s->dwfl, 0);	/* builds the address lookup table */
	*ret = s;
	return 0;
fail:
	hp_safety__free(s);
	return r;
}

void hp_safety__free(struct hp_safety *s)
{
	if (!s)
		return;
	if (s->dwfl)
		dwfl_end(s->dwfl);
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	free(s);
}

/* ---- the check ---------------------------------------------------------- */

static enum cfi_class classify_cfi(Dwarf_CFI *cfi, Dwarf_Addr addr)
{
	Dwarf_Frame *frame;
	Dwarf_Op ops_mem[3], *ops;
	size_t nops;
	enum cfi_class cls = CFI_NORMAL;

	if (!cfi || dwarf_cfi_addrframe(cfi, addr, &frame) != 0)
		return CFI_NONE;
	/* Register 16 is the return address column on x86_64. */
	if (dwarf_frame_register(frame, 16, ops_mem, &ops, &nops) == 0 && nops == 0 &&
	    ops == ops_mem)
		cls = CFI_OUTERMOST;
	free(frame);
	return cls;
}

/* Mirrors what libdwfl does for the address: .eh_frame first, .debug_frame
 * second, then a frame pointer guess (which we never trust). */
static enum cfi_class classify(struct hp_safety *s, uint64_t pc)
{
	struct cfi_cache_ent *e = &s->cache[(pc ^ (pc >> 12)) & (CACHE_SIZE - 1)];
	Dwfl_Module *mod;
	Dwarf_Addr bias;
	enum cfi_class cls = CFI_NONE;

	if (e->cls != CFI_UNKNOWN && e->pc == pc)
		return e->cls;
	mod = dwfl_addrmodule(s->dwfl, pc);
	if (mod) {
		Dwarf_CFI *cfi = dwfl_module_eh_cfi(mod, &bias);

		cls = classify_cfi(cfi, pc - bias);
		if (cls == CFI_NONE) {
			cfi = dwfl_module_dwarf_cfi(mod, &bias);
			cls = classify_cfi(cfi, pc - bias);
		}
	}
	e->pc = pc;
	e->cls = cls;
	return cls;
}

struct walk {
	struct hp_safety *s;
	const struct hp_thread_snap *t;
	const struct hp_range *ranges;
	size_t nranges;
	uint64_t lo, hi;	/* union bounds of the ranges */
	unsigned depth;
	enum cfi_class last;	/* class of the last frame seen */
	const char *unsure;	/* why the unwinding cannot be trusted */
	bool hit;
	bool want_escape;	/* unwind on past a hit to find the escape address */
	bool pending_escape;	/* the last frame seen was in a range */
	struct hp_unsafe u;
};

static bool in_ranges(const struct walk *w, uint64_t a, size_t *ret_i)
{
	if (a < w->lo || a >= w->hi)
		return false;
	for (size_t i = 0; i < w->nranges; i++) {
		if (a >= w->ranges[i].start && a < w->ranges[i].end) {
			*ret_i = i;
			return true;
		}
	}
	return false;
}

static int frame_cb(Dwfl_Frame *frame, void *arg)
{
	struct walk *w = arg;
	Dwarf_Addr pc;
	bool act = false;
	uint64_t a;
	size_t ri;
	unsigned depth = w->depth++;
	enum cfi_class cls;

	if (depth >= MAX_FRAMES) {
		w->unsure = "too many frames";
		return DWARF_CB_ABORT;
	}
	if (!dwfl_frame_pc(frame, &pc, &act)) {
		w->unsure = "no pc";
		return DWARF_CB_ABORT;
	}
	if (depth == 0)
		act = true;	/* the thread's own PC: tested as it is */
	/* A return address points after the call: a call ending a function
	 * would otherwise look like the start of the next one. */
	a = act ? pc : pc - 1;
	if (w->pending_escape && !in_ranges(w, a, &ri)) {
		/* The caller of the outermost ranged frame seen so far. */
		w->u.escape_pc = pc;
		w->pending_escape = false;
	}
	if (in_ranges(w, a, &ri) ||
	    /* In a system call that the kernel may restart: the PC goes back
	     * 2 bytes to the syscall instruction on resume. */
	    (depth == 0 && (int64_t)w->t->regs.orig_rax >= 0 && in_ranges(w, a - 2, &ri))) {
		if (!w->hit)
			w->u = (struct hp_unsafe){ .tid = w->t->tid, .range = ri, .pc = pc, .depth = depth };
		w->hit = true;
		if (!w->want_escape)
			return DWARF_CB_ABORT;
		w->u.escape_pc = 0;
		w->pending_escape = true;
	}
	/* libdwfl unwinds this frame next; without CFI for it, it would fall
	 * back to guessing with frame pointers. */
	cls = classify(w->s, a);
	if (cls == CFI_NONE && act && depth > 0)
		cls = classify(w->s, pc - 1);
	if (cls == CFI_NONE) {
		w->unsure = "no CFI for a frame";
		return DWARF_CB_ABORT;
	}
	w->last = cls;
	return DWARF_CB_OK;
}

/* Every aligned word of the snapshot stack that could be a return address
 * into a range (start..end inclusive: a call may end a function). */
static bool scan_words(const struct walk *w, const uint8_t *buf, uint64_t from, uint64_t to,
		       uint64_t first, struct hp_unsafe *u)
{
	for (uint64_t a = from; a + 8 <= to && a + 8 > a; a += 8) {
		uint64_t v;
		size_t ri = 0;

		memcpy(&v, buf + (a - from), 8);
		if (v < w->lo || v > w->hi)
			continue;
		if (!in_ranges(w, v, &ri) && !in_ranges(w, v - 1, &ri))
			continue;
		*u = (struct hp_unsafe){ .tid = w->t->tid, .range = ri, .pc = v,
					 .depth = SCAN_DEPTH + (unsigned)((a - first) / 8) };
		return true;
	}
	return false;
}

/* Every aligned word of the stack that could be a return address into a
 * range: the snapshot, then the rest of the mapping read here in pieces
 * (only threads that could not be unwound pay for it).  A part that cannot
 * be read counts as unsafe: never a false "safe". */
static bool scan_stack(struct hp_safety *s, const struct walk *w, struct hp_unsafe *u)
{
	const struct hp_thread_snap *t = w->t;
	uint64_t first = HP_ALIGN_UP(t->stack_lo, 8), end = t->stack_end > t->stack_hi ? t->stack_end : t->stack_hi;
	uint8_t chunk[65536];

	if (t->stack && scan_words(w, t->stack + (first - t->stack_lo), first, t->stack_hi, first, u))
		return true;
	for (uint64_t a = t->stack_hi > first ? HP_ALIGN_UP(t->stack_hi, 8) : first; a < end;) {
		size_t n = end - a < sizeof(chunk) ? (size_t)(end - a) : sizeof(chunk);

		if (s->mem_fd < 0 || pread(s->mem_fd, chunk, n, (off_t)a) != (ssize_t)n) {
			*u = (struct hp_unsafe){ .tid = t->tid, .pc = 0, .depth = SCAN_DEPTH };
			return true;
		}
		if (scan_words(w, chunk, a, a + n, first, u))
			return true;
		a += n;
	}
	return false;
}

/* Does v look like a return address: in a module we know, right after a
 * call instruction?  Used only to guess where a thread that cannot be
 * unwound (inside patch code, which has no CFI registered) will return to;
 * the guess is harmless when wrong: the caller checks again after the
 * thread got there, and gives up on it after a timeout. */
static bool looks_like_return(struct hp_safety *s, uint64_t v)
{
	uint8_t b[8];

	if (v < 8 || !dwfl_addrmodule(s->dwfl, v) || s->mem_fd < 0 ||
	    pread(s->mem_fd, b, sizeof(b), (off_t)(v - 8)) != (ssize_t)sizeof(b))
		return false;
	/* b[7] is the byte before v. */
	return b[3] == 0xe8 ||					/* call rel32 */
	       (b[2] == 0xff && (b[3] & 0x38) == 0x10) ||	/* call *disp32(...) */
	       (b[6] == 0xff && (b[7] & 0xf8) == 0xd0) ||	/* call *%reg */
	       (b[5] == 0xff && (b[6] & 0xf8) == 0x50) ||	/* call *disp8(%reg) */
	       (b[6] == 0xff && (b[7] & 0xf8) == 0x10);	/* call *(%reg) */
}

/* The first plausible return address above the outermost stack word that
 * points into a range, 0 when none. */
static uint64_t guess_escape(struct hp_safety *s, const struct walk *w)
{
	const struct hp_thread_snap *t = w->t;
	uint64_t first = HP_ALIGN_UP(t->stack_lo, 8), from = first, limit;
	size_t ri;

	if (!t->stack)
		return 0;
	for (uint64_t a = first; a + 8 <= t->stack_hi && a + 8 > a; a += 8) {
		uint64_t v;

		memcpy(&v, t->stack + (a - t->stack_lo), 8);
		if (in_ranges(w, v, &ri) || in_ranges(w, v - 1, &ri))
			from = a + 8;
	}
	limit = from + 4096 * 8;
	for (uint64_t a = from; a + 8 <= t->stack_hi && a < limit; a += 8) {
		uint64_t v;

		memcpy(&v, t->stack + (a - t->stack_lo), 8);
		if (looks_like_return(s, v))
			return v;
	}
	return 0;
}

static const char *range_name(const struct hp_range *r)
{
	return r->name ? r->name : "?";
}

/* A register or a stack word pointing into a data range. */
static bool points_into_data(struct hp_safety *s, const struct walk *w, struct hp_unsafe *u)
{
	const struct user_regs_struct *g = &w->t->regs;
	const unsigned long long regs[] = { g->rax, g->rbx, g->rcx, g->rdx, g->rsi, g->rdi,
					    g->rbp, g->r8, g->r9, g->r10, g->r11, g->r12,
					    g->r13, g->r14, g->r15, g->rip };
	bool any = false;

	for (size_t i = 0; i < w->nranges; i++)
		any |= w->ranges[i].data != 0;
	if (!any)
		return false;
	for (size_t k = 0; k < HP_ARRAY_SIZE(regs); k++)
		for (size_t i = 0; i < w->nranges; i++)
			if (w->ranges[i].data && regs[k] >= w->ranges[i].start && regs[k] < w->ranges[i].end) {
				*u = (struct hp_unsafe){ .tid = w->t->tid, .range = i, .pc = regs[k] };
				return true;
			}
	return w->t->stack && scan_stack(s, w, u);
}

/* The quick answer for most threads, with no unwinding: a thread whose PC
 * lies outside every range and none of whose stack words points into one
 * can neither be in a range nor return into one; unwinding would only
 * confirm it.  Sound only when the snapshot is the thread's whole stack
 * and the thread's frames are all on it, so it answers "don't know" (and
 * the unwinder decides) when:
 * - the snapshot stops short of the end of the stack mapping (capped, or
 *   unreadable), other than at glibc's thread descriptor;
 * - a word looks like part of a signal frame: a handler may run on an
 *   alternate signal stack while the frames it interrupted are on the
 *   thread's own, which this snapshot does not hold (the unwinder follows
 *   the signal frame there);
 * - any word points into a range (a stale word or a live return address:
 *   the unwinder tells which).
 * Like the unwinder, it sees only the stack the thread runs on now: the
 * stacks of coroutines switched away from are not looked at either way. */
static bool clear_of_ranges(const struct walk *w)
{
	const struct hp_thread_snap *t = w->t;
	uint64_t end = t->stack_end > t->stack_hi ? t->stack_end : t->stack_hi;
	uint64_t first = HP_ALIGN_UP(t->stack_lo, 8), pc = t->regs.rip;
	struct hp_unsafe hit;
	size_t ri;

	if (!t->stack || t->stack_hi <= first)
		return false;
	if (t->stack_hi < end &&
	    !(t->regs.fs_base == t->stack_hi && end - t->stack_hi <= THREAD_DESCRIPTOR_MAX))
		return false;
	if (in_ranges(w, pc, &ri) || ((int64_t)t->regs.orig_rax >= 0 && in_ranges(w, pc - 2, &ri)))
		return false;
	if (scan_words(w, t->stack + (first - t->stack_lo), first, t->stack_hi, first, &hit))
		return false;
	return !hp_arch__stack_may_hold_sigframe(t->stack + (first - t->stack_lo), t->stack_hi - first);
}

static int check_thread(struct hp_safety *s, struct walk *w, struct hp_unsafe *ret_unsafe)
{
	const struct hp_thread_snap *t = w->t;
	int r;

	if (points_into_data(s, w, &w->u)) {
		*ret_unsafe = w->u;
		return hp_err(-HP_E_UNSAFE, "thread %d still holds an address in %s (0x%llx)", t->tid,
			      range_name(&w->ranges[w->u.range]), (unsigned long long)w->u.pc);
	}

	if (clear_of_ranges(w)) {
		s->stats.cleared++;
		return 0;
	}
	s->stats.unwound++;
	w->depth = 0;
	w->last = CFI_UNKNOWN;
	w->unsure = NULL;
	w->hit = false;
	w->pending_escape = false;
	s->cur = t;
	s->read_failed = false;

	r = dwfl_getthread_frames(s->dwfl, t->tid, frame_cb, w);
	if (w->hit && w->want_escape && (w->unsure || w->pending_escape))
		w->u.escape_pc = guess_escape(s, w); /* frames after the hit untrusted */
	if (w->hit) {
		*ret_unsafe = w->u;
		return hp_err(-HP_E_UNSAFE, "thread %d is in %s (pc 0x%llx, frame %u)", t->tid,
			      range_name(&w->ranges[w->u.range]), (unsigned long long)w->u.pc,
			      w->u.depth);
	}
	if (!w->unsure) {
		if (r != 0)
			w->unsure = dwfl_errmsg(-1);
		else if (s->read_failed)
			w->unsure = "stack memory unreadable";
		else if (w->last != CFI_OUTERMOST)
			w->unsure = "unwinding stopped before the thread's entry";
	}
	if (!w->unsure)
		return 0;

	/* Unwinding did not reach the outermost frame: treat every word of
	 * the stack as a possible return address. */
	if (!t->stack || t->stack_hi <= t->stack_lo)
		return hp_err(-ENODATA, "thread %d: cannot unwind (%s) and no stack snapshot",
			      t->tid, w->unsure);
	if (scan_stack(s, w, &w->u)) {
		if (w->want_escape)
			w->u.escape_pc = guess_escape(s, w);
		*ret_unsafe = w->u;
		return hp_err(-HP_E_UNSAFE,
			      "thread %d may return into %s (stack word 0x%llx at 0x%llx; "
			      "unwinding failed: %s)",
			      t->tid, range_name(&w->ranges[w->u.range]),
			      (unsigned long long)w->u.pc,
			      (unsigned long long)(HP_ALIGN_UP(t->stack_lo, 8) +
						   8ull * (w->u.depth - SCAN_DEPTH)),
			      w->unsure);
	}
	return 0;
}

void hp_safety__stats(const struct hp_safety *s, struct hp_safety_stats *ret)
{
	*ret = s ? s->stats : (struct hp_safety_stats){ 0 };
}

int hp_safety__check(struct hp_safety *s, const struct hp_thread_snap *threads, size_t nthreads,
		     const struct hp_range *ranges, size_t nranges, struct hp_unsafe *ret_unsafe)
{
	struct hp_unsafe first = { 0 };
	size_t n = 0;
	int r = hp_safety__check_all(s, threads, nthreads, ranges, nranges, &first, 1, &n);

	if (r == -HP_E_UNSAFE && ret_unsafe)
		*ret_unsafe = first;
	return r;
}

int hp_safety__check_all(struct hp_safety *s, const struct hp_thread_snap *threads,
			 size_t nthreads, const struct hp_range *ranges, size_t nranges,
			 struct hp_unsafe *ret, size_t max, size_t *ret_n)
{
	struct walk w = { .s = s, .ranges = ranges, .nranges = nranges, .lo = UINT64_MAX, .hi = 0,
			  .want_escape = true };
	char first[1024] = "";
	size_t n = 0;
	int r = 0;

	*ret_n = 0;
	if (!s || (nthreads && !threads) || (nranges && !ranges))
		return -EINVAL;
	for (size_t i = 0; i < nranges; i++) {
		if (ranges[i].start >= ranges[i].end)
			continue;
		if (ranges[i].start < w.lo)
			w.lo = ranges[i].start;
		if (ranges[i].end > w.hi)
			w.hi = ranges[i].end;
	}
	if (w.lo >= w.hi)
		return 0;
	s->threads = threads;
	s->nthreads = nthreads;
	in_stop_window = true;
	for (size_t i = 0; i < nthreads; i++) {
		struct hp_unsafe u = { 0 };
		int k;

		w.t = &threads[i];
		k = check_thread(s, &w, &u);
		if (k == -HP_E_UNSAFE) {
			if (!first[0])
				snprintf(first, sizeof(first), "%s", hp_errmsg());
			if (n < max)
				ret[n] = u;
			n++;
		} else if (k < 0) {
			r = k;
			break;
		}
		hp_err_clear();
	}
	in_stop_window = false;
	s->threads = NULL;
	s->nthreads = 0;
	s->cur = NULL;
	*ret_n = n;
	if (r < 0)
		return r;
	if (n)
		return hp_err(-HP_E_UNSAFE, "%s", first);
	return 0;
}
