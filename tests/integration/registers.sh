# The register-state promise: the thread hotpatch borrows for its system
# calls gets every register back, vector registers included.  The victim's
# main thread (the one borrowed) keeps values live in ymm0-ymm14 and checks
# them continuously while patches are applied and reverted over and over
# (REGS_CYCLES, default 1,000 applies and 1,000 reverts per case); with more
# threads than cores and with fewer (the two ways apply loads).
# ~1 minute per case on 2 cores.
. "$(dirname "$0")/lib.sh"

CASES="registers-kept-busy registers-kept-few-threads"
require $CASES
REGS=$BUILD_DIR/victims/regs
CYCLES=${REGS_CYCLES:-1000}

# regs_state FILE KEY: a number from the victim's state line.
regs_state() {
	sed -n "s/.*\b$2=\([0-9]*\).*/\1/p" "$1" 2>/dev/null
}

case_regs() {
	local threads=$1 state=$T/regs-$1.state pid i c0 c1 bad t0
	grep -qw avx2 /proc/cpuinfo || { echo "SKIP: registers: no AVX2 on this CPU"; return 0; }
	[ -x "$REGS" ] || why "missing $REGS (make victims)" || return
	PACK_TARGET=$REGS make_patch "$T/regs_v1.hp" regs_v1.c -O2 -- --id regs-v1 || return
	"$REGS" "$state" "$threads" >/dev/null 2>&1 &
	pid=$!
	STARTED_PIDS+=("$pid")
	for i in $(seq 100); do grep -q ready "$state" 2>/dev/null && break; sleep 0.05; done
	grep -q ready "$state" || why "the regs victim did not start" || return
	c0=$(regs_state "$state" checks)
	t0=$(now_ms)
	# hotpatch straight (not through hp: its logging would double the
	# time); the victim's state is looked at every 100 cycles.
	for ((i = 1; i <= CYCLES; i++)); do
		timeout --kill-after=5 "$HP_TIMEOUT" "$HOTPATCH" apply "$T/regs_v1.hp" "$pid" >/dev/null 2>"$T/hp.err" ||
			why "cycle $i: apply exited $?: $(hp_err)" || return
		timeout --kill-after=5 "$HP_TIMEOUT" "$HOTPATCH" revert regs-v1 "$pid" >/dev/null 2>"$T/hp.err" ||
			why "cycle $i: revert exited $?: $(hp_err)" || return
		if ((i % 100 == 0)); then
			bad=$(regs_state "$state" bad)
			echo "  cycle $i: $(cat "$state" 2>/dev/null) ($((($(now_ms) - t0) / i)) ms a cycle)"
			[ "${bad:-0}" = 0 ] || why "cycle $i: $bad vector register values changed under the victim's main thread" || return
			alive "$pid" || why "the victim died by cycle $i" || return
		fi
	done
	sleep 0.3
	alive "$pid" || why "the victim died" || return
	bad=$(regs_state "$state" bad)
	c1=$(regs_state "$state" checks)
	echo "  $CYCLES apply/revert cycles in $(($(now_ms) - t0)) ms: bad=$bad, register checks $c0 -> $c1"
	[ "$bad" = 0 ] || why "$bad vector register values changed under the victim's main thread" || return
	[ "$c1" -gt "$c0" ] || why "the victim's main thread made no progress ($c0 -> $c1)" || return
	expect_status "$pid" ""
}

run_case registers-kept-busy case_regs 8
run_case registers-kept-few-threads case_regs 1
