# Patching under conditions real processes create: threads that come and go,
# signals in flight, two hotpatch commands at once, an executable deleted
# (upgraded) on disk since the process started, a main thread that called
# pthread_exit().
. "$(dirname "$0")/lib.sh"

CASES="robust-thread-churn robust-signals-not-lost robust-signal-storm robust-concurrent-applies
robust-deleted-executable robust-main-thread-exited"
require $CASES

ROUNDS=${ROUNDS:-5}

# rounds NAME THREADS: apply and revert v1 $ROUNDS times, checking each time.
rounds() {
	local name=$1 n=$2 pid i orig
	pid=${VPID[$name]}
	orig=$(text_bytes "$pid" compute compute_slow tag)
	for ((i = 1; i <= ROUNDS; i++)); do
		hp_ok apply "$PATCH_DIR/v1.hp" "$pid" || { WHY="round $i: $WHY"; return 1; }
		untraced "$pid" || { WHY="round $i: $WHY"; return 1; }
		wait_state "$name" "version=1 probe=1 sprobe=1 errors=0 counter_ok=1 threads=$n" 5 ||
			{ WHY="round $i: $WHY"; return 1; }
		hp_ok revert v1 "$pid" || { WHY="round $i: $WHY"; return 1; }
		untraced "$pid" || { WHY="round $i: $WHY"; return 1; }
		wait_state "$name" "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=$n" 5 ||
			{ WHY="round $i: $WHY"; return 1; }
		[ "$(text_bytes "$pid" compute compute_slow tag)" = "$orig" ] ||
			why "round $i: code after revert differs from the original" || return
	done
	progressing "$name" || return
	expect_status "$pid" ""
}

# Every worker runs its calls in short-lived threads (thousands of thread
# creations a second): no thread may escape the stop.
case_churn() {
	start_victim ch --mode churn --threads 8 || return
	wait_state ch "version=0 errors=0 counter_ok=1 threads=8" || return
	rounds ch 8
}

# A thread sends SIGUSR1 to the workers one at a time and waits for each to
# be handled; a signal lost while hotpatch holds the threads is an error.
case_signals() {
	local s0
	start_victim sg --mode busy --threads 8 --signals || return
	wait_state sg "version=0 errors=0 counter_ok=1 threads=8" || return
	s0=$(field signals)
	rounds sg 8 || return
	sleep 0.3
	wait_state sg "errors=0" 1 || return
	[ "$(field signals)" -gt "$s0" ] || why "no signal handled since the start ($s0 -> $(field signals))"
}

# Process-directed SIGUSR1 sent as fast as a shell can (any thread may take
# each, including the one hotpatch runs its remote system calls on), while
# apply and revert go on; the victim also holds a file as fd 319.
case_storm() {
	local pid s0
	echo "precious data" >"$T/precious"
	VICTIM_FD319=$T/precious start_victim ss --mode busy --threads 4 --signals || return
	pid=${VPID[ss]}
	wait_state ss "version=0 errors=0 counter_ok=1 threads=4" || return
	s0=$(field signals)
	start_bg storm bash -c 'while kill -USR1 "$1" 2>/dev/null; do :; done' storm "$pid"
	local storm=$BG_PID
	ROUNDS=$((ROUNDS * 2)) rounds ss 4 || return
	stop_pid "$storm"
	wait_state ss "errors=0" 1 || return
	[ "$(field signals)" -gt $((s0 + 100)) ] || why "the storm did not reach the victim ($s0 -> $(field signals) signals)" || return
	[ "$(cat "$T/precious")" = "precious data" ] || why "the file behind fd 319 was changed" || return
	[ "$(readlink "/proc/$pid/fd/319")" = "$T/precious" ] || why "fd 319 of the victim was closed" || return
}

