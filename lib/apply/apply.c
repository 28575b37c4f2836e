/* The apply transaction for one process:
 *   match -> plan -> load (process running; one thread borrowed briefly)
 *   -> stop when safe -> redirect -> record -> resume.
 * Every step before "resume" has its undo: on any failure the jumps written
 * are put back and the mapping is removed, so the process ends as it began. */
#include <fcntl.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include "common/common.h"
#include "elf/elf.h"
#include "safety/safety.h"
#include "apply/apply.h"
#include "apply/quiesce.h"
#include "apply/steps.h"
#include "apply/txn.h"

/* The active ledger of the object (its newest applied level), or NULL. */
struct hp_ledger *hp_txn__top(const struct hp_ledger_set *ls, const struct hp_object *obj)
{
	for (size_t i = 0; i < ls->n; i++)
		if (hp_ledger_state(ls->l[i]) == HP_LEDGER_ACTIVE && ls->l[i]->object_base == obj->base)
			return ls->l[i];
	return NULL;
}

struct hp_ledger *hp_txn__by_map(const struct hp_ledger_set *ls, uint64_t map_start)
{
	for (size_t i = 0; i < ls->n; i++)
		if (ls->l[i]->map_start == map_start)
			return ls->l[i];
	return NULL;
}

/* Reconstructs the original bytes of a function: memory, with the bytes
 * every active redirect overwrote replaced by what the ledger kept. */
static int original_bytes(struct hp_target *t, const struct hp_ledger *top, uint64_t addr,
			  uint64_t size, uint8_t *buf)
{
	int r = hp_target__read(t, addr, buf, size);

	if (r < 0)
		return r;
	for (uint32_t i = 0; top && i < top->nentries; i++) {
		const struct hp_ledger_entry *e = &top->e[i];

		for (uint32_t k = 0; k < e->len; k++)
			if (e->addr + k >= addr && e->addr + k < addr + size)
				buf[e->addr + k - addr] = e->orig[k];
	}
	return 0;
}

/* Match: every function's bytes are the ones the patch was built against. */
static int build_entries(struct hp_target *t, const struct hp_patch *p, const struct hp_object *obj,
			 const struct hp_ledger *top, struct hp_ledger_entry **ret, size_t *ret_n)
{
	size_t cap = p->nfuncs + (top ? top->nentries : 0), n = 0;
	struct hp_ledger_entry *es = calloc(cap ? cap : 1, sizeof(*es));
	int r = 0;

	if (!es)
		return -ENOMEM;
	for (size_t i = 0; i < p->nfuncs; i++) {
		const struct hp_patch_func *f = &p->funcs[i];
		struct hp_ledger_entry *e = &es[n++];
		uint64_t addr = obj->base + f->old_addr;
		uint8_t sha[32];
		_cleanup_free_ uint8_t *code = malloc(f->old_size);
		size_t skip;

		if (!code) {
			r = -ENOMEM;
			break;
		}
		r = original_bytes(t, top, addr, f->old_size, code);
		if (r < 0) {
			r = hp_err(-HP_E_ORIG_CHANGED, "cannot read %s at 0x%lx in process %d",
				   f->old_name, (unsigned long)addr, t->pid);
			break;
		}
		crypto_hash_sha256(sha, code, f->old_size);
		if (memcmp(sha, f->old_sha256, 32)) {
			r = hp_err(-HP_E_ORIG_CHANGED,
				   "the code of %s in process %d is not what the patch was built against (changed by another tool?)",
				   f->old_name, t->pid);
			break;
		}
		skip = hp_arch__entry_skip(code, f->old_size);
		r = hp_arch__check_redirect(f->old_name, code, f->old_size, addr, skip);
		if (r < 0)
			break;
		e->func_addr = addr;
		e->func_size = f->old_size;
		e->addr = addr + skip;
		e->len = HP_JMP_LEN;
		memcpy(e->orig, code + skip, f->old_size - skip < HP_SAVED_LEN ? f->old_size - skip : HP_SAVED_LEN);
		r = hp_target__read(t, e->addr, e->prev, HP_SAVED_LEN);
		if (r < 0)
			break;
		snprintf(e->name, sizeof(e->name), "%s", f->old_name);
	}
	/* Functions the level below redirected and this one does not: back to the original. */
	for (uint32_t i = 0; r == 0 && top && i < top->nentries; i++) {
		const struct hp_ledger_entry *old = &top->e[i];
		size_t k;

		if (!old->new_addr)
			continue;
		for (k = 0; k < p->nfuncs; k++)
			if (es[k].addr == old->addr)
				break;
		if (k < p->nfuncs)
			continue;
		es[n] = *old;
		es[n].new_addr = 0;
		r = hp_target__read(t, old->addr, es[n].prev, HP_SAVED_LEN);
		n++;
	}
	if (r < 0) {
		free(es);
		return r;
	}
	*ret = es;
	*ret_n = n;
	return 0;
}

