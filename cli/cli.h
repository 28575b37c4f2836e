/* The hotpatch command: shared helpers of the subcommands. */
#ifndef HP_CLI_H
#define HP_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Exit codes (STYLE.md). */
enum { EXIT_DONE = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_NOTHING = 3, EXIT_UNSAFE = 4,
       EXIT_CANCELLED = 5 };

struct cli {
	int json;
	const char *prog;
};

struct cmd {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
	const char *args;
	const char *help;
};

/* Prints "hotpatch: <what>: <detail>" (or {"error": ...} under --json to stdout)
 * for a library error, and returns the exit code it maps to. */
int cli_fail(struct cli *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cli_usage(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_exit_code(int err);
/* Combines per-target exit codes: error beats unsafe beats nothing-to-do. */
int cli_worst(int a, int b);

void json_str(FILE *f, const char *s);
int parse_pid(const char *s, pid_t *ret);

int cmd_pack(struct cli *c, int argc, char **argv);
int cmd_inspect(struct cli *c, int argc, char **argv);
int cmd_apply(struct cli *c, int argc, char **argv);
int cmd_revert(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_stop_resume(struct cli *c, int argc, char **argv);
int cmd_keygen(struct cli *c, int argc, char **argv);
int cmd_sign(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);
int cmd_journal(struct cli *c, int argc, char **argv);
int cmd_diff(struct cli *c, int argc, char **argv);
int cmd_build(struct cli *c, int argc, char **argv);
int cmd_repair(struct cli *c, int argc, char **argv);

#endif
