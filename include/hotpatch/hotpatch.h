/* hotpatch — live patching of running Linux processes.
 *
 * Conventions: functions return 0 or a negative error (-errno, or -HP_E_* for
 * hotpatch's own conditions, which start at 4000).  hp_strerror() names a code;
 * hp_errmsg() gives the detail of the last failure on this thread (which
 * symbol, which thread, which function).  The library never prints or exits.
 */
#ifndef HOTPATCH_H
#define HOTPATCH_H

#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

enum hp_error {
	HP_E_FORMAT = 4000,	/* patch file malformed */
	HP_E_BUILDID,		/* target object with the patch's build-id not mapped */
	HP_E_ORIG_CHANGED,	/* original function bytes differ from the recorded hash */
	HP_E_SYM_NOT_FOUND,	/* a symbol could not be resolved */
	HP_E_SYM_AMBIGUOUS,	/* a name matches several local symbols */
	HP_E_UNSAFE,		/* not safe now: a thread stayed inside a replaced function, or cannot be stopped */
	HP_E_TOO_SHORT,		/* function shorter than the jump */
	HP_E_BRANCH_INTO,	/* a branch lands inside the overwritten bytes */
	HP_E_RELOC,		/* relocation unsupported or out of range */
	HP_E_NOT_TOP,		/* revert of a patch that is not the newest level */
	HP_E_LEVEL,		/* level not above the applied one */
	HP_E_ALREADY,		/* patch already applied */
	HP_E_NOT_APPLIED,	/* patch not applied */
	HP_E_TRACED,		/* process is traced by someone else */
	HP_E_GONE,		/* process exited or is exiting */
	HP_E_LEDGER,		/* ledger in the process is damaged */
	HP_E_NO_SPACE,		/* no free address range within +-2 GiB */
	HP_E_UNSUPPORTED,	/* feature of the input hotpatch does not handle */
	HP_E_REMOTE,		/* a syscall run inside the target failed */
	HP_E_BUILD,		/* hotpatch build: the fix does not apply or the project does not build */
	HP_E_NOT_LOADED,	/* the object is mapped (as data) but not loaded: the process does not run it */
	HP_E_CANCELLED,		/* cancelled by the caller (opts->cancel) before any change */
	HP_E_LAST
};

const char *hp_strerror(int err);
/* Detail of the last error raised on this thread ("" when none). */
const char *hp_errmsg(void);

/* ---- patch files ------------------------------------------------------ */

enum hp_severity { HP_SEV_LOW, HP_SEV_MODERATE, HP_SEV_IMPORTANT, HP_SEV_CRITICAL };
const char *hp_severity_name(int sev);
int hp_severity_parse(const char *s);

struct hp_patch;		/* an opened, validated .hp file */

int hp_patch__open(const char *path, struct hp_patch **ret);
int hp_patch__open_mem(const void *buf, size_t len, struct hp_patch **ret);
void hp_patch__close(struct hp_patch *p);

struct hp_patch_info {
	uint32_t format_version;
	uint32_t level;
	int severity;
	const char *id;
	const char *target_name;
	const char *description;
	const char *cves;	/* comma separated, may be "" */
	const char *supersedes;	/* comma separated, may be "" */
	uint8_t build_id[64];
	size_t build_id_len;
	size_t nfuncs;
};
void hp_patch__info(const struct hp_patch *p, struct hp_patch_info *ret);

struct hp_patch_func {
	const char *old_name;
	const char *old_file;	/* source file of a local symbol, "" when global */
	uint32_t old_sympos;	/* position among same-named locals, 0 when unique */
	uint64_t old_addr;	/* st_value in the target object */
	uint64_t old_size;
	uint8_t old_sha256[32];
	const char *new_name;	/* symbol in the patch object */
};
int hp_patch__func(const struct hp_patch *p, size_t i, struct hp_patch_func *ret);

/* Everything "hotpatch pack" needs. */
struct hp_pack_opts {
	const char *target;		/* path of the target executable or library */
	const char *const *objs;	/* replacement objects (-c) */
	size_t nobjs;
	const char *const *replace;	/* "OLD" or "OLD=NEW"; NULL/0: by name */
	size_t nreplace;
	const char *id;
	uint32_t level;
	int severity;
	const char *const *cves;
	size_t ncves;
	const char *description;
	const char *output;
};
int hp_pack(const struct hp_pack_opts *opts);

/* ---- live processes --------------------------------------------------- */

struct hp_apply_opts {
	double timeout_sec;	/* how long to retry the consistency check (default 5) */
	/* When set, a flag the caller raises (from a signal handler, say) to
	 * cancel: looked at between steps and while the check is retried.
	 * Before the first jump is written, everything is rolled back and
	 * -HP_E_CANCELLED returned; from the first jump on, the change is
	 * completed as if the flag were not there (the caller reports it). */
	const volatile sig_atomic_t *cancel;
};

/* The named steps of apply and revert, in the order they run:
 *   apply:  attach check load stop jump ledger resume detach
 *   revert: attach check stop jump ledger resume unmap detach
 * "jump" is every jump written (apply) or restored (revert); "ledger" is
 * the commit; "resume" lifts the dead-man stop (see lib/target/deadman.c).
 * Each step boundary leaves the target safe should hotpatch die there
 * (hotpatch repair finishes or undoes what was under way). */
