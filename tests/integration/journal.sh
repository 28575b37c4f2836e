# Revert and a journal that cannot be written ($HOTPATCH_JOURNAL=/dev/full,
# like a full /var): refused by default, nothing changed (no record, no
# change); `revert --no-journal` (root only) reverts anyway, warns on
# stderr and says so to the system log (authpriv.warning).
. "$(dirname "$0")/lib.sh"

CASES="journal-full-revert-refused journal-full-revert-no-journal journal-no-journal-root-only"
require $CASES

# applied NAME: a busy victim running the signed v1 (journal writable).
applied() {
	start_victim "$1" --mode busy --threads 4 || return
	PID=${VPID[$1]}
	wait_state "$1" "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=4" || return
	snapshot "$PID"
	hp_ok apply "$PATCH_DIR/v1.hp" "$PID" || return
	wait_state "$1" "version=1 probe=1 sprobe=1 errors=0 counter_ok=1 threads=4" || return
	expect_status "$PID" "v1:1:active" || return
	PATCHED_TEXT=$(text_bytes "$PID" compute compute_slow tag)
}

# still_patched NAME: v1 still in effect, its code unchanged, no thread traced.
still_patched() {
	expect_status "$PID" "v1:1:active" || return
	[ "$(text_bytes "$PID" compute compute_slow tag)" = "$PATCHED_TEXT" ] ||
		why "code changed although the revert was refused" || return
	untraced "$PID" || return
	wait_state "$1" "version=1 probe=1 sprobe=1 errors=0 counter_ok=1 threads=4" 2
}

case_refused() {
	applied r || return
	HOTPATCH_JOURNAL=/dev/full hp_refused 1 revert v1 "$PID" || return
	grep -qi 'journal' "$T/hp.err" || why "the refusal does not mention the journal: $(hp_err)" || return
	still_patched r || return
	HOTPATCH_JOURNAL=/dev/full hp_refused 1 revert v1 "$PID" --json || return
	[ "$(json "d['journal']")" = true ] || why "revert --json does not say journal: true: $(cat "$T/hp.out")" || return
	still_patched r
}

# syslog_seen FILE: the strace log FILE shows messages to the system log at
# authpriv.warning (<84>) naming uid 0, the patch id and the pid: one
# before the revert, one with its result.
syslog_seen() {
	local m
	m=$(grep -E 'sendto\(.*"<84>' "$1" | grep -F 'by uid 0: patch v1')
	grep -qF "pids $PID: reverting without a journal record" <<<"$m" &&
		grep -qF "pid $PID: ok" <<<"$m" ||
		why "no authpriv.warning messages naming uid, patch and pid before and after: $(grep -E 'sendto|connect' "$1" | head -c 600)"
}

case_no_journal() {
	applied n || return
	# No /dev/log here, most likely: strace makes connect(2) succeed so that
	# the message syslog(3) sends is seen (the send itself then fails).
	if command -v strace >/dev/null; then
		printf '#!/bin/sh\nexec strace -o "%s" -s 1024 -e trace=connect,sendto -e inject=connect:retval=0 "%s" "$@"\n' \
			"$T/strace.log" "$HOTPATCH" >"$T/hp-strace"
		chmod +x "$T/hp-strace"
		HOTPATCH=$T/hp-strace HOTPATCH_JOURNAL=/dev/full hp_ok revert v1 "$PID" --no-journal --json || return
	else
		echo "  (no strace: the system log message is not checked)"
		HOTPATCH_JOURNAL=/dev/full hp_ok revert v1 "$PID" --no-journal --json || return
	fi
	grep -q 'warning' "$T/hp.err" && grep -q -- '--no-journal' "$T/hp.err" ||
		why "no warning on stderr: $(hp_err)" || return
	[ "$(json "d['journal']")" = false ] || why "revert --json does not say journal: false: $(cat "$T/hp.out")" || return
	[ "$(json "d['results'][0]['result']")" = reverted ] || why "revert --json: $(cat "$T/hp.out")" || return
	[ ! -f "$T/strace.log" ] || syslog_seen "$T/strace.log" || return
	wait_state n "version=0 probe=0 errors=0 counter_ok=1 threads=4" || return
	expect_status "$PID" "" || return
	unchanged "$PID"
}

# Not root: a usage error (2), before anything is done; apply has no such option.
case_root_only() {
	applied o || return
	echo "+ (as nobody) hotpatch revert v1 $PID --no-journal"
	HOTPATCH_JOURNAL=/dev/full setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$HOTPATCH" revert v1 "$PID" --no-journal >"$T/hp.out" 2>"$T/hp.err"
	HP_RC=$?
	sed 's/^/  err: /' "$T/hp.err"
	[ "$HP_RC" = 2 ] || why "as nobody, revert --no-journal exited $HP_RC, expected 2: $(hp_err)" || return
	grep -q 'root' "$T/hp.err" || why "the refusal does not say root only: $(hp_err)" || return
	still_patched o || return
	hp revert v1 "$PID" --no-journal --allow-unsigned
	[ "$HP_RC" = 2 ] || why "revert with an apply option exited $HP_RC, expected 2" || return
	hp apply "$PATCH_DIR/v1.hp" "$PID" --no-journal
	[ "$HP_RC" = 2 ] || why "apply --no-journal exited $HP_RC, expected 2" || return
	still_patched o
}

PATCH_DIR=$T/patches
mkdir -p "$PATCH_DIR"
if ! make_patch "$PATCH_DIR/v1.hp" v1.c; then
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi
run_case journal-full-revert-refused case_refused
run_case journal-full-revert-no-journal case_no_journal
run_case journal-no-journal-root-only case_root_only