/* The bytes an entry holds once its level is applied: a jump to the new
 * code, or the original bytes for a function the level no longer replaces. */
int hp_txn__forward_bytes(const struct hp_ledger_entry *e, uint8_t code[HP_SAVED_LEN])
{
	if (!e->new_addr) {
		memcpy(code, e->orig, HP_SAVED_LEN);
		return 0;
	}
	if (hp_arch__encode_jmp(e->addr, e->new_addr, code) < 0)
		return hp_err(-HP_E_RELOC, "%s: replacement out of jump range", e->name);
	return 0;
}

int hp_txn__entry_written(struct hp_target *t, const struct hp_ledger_entry *e)
{
	uint8_t fwd[HP_SAVED_LEN], mem[HP_SAVED_LEN];
	int is_fwd = 1, is_prev = 1;

	if (hp_txn__forward_bytes(e, fwd) < 0 || e->len > HP_SAVED_LEN ||
	    hp_target__read(t, e->addr, mem, e->len) < 0) {
		hp_err_clear();
		return -2;
	}
	for (uint32_t k = 0; k < e->len; k++) {
		if (mem[k] != fwd[k])
			is_fwd = 0;
		if (mem[k] != e->prev[k])
			is_prev = 0;
		if (mem[k] != fwd[k] && mem[k] != e->prev[k])
			return -2;
	}
	return is_fwd ? 1 : is_prev ? 0 : -1;
}

/* forward: writes each entry's applied bytes; else its previous bytes.  On
 * failure every entry touched (the failing one included: a write may have
 * been partial) gets its bytes from before this call back. */
int hp_txn__redirect(struct hp_target *t, struct hp_ledger_entry *es, size_t n, int forward)
{
	size_t i;
	int r = 0;

	for (i = 0; i < n; i++) {
		uint8_t code[HP_SAVED_LEN];

		if (forward)
			r = hp_txn__forward_bytes(&es[i], code);
		else
			memcpy(code, es[i].prev, HP_SAVED_LEN);
		if (r == 0)
			r = hp_target__write(t, es[i].addr, code, es[i].len);
		if (r < 0) {
			if (!hp_errmsg()[0])
				hp_err(r, "cannot write the jump into %s: %s", es[i].name, strerror(-r));
			break;
		}
		hp_steps__point(HP_STEP_JUMP, (unsigned)i + 1);
	}
	if (r < 0) {
		for (size_t k = 0; k <= i && k < n; k++) {
			uint8_t code[HP_SAVED_LEN];

			if (forward)
				memcpy(code, es[k].prev, HP_SAVED_LEN);
			else if (hp_txn__forward_bytes(&es[k], code) < 0)
				continue;
			hp_target__write(t, es[k].addr, code, es[k].len);
		}
	}
	return r;
}

static int remote(struct hp_target *t, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		  uint64_t a4, uint64_t a5, long *ret)
{
	uint64_t args[6] = { a0, a1, a2, a3, a4, a5 };
	long v = 0;
	int r = hp_target__syscall(t, nr, args, &v);

	if (r < 0)
		return r;
	if (ret)
		*ret = v;	/* the errno of a failure too */
	if (v < 0 && v > -4096)
		return hp_err(-HP_E_REMOTE, "system call %ld in process %d failed: %s", nr, t->pid,
			      strerror((int)-v));
	return 0;
}

int hp_txn__unmap(struct hp_target *t, uint64_t start, uint64_t len)
{
	return remote(t, SYS_munmap, start, len, 0, 0, 0, 0, NULL);
}

/* Creates the memfd in the target, maps it near the object, fills it. */
static void fill_ledger(struct hp_image *img, const struct hp_patch *p, const struct hp_object *obj,
			const struct hp_ledger *top, const struct hp_ledger_entry *es, size_t n);

/* A remote call slower than this waited for a CPU (see load()). */
#define SLOW_REMOTE_MS 2.0

/* Creates the memfd in the target, maps it near the object, and fills it:
 * patch code and a PENDING ledger (es get their new addresses).  Returns
 * with every thread still stopped when it had to stop them all. */