# Two hotpatch commands apply different patches to the same process at the
# same time: at most one may win (the other must fail cleanly); status, the
# code and the victim must agree with what was reported.
case_concurrent() {
	local pid i ra rb orig
	start_victim cc --mode busy --threads 16 || return
	pid=${VPID[cc]}
	wait_state cc "version=0 errors=0 counter_ok=1 threads=16" || return
	orig=$(text_bytes "$pid" compute compute_slow tag)
	# the race is narrow: a few percent of the rounds reach it
	for ((i = 1; i <= ${CONCURRENT_ROUNDS:-8}; i++)); do
		echo "+ hotpatch apply v1.hp $pid & hotpatch apply newglobal.hp $pid"
		"$HOTPATCH" apply "$PATCH_DIR/v1.hp" "$pid" >"$T/a.out" 2>"$T/a.err" &
		local a=$!
		STARTED_PIDS+=("$a")
		"$HOTPATCH" apply "$PATCH_DIR/newglobal.hp" "$pid" >"$T/b.out" 2>"$T/b.err" &
		local b=$!
		STARTED_PIDS+=("$b")
		reap "$a"
		ra=$?
		reap "$b"
		rb=$?
		sed 's/^/  v1: /' "$T/a.out" "$T/a.err"
		sed 's/^/  newglobal: /' "$T/b.out" "$T/b.err"
		echo "  rc v1=$ra newglobal=$rb"
		untraced "$pid" || { WHY="round $i: $WHY"; return 1; }
		local want_status want_state id
		if [ "$ra" = 0 ] && [ "$rb" = 0 ]; then
			status_list "$pid"
			q cc >/dev/null
			why "round $i: both applies succeeded (same level, same function compute): status shows '$STATUS_LIST', the victim runs probe=$(field probe) sprobe=$(field sprobe)"
			return 1
		elif [ "$ra" = 0 ]; then
			want_status="v1:1:active" want_state="version=1 probe=1 sprobe=1" id=v1
			[ -s "$T/b.err" ] || why "round $i: the losing apply (rc=$rb) printed no error" || return
		elif [ "$rb" = 0 ]; then
			want_status="newglobal:1:active" want_state="version=3 probe=3 sprobe=0" id=newglobal
			[ -s "$T/a.err" ] || why "round $i: the losing apply (rc=$ra) printed no error" || return
		else
			# both lost: acceptable only if nothing changed
			want_status="" want_state="version=0 probe=0 sprobe=0" id=""
		fi
		expect_status "$pid" "$want_status" || { WHY="round $i: $WHY"; return 1; }
		wait_state cc "$want_state errors=0 counter_ok=1 threads=16" 5 || { WHY="round $i: $WHY"; return 1; }
		if [ -n "$id" ]; then
			hp_ok revert "$id" "$pid" || { WHY="round $i: $WHY"; return 1; }
		fi
		wait_state cc "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=16" 5 ||
			{ WHY="round $i: $WHY"; return 1; }
		[ "$(text_bytes "$pid" compute compute_slow tag)" = "$orig" ] ||
			why "round $i: code after revert differs from the original" || return
		expect_status "$pid" "" || { WHY="round $i: $WHY"; return 1; }
	done
}

# The executable was deleted (as a package upgrade does) after the process
# started: a patch packed against that build still applies and reverts.
case_deleted() {
	local pid orig
	cp "$VICTIM" "$T/victim-old" || why "cp failed" || return
	PACK_TARGET=$T/victim-old make_patch "$PATCH_DIR/old.hp" v1.c || return
	VICTIM_BIN=$T/victim-old start_victim del --mode busy --threads 4 || return
	pid=${VPID[del]}
	wait_state del "version=0 errors=0 counter_ok=1 threads=4" || return
	rm -f "$T/victim-old"
	grep -q 'victim-old (deleted)' "/proc/$pid/maps" || why "the executable does not show as deleted" || return
	orig=$(text_bytes "$pid" compute compute_slow tag)
	hp_ok apply "$PATCH_DIR/old.hp" "$pid" || return
	wait_state del "version=1 probe=1 sprobe=1 errors=0 counter_ok=1 threads=4" || return
	expect_status "$pid" "old:1:active" || return
	hp_ok revert old "$pid" || return
	wait_state del "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=4" || return
	[ "$(text_bytes "$pid" compute compute_slow tag)" = "$orig" ] || why "code after revert differs from the original" || return
	expect_status "$pid" ""
}

# The main thread called pthread_exit(): a zombie thread-group leader (state
# Z) while the workers run on.  The process runs and is patched like any
# other: apply, every worker and the probes answer v1, status lists it,
# revert, v0 again.  /proc/PID shows no maps and no memory of such a
# process: the checks here look through a live thread (/proc/TID), as
# hotpatch does.
case_leader_exited() {
	local pid tid i st orig
	start_victim le --mode busy --threads 4 --leader-exits || return
	pid=${VPID[le]}
	for ((i = 0; i < 100; i++)); do
		st=$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f1)
		[ "$st" = Z ] && break
		sleep 0.05
	done
	[ "$st" = Z ] || why "the main thread of $pid did not exit (state $st)" || return
	tid=$(ls "/proc/$pid/task" | grep -vx "$pid" | head -n 1)
	wait_state le "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=4" || return
	orig=$(text_bytes "$tid" compute compute_slow tag)
	hp_ok apply "$PATCH_DIR/v1.hp" "$pid" || return
	untraced "$tid" || return
	wait_state le "version=1 probe=1 sprobe=1 errors=0 counter_ok=1 threads=4" 5 || return
	expect_status "$pid" "v1:1:active" || return
	hp_ok revert v1 "$pid" || return
	untraced "$tid" || return
	wait_state le "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=4" 5 || return
	[ "$(text_bytes "$tid" compute compute_slow tag)" = "$orig" ] || why "code after revert differs from the original" || return
	expect_status "$pid" "" || return
	grep "\"pid\":$pid," "$HOTPATCH_JOURNAL" | tail -n 1 | grep -q "\"exe\":\"$(exe_of "$tid")\"" ||
		why "the journal does not name the executable: $(grep "\"pid\":$pid," "$HOTPATCH_JOURNAL" | tail -n 1)"
}

PATCH_DIR=$T/patches
mkdir -p "$PATCH_DIR"
if ! make_patch "$PATCH_DIR/v1.hp" v1.c || ! make_patch "$PATCH_DIR/newglobal.hp" newglobal.c; then
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi
run_case robust-thread-churn case_churn
run_case robust-signals-not-lost case_signals
run_case robust-signal-storm case_storm
run_case robust-concurrent-applies case_concurrent
run_case robust-deleted-executable case_deleted
run_case robust-main-thread-exited case_leader_exited
