/* hotpatch: the command table and option handling common to all commands. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "hotpatch/hotpatch.h"
#include "cli.h"

static const struct cmd cmds[] = {
	{ "build", cmd_build,
	  "--src DIR --fix FIX.diff --target BIN -o OUT.hp [--configure CMD] [--build CMD]\n"
	  "        [--strip N] [--full-rebuild] [--id ID] [--level N] [--severity S] [--cve ID]...\n"
	  "        [--description TEXT] [--work DIR] [--keep] [--include-line-changes] [--json]",
	  "build a patch from a source fix: builds a copy of DIR (--configure once, then --build,\n"
	  "               default make; cc/gcc get -ffunction-sections -fdata-sections -g), applies\n"
	  "               FIX.diff (patch -pN, default 1), rebuilds, compares the objects and packs the\n"
	  "               changed functions for BIN. Exit 3: nothing to patch; 4: refused (one line per reason)" },
	{ "pack", cmd_pack,
	  "--target BIN -o OUT.hp [--replace OLD[=NEW]]... [--id ID] [--level N]\n"
	  "        [--severity critical|important|moderate|low] [--cve ID]... [--description TEXT] OBJ.o...",
	  "build a patch file from replacement functions compiled with -c" },
	{ "inspect", cmd_inspect, "PATCH.hp [--json]", "show everything a patch file says" },
	{ "apply", cmd_apply,
	  "PATCH.hp PID... [--timeout SEC] [--keys DIR] [--allow-unsigned] [-v] [--json]",
	  "apply a signed patch to running processes (PATCH.hp.minisig checked against\n"
	  "               --keys DIR, $HOTPATCH_KEYS or /etc/hotpatch/keys before anything is parsed)" },
	{ "revert", cmd_revert, "PATCH_ID PID... [--timeout SEC] [--no-journal] [-v] [--json]",
	  "revert the newest patch level of running processes (refused when the journal cannot be\n"
	  "               written; --no-journal, root only: revert anyway, e.g. on a full disk, with a\n"
	  "               warning, the record sent to the system log, authpriv, instead)" },
	{ "status", cmd_status, "PID... [--json]", "list the patches applied to processes" },
	{ "repair", cmd_repair, "PID... [--json]",
	  "undo or finish what a hotpatch that died left in processes (exit 3: nothing to repair)" },
	{ "diff", cmd_diff, "ORIG.o FIXED.o [--extract OUT.o] [--json]",
	  "compare objects built from the original and the fixed source (-ffunction-sections\n"
	  "               -fdata-sections): changed, new, removed functions, data and line-number-only changes" },
	{ "keygen", cmd_keygen, "-p KEY.pub -s KEY.sec [--comment TEXT] [--password-file F] [--json]",
	  "create a signing key pair (minisign format; encrypted when a password is given)" },
	{ "sign", cmd_sign, "-s KEY.sec [--password-file F] [--trusted-comment TEXT] [--json] PATCH.hp",
	  "sign a patch file: writes PATCH.hp.minisig" },
	{ "verify", cmd_verify, "(-p KEY.pub | --keys DIR) [-x SIG] [--json] PATCH.hp",
	  "check a patch file's signature (--keys default: $HOTPATCH_KEYS, else /etc/hotpatch/keys)" },
	{ "journal", cmd_journal, "[--json]",
	  "print the journal of applies, reverts and refusals ($HOTPATCH_JOURNAL, else /var/lib/hotpatch/journal)" },
	{ "stop-resume", cmd_stop_resume, "PID... [--json]",
	  "stop and resume every thread, patch nothing (the pause baseline of bench/)" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: hotpatch COMMAND [ARGS]\n\n"
		   "Live-patches the functions of running processes, and reverts them.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-12s %s\n      hotpatch %s %s\n", cmds[i].name, cmds[i].help,
			cmds[i].name, cmds[i].args);
	fprintf(f, "\nEvery command takes --json for machine-readable output.\n"
		   "Exit codes: 0 done, 1 error, 2 usage, 3 nothing to do, 4 refused as unsafe,\n5 cancelled by SIGINT, SIGTERM or SIGHUP before any change.\n"
		   "Apply and revert need root (or CAP_SYS_PTRACE over the target).\n"
		   "Environment: HOTPATCH_KEYS (trust store), HOTPATCH_CONF (default /etc/hotpatch/hotpatch.conf;\n"
		   "require_signature = yes refuses --allow-unsigned), HOTPATCH_JOURNAL (default\n"
		   "/var/lib/hotpatch/journal).\n");
}

int main(int argc, char **argv)
{
	struct cli c = { .prog = "hotpatch" };

	if (argc < 2)
		return usage(stderr), EXIT_USAGE;
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_DONE;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("hotpatch 0.1 (patch format 1)\n");
		return EXIT_DONE;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		for (int k = 2; k < argc; k++) {
			if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
				printf("Usage: hotpatch %s %s\n  %s\n", cmds[i].name, cmds[i].args,
				       cmds[i].help);
				return EXIT_DONE;
			}
			if (!strcmp(argv[k], "--json"))
				c.json = 1;
		}
		optind = 1;
		return cmds[i].run(&c, argc - 1, argv + 1);
	}
	return cli_usage(&c, "unknown command '%s'", argv[1]);
}