static int load(struct hp_target *t, const struct hp_patch *p, struct hp_map **maps, size_t *nmaps,
		const struct hp_object *obj, const struct hp_ledger *top, struct hp_ledger_entry *es,
		size_t nes, struct hp_image *img, uint64_t *ret_map, uint64_t *ret_len)
{
	size_t ledger_bytes = sizeof(struct hp_ledger) + nes * sizeof(*es);
	char name[128];
	uint64_t len, at = 0;
	long fd = -1, got = 0;
	char path[64];
	int lfd = -1, r, tries;
	uint64_t args[6] = { 0, 1 /* MFD_CLOEXEC */, 0, 0, 0, 0 };

	pid_t held = 0;
	/* A borrowed thread waits for a CPU at each of our system calls; among
	 * busy threads (the target's own or others) that is a scheduler slice
	 * each, tens of ms.  Then every thread is stopped for the few calls
	 * instead, and stays stopped for the check and the jump that follow
	 * (hp_quiesce() goes on from here): one window, not two that a thread
	 * stopped in both would feel as one long gap.  With CPUs to spare, one
	 * borrowed thread is enough and the others run on.  Busy is what the
	 * machine's steady runnable count says, or the first call's time. */
	int stop_all = t->nthreads > 1 &&
		       hp_machine_runnable_steady() > (unsigned long)hp_machine_cpus() + 1;
	double call_ms;

	_cleanup_free_ uint64_t *ext = NULL;

	/* Everything that needs no stopped thread comes first: the layout,
	 * finding other libraries' symbols (opens their files), and the
	 * syscall instruction we borrow. */
	r = hp_image__size(p, ledger_bytes, &len);
	if (r == 0)
		r = hp_image__resolve(p, t, *maps, *nmaps, obj, &ext);
	if (r == 0)
		r = hp_target__find_syscall(t);
	if (r == 0)
		r = stop_all ? hp_target__stop_all(t) : hp_target__hold(t, &held);
	if (r < 0) {
		if (stop_all)
			hp_target__resume_all(t);
		return r;
	}
	snprintf(name, sizeof(name), HP_MEMFD_PREFIX "%s", p->info.id);
	call_ms = hp_now_ms();
	r = hp_target__syscall_data(t, SYS_memfd_create, args, name, strlen(name) + 1, 0, &fd);
	if (r == 0 && fd < 0)
		r = hp_err(-HP_E_REMOTE, "memfd_create in process %d failed: %s", t->pid,
			   strerror((int)-fd));
	if (r < 0) {
		fd = -1;
		goto out;
	}
	if (!stop_all && t->nthreads > 1 && hp_now_ms() - call_ms > SLOW_REMOTE_MS) {
		stop_all = 1;
		r = hp_target__stop_all(t);
		if (r < 0)
			goto out;
	}
	hp_steps__point(HP_STEP_LOAD, 1);
	snprintf(path, sizeof(path), "/proc/%d/fd/%ld", hp_target__proc_id(t), fd);
	lfd = open(path, O_RDWR | O_CLOEXEC);
	if (lfd < 0) {
		r = hp_err(-errno, "cannot open the patch memfd of process %d: %s", t->pid,
			   strerror(errno));
		goto out;
	}
	if (ftruncate(lfd, (off_t)len) < 0) {
		r = hp_err(-errno, "cannot size the patch memory: %s", strerror(errno));
		goto out;
	}
	/* A thread may map something at our chosen address meanwhile: retry.
	 * The reason of the last failure is kept for the message (the
	 * target's memory limit, RLIMIT_AS: ENOMEM, retried in vain). */
	char last[512] = "";

	for (tries = 0; tries < 4; tries++) {
		r = hp_place(*maps, *nmaps, obj, len, &at);
		if (r < 0)
			goto out;
		r = remote(t, SYS_mmap, at, len, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE,
			   (uint64_t)fd, 0, &got);
		if (r == 0 && (uint64_t)got == at)
			break;
		if (r == 0) /* an old kernel ignoring NOREPLACE placed it elsewhere */
			remote(t, SYS_munmap, (uint64_t)got, len, 0, 0, 0, 0, NULL);
		else if (got == -ENOMEM && hp_target__as_full(t, len, last, sizeof(last))) {
			hp_err_clear();	/* no other place fits either */
			r = hp_err(-ENOMEM, "cannot map the patch into process %d: %s", t->pid, last);
			goto out;
		} else
			snprintf(last, sizeof(last), ": %s", hp_errmsg());
		hp_err_clear();
		free(*maps);
		*maps = NULL;
		r = hp_target__maps(t, maps, nmaps);
		if (r < 0)
			goto out;
		r = -HP_E_NO_SPACE;
	}
	if (r < 0) {
		r = hp_err(r, "could not map the patch near %s in process %d%s", obj->path, t->pid, last);
		goto out;
	}
	hp_steps__point(HP_STEP_LOAD, 2);
	r = hp_image__build(p, ext, obj, at, ledger_bytes, img);
	if (r == 0) {
		for (size_t i = 0; i < nes && i < p->nfuncs; i++)
			es[i].new_addr = img->func_new[i];
		fill_ledger(img, p, obj, top, es, nes);
	}
	if (r == 0 && pwrite(lfd, img->bytes, img->map_len, 0) != (ssize_t)img->map_len)
		r = hp_err(-EIO, "cannot write the patch into process %d's memory", t->pid);
	if (r == 0 && img->text_len)
		r = remote(t, SYS_mprotect, at + img->text_off, img->text_len, PROT_READ | PROT_EXEC, 0,
			   0, 0, NULL);
	if (r == 0 && img->data_len)
		r = remote(t, SYS_mprotect, at + img->data_off, img->data_len,
			   PROT_READ | PROT_WRITE, 0, 0, 0, NULL);
	if (r < 0)
		remote(t, SYS_munmap, at, len, 0, 0, 0, 0, NULL);
	else {
		*ret_map = at;
		*ret_len = len;
	}
out:
	if (lfd >= 0)
		close(lfd);
	if (fd >= 0)
		remote(t, SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0, NULL);
	if (stop_all && r < 0)
		hp_target__resume_all(t);
	else if (!stop_all)
		hp_target__release(t, held);
	return r;
}

