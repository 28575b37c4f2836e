/* The machine's policy around apply: only signed patches from the trust
 * store, unless --allow-unsigned (refused when the configuration requires
 * signatures), and a journal record for every apply, revert and refusal
 * (or, for revert --no-journal, a message to the system log). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include "hotpatch/hotpatch.h"
#include "common/common.h"
#include "sign/sign.h"
#include "policy.h"

const char *policy_keys_dir(const char *opt)
{
	const char *e = getenv("HOTPATCH_KEYS");

	return opt ? opt : e && *e ? e : "/etc/hotpatch/keys";
}

const char *policy_conf_path(void)
{
	const char *e = getenv("HOTPATCH_CONF");

	return e && *e ? e : "/etc/hotpatch/hotpatch.conf";
}

/* "require_signature = yes" in the configuration (key = value lines, # comments). */
int policy_requires_signature(void)
{
	FILE *f = fopen(policy_conf_path(), "re");
	char line[512];
	int req = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char key[64], val[64];

		if (line[0] == '#')
			continue;
		if (sscanf(line, " %63[a-z_] = %63s", key, val) == 2 &&
		    !strcmp(key, "require_signature"))
			req = !strcmp(val, "yes") || !strcmp(val, "true") || !strcmp(val, "1");
	}
	fclose(f);
	return req;
}

int policy_verify(const char *path, const char *keys_dir, const uint8_t *bytes, size_t len,
		  char keyid[32])
{
	struct hp_pubkey *keys = NULL;
	struct hp_sig_info info;
	char sig_path[4096];
	char *sig = NULL;
	size_t nkeys = 0, siglen = 0;
	int r;

	keyid[0] = 0;
	snprintf(sig_path, sizeof(sig_path), "%s.minisig", path);
	r = hp_trust__load(keys_dir, &keys, &nkeys);
	if (r < 0)
		return r;
	r = hp_read_file(sig_path, 64 << 10, -EINVAL, (void **)&sig, &siglen);
	if (r == -ENOENT) {
		hp_err_clear();
		r = hp_err(-ENOENT, "%s is not signed (no %s); sign it with 'hotpatch sign' or use --allow-unsigned for development",
			   path, sig_path);
	}
	if (r == 0)
		r = hp_verify(keys, nkeys, bytes, len, sig, &info);
	if (r == 0 || r == -ENOKEY || r == -EBADMSG)
		snprintf(keyid, 32, "%s", info.keyid);
	free(sig);
	free(keys);
	return r;
}

int policy_journal(const char *op, const struct hp_patch_info *info, const uint8_t *sha256,
		   const char *keyid, pid_t pid, const char *result, const char *reason)
{
	struct hp_journal_rec rec = { .op = op, .patch_id = info ? info->id : "", .sha256 = sha256,
				      .key_id = keyid, .pid = pid, .result = result,
				      .reason = reason };
	char bid[129] = "";

	if (info)
		hp_hex(info->build_id, info->build_id_len, bid);
	rec.build_id = bid;
	return hp_journal__append(hp_journal__path(), &rec);
}

/* revert --no-journal, for a journal that cannot be written (a full /var):
 * the records go to the system log, authpriv like other acts of root.
 * syslog(3) reports no failure: without a logger on /dev/log they are
 * lost, and only the warning on stderr remains. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	openlog("hotpatch", LOG_PID, LOG_AUTHPRIV);
	va_start(ap, fmt);
	vsyslog(LOG_AUTHPRIV | LOG_WARNING, fmt, ap);
	va_end(ap);
	closelog();
}

void policy_syslog_revert_begin(const char *patch_id, const char *pids)
{
	say("revert --no-journal by uid %u: patch %s, pids %s: reverting without a journal record",
	    (unsigned)getuid(), patch_id, pids);
}

void policy_syslog_revert(const char *patch_id, pid_t pid, const char *result, const char *reason)
{
	say("revert --no-journal by uid %u: patch %s, pid %d: %s%s%s", (unsigned)getuid(), patch_id,
	    (int)pid, result, reason && *reason ? ": " : "", reason ? reason : "");
}
