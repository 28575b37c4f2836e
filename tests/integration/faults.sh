# Faults: hotpatch SIGKILLed at every step of apply and revert (the
# test-only hook HOTPATCH_TEST_KILL_AT, lib/apply/steps.c), and a target that
# dies, exits, forks, runs under seccomp or runs out of address space while
# hotpatch works on it.  After a kill the target must be alive, never run a
# mix of old and new code (stopped by the dead-man stop while the bytes are
# mixed), `status` must show the leftover, `repair` must remove it (exit 3
# when there is none), the code and mappings must be the original ones again
# and a fresh apply must work.
#
# Covered elsewhere, not repeated here: a target under another tracer
# (errors.sh error-already-traced), a target exiting while apply waits for a
# thread (errors.sh error-exits-mid-apply), threads created all the time
# during attach (robust.sh robust-thread-churn).
. "$(dirname "$0")/lib.sh"

APPLY_STEPS="attach check load:1 load:2 load stop jump:1 jump:2 ledger resume detach"
REVERT_STEPS="attach check stop jump:1 jump:2 ledger resume unmap detach"
CASES="fault-kernel-deadman"
for s in $APPLY_STEPS; do CASES="$CASES fault-apply-${s/:/-}"; done
for s in $REVERT_STEPS; do CASES="$CASES fault-revert-${s/:/-}"; done
for s in $APPLY_STEPS; do CASES="$CASES fault-target-killed-at-${s/:/-}"; done
CASES="$CASES fault-target-killed-in-window fault-target-exits-during-apply fault-target-forking
fault-target-seccomp fault-target-enomem fault-status-json"
require $CASES
FORKER=$BUILD_DIR/victims/forker

# fresh NAME: a busy victim with 8 threads (more than the cores: the load
# stops every thread, and escapes run threads to breakpoints), snapshotted.
fresh() {
	start_victim "$1" --mode busy --threads 8 || return
	PID=${VPID[$1]}
	wait_state "$1" "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=8" || return
	snapshot "$PID"
}

