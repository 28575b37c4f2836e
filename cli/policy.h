#ifndef HP_CLI_POLICY_H
#define HP_CLI_POLICY_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "hotpatch/hotpatch.h"
#include "journal/journal.h"

const char *policy_keys_dir(const char *opt);
const char *policy_conf_path(void);
int policy_requires_signature(void);
/* Verifies PATH.minisig over bytes against the trust store in keys_dir. */
int policy_verify(const char *path, const char *keys_dir, const uint8_t *bytes, size_t len,
		  char keyid[32]);
int policy_journal(const char *op, const struct hp_patch_info *info, const uint8_t *sha256,
		   const char *keyid, pid_t pid, const char *result, const char *reason);
/* revert --no-journal: what the journal would have said, to syslog(3)
 * (LOG_AUTHPRIV | LOG_WARNING), before (pids: "1 2 3") and after each pid. */
void policy_syslog_revert_begin(const char *patch_id, const char *pids);
void policy_syslog_revert(const char *patch_id, pid_t pid, const char *result, const char *reason);
#endif
