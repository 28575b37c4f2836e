/* hotpatch apply, revert, status and stop-resume: the commands that act on
 * running processes.  Each PID is handled on its own; the exit code is the
 * worst of them. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hotpatch/hotpatch.h"
#include <errno.h>
#include <sodium.h>
#include "common/common.h"
#include "cli.h"
#include "policy.h"

struct targets {
	pid_t *pids;
	int n;
	double timeout;
	const char *first;	/* the positional argument before the PIDs */
	const char *keys;	/* --keys DIR */
	int allow_unsigned;
	int verbose;		/* -v: the time of each step */
	int no_journal;		/* revert --no-journal: to the system log instead */
};

static int parse_targets(struct cli *c, const char *cmd, int argc, char **argv, int need_first,
			 struct targets *t)
{
	static const struct option opts[] = { { "timeout", required_argument, 0, 't' },
					      { "json", no_argument, 0, 'j' },
					      { "keys", required_argument, 0, 'k' },
					      { "allow-unsigned", no_argument, 0, 'U' },
					      { "verbose", no_argument, 0, 'v' },
					      { "no-journal", no_argument, 0, 'J' }, { 0 } };
	int ch;

	memset(t, 0, sizeof(*t));
	t->timeout = 5.0;
	while ((ch = getopt_long(argc, argv, "t:jk:Uv", opts, NULL)) != -1) {
		if (ch == 'v') {
			t->verbose = 1;
		} else if (ch == 'k' && !strcmp(cmd, "apply")) {
			t->keys = optarg;
		} else if (ch == 'U' && !strcmp(cmd, "apply")) {
			t->allow_unsigned = 1;
		} else if (ch == 'J' && !strcmp(cmd, "revert")) {
			t->no_journal = 1;
		} else if (ch == 't') {
			char *end;

			t->timeout = strtod(optarg, &end);
			/* written so that nan fails too */
			if (end == optarg || *end || !(t->timeout > 0 && t->timeout <= 3600))
				return cli_usage(c, "%s: --timeout takes seconds (0 < SEC <= 3600)", cmd);
		} else if (ch != 'j') {
			return cli_usage(c, "%s: bad option", cmd);
		}
	}
	if (need_first) {
		if (optind >= argc)
			return cli_usage(c, "%s: missing argument", cmd);
		t->first = argv[optind++];
	}
	if (optind >= argc)
		return cli_usage(c, "%s needs at least one PID", cmd);
	/* Only root may do without the record of who changed the processes. */
	if (t->no_journal && geteuid() != 0)
		return cli_usage(c, "%s: --no-journal is for root only (effective uid %u)", cmd,
				 (unsigned)geteuid());
	t->pids = calloc(argc - optind, sizeof(pid_t));
	if (!t->pids)
		return EXIT_ERROR;
	for (; optind < argc; optind++)
		if (parse_pid(argv[optind], &t->pids[t->n++]) < 0)
			return cli_usage(c, "%s: '%s' is not a process id", cmd, argv[optind]);
	return EXIT_DONE;
}

/* The time of each step run, as JSON members or as one line of text. */
static void print_steps(struct cli *c, const struct hp_apply_result *r)
{
	int n = 0;

	printf(c->json ? ",\"steps_ms\":{" : "  steps:");
	for (int i = 0; i < HP_STEP_N; i++) {
		if (r->step_ms[i] <= 0)
			continue;
		if (c->json)
			printf("%s\"%s\":%.3f", n ? "," : "", hp_step_name(i), r->step_ms[i]);
		else
			printf(" %s %.2f ms", hp_step_name(i), r->step_ms[i]);
		n++;
	}
	printf(c->json ? "}" : "\n");
}

