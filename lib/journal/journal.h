/* The journal: an append-only file, one JSON object per line, recording
 * every apply, revert and refusal on this machine. */
#ifndef HP_JOURNAL_H
#define HP_JOURNAL_H

#include <stdint.h>
#include <sys/types.h>

#define HP_JOURNAL_DEFAULT "/var/lib/hotpatch/journal"

struct hp_journal_rec {
	const char *op;		/* "apply", "revert", "refuse" */
	const char *patch_id;
	const uint8_t *sha256;	/* of the patch file; NULL when unknown */
	const char *key_id;	/* signing key id (hex), "" when unsigned */
	pid_t pid;
	const char *build_id;	/* hex */
	const char *result;	/* "ok", "error", "unsafe", "nothing-to-do", "begin" */
	const char *reason;	/* "" on success */
};

/* The journal path: $HOTPATCH_JOURNAL, else the default. */
const char *hp_journal__path(void);

/* Appends one record (with time, uid, the pid's executable) and fsyncs.
 * Creates the file (0600) and its directory (0700) when missing.
 * Returns 0 or -errno (-ENOSPC on a full disk) with a detail. */
int hp_journal__append(const char *path, const struct hp_journal_rec *rec);

#endif
