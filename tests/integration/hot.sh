# Busy threads inside the function being replaced, on a machine whose
# hardware breakpoints may never fire: 64 workers (more threads than cores)
# call compute_hot() -- a contended atomic increment and a call -- in a
# tight loop, so nearly every one of them is inside it at any stop.  Each
# apply must run them out of it (a software breakpoint at the return
# address, lib/target/runto.c) and see every released thread arrive there:
# 10 of 10 applies succeed within the default timeout, quiet and beside
# CPU hogs, and after each one the code of the caller is byte for byte what
# it was (no 0xcc left behind).
. "$(dirname "$0")/lib.sh"

CASES="hot-64-threads-quiet hot-64-threads-beside-cpu-hogs"
require $CASES

# jfields KEY...: the values of KEYs in hotpatch's one-process --json
# answer, space-separated.  Not through python (json): with 64 spinning
# threads beside it, starting a python takes seconds on this machine.
jfields() {
	local k v out=()
	for k; do
		v=$(grep -o "\"$k\":\"\?[a-z0-9]*" "$T/hp.out" | head -n 1)
		out+=("${v##*[:\"]}")
	done
	echo "${out[*]}"
}

# case_hot THREADS HOGS CYCLES [NICE]: the workers run at nice 19 by default
# (the CPU hogs at 0 then take most of the time the released threads need);
# at nice 0 they take it from the test and hotpatch's start-up instead.
case_hot() {
	local threads=$1 hogs=$2 cycles=$3 nice=${4:-19} name=h pid i r orig released=0 arrived=0
	start_victim "$name" --mode hot --threads "$threads" --nice "$nice" || return
	pid=${VPID[$name]}
	wait_state "$name" "version=0 hprobe=0 errors=0 hot_ok=1 threads=$threads" || return
	[ "$hogs" -gt 0 ] && start_hogs "$hogs"
	local orig_caller
	orig=$(text_bytes "$pid" compute_hot worker_main)
	orig_caller=$(text_bytes "$pid" worker_main)
	local t0=$(now_ms)
	for ((i = 1; i <= cycles; i++)); do
		# the default --timeout: no retry luck needed
		hp_ok apply "$PATCH_DIR/hot_v1.hp" "$pid" --json || why "cycle $i: $WHY" || return
		r=$(jfields result escaped arrived)
		echo "  cycle $i ($(($(now_ms) - t0)) ms in): result, escaped, arrived: $r"
		local res e a
		read -r res e a <<<"$r"
		[ "$res" = applied ] || why "cycle $i: apply says $r" || return
		[ "$a" = "$e" ] ||
			why "cycle $i: $e threads released to their escape address, only $a seen arriving" || return
		released=$((released + e)) arrived=$((arrived + a))
		untraced "$pid" || return
		# the patch seen running: the control thread's call answers v1
		q "$name" >/dev/null
		state_is "hprobe=1 errors=0 hot_ok=1" || why "cycle $i: after apply the victim says $STATE" || return

		hp_ok revert hot-v1 "$pid" --json || why "cycle $i: $WHY" || return
		r=$(jfields escaped arrived)
		read -r e a <<<"$r"
		[ "$a" = "$e" ] ||
			why "cycle $i: revert released $e threads, only $a seen arriving" || return
		released=$((released + e)) arrived=$((arrived + a))
		untraced "$pid" || return
		q "$name" >/dev/null
		state_is "hprobe=0 errors=0 hot_ok=1" || why "cycle $i: after revert the victim says $STATE" || return
	done
	wait_state "$name" "version=0 hprobe=0 errors=0 hot_ok=1 threads=$threads" 60 || return
	[ "$(text_bytes "$pid" compute_hot worker_main)" = "$orig" ] ||
		why "the code after $cycles applies and reverts differs from the original" || return
	echo "  $cycles applies and reverts: $released threads released in all, $arrived seen arriving"
	# The mechanism, not luck: the threads were inside compute_hot and
	# were run out of it.
	[ "$arrived" -gt 0 ] || why "no thread was ever run out of compute_hot: the test did not test the run-out" || return
	progressing "$name"
}

PATCH_DIR=$T/patches
mkdir -p "$PATCH_DIR"
if ! make_patch "$PATCH_DIR/hot_v1.hp" hot_v1.c -O2 -- --id hot-v1; then
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi
# The test itself (hotpatch's start-up, the status queries) runs ahead of
# the hogs and the workers: what is measured is the run-out, not how long a
# command waits for a CPU to start.
renice -n -20 $$ >/dev/null
# HOT_QUICK=1 (make check-quick): fewer cycles.
C=10
[ "${HOT_QUICK:-0}" = 1 ] && C=3
run_case hot-64-threads-quiet case_hot 64 0 $C
VICTIM_MAX_SECONDS=1200 run_case hot-64-threads-beside-cpu-hogs case_hot 64 2 $C 0