static void print_result(struct cli *c, const char *verb, pid_t pid, const struct hp_apply_result *r,
			 int first, int verbose)
{
	if (c->json) {
		printf("%s{\"pid\":%d,\"result\":\"%s\",\"patch_id\":", first ? "" : ",", pid, verb);
		json_str(stdout, r->patch_id);
		printf(",\"level\":%u,\"previous_level\":%u,\"functions\":%zu,\"threads\":%u,"
		       "\"checks\":%u,\"escaped\":%u,\"arrived\":%u,\"cleared\":%u,\"unwound\":%u,"
		       "\"pause_ms\":%.3f,\"total_ms\":%.3f",
		       r->level, r->prev_level, r->nfuncs, r->nthreads, r->attempts, r->escaped,
		       r->arrived, r->cleared, r->unwound, r->pause_ms, r->total_ms);
		if (r->kept_mapped)
			printf(",\"kept_mapped\":true");
		print_steps(c, r);
		printf("}");
		return;
	}
	if (!strcmp(verb, "applied")) {
		printf("pid %d: applied %s (level %u%s): %zu function%s redirected, %u thread%s, paused %.2f ms, %.1f ms in all\n",
		       pid, r->patch_id, r->level, r->prev_level ? ", replacing a lower level" : "",
		       r->nfuncs, r->nfuncs == 1 ? "" : "s", r->nthreads, r->nthreads == 1 ? "" : "s",
		       r->pause_ms, r->total_ms);
	} else {
		printf("pid %d: reverted %s; now at level %u; %u thread%s paused %.2f ms, %.1f ms in all\n",
		       pid, r->patch_id, r->level, r->nthreads, r->nthreads == 1 ? "" : "s", r->pause_ms,
		       r->total_ms);
		if (r->kept_mapped)
			printf("pid %d: the patch's memory stays mapped (unreachable): a thread still held an address in it; hotpatch repair %d removes it\n",
			       pid, pid);
	}
	if (verbose) {
		if (r->escaped)
			printf("pid %d: %u check%s; %u thread%s run out of a replaced function, %u seen arriving\n",
			       pid, r->attempts, r->attempts == 1 ? "" : "s", r->escaped,
			       r->escaped == 1 ? "" : "s", r->arrived);
		printf("pid %d: threads checked: %u cleared by their stack alone, %u unwound\n", pid,
		       r->cleared, r->unwound);
		print_steps(c, r);
	}
}

static int print_error(struct cli *c, pid_t pid, int err, const char *verb, int first)
{
	if (c->json) {
		char msg[2048];

		snprintf(msg, sizeof(msg), "%s", hp_errmsg()[0] ? hp_errmsg() : hp_strerror(err));
		printf("%s{\"pid\":%d,\"result\":\"%s\",\"code\":%d,\"reason\":", first ? "" : ",",
		       pid, err == -HP_E_CANCELLED ? "cancelled" : "error", -err);
		json_str(stdout, hp_strerror(err));
		printf(",\"error\":");
		json_str(stdout, msg);
		printf("}");
		fprintf(stderr, "%s: %s: pid %d: %s: %s\n", c->prog, verb, pid, hp_strerror(err), msg);
		return cli_exit_code(err);
	}
	if (err == -HP_E_CANCELLED) { /* the detail says it all */
		fprintf(stderr, "%s: %s: pid %d: %s\n", c->prog, verb, pid, hp_errmsg());
		return EXIT_CANCELLED;
	}
	return cli_fail(c, err, "%s: pid %d", verb, pid);
}

static const char *result_word(int r)
{
	int code = cli_exit_code(r);

	return code == EXIT_DONE ? "ok" : code == EXIT_NOTHING ? "nothing-to-do" :
	       code == EXIT_UNSAFE ? "unsafe" : code == EXIT_CANCELLED ? "cancelled" : "error";
}

/* Refuses the apply before any process is touched: journals the refusal for
 * every process the command named, then reports it (the detail of the
 * failure survives a journal that cannot be written). */
static int refuse(struct cli *c, const struct targets *t, const uint8_t sha[32],
		  const char *keyid, int err, const char *reason_prefix, const char *what)
{
	char detail[1024], why[1100];

	snprintf(detail, sizeof(detail), "%s", hp_errmsg()[0] ? hp_errmsg() : hp_strerror(err));
	snprintf(why, sizeof(why), "%s%s", reason_prefix, detail);
	for (int i = 0; i < t->n; i++) {
		hp_err_clear();
		if (policy_journal("refuse", NULL, sha, keyid, t->pids[i], "error", why) < 0) {
			fprintf(stderr, "%s: warning: the refusal could not be journaled: %s\n", c->prog,
				hp_errmsg());
			break;
		}
	}
	hp_err_clear();
	hp_err(err, "%s", detail);
	return cli_fail(c, err, "apply %s%s", t->first, what);
}