static void fill_ledger(struct hp_image *img, const struct hp_patch *p, const struct hp_object *obj,
			const struct hp_ledger *top, const struct hp_ledger_entry *es, size_t n)
{
	struct hp_ledger *l = (struct hp_ledger *)img->bytes;

	memcpy(l->magic, HP_LEDGER_MAGIC, 8);
	l->version = HP_LEDGER_VERSION;
	l->state = HP_LEDGER_PENDING;
	l->level = p->info.level;
	l->nentries = (uint32_t)n;
	l->applied_at = (uint64_t)time(NULL);
	l->map_start = img->map_start;
	l->map_len = img->map_len;
	l->text_start = img->map_start + img->text_off;
	l->text_end = l->text_start + img->text_len;
	l->object_base = obj->base;
	l->prev_map = top ? top->map_start : 0;
	l->build_id_len = (uint32_t)p->info.build_id_len;
	memcpy(l->build_id, p->info.build_id, p->info.build_id_len);
	snprintf(l->patch_id, sizeof(l->patch_id), "%s", p->info.id);
	snprintf(l->object, sizeof(l->object), "%s", obj->path);
	memcpy(l->patch_sha256, p->sha256, 32);
	memcpy(l->e, es, n * sizeof(*es));
}

int hp_apply(const struct hp_patch *p, pid_t pid, const struct hp_apply_opts *opts,
	     struct hp_apply_result *res)
{
	double t0 = hp_now_ms(), timeout = opts && opts->timeout_sec > 0 ? opts->timeout_sec : 5.0;
	const volatile sig_atomic_t *cancel = opts ? opts->cancel : NULL;
	struct hp_target *t = NULL;
	struct hp_map *maps = NULL;
	size_t nmaps = 0, nes = 0, nranges = 0;
	struct hp_object obj = { 0 };
	struct hp_ledger_set ls = { 0 };
	struct hp_ledger *top, *mine;
	struct hp_ledger_entry *es = NULL;
	struct hp_image img = { 0 };
	struct hp_safety *safety = NULL;
	struct hp_range *ranges = NULL;
	struct hp_steps steps;
	uint64_t map = 0, map_len = 0;
	struct hp_quiesce_stats qs = { 0 };
	int r, redirected = 0, armed = 0, superseded = 0;

