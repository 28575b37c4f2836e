# The consistency check: threads that sleep inside the replaced function.
. "$(dirname "$0")/lib.sh"

CASES="sleepy-apply-alternating sleepy-apply-waits-for-thread sleepy-refused-after-timeout
sleepy-revert-waits-for-new-code sleepy-refused-thread-in-cold-part"
require $CASES

# 4 threads alternate 50 ms inside compute_slow() (asleep in nanosleep, their
# return address in compute_slow) with 100 ms outside; apply must find a
# moment when none is inside.
case_alternating() {
	local pid
	start_victim s4 --mode sleepy --threads 4 --sleep-ms 50 --out-ms 100 || return
	pid=${VPID[s4]}
	wait_state s4 "version=0 sprobe=0 errors=0 threads=4" || return
	hp_ok apply "$PATCH_DIR/v1.hp" "$pid" --timeout 20 --json || return
	[ "$(json "d['results'][0]['result']")" = applied ] || why "apply --json result is not 'applied'" || return
	untraced "$pid" || return
	wait_state s4 "version=1 probe=1 sprobe=1 errors=0 counter_ok=1 threads=4" 5 || return
	progressing s4 || return
	expect_status "$pid" "v1:1:active" || return
	hp_ok revert v1 "$pid" || return
	wait_state s4 "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=4" 5 || return
	expect_status "$pid" ""
}

# One thread is inside compute_slow() for 1.5 s (then stays outside for a
# minute): apply with a long timeout must wait until it has left, then apply.
case_waits() {
	local pid t0 elapsed
	t0=$(now_ms)
	start_victim s1 --mode sleepy --threads 1 --sleep-ms 1500 --out-ms 60000 || return
	pid=${VPID[s1]}
	wait_state s1 "version=none sprobe=0 calls=0 errors=0" || return
	hp_ok apply "$PATCH_DIR/v1.hp" "$pid" --timeout 10 || return
	elapsed=$(($(now_ms) - t0))
	[ "$elapsed" -ge 1400 ] ||
		why "apply succeeded ${elapsed} ms after the victim started, while its thread was still inside compute_slow (it sleeps there 1500 ms)" || return
	untraced "$pid" || return
	# the call that was in flight finished in the old code (version 0)
	wait_state s1 "version=0 probe=1 sprobe=1 errors=0 calls=1 threads=1" 5 || return
	expect_status "$pid" "v1:1:active"
}

# One thread sleeps inside compute_slow() for 30 s: apply --timeout 1 must
# give up with exit 4 after about 1 s and leave the process as it was.
case_refused() {
	local pid
	start_victim s1 --mode sleepy --threads 1 --sleep-ms 30000 || return
	pid=${VPID[s1]}
	wait_state s1 "version=none sprobe=0 errors=0 threads=1" || return
	snapshot "$pid"
	hp_refused 4 apply "$PATCH_DIR/v1.hp" "$pid" --timeout 1 || return
	[ "$HP_MS" -ge 900 ] || why "apply gave up after $HP_MS ms, before the 1 s timeout" || return
	[ "$HP_MS" -le 4000 ] || why "apply took $HP_MS ms with --timeout 1" || return
	grep -q compute_slow "$T/hp.err" || why "the refusal does not name compute_slow: $(hp_err)" || return
	unchanged "$pid" || return
	wait_state s1 "version=none probe=0 sprobe=0 tprobe=0 errors=0 counter_ok=1 threads=1" 2 || return
	expect_status "$pid" "" || return
	# the thread is still in its nap: the victim must not have been disturbed
	# (its call still returns later, correctly)
	[ "$(field calls)" = 0 ] || why "the sleeping call returned early (calls=$(field calls))"
}

