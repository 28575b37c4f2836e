# SIGINT, SIGTERM and SIGHUP sent to hotpatch mid-apply and mid-revert (as
# ^C, timeout(1) and systemd send them).  Before the first jump: everything
# rolled back, "cancelled by SIGTERM: nothing changed", exit 5, the
# journal's last record "cancelled".  From the first jump on: the change
# completes, is reported as done with the signal named, exit 0, journal
# "ok".  The retry wait of a check that keeps failing ends at once.
# hotpatch runs in the background of this script, so SIGINT reaches it
# ignored by the shell (SIG_IGN): it must catch it all the same.
. "$(dirname "$0")/lib.sh"

STEPS_BEFORE="attach check load stop"
CASES=""
for s in $STEPS_BEFORE; do CASES="$CASES cancel-apply-sigterm-at-$s"; done
CASES="$CASES cancel-apply-sigint-at-load cancel-apply-sighup-at-stop
cancel-apply-sigterm-after-jump cancel-apply-sigterm-in-retry-wait
cancel-revert-sigterm-at-stop cancel-revert-sigterm-after-jump
cancel-apply-two-processes-second-not-attempted"
require $CASES

# hp_signal SIG AFTER_S ARGS...: runs hotpatch ARGS in the background, sends
# it SIG after AFTER_S seconds; exit status in $RC, output in hpb.out/err.
hp_signal() {
	local sig=$1 after=$2 pid
	shift 2
	echo "+ hotpatch $* & (SIG$sig after ${after}s)"
	"$HOTPATCH" "$@" >"$T/hpb.out" 2>"$T/hpb.err" &
	pid=$!
	STARTED_PIDS+=("$pid")
	sleep "$after"
	kill -"$sig" "$pid"
	reap "$pid"
	RC=$?
	sed 's/^/  out: /' "$T/hpb.out"
	sed 's/^/  err: /' "$T/hpb.err"
	echo "  rc=$RC"
}

# last_journal PID: the result of the journal's last record for PID.
last_journal() {
	grep "\"pid\":$1," "$HOTPATCH_JOURNAL" | tail -n 1 | sed -n 's/.*"result":"\([a-z-]*\)".*/\1/p'
}

fresh() {
	start_victim "$1" --mode busy --threads 4 || return
	PID=${VPID[$1]}
	wait_state "$1" "version=0 probe=0 errors=0 counter_ok=1 threads=4" || return
	snapshot "$PID"
}

# expect_cancelled SIG VERB: exit 5, the one message, nothing changed, journal.
expect_cancelled() {
	local sig=$1 verb=$2
	[ "$RC" = 5 ] || why "$verb exited $RC after SIG$sig, expected 5 (cancelled)" || return
	grep -q "pid $PID: cancelled by SIG$sig: nothing changed" "$T/hpb.err" ||
		why "no 'cancelled by SIG$sig: nothing changed': $(head -c 300 "$T/hpb.err")" || return
	[ "$(last_journal "$PID")" = cancelled ] ||
		why "the journal's last record for $PID is '$(last_journal "$PID")', expected cancelled" || return
}

case_apply_at() {
	local sig=$1 step=$2
	fresh c || return
	HOTPATCH_TEST_PAUSE_AT=$step hp_signal "$sig" 1 apply "$PATCH_DIR/v1.hp" "$PID" || return
	expect_cancelled "$sig" apply || return
	unchanged "$PID" || return
	expect_status "$PID" "" || return
	wait_state c "version=0 probe=0 errors=0 counter_ok=1 threads=4"
}

# After the first jump the apply completes: applied, and said so.
case_apply_after_jump() {
	fresh c || return
	HOTPATCH_TEST_PAUSE_AT=jump hp_signal TERM 1 apply "$PATCH_DIR/v1.hp" "$PID" || return
	[ "$RC" = 0 ] || why "apply exited $RC after SIGTERM past the first jump, expected 0 (completed)" || return
	grep -q "pid $PID: applied v1" "$T/hpb.out" || why "no 'applied' report" || return
	grep -q "SIGTERM arrived once the change had begun: it was completed" "$T/hpb.err" ||
		why "the signal is not reported: $(head -c 300 "$T/hpb.err")" || return
	[ "$(last_journal "$PID")" = ok ] || why "journal says $(last_journal "$PID")" || return
	expect_status "$PID" "v1:1:active" || return
	untraced "$PID" || return
	wait_state c "version=1 probe=1 errors=0 counter_ok=1 threads=4"
}