enum hp_step {
	HP_STEP_ATTACH, HP_STEP_CHECK, HP_STEP_LOAD, HP_STEP_STOP, HP_STEP_JUMP,
	HP_STEP_LEDGER, HP_STEP_RESUME, HP_STEP_UNMAP, HP_STEP_DETACH, HP_STEP_N
};
const char *hp_step_name(int step);

struct hp_func_result {
	char name[128];
	uint64_t old_addr, new_addr;
};

struct hp_apply_result {
	char patch_id[64];
	uint32_t level;
	uint32_t prev_level;	/* 0 when nothing was applied before */
	size_t nfuncs;
	unsigned nthreads;
	unsigned attempts;	/* consistency checks run */
	unsigned escaped;	/* threads found inside a replaced function and run
				 * alone to the address just outside it */
	unsigned arrived;	/* of them, seen arriving there (at its breakpoint) */
	unsigned cleared;	/* thread checks decided by one pass over the stack
				 * (no word points into a replaced function) */
	unsigned unwound;	/* thread checks that needed the CFI unwinder */
	double pause_ms;	/* longest time all threads were stopped */
	double total_ms;
	uint64_t map_start, map_len;
	uint8_t build_id[64];	/* of the patched object */
	size_t build_id_len;
	uint8_t patch_sha256[32];	/* of the patch file applied or reverted */
	int kept_mapped;	/* revert: a thread still pointed into the patch's memory
				 * at the timeout; the (unreachable) mapping was left for
				 * hotpatch repair or a later revert to remove */
	double step_ms[HP_STEP_N];	/* time spent in each step (0: not run) */
};

int hp_apply(const struct hp_patch *p, pid_t pid, const struct hp_apply_opts *opts,
	     struct hp_apply_result *ret);
int hp_revert(const char *patch_id, pid_t pid, const struct hp_apply_opts *opts,
	      struct hp_apply_result *ret);

enum hp_patch_state {
	HP_PATCH_PENDING,	/* loaded, not in effect: an apply under way or interrupted */
	HP_PATCH_ACTIVE,	/* its jumps are installed */
	HP_PATCH_SUPERSEDED,	/* a higher level replaced it */
	HP_PATCH_REVERTING,	/* a revert under way or interrupted */
};
const char *hp_patch_state_name(int state);

/* One applied patch as the ledger in the process records it. */
struct hp_status_entry {
	char patch_id[64];
	char object[256];	/* path of the patched object */
	uint8_t build_id[64];
	size_t build_id_len;
	uint32_t level;
	int active;		/* 1: its jumps are installed; 0: superseded, or a leftover */
	int state;		/* enum hp_patch_state */
	int interrupted;	/* hotpatch died while it changed this patch (see repair) */
	unsigned jumps_written;	/* entries whose bytes are this patch's (pending/active/reverting) */
	unsigned jumps_torn;	/* entries half written: neither before nor after bytes */
	uint64_t applied_at;	/* unix time */
	uint64_t map_start, map_len;
	size_t nfuncs;
	struct hp_func_result funcs[64];	/* first 64 */
};

/* Fills up to max entries; *ret_n gets the count found.  Leftovers of an
 * interrupted apply or revert are listed too (state pending / reverting). */
int hp_status(pid_t pid, struct hp_status_entry *ret, size_t max, size_t *ret_n);

/* What a hotpatch that died may have left in a process besides ledgers,
 * read from /proc without stopping it. */
struct hp_leftovers {
	int stopped;		/* job-control stopped (state T) */
	int deadman;		/* ... and a ledger says hotpatch armed its dead-man stop */
	unsigned memfd_fds;	/* descriptors of hotpatch memfds still open in it */
	unsigned empty_maps;	/* hotpatch mappings never filled (death during load) */
	unsigned damaged_maps;	/* hotpatch mappings with an unreadable ledger (left alone) */
};
int hp_leftovers(pid_t pid, struct hp_leftovers *ret);

/* Repair: attaches and rolls back an interrupted apply (restores the bytes
 * of its written jumps, unmaps it, puts the level below back), finishes an
 * interrupted revert, removes empty mappings and stray memfd descriptors,
 * and continues a process stopped by hotpatch's dead-man stop. */
struct hp_repair_result {
	char patch_id[64];	/* the (last) patch whose operation was repaired, "" when none */
	unsigned rolled_back;	/* interrupted applies undone */
	unsigned finished;	/* interrupted reverts completed */
	unsigned jumps_restored;
	unsigned unmapped;	/* patch mappings removed */
	unsigned fds_closed;
	unsigned marks_cleared;	/* committed patches whose dead-man mark was cleared */
	int continued;		/* the process was stopped by the dead-man and continued */
	unsigned nthreads;
	double total_ms;
};
/* 0 with everything in *ret zero: nothing to repair. */
int hp_repair(pid_t pid, struct hp_repair_result *ret);

/* Test and benchmark hook: seize all threads, interrupt, wait, detach; no patch. */
int hp_stop_resume(pid_t pid, double *ret_pause_ms, unsigned *ret_nthreads);

#ifdef __cplusplus
}
#endif
#endif