# proc_state PID: the distinct thread states, e.g. "R S" or "T".
proc_state() {
	awk '/^State:/ { print $2 }' /proc/"$1"/task/*/status 2>/dev/null | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# killed_at STEP ARGS...: runs hotpatch ARGS with the kill hook at STEP;
# it must have died of SIGKILL (137) at that step.
killed_at() {
	local step=$1
	shift
	HOTPATCH_TEST_KILL_AT=$step hp "$@"
	[ "$HP_RC" = 137 ] || why "hotpatch $1 with HOTPATCH_TEST_KILL_AT=$step exited $HP_RC, expected 137 (killed): $(hp_err)"
}

# consistent NAME: the victim is alive; while it runs, compute and
# compute_slow answer the same version (never a mix); while the bytes are
# mixed it must be stopped.
consistent() {
	local name=$1 st
	sleep 0.2
	alive "$PID" || why "the victim died: $(tail -n 3 "$T/$name.log" | tr '\n' ' ')" || return
	st=$(proc_state "$PID")
	echo "  thread states: $st"
	if [ "$st" = T ]; then
		LEFT_STOPPED=1
		return 0
	fi
	LEFT_STOPPED=0
	[[ "$st" != *t* ]] || why "threads left traced-stopped ($st) after hotpatch died" || return
	q "$name" >/dev/null
	[ "$(field probe)" = "$(field sprobe)" ] ||
		why "the victim runs a mix: compute is v$(field probe), compute_slow v$(field sprobe)" || return
	state_is "errors=0 counter_ok=1" || why "victim reports errors: $STATE"
}

# leftover_json: status --json of $PID into $T/status.json; sets NEEDS (true/false).
leftover_json() {
	hp status "$PID" --json
	[ "$HP_RC" = 0 ] || why "status exited $HP_RC: $(hp_err)" || return
	cp "$T/hp.out" "$T/status.json"
	NEEDS=$(json "d['processes'][0]['needs_repair']" "$T/status.json")
}

# repaired NAME WANT_RC 'k=v ...': repair exits WANT_RC, then the victim runs
# with these values, untraced, nothing left to repair.
repaired() {
	local name=$1 want=$2 vals=$3
	hp repair "$PID" --json
	[ "$HP_RC" = "$want" ] || why "repair exited $HP_RC, expected $want: $(hp_err) $(head -c 300 "$T/hp.out")" || return
	sleep 0.1
	[ "$(proc_state "$PID")" != T ] || why "the victim is still stopped after repair" || return
	untraced "$PID" || return
	wait_state "$name" "$vals errors=0 counter_ok=1 threads=8" 5 || return
	progressing "$name" || return
	leftover_json || return
	[ "$NEEDS" = false ] || why "status still says needs_repair after repair: $(head -c 400 "$T/status.json")" || return
	! grep -q '/memfd:hotpatch' <(ls -l /proc/"$PID"/fd 2>/dev/null) || why "a hotpatch memfd is still open" || return
	hp repair "$PID"
	[ "$HP_RC" = 3 ] || why "a second repair exited $HP_RC, expected 3 (nothing to do)"
}

# original: code and mappings as before any apply, and a fresh apply + revert works.
original() {
	local name=$1
	unchanged "$PID" || return
	hp_ok apply "$PATCH_DIR/v1.hp" "$PID" || return
	wait_state "$name" "version=1 probe=1 sprobe=1 errors=0 counter_ok=1 threads=8" 5 || return
	hp_ok revert v1 "$PID" || return
	wait_state "$name" "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=8" 5 || return
	unchanged "$PID"
}

# Before the commit an apply leaves either nothing or a pending leftover;
# from the commit on, the patch is applied (at most a mark to clear).
case_apply_step() {
	local step=$1
	fresh a || return
	killed_at "$step" apply "$PATCH_DIR/v1.hp" "$PID" || return
	consistent a || return
	leftover_json || return
	local want_rc=0 want_vals="version=0 probe=0 sprobe=0"
	case $step in
	attach | check) want_rc=3 ;;
	resume | detach) want_rc=3 want_vals="version=1 probe=1 sprobe=1" ;;
	ledger) want_vals="version=1 probe=1 sprobe=1" ;;
	esac
	case $step in
	jump:* | ledger)
		[ "$LEFT_STOPPED" = 1 ] || why "hotpatch died at $step (inside the jump window) but the victim is not stopped" || return ;;
	*)
		[ "$LEFT_STOPPED" = 0 ] || why "hotpatch died at $step (outside the jump window) but the victim is stopped" || return ;;
	esac
	if [ "$want_rc" = 0 ]; then
		[ "$NEEDS" = true ] || why "status does not report the leftover of an apply killed at $step: $(head -c 400 "$T/status.json")" || return
	else
		[ "$NEEDS" = false ] || why "status reports a leftover after a kill at $step, where none is expected: $(head -c 400 "$T/status.json")" || return
	fi
	case $step in
	jump:1) [ "$(json "d['processes'][0]['patches'][0]['jumps_written']" "$T/status.json")" = 1 ] ||
		why "status does not say 1 jump of 2 is written: $(head -c 400 "$T/status.json")" || return ;;
	jump:2 | ledger) [ "$(json "d['processes'][0]['deadman_stop']" "$T/status.json")" = true ] ||
		why "status does not report the dead-man stop: $(head -c 400 "$T/status.json")" || return ;;
	esac
	repaired a "$want_rc" "$want_vals" || return
	if [ "$want_vals" != "version=0 probe=0 sprobe=0" ]; then
		hp_ok revert v1 "$PID" || return
		wait_state a "version=0 probe=0 sprobe=0 errors=0" 5 || return
	fi
	original a
}

# A revert killed before its commit leaves v1 applied or a revert to
# finish; from the commit on, v1 is gone (at most its mapping left).
case_revert_step() {
	local step=$1
	fresh r || return
	hp_ok apply "$PATCH_DIR/v1.hp" "$PID" || return
	wait_state r "version=1 probe=1 sprobe=1 errors=0" 5 || return
	killed_at "$step" revert v1 "$PID" || return
	consistent r || return
	leftover_json || return
	local want_rc=0 want_vals="version=0 probe=0 sprobe=0"
	case $step in
	attach | check | stop) want_rc=3 want_vals="version=1 probe=1 sprobe=1" ;;
	unmap | detach) want_rc=3 ;;
	esac
	case $step in
	jump:* | ledger)
		[ "$LEFT_STOPPED" = 1 ] || why "hotpatch died at $step (inside the jump window) but the victim is not stopped" || return ;;
	*)
		[ "$LEFT_STOPPED" = 0 ] || why "hotpatch died at $step (outside the jump window) but the victim is stopped" || return ;;
	esac
	if [ "$want_rc" = 0 ]; then
		[ "$NEEDS" = true ] || why "status does not report the leftover of a revert killed at $step: $(head -c 400 "$T/status.json")" || return
	else
		[ "$NEEDS" = false ] || why "status reports a leftover after a kill at $step: $(head -c 400 "$T/status.json")" || return
	fi
	case $step in
	jump:*) [ "$(json "d['processes'][0]['patches'][0]['state']" "$T/status.json")" = reverting ] ||
		why "status does not show the interrupted revert: $(head -c 400 "$T/status.json")" || return ;;
	esac
	repaired r "$want_rc" "$want_vals" || return
	if [ "$want_vals" != "version=0 probe=0 sprobe=0" ]; then
		hp_ok revert v1 "$PID" || return
		wait_state r "version=0 probe=0 sprobe=0 errors=0" 5 || return
	fi
	original r
}

# The kernel facts the dead-man stop rests on (deadman-probe.c says which).
case_kernel() {
	gcc -O2 -Wall -pthread -o "$T/deadman-probe" "$ROOT/tests/integration/deadman-probe.c" ||
		why "cannot compile deadman-probe.c" || return
	"$T/deadman-probe" >"$T/probe.log" 2>&1
	local rc=$?
	sed 's/^/  /' "$T/probe.log"
	[ "$rc" = 0 ] || why "kernel behaviour differs: $(grep '^bad' "$T/probe.log" | tr '\n' ' ')"
}

# hp_bg ARGS...: hotpatch in the background (pid HPB), output in $T/hpb.*.
hp_bg() {
	echo "+ hotpatch $* &"
	timeout --kill-after=5 "$HP_TIMEOUT" "$HOTPATCH" "$@" >"$T/hpb.out" 2>"$T/hpb.err" &
	HPB=$!
	STARTED_PIDS+=("$HPB")
}

# wait_traced_stopped PID: until every thread is in a tracing stop (t).
wait_traced_stopped() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(proc_state "$1")" = t ] && return 0
		sleep 0.02
	done
	why "the threads of $1 never all stopped under hotpatch ($(proc_state "$1"))"
}

# The target is SIGKILLed while hotpatch holds it inside the jump window
# (paused there by the test hook): hotpatch ends promptly with an error.
case_killed_in_window() {
	fresh k || return
	HOTPATCH_TEST_PAUSE_AT=jump:1 hp_bg apply "$PATCH_DIR/v1.hp" "$PID"
	wait_traced_stopped "$PID" || return
	sleep 0.3
	kill -KILL "$PID"
	local t0 rc
	t0=$(now_ms)
	reap "$HPB"
	rc=$?
	sed 's/^/  err: /' "$T/hpb.err"
	echo "  rc=$rc after $(($(now_ms) - t0)) ms"
	[ "$rc" = 1 ] || why "apply exited $rc after its target was killed, expected 1" || return
	grep -q '^hotpatch: ..' "$T/hpb.err" || why "no 'hotpatch: ...' message" || return
	[ $(($(now_ms) - t0)) -lt 8000 ] || why "apply took too long to notice"
}

# The target is SIGKILLed while hotpatch pauses at STEP (the test hook):
# one message, "process N exited during apply (step S)" -- S the step under
# way when hotpatch found it gone, STEP's or a later one -- exit 1, and
# the journal's last record for it is no success.  Up to the commit
# nothing ran; from "ledger" to "resume" the commit is written but the
# process, held stopped, never ran it: still no success.  At "detach" the
# process was let go with the patch in effect before it died: applied.
case_killed_at() {
	local step=$1 order="attach check load stop jump ledger resume detach" rc said
	fresh z || return
	HOTPATCH_TEST_PAUSE_AT=$step hp_bg apply "$PATCH_DIR/v1.hp" "$PID"
	sleep 1	# the steps before the 3 s pause take milliseconds
	kill -KILL "$PID"
	reap "$HPB"
	rc=$?
	sed 's/^/  err: /' "$T/hpb.err"
	echo "  rc=$rc"
	local last
	last=$(grep "\"pid\":$PID," "$HOTPATCH_JOURNAL" | tail -n 1 | grep -o '"result":"[a-z-]*"')
	echo "  journal: $last"
	if [ "$step" = detach ]; then
		[ "$rc" = 0 ] || why "apply exited $rc though the process was let go with the patch before it died" || return
		[ "$last" = '"result":"ok"' ] || why "journal says $last"
		return
	fi
	[ "$rc" = 1 ] || why "apply exited $rc after its target was killed at $step, expected 1" || return
	[ "$(grep -c . "$T/hpb.err")" = 1 ] || why "more than one line on stderr: $(head -c 400 "$T/hpb.err")" || return
	said=$(sed -n "s/.*process $PID exited during apply (step \([a-z]*\))\$/\1/p" "$T/hpb.err")
	[ -n "$said" ] || why "no 'process $PID exited during apply (step S)': $(head -c 400 "$T/hpb.err")" || return
	[[ " ${order#*${step%%:*}} " == *" $said "* || "$said" = "${step%%:*}" ]] ||
		why "step '$said' named, killed during the pause at $step" || return
	[ -n "$last" ] && [ "$last" != '"result":"ok"' ] || why "the journal's last record for $PID: '$last'"
}

# The target exits cleanly (SIGTERM) while hotpatch is between load and
# stop: a clear "exited" error, no hang.
case_exits_during_apply() {
	fresh e || return
	HOTPATCH_TEST_PAUSE_AT=load hp_bg apply "$PATCH_DIR/v1.hp" "$PID"
	local i
	for ((i = 0; i < 200; i++)); do
		grep -q hotpatch "/proc/$PID/maps" 2>/dev/null && break
		sleep 0.02
	done
	grep -q hotpatch "/proc/$PID/maps" || why "the patch was never loaded" || return
	# SIGKILL: on a busy machine the load step holds every thread (one stop
	# window from the remote calls to the jump), and a held process takes
	# no other signal until it is let go.
	kill -KILL "$PID"
	local rc
	reap "$HPB"
	rc=$?
	sed 's/^/  err: /' "$T/hpb.err"
	[ "$rc" = 1 ] || why "apply exited $rc after its target exited, expected 1" || return
	grep -qi 'exit' "$T/hpb.err" || why "the message does not say the process exited: $(head -c 300 "$T/hpb.err")"
}

# start_forker ARGS...: the forker victim; pid FPID.
start_forker() {
	echo "+ forker $*"
	"$FORKER" "$@" >"$T/forker.log" 2>&1 &
	FPID=$!
	STARTED_PIDS+=("$FPID")
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q '^ready' "$T/forker.log" && return 0
		sleep 0.05
	done
	why "forker not ready: $(cat "$T/forker.log")"
}

# forker_rounds N [KILL STEPS]: apply and revert forker_v1 N times; the
# forker aborts by itself on any mix of versions (in it or in a child).
forker_rounds() {
	local n=$1 i orig
	orig=$(text_bytes "$FPID" compute_a compute_b)
	for ((i = 1; i <= n; i++)); do
		hp_ok apply "$PATCH_DIR/forker_v1.hp" "$FPID" || { WHY="round $i: $WHY"; return 1; }
		hp_ok revert fv1 "$FPID" || { WHY="round $i: $WHY"; return 1; }
		alive "$FPID" || why "round $i: the forker died: $(tail -n 3 "$T/forker.log")" || return
		untraced "$FPID" || return
	done
	[ "$(text_bytes "$FPID" compute_a compute_b)" = "$orig" ] || why "code differs from the original after the rounds"
}

# fork() all the time while apply, revert, a killed apply and repair run.
case_forking() {
	start_forker --threads 4 || return
	forker_rounds 5 || return
	killed_at jump:1 apply "$PATCH_DIR/forker_v1.hp" "$FPID" || return
	sleep 0.2
	[ "$(proc_state "$FPID")" = T ] || why "the forker is not held by the dead-man stop ($(proc_state "$FPID"))" || return
	hp_ok repair "$FPID" || return
	sleep 0.3
	alive "$FPID" || why "the forker died after repair: $(tail -n 3 "$T/forker.log")" || return
	forker_rounds 2 || return
	kill -TERM "$FPID"
	reap "$FPID" || why "the forker failed: $(tail -n 3 "$T/forker.log")" || return
	grep -qE 'forks=[1-9]' "$T/forker.log" || why "the forker did not fork: $(tail -n 1 "$T/forker.log")"
}

# A seccomp filter that kills the process on memfd_create (hotpatch's first
# remote call): hotpatch suspends it while it holds the threads (root).
case_seccomp() {
	start_forker --seccomp --no-fork --threads 4 || return
	grep -q '^Seccomp:[[:space:]]*2' "/proc/$FPID/status" || why "the forker has no seccomp filter" || return
	forker_rounds 3 || return
	killed_at jump:2 apply "$PATCH_DIR/forker_v1.hp" "$FPID" || return
	hp_ok repair "$FPID" || return
	forker_rounds 1 || return
	alive "$FPID" || why "the forker died: $(tail -n 3 "$T/forker.log")"
}

# The target's address space is full (RLIMIT_AS at its current size): the
# mmap inside it fails; a clear error, nothing changed, no descriptor left.
case_enomem() {
	command -v prlimit >/dev/null || { echo "SKIP: fault-target-enomem: prlimit missing"; return 0; }
	fresh m || return
	local vm
	vm=$(awk '/^VmSize:/ { print $2 * 1024 }' "/proc/$PID/status")
	prlimit --pid "$PID" --as="$vm:" || why "prlimit failed" || return
	hp_refused 1 apply "$PATCH_DIR/v1.hp" "$PID" || return
	grep -qi 'map' "$T/hp.err" || why "the message does not say the mapping failed: $(hp_err)" || return
	grep -qi 'memory' "$T/hp.err" || why "the message does not name the cause (memory): $(hp_err)" || return
	grep -q 'RLIMIT_AS' "$T/hp.err" || why "the message does not name the limit (RLIMIT_AS): $(hp_err)" || return
	unchanged "$PID" || return
	! ls -l /proc/"$PID"/fd | grep -q memfd || why "a memfd descriptor was left in the target" || return
	expect_status "$PID" "" || return
	prlimit --pid "$PID" --as=unlimited: || why "prlimit failed" || return
	wait_state m "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=8" 5 || return
	original m
}

# status --json carries the per-step timings of apply and the fields of a leftover.
case_status_json() {
	fresh j || return
	hp_ok apply "$PATCH_DIR/v1.hp" "$PID" --json || return
	local steps
	steps=$(json "sorted(d['results'][0]['steps_ms'].keys())")
	echo "  steps: $steps"
	for s in attach check load stop jump ledger resume detach; do
		[[ "$steps" == *"'$s'"* ]] || why "apply --json has no time for step $s: $steps" || return
	done
	hp_ok revert v1 "$PID" -v || return
	grep -q 'steps: attach' "$T/hp.out" || why "revert -v prints no step times" || return
	grep -q 'unmap' "$T/hp.out" || why "revert -v shows no unmap step" || return
	unchanged "$PID"
}

PATCH_DIR=$T/patches
mkdir -p "$PATCH_DIR"
if ! make_patch "$PATCH_DIR/v1.hp" v1.c ||
	! PACK_TARGET=$FORKER make_patch "$PATCH_DIR/forker_v1.hp" forker_v1.c -O2 -- --id fv1; then
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi

run_case fault-kernel-deadman case_kernel
for s in $APPLY_STEPS; do run_case "fault-apply-${s/:/-}" case_apply_step "$s"; done
for s in $REVERT_STEPS; do run_case "fault-revert-${s/:/-}" case_revert_step "$s"; done
for s in $APPLY_STEPS; do run_case "fault-target-killed-at-${s/:/-}" case_killed_at "$s"; done
run_case fault-target-killed-in-window case_killed_in_window
run_case fault-target-exits-during-apply case_exits_during_apply
run_case fault-target-forking case_forking
run_case fault-target-seccomp case_seccomp
run_case fault-target-enomem case_enomem
run_case fault-status-json case_status_json