# slow_v1 makes compute_slow() nap 100 times as long (5 s) inside the new
# code: while a thread is asleep there (due to return into the patch) revert
# must refuse (exit 4, nothing changed); once it has left (it then stays out
# for 1.5 s), revert succeeds.
case_revert_new_code() {
	local pid t_in
	start_victim s1 --mode sleepy --threads 1 --sleep-ms 50 --out-ms 1500 || return
	pid=${VPID[s1]}
	wait_state s1 "sprobe=0 errors=0 threads=1" || return
	hp_ok apply "$PATCH_DIR/slow_v1.hp" "$pid" --timeout 10 || return
	untraced "$pid" || return
	# any call that starts now runs the new code
	wait_state s1 "inside=1 probe=1 sprobe=1 errors=0 threads=1" 3 || return
	t_in=$(now_ms)
	local c1
	c1=$(field calls)
	SNAP_TEXT=$(text_bytes "$pid" compute compute_slow tag)
	SNAP_MAPS=$(maps_of "$pid")
	hp_refused 4 revert slow_v1 "$pid" --timeout 1 || return
	grep -q -E 'compute_slow|slow_v1' "$T/hp.err" ||
		why "the refusal names neither compute_slow nor the patch: $(hp_err)" || return
	unchanged "$pid" || return
	expect_status "$pid" "slow_v1:1:active" || return
	wait_state s1 "inside=1 calls=$c1 probe=1 sprobe=1 errors=0 threads=1" 1 || return
	[ $(($(now_ms) - t_in)) -lt 4000 ] ||
		why "too slow: the thread may have left the new code already, the refusal proves nothing" || return
	hp_ok revert slow_v1 "$pid" --timeout 10 || return
	[ $(($(now_ms) - t_in)) -ge 4500 ] ||
		why "revert succeeded $(($(now_ms) - t_in)) ms after the thread entered a 5 s nap in the new code" || return
	untraced "$pid" || return
	wait_state s1 "probe=0 sprobe=0 errors=0 threads=1" 3 || return
	[ "$(field calls)" -gt "$c1" ] || why "the thread did not come back from the new code" || return
	# its next call runs the original code again
	wait_state s1 "version=0 errors=0 threads=1" 3 || return
	expect_status "$pid" ""
}

# gcc moves the unlikely branch of compute_cold() to compute_cold.cold (a
# separate symbol in .text.unlikely).  A thread asleep there is executing
# compute_cold(): apply must refuse as for any thread inside the function,
# or the thread would go on running the old code (returning the old answer)
# after apply said it was done.
case_cold() {
	local pid
	nm "$VICTIM" | grep -q ' compute_cold\.cold$' || why "the victim has no compute_cold.cold (compiler changed?)" || return
	start_victim c1 --mode cold --threads 1 --sleep-ms 30000 || return
	pid=${VPID[c1]}
	wait_state c1 "version=none cprobe=0 inside=1 errors=0 threads=1" || return
	SNAP_TEXT=$(text_bytes "$pid" compute_cold)
	SNAP_MAPS=$(maps_of "$pid")
	hp apply "$PATCH_DIR/cold_v1.hp" "$pid" --timeout 1
	[ "$HP_RC" = 4 ] ||
		why "apply exited $HP_RC, expected 4: a thread is asleep in compute_cold.cold (called from compute_cold) and would return into the old code" || return
	[ "$(text_bytes "$pid" compute_cold)" = "$SNAP_TEXT" ] || why "code of compute_cold changed" || return
	[ "$(maps_of "$pid")" = "$SNAP_MAPS" ] || why "mappings changed" || return
	untraced "$pid" || return
	wait_state c1 "version=none cprobe=0 inside=1 errors=0 threads=1" 2 || return
	expect_status "$pid" ""
}

PATCH_DIR=$T/patches
mkdir -p "$PATCH_DIR"
if ! make_patch "$PATCH_DIR/v1.hp" v1.c || ! make_patch "$PATCH_DIR/slow_v1.hp" slow_v1.c ||
	! make_patch "$PATCH_DIR/cold_v1.hp" cold_v1.c; then
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi
run_case sleepy-apply-alternating case_alternating
run_case sleepy-apply-waits-for-thread case_waits
run_case sleepy-refused-after-timeout case_refused
run_case sleepy-revert-waits-for-new-code case_revert_new_code
run_case sleepy-refused-thread-in-cold-part case_cold