/* Reads, verifies (before any parsing) and opens the patch of an apply.
 * Returns an exit code. */
static int open_verified(struct cli *c, const struct targets *t, struct hp_patch **ret,
			 uint8_t sha[32], char keyid[32])
{
	_cleanup_free_ uint8_t *bytes = NULL;
	size_t len = 0;
	int r;

	keyid[0] = 0;
	r = hp_read_file(t->first, 64u << 20, -HP_E_FORMAT, (void **)&bytes, &len);
	if (r < 0)
		return cli_fail(c, r, "apply %s", t->first);
	crypto_hash_sha256(sha, bytes, len);
	if (t->allow_unsigned) {
		if (policy_requires_signature()) {
			r = hp_err(-EPERM, "%s sets require_signature = yes: --allow-unsigned is refused",
				   policy_conf_path());
			return refuse(c, t, sha, "", r, "", "");
		}
		fprintf(stderr, "%s: warning: applying %s without checking its signature (--allow-unsigned is for development)\n",
			c->prog, t->first);
	} else {
		r = policy_verify(t->first, policy_keys_dir(t->keys), bytes, len, keyid);
		if (r < 0)
			return refuse(c, t, sha, keyid, r, "signature: ", ": signature check failed");
	}
	r = hp_patch__open_mem(bytes, len, ret);
	if (r < 0) {
		char prefix[128];

		snprintf(prefix, sizeof(prefix), "%s: ", hp_strerror(r));
		return refuse(c, t, sha, keyid, r, prefix, "");
	}
	return EXIT_DONE;
}

/* The record of how an apply or revert ended (under revert --no-journal,
 * in the system log).  After a revert, the ledger in the process told the
 * build-id and the file's hash.  A failure keeps its detail for the
 * report; a record that cannot be written after a success is reported
 * here (the process is consistent; the record is missing).  Returns -1
 * then. */
static int journal_result(struct cli *c, const char *cmd, const struct hp_patch_info *info,
			  const uint8_t *sha, const char *keyid, pid_t pid, int r,
			  const struct hp_apply_result *res, int no_journal)
{
	struct hp_patch_info ri = *info;
	char reason[1024];
	int jr;

	snprintf(reason, sizeof(reason), "%s", r < 0 ? hp_errmsg() : "");
	if (no_journal) {
		policy_syslog_revert(info->id, pid, result_word(r), reason);
		if (r < 0) {
			hp_err_clear();
			hp_err(r, "%s", reason);
		}
		return 0;
	}
	if (r == 0 && !sha) {
		memcpy(ri.build_id, res->build_id, res->build_id_len);
		ri.build_id_len = res->build_id_len;
		sha = res->patch_sha256;
	}
	jr = policy_journal(cmd, &ri, sha, keyid, pid, result_word(r), reason);
	if (r < 0) {
		hp_err_clear();
		hp_err(r, "%s", reason);
		return 0;
	}
	if (jr < 0) {
		fprintf(stderr, "%s: %s: pid %d: done, but the journal could not be written: %s\n",
			c->prog, cmd, pid, hp_errmsg());
		return -1;
	}
	return 0;
}

/* revert --no-journal: said on stderr and, before any process is touched,
 * to the system log (the journal's "begin" record, elsewhere). */
static void warn_no_journal(struct cli *c, const struct targets *t)
{
	char pids[512];
	size_t len = 0;

	pids[0] = 0;
	for (int i = 0; i < t->n && len < sizeof(pids); i++) {
		int k = snprintf(pids + len, sizeof(pids) - len, "%s%d", i ? " " : "", t->pids[i]);

		len = k > 0 && (size_t)k < sizeof(pids) - len ? len + (size_t)k : sizeof(pids);
	}
	fprintf(stderr, "%s: warning: revert --no-journal: reverting %s in pid%s %s without writing "
		"the journal %s; sent to the system log (authpriv) instead\n", c->prog, t->first,
		t->n == 1 ? "" : "s", pids, hp_journal__path());
	policy_syslog_revert_begin(t->first, pids);
}