	hp_err_clear();
	memset(res, 0, sizeof(*res));
	hp_steps__start(&steps, res->step_ms, 0);
	r = hp_target__open(pid, &t);
	if (r < 0)
		return r;
	r = hp_target__maps(t, &maps, &nmaps);
	if (r == 0)
		r = hp_object__find(t, maps, nmaps, p, &obj);
	/* Holding every thread makes us the only hotpatch on this process
	 * (another tracer cannot seize it): only now are the ledgers the truth,
	 * and the object still mapped as it was found. */
	if (r == 0)
		r = hp_target__seize_all(t);
	if (r == 0) {
		free(maps);
		maps = NULL;
		r = hp_target__maps(t, &maps, &nmaps);
	}
	if (r == 0)
		r = hp_object__check(&obj, maps, nmaps, p, pid);
	if (r == 0)
		r = hp_ledger__scan(t, maps, nmaps, &ls);
	if (r < 0)
		goto out;
	hp_steps__end(&steps, HP_STEP_ATTACH);
	for (size_t i = 0; i < ls.n; i++)
		if (!strcmp(ls.l[i]->patch_id, p->info.id) && ls.l[i]->object_base == obj.base &&
		    hp_ledger_state(ls.l[i]) != HP_LEDGER_PENDING) {
			r = hp_err(-HP_E_ALREADY, "patch %s is already applied to process %d (level %u)",
				   p->info.id, pid, ls.l[i]->level);
			goto out;
		}
	/* A leftover of a hotpatch that died changing this object: its bytes
	 * and levels are not what the ledgers say until it is repaired. */
	for (size_t i = 0; i < ls.n; i++)
		if (ls.l[i]->object_base == obj.base &&
		    (hp_ledger_state(ls.l[i]) == HP_LEDGER_REVERTING ||
		     (hp_ledger_state(ls.l[i]) == HP_LEDGER_PENDING && hp_ledger_armed(ls.l[i])))) {
			r = hp_err(-HP_E_LEDGER,
				   "an interrupted operation on %s is recorded in process %d: run hotpatch repair %d first",
				   ls.l[i]->patch_id, pid, pid);
			goto out;
		}
	top = hp_txn__top(&ls, &obj);
	if (top && top->level >= p->info.level) {
		r = hp_err(-HP_E_LEVEL,
			   "process %d runs %s at level %u; patch %s has level %u (must be higher)", pid,
			   top->patch_id, top->level, p->info.id, p->info.level);
		goto out;
	}
	r = build_entries(t, p, &obj, top, &es, &nes);
	if (r < 0)
		goto out;
	if (nes > HP_LEDGER_MAX_ENTRIES) {
		r = hp_err(-HP_E_UNSUPPORTED, "%zu redirected functions: the ledger holds at most %d",
			   nes, HP_LEDGER_MAX_ENTRIES);
		goto out;
	}

