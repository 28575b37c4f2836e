/* hotpatch repair: undoes or finishes what a hotpatch that died left in
 * processes (lib/apply/repair.c), and journals it.  Exit 3 when there was
 * nothing to repair. */
#include <stdio.h>
#include <string.h>
#include "hotpatch/hotpatch.h"
#include "common/common.h"
#include "cli.h"
#include "policy.h"

static int repaired_anything(const struct hp_repair_result *r)
{
	return r->rolled_back || r->finished || r->jumps_restored || r->unmapped || r->fds_closed ||
	       r->marks_cleared || r->continued;
}

static void describe(const struct hp_repair_result *r, char *buf, size_t len)
{
	snprintf(buf, len,
		 "%u apply rolled back, %u revert finished, %u jumps restored, %u mappings removed, "
		 "%u descriptors closed, %u marks cleared%s",
		 r->rolled_back, r->finished, r->jumps_restored, r->unmapped, r->fds_closed,
		 r->marks_cleared, r->continued ? ", process continued" : "");
}

static int repair_one(struct cli *c, pid_t pid, int first)
{
	struct hp_repair_result res;
	struct hp_patch_info info = { .id = "" };
	char what[512];
	int r = policy_journal("repair", &info, NULL, "", pid, "begin", "");

	if (r == 0)
		r = hp_repair(pid, &res);
	if (r < 0) {
		char reason[1024];

		snprintf(reason, sizeof(reason), "%s", hp_errmsg()[0] ? hp_errmsg() : hp_strerror(r));
		policy_journal("repair", &info, NULL, "", pid, "error", reason);
		hp_err_clear();
		hp_err(r, "%s", reason);
		if (c->json) {
			printf("%s{\"pid\":%d,\"result\":\"error\",\"error\":", first ? "" : ",", pid);
			json_str(stdout, reason);
			printf("}");
			fprintf(stderr, "%s: repair: pid %d: %s: %s\n", c->prog, pid, hp_strerror(r), reason);
			return cli_exit_code(r);
		}
		return cli_fail(c, r, "repair: pid %d", pid);
	}
	describe(&res, what, sizeof(what));
	info.id = res.patch_id;
	if (policy_journal("repair", &info, NULL, "", pid,
			   repaired_anything(&res) ? "ok" : "nothing-to-do", what) < 0)
		fprintf(stderr, "%s: repair: pid %d: done, but the journal could not be written: %s\n",
			c->prog, pid, hp_errmsg());
	if (c->json) {
		printf("%s{\"pid\":%d,\"result\":\"%s\",\"patch_id\":", first ? "" : ",", pid,
		       repaired_anything(&res) ? "repaired" : "nothing-to-do");
		json_str(stdout, res.patch_id);
		printf(",\"rolled_back\":%u,\"finished\":%u,\"jumps_restored\":%u,\"unmapped\":%u,"
		       "\"fds_closed\":%u,\"marks_cleared\":%u,\"continued\":%s,\"threads\":%u,"
		       "\"total_ms\":%.3f}",
		       res.rolled_back, res.finished, res.jumps_restored, res.unmapped, res.fds_closed,
		       res.marks_cleared, res.continued ? "true" : "false", res.nthreads, res.total_ms);
	} else if (repaired_anything(&res)) {
		printf("pid %d: repaired%s%s: %s\n", pid, res.patch_id[0] ? " " : "", res.patch_id, what);
	} else {
		printf("pid %d: nothing to repair\n", pid);
	}
	return repaired_anything(&res) ? EXIT_DONE : EXIT_NOTHING;
}

int cmd_repair(struct cli *c, int argc, char **argv)
{
	pid_t pids[256];
	int n = 0, worst = EXIT_DONE;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			continue;
		if (n == 256)
			return cli_usage(c, "repair: at most 256 PIDs at once");
		if (parse_pid(argv[i], &pids[n++]) < 0)
			return cli_usage(c, "repair: '%s' is not a process id", argv[i]);
	}
	if (!n)
		return cli_usage(c, "repair needs at least one PID");
	if (c->json)
		printf("{\"results\":[");
	for (int i = 0; i < n; i++) {
		int rc = repair_one(c, pids[i], i == 0);

		/* Nothing to do counts only when nothing was done anywhere. */
		worst = i == 0 ? rc : rc == EXIT_NOTHING ? (worst == EXIT_NOTHING ? rc : worst) :
		       worst == EXIT_NOTHING ? rc : cli_worst(worst, rc);
		fflush(stdout);
	}
	if (c->json)
		printf("]}\n");
	return worst;
}