/* SIGINT, SIGTERM and SIGHUP (^C, timeout(1), systemd, a closed terminal)
 * cancel an apply or revert: the library looks at the flag between steps
 * and rolls back what it did, up to the first jump; from there it
 * completes the change, and the signal stops the command before the next
 * process.  Handlers, not the default action: a hotpatch killed by the
 * signal would leave its journal without the outcome.  They are installed
 * even where the shell ignored SIGINT (background jobs). */
static volatile sig_atomic_t cancel_signal;

static void on_cancel(int sig)
{
	cancel_signal = sig;
}

static void catch_cancel(void)
{
	struct sigaction sa = { .sa_handler = on_cancel, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static const char *signal_name(int sig)
{
	static char buf[32];
	const char *abbrev = sigabbrev_np(sig);

	snprintf(buf, sizeof(buf), "SIG%s", abbrev ? abbrev : "?");
	return buf;
}

/* A process the command did not get to: nothing was done to it. */
static void print_not_attempted(struct cli *c, const char *cmd, pid_t pid, int first)
{
	if (c->json) {
		printf("%s{\"pid\":%d,\"result\":\"cancelled\",\"attempted\":false,\"reason\":", first ? "" : ",",
		       pid);
		char why[64];

		snprintf(why, sizeof(why), "cancelled by %s", signal_name(cancel_signal));
		json_str(stdout, why);
		printf("}");
	}
	fprintf(stderr, "%s: %s: pid %d: not attempted: cancelled by %s\n", c->prog, cmd, pid,
		signal_name(cancel_signal));
}

static int act(struct cli *c, int argc, char **argv, int revert)
{
	const char *cmd = revert ? "revert" : "apply";
	struct hp_apply_opts ao = { 0 };
	struct hp_patch *p = NULL;
	struct hp_patch_info info, rinfo = { 0 };
	struct targets t;
	uint8_t sha[32] = { 0 };
	char keyid[32] = "";
	int rc, worst = EXIT_DONE;

	rc = parse_targets(c, cmd, argc, argv, 1, &t);
	if (rc != EXIT_DONE)
		return rc;
	ao.timeout_sec = t.timeout;
	ao.cancel = &cancel_signal;
	catch_cancel();
	if (!revert) {
		rc = open_verified(c, &t, &p, sha, keyid);
		if (rc != EXIT_DONE) {
			free(t.pids);
			return rc;
		}
		hp_patch__info(p, &info);
	} else {
		rinfo.id = t.first;
		info = rinfo;
	}
	if (t.no_journal)
		warn_no_journal(c, &t);
	if (c->json)
		printf("{\"journal\":%s,\"results\":[", t.no_journal ? "false" : "true");
	for (int i = 0; i < t.n; i++) {
		struct hp_apply_result res;
		int r = 0;

		if (cancel_signal) {
			print_not_attempted(c, cmd, t.pids[i], i == 0);
			worst = cli_worst(worst, EXIT_CANCELLED);
			continue;
		}
		/* No record, no change: a journal that cannot be written (full
		 * disk) stops us before the process is touched.  Unless root
		 * said --no-journal: the system log has the record then. */
		if (!t.no_journal)
			r = policy_journal(cmd, &info, revert ? NULL : sha, keyid, t.pids[i], "begin", "");
		if (r == 0) {
			r = revert ? hp_revert(t.first, t.pids[i], &ao, &res)
				   : hp_apply(p, t.pids[i], &ao, &res);
			if (r == -HP_E_CANCELLED) {
				hp_err_clear();
				hp_err(r, "cancelled by %s: nothing changed", signal_name(cancel_signal));
			}
			if (journal_result(c, cmd, &info, revert ? NULL : sha, keyid, t.pids[i], r, &res,
					   t.no_journal) < 0)
				worst = cli_worst(worst, EXIT_ERROR);
		}
		if (r < 0)
			worst = cli_worst(worst, print_error(c, t.pids[i], r, cmd, i == 0));
		else
			print_result(c, revert ? "reverted" : "applied", t.pids[i], &res, i == 0, t.verbose);
		if (r == 0 && cancel_signal)
			fprintf(stderr, "%s: %s: pid %d: %s arrived once the change had begun: it was completed\n",
				c->prog, cmd, t.pids[i], signal_name(cancel_signal));
		fflush(stdout);
	}
	if (c->json)
		printf("]}\n");
	hp_patch__close(p);
	free(t.pids);
	return worst;
}

int cmd_apply(struct cli *c, int argc, char **argv)
{
	return act(c, argc, argv, 0);
}

int cmd_revert(struct cli *c, int argc, char **argv)
{
	return act(c, argc, argv, 1);
}

/* What a hotpatch that died left behind, besides the ledgers listed. */
static void print_leftovers(struct cli *c, pid_t pid, const struct hp_leftovers *lo,
			    const struct hp_status_entry *es, size_t n)
{
	int needs = lo->deadman || lo->memfd_fds || lo->empty_maps;

	for (size_t k = 0; k < n; k++)
		if (es[k].interrupted || es[k].state == HP_PATCH_PENDING ||
		    es[k].state == HP_PATCH_REVERTING)
			needs = 1;
	if (c->json) {
		printf("\"stopped\":%s,\"deadman_stop\":%s,\"memfd_fds\":%u,\"empty_mappings\":%u,"
		       "\"damaged_mappings\":%u,\"needs_repair\":%s",
		       lo->stopped ? "true" : "false", lo->deadman ? "true" : "false", lo->memfd_fds,
		       lo->empty_maps, lo->damaged_maps, needs ? "true" : "false");
		return;
	}
	if (lo->deadman)
		printf("pid %d: stopped by hotpatch's dead-man stop (a hotpatch died mid-change)\n", pid);
	else if (lo->stopped)
		printf("pid %d: stopped (not by hotpatch)\n", pid);
	if (lo->memfd_fds)
		printf("pid %d: %u hotpatch memfd descriptor%s left open\n", pid, lo->memfd_fds,
		       lo->memfd_fds == 1 ? "" : "s");
	if (lo->empty_maps)
		printf("pid %d: %u empty hotpatch mapping%s (a load cut short)\n", pid, lo->empty_maps,
		       lo->empty_maps == 1 ? "" : "s");
	if (lo->damaged_maps)
		printf("pid %d: %u hotpatch mapping%s with an unreadable ledger (left alone)\n", pid,
		       lo->damaged_maps, lo->damaged_maps == 1 ? "" : "s");
	if (needs)
		printf("pid %d: leftovers of an interrupted hotpatch: run hotpatch repair %d\n", pid, pid);
}

int cmd_status(struct cli *c, int argc, char **argv)
{
	struct targets t;
	int rc, worst = EXIT_DONE;
	struct hp_status_entry *es = calloc(32, sizeof(*es));

	if (!es)
		return EXIT_ERROR;
	rc = parse_targets(c, "status", argc, argv, 0, &t);
	if (rc != EXIT_DONE) {
		free(es);
		return rc;
	}
	if (c->json)
		printf("{\"processes\":[");
	for (int i = 0; i < t.n; i++) {
		struct hp_leftovers lo;
		size_t n = 0;
		int r = hp_status(t.pids[i], es, 32, &n);

		if (r == 0)
			r = hp_leftovers(t.pids[i], &lo);
		if (r < 0) {
			worst = cli_worst(worst, print_error(c, t.pids[i], r, "status", i == 0));
			continue;
		}
		if (n > 32)
			n = 32;
		if (c->json)
			printf("%s{\"pid\":%d,", i ? "," : "", t.pids[i]);
		print_leftovers(c, t.pids[i], &lo, es, n);
		if (c->json)
			printf(",\"patches\":[");
		else
			printf("pid %d: %zu patch%s\n", t.pids[i], n, n == 1 ? "" : "es");
		for (size_t k = 0; k < n; k++) {
			const struct hp_status_entry *e = &es[k];
			char bid[129], when[64];
			time_t at = (time_t)e->applied_at;

			hp_hex(e->build_id, e->build_id_len, bid);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&at));
			if (c->json) {
				printf("%s{\"id\":", k ? "," : "");
				json_str(stdout, e->patch_id);
				printf(",\"level\":%u,\"active\":%s,\"state\":\"%s\",\"interrupted\":%s,"
				       "\"jumps_written\":%u,\"jumps_torn\":%u,\"object\":",
				       e->level, e->active ? "true" : "false", hp_patch_state_name(e->state),
				       e->interrupted ? "true" : "false", e->jumps_written, e->jumps_torn);
				json_str(stdout, e->object);
				printf(",\"build_id\":\"%s\",\"applied_at\":%lu,\"mapping\":\"0x%lx-0x%lx\",\"functions\":[",
				       bid, (unsigned long)e->applied_at, (unsigned long)e->map_start,
				       (unsigned long)(e->map_start + e->map_len));
			} else {
				printf("  %s  level %u  %s  %s  applied %s\n", e->patch_id, e->level,
				       hp_patch_state_name(e->state), e->object, when);
				if (e->state != HP_PATCH_SUPERSEDED &&
				    (e->interrupted || e->state != HP_PATCH_ACTIVE ||
				     e->jumps_written != e->nfuncs))
					printf("    %s: %u of %zu jumps written, %u half written%s\n",
					       e->state == HP_PATCH_REVERTING ? "interrupted revert" :
					       e->state == HP_PATCH_PENDING ? "not in effect (leftover)" :
					       "interrupted", e->jumps_written, e->nfuncs, e->jumps_torn,
					       e->state == HP_PATCH_ACTIVE && !e->interrupted ? "" :
					       "; hotpatch repair removes it");
			}
			for (size_t f = 0; f < e->nfuncs && f < 64; f++) {
				if (c->json) {
					printf("%s{\"name\":", f ? "," : "");
					json_str(stdout, e->funcs[f].name);
					printf(",\"old\":\"0x%lx\",\"new\":\"0x%lx\"}",
					       (unsigned long)e->funcs[f].old_addr,
					       (unsigned long)e->funcs[f].new_addr);
				} else {
					printf("    %-24s 0x%lx -> %s0x%lx\n", e->funcs[f].name,
					       (unsigned long)e->funcs[f].old_addr,
					       e->funcs[f].new_addr ? "" : "(original) ",
					       (unsigned long)e->funcs[f].new_addr);
				}
			}
			if (c->json)
				printf("]}");
		}
		if (c->json)
			printf("]}");
	}
	if (c->json)
		printf("]}\n");
	free(t.pids);
	free(es);
	return worst;
}

/* Each PID on its own, one after the other, like apply: the baseline of
 * an apply to many processes (bench/run). */
int cmd_stop_resume(struct cli *c, int argc, char **argv)
{
	struct targets t;
	int rc = parse_targets(c, "stop-resume", argc, argv, 0, &t), worst = EXIT_DONE;

	if (rc != EXIT_DONE)
		return rc;
	if (c->json)
		printf("{\"results\":[");
	for (int i = 0; i < t.n; i++) {
		double pause = 0;
		unsigned n = 0;
		int r = hp_stop_resume(t.pids[i], &pause, &n);

		if (r < 0)
			worst = cli_worst(worst, print_error(c, t.pids[i], r, "stop-resume", i == 0));
		else if (c->json)
			printf("%s{\"pid\":%d,\"result\":\"resumed\",\"threads\":%u,\"pause_ms\":%.3f}",
			       i ? "," : "", t.pids[i], n, pause);
		else
			printf("pid %d: %u threads stopped and resumed, paused %.3f ms\n", t.pids[i], n,
			       pause);
	}
	if (c->json)
		printf("]}\n");
	free(t.pids);
	return worst;
}