	/* What no thread may be in: the functions replaced and the code of the level replaced. */
	ranges = calloc(2 * nes + 1, sizeof(*ranges));
	if (!ranges) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nes; i++) {
		char cold[200];
		struct hp_sym cs;

		ranges[nranges++] = (struct hp_range){ es[i].func_addr, es[i].func_addr + es[i].func_size,
						       es[i].name, 0 };
		/* gcc moves unlikely paths out into NAME.cold: a thread there is
		 * inside the function too (it jumps back into its body). */
		snprintf(cold, sizeof(cold), "%s.cold", es[i].name);
		if (obj.elf && hp_elf__find_symbol(obj.elf, cold,
						   i < p->nfuncs && p->funcs[i].old_file[0] ? p->funcs[i].old_file : NULL,
						   0, &cs) == 0 && cs.size)
			ranges[nranges++] = (struct hp_range){ obj.base + cs.value,
							       obj.base + cs.value + cs.size, es[i].name, 0 };
		hp_err_clear();
	}
	if (top)
		ranges[nranges++] = (struct hp_range){ top->text_start, top->text_end, top->patch_id, 0 };

	r = hp_safety__new(pid, &safety);
	if (r < 0)
		goto out;
	hp_steps__end(&steps, HP_STEP_CHECK);
	r = hp_cancelled(cancel);
	/* load() may begin the stop window: the snapshot memory comes first. */
	hp_quiesce_prepare(t);
	if (r == 0)
		r = load(t, p, &maps, &nmaps, &obj, top, es, nes, &img, &map, &map_len);
	if (r < 0)
		goto out;
	mine = (struct hp_ledger *)img.bytes;
	hp_steps__end(&steps, HP_STEP_LOAD);

	r = hp_quiesce(t, safety, &maps, &nmaps, ranges, nranges, timeout, cancel, &qs);
	if (r < 0)
		goto unmap;
	hp_steps__end(&steps, HP_STEP_STOP);
	/* The last moment to cancel: nothing of the process's code changed yet. */
	r = hp_cancelled(cancel);
	if (r < 0)
		goto unmap;

	/* The window in which the process must not run: from the first jump
	 * to the commit.  Should we die in it, the dead-man stop holds the
	 * process and the ledger (PENDING|ARMED) tells repair what to undo. */
	r = hp_target__deadman_arm(t);
	if (r == 0) {
		armed = 1;
		r = hp_ledger__set_state(t, mine, HP_LEDGER_PENDING | HP_LEDGER_ARMED);
	}
	if (r == 0)
		r = hp_txn__redirect(t, es, nes, 1);
	if (r < 0)
		goto unmap;
	redirected = 1;
	hp_steps__end(&steps, HP_STEP_JUMP);
	if (top) {
		r = hp_ledger__set_state(t, top, HP_LEDGER_SUPERSEDED);
		superseded = r == 0;
	}
	/* The commit: one 4-byte write. */
	if (r == 0)
		r = hp_ledger__set_state(t, mine, HP_LEDGER_ACTIVE | HP_LEDGER_ARMED);
	if (r < 0)
		goto unmap;
	hp_steps__end(&steps, HP_STEP_LEDGER);
	hp_target__deadman_disarm(t);
	hp_ledger__set_state(t, mine, HP_LEDGER_ACTIVE);
	hp_steps__end(&steps, HP_STEP_RESUME);
	res->nthreads = (unsigned)t->nthreads;
	/* Applied only if the process runs on with it: one that died while we
	 * held it never ran the patch. */
	r = hp_target__detach_all(t);
	if (r < 0)
		goto out;
	hp_steps__end(&steps, HP_STEP_DETACH);

	snprintf(res->patch_id, sizeof(res->patch_id), "%s", p->info.id);
	res->level = p->info.level;
	res->prev_level = top ? top->level : 0;
	res->nfuncs = p->nfuncs;
	res->attempts = qs.attempts;
	res->escaped = qs.released;
	res->arrived = qs.arrived;
	{
		struct hp_safety_stats ss;

		hp_safety__stats(safety, &ss);
		res->cleared = (unsigned)ss.cleared;
		res->unwound = (unsigned)ss.unwound;
	}
	res->map_start = map;
	res->map_len = map_len;
	res->build_id_len = p->info.build_id_len;
	memcpy(res->build_id, p->info.build_id, p->info.build_id_len);
	memcpy(res->patch_sha256, p->sha256, 32);
	res->pause_ms = t->longest_pause_ms;
	goto out;

unmap:
	/* Undo in reverse: jumps, ledger states, the dead-man stop (before any
	 * thread runs a remote call), the mapping -- which must stay while any
	 * jump into it might remain.  Nothing to undo in a process that died. */
	if (hp_target__exited(t))
		goto out;
	if (redirected) {
		char why[1024];

		snprintf(why, sizeof(why), "%s", hp_errmsg());
		if (hp_txn__redirect(t, es, nes, 0) < 0) {
			if (top)
				hp_ledger__set_state(t, top, HP_LEDGER_SUPERSEDED);
			hp_ledger__set_state(t, mine, HP_LEDGER_ACTIVE);
			if (armed)
				hp_target__deadman_disarm(t);
			hp_err_clear();
			r = hp_err(r, "%s; undoing it failed too: the patch stays applied (see hotpatch status)",
				   why);
			goto out;
		}
	}
	if (superseded)
		hp_ledger__set_state(t, top, HP_LEDGER_ACTIVE);
	if (armed) {
		hp_ledger__set_state(t, mine, HP_LEDGER_PENDING);
		hp_target__deadman_disarm(t);
	}
	if (map) {
		/* Should the unmap fail, the leftover says it is not in effect. */
		hp_ledger__set_state(t, (struct hp_ledger *)img.bytes, HP_LEDGER_PENDING);
		hp_txn__unmap(t, map, map_len);
	}
out:
	/* Whatever failed first (a read, a remote call, a write), the cause
	 * is the one thing the user needs. */
	if (r < 0 && t && hp_target__exited(t)) {
		hp_err_clear();
		r = hp_err(-HP_E_GONE, "process %d exited during apply (step %s)", pid,
			   hp_step_name(hp_steps__current(&steps)));
	}
	res->total_ms = hp_now_ms() - t0;
	hp_target__close(t);
	hp_safety__free(safety);
	hp_image__free(&img);
	hp_ledger__free(&ls);
	hp_object__release(&obj);
	free(ranges);
	free(es);
	free(maps);
	return r;
}
