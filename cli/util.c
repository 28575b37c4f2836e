/* One error path for every subcommand, exit codes, JSON strings. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "hotpatch/hotpatch.h"
#include "common/common.h"
#include "cli.h"

int cli_exit_code(int err)
{
	switch (-err) {
	case 0:
		return EXIT_DONE;
	case HP_E_ALREADY:
	case HP_E_NOT_APPLIED:
		return EXIT_NOTHING;
	case HP_E_UNSAFE:
	case HP_E_TOO_SHORT:
	case HP_E_BRANCH_INTO:
		return EXIT_UNSAFE;
	case HP_E_CANCELLED:
		return EXIT_CANCELLED;
	default:
		return EXIT_ERROR;
	}
}

int cli_worst(int a, int b)
{
	static const int rank[] = { [EXIT_DONE] = 0, [EXIT_NOTHING] = 1, [EXIT_UNSAFE] = 2,
				    [EXIT_USAGE] = 3, [EXIT_ERROR] = 4, [EXIT_CANCELLED] = 5 };
	return rank[a] >= rank[b] ? a : b;
}

void json_str(FILE *f, const char *s)
{
	char buf[8192];
	size_t len = 0;

	hp_json_str(buf, sizeof(buf), &len, s);
	fwrite(buf, 1, len, f);
}

int cli_fail(struct cli *c, int err, const char *fmt, ...)
{
	char what[512];
	const char *detail = hp_errmsg(), *name = hp_strerror(err);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* A file that cannot be opened or stat'ed comes with a detail that
	 * names the path and the system error ("cannot open X: No such file
	 * or directory"): each is said once, not "apply X: No such file or
	 * directory: cannot open X: No such file or directory". */
	if (detail[0]) {
		char *arg = strrchr(what, ' ');

		if (arg && strpbrk(arg + 1, "/.") && strstr(detail, arg + 1))
			*arg = 0;	/* the path at the end of what */
		if (-err < HP_E_FORMAT && strstr(detail, strerror(-err)))
			name = NULL;
	}
	if (c->json) {
		char msg[2048];

		snprintf(msg, sizeof(msg), "%s: %s", what, detail[0] ? detail : hp_strerror(err));
		printf("{\"error\":");
		json_str(stdout, msg);
		printf(",\"code\":%d}\n", -err);
	}
	fprintf(stderr, "%s: %s", c->prog, what);
	if (name)
		fprintf(stderr, ": %s", name);
	if (detail[0])
		fprintf(stderr, ": %s", detail);
	fputc('\n', stderr);
	return cli_exit_code(err);
}

int cli_usage(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", c->prog);
	return EXIT_USAGE;
}

int parse_pid(const char *s, pid_t *ret)
{
	char *end;
	long v;

	/* Digits only: strtol would take " 12" and "+12" (a stray blank or
	 * sign is a mistake on a command line that names processes). */
	if (!*s || strspn(s, "0123456789") != strlen(s))
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > 4194304)
		return -EINVAL;
	*ret = (pid_t)v;
	return 0;
}

