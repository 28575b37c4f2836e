/* Error names and the per-thread detail message behind hp_errmsg(). */
#include <stdio.h>
#include <time.h>
#include "common/common.h"

static __thread char errmsg[1024];

static const char *const names[] = {
	[HP_E_FORMAT - 4000] = "malformed patch file",
	[HP_E_BUILDID - 4000] = "target object not mapped (build-id differs)",
	[HP_E_ORIG_CHANGED - 4000] = "original code differs from the patch's record",
	[HP_E_SYM_NOT_FOUND - 4000] = "symbol not found",
	[HP_E_SYM_AMBIGUOUS - 4000] = "symbol name is ambiguous",
	[HP_E_UNSAFE - 4000] = "not safe to change the process now",
	[HP_E_TOO_SHORT - 4000] = "function too short for a jump",
	[HP_E_BRANCH_INTO - 4000] = "a branch lands in the bytes the jump overwrites",
	[HP_E_RELOC - 4000] = "relocation unsupported or out of range",
	[HP_E_NOT_TOP - 4000] = "patch is not the newest level",
	[HP_E_LEVEL - 4000] = "patch level not above the applied level",
	[HP_E_ALREADY - 4000] = "patch already applied",
	[HP_E_NOT_APPLIED - 4000] = "patch not applied",
	[HP_E_TRACED - 4000] = "process is traced by another program",
	[HP_E_GONE - 4000] = "process exited",
	[HP_E_LEDGER - 4000] = "ledger in the process is damaged",
	[HP_E_NO_SPACE - 4000] = "no free address range near the target object",
	[HP_E_UNSUPPORTED - 4000] = "unsupported input",
	[HP_E_REMOTE - 4000] = "a system call inside the target failed",
	[HP_E_BUILD - 4000] = "the source build failed",
	[HP_E_NOT_LOADED - 4000] = "target object not loaded",
	[HP_E_CANCELLED - 4000] = "cancelled before any change",
};

const char *hp_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= 4000 && err < HP_E_LAST && names[err - 4000])
		return names[err - 4000];
	return strerror(err);
}

const char *hp_errmsg(void)
{
	return errmsg;
}

void hp_err_clear(void)
{
	errmsg[0] = 0;
}

int hp_err(int neg_code, const char *fmt, ...)
{
	va_list ap;

	/* The first (innermost) detail wins: it names the real cause. */
	if (!errmsg[0]) {
		va_start(ap, fmt);
		vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
		va_end(ap);
	}
	return neg_code;
}

double hp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void hp_hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = 0;
}

static const char *const sev_names[] = { "low", "moderate", "important", "critical" };

const char *hp_severity_name(int sev)
{
	return sev >= 0 && sev < 4 ? sev_names[sev] : "unknown";
}

int hp_severity_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, sev_names[i]))
			return i;
	return -EINVAL;
}