# A thread asleep inside compute_slow for a minute: apply retries the
# check until --timeout 60; SIGTERM ends the wait at once.
case_retry_wait() {
	local t0 took
	start_victim s --mode sleepy --threads 1 --sleep-ms 60000 || return
	PID=${VPID[s]}
	wait_state s "inside=1" || return
	snapshot "$PID"
	t0=$(now_ms)
	hp_signal TERM 1.5 apply "$PATCH_DIR/v1.hp" "$PID" --timeout 60 || return
	took=$(($(now_ms) - t0))
	echo "  apply ended ${took} ms after it started (signal at 1500 ms)"
	expect_cancelled TERM apply || return
	[ "$took" -lt 4000 ] || why "apply took $took ms to end after SIGTERM at 1500 ms" || return
	unchanged "$PID" || return
	expect_status "$PID" ""
}

case_revert_at() {
	local step=$1
	fresh c || return
	hp_ok apply "$PATCH_DIR/v1.hp" "$PID" || return
	wait_state c "probe=1" || return
	snapshot "$PID"
	HOTPATCH_TEST_PAUSE_AT=$step hp_signal TERM 1 revert v1 "$PID" || return
	if [ "$step" = jump ]; then
		[ "$RC" = 0 ] || why "revert exited $RC after SIGTERM past the first jump, expected 0" || return
		grep -q "SIGTERM arrived once the change had begun: it was completed" "$T/hpb.err" ||
			why "the signal is not reported: $(head -c 300 "$T/hpb.err")" || return
		expect_status "$PID" "" || return
		wait_state c "probe=0 errors=0"
		return
	fi
	expect_cancelled TERM revert || return
	unchanged "$PID" || return
	expect_status "$PID" "v1:1:active" || return
	wait_state c "probe=1 errors=0"
}

# Two processes; the signal comes while the first is held: the first is
# cancelled, the second never touched, both reported.
case_two() {
	local a b
	start_victim c1 --mode busy --threads 2 || return
	start_victim c2 --mode busy --threads 2 || return
	a=${VPID[c1]} b=${VPID[c2]}
	HOTPATCH_TEST_PAUSE_AT=load hp_signal TERM 1 apply "$PATCH_DIR/v1.hp" "$a" "$b" --json || return
	[ "$RC" = 5 ] || why "apply exited $RC, expected 5" || return
	local r
	r=$(json "[(x['pid'], x['result'], x.get('attempted', True)) for x in d['results']]" "$T/hpb.out")
	[ "$r" = "[($a, 'cancelled', True), ($b, 'cancelled', False)]" ] || why "apply --json says $r" || return
	grep -q "pid $b: not attempted: cancelled by SIGTERM" "$T/hpb.err" || why "pid $b not reported as not attempted" || return
	[ -z "$(grep "\"pid\":$b," "$HOTPATCH_JOURNAL")" ] || why "the journal has a record for $b, which was not touched" || return
	expect_status "$a" "" || return
	expect_status "$b" ""
}

PATCH_DIR=$T/patches
mkdir -p "$PATCH_DIR"
if ! make_patch "$PATCH_DIR/v1.hp" v1.c; then
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi
for s in $STEPS_BEFORE; do
	run_case cancel-apply-sigterm-at-$s case_apply_at TERM $s
done
run_case cancel-apply-sigint-at-load case_apply_at INT load
run_case cancel-apply-sighup-at-stop case_apply_at HUP stop
run_case cancel-apply-sigterm-after-jump case_apply_after_jump
run_case cancel-apply-sigterm-in-retry-wait case_retry_wait
run_case cancel-revert-sigterm-at-stop case_revert_at stop
run_case cancel-revert-sigterm-after-jump case_revert_at jump
run_case cancel-apply-two-processes-second-not-attempted case_two
