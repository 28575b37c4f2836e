# Two levels stacked: v1 (level 1), then v2 (level 2) replaces it; reverting
# goes back one level at a time.
. "$(dirname "$0")/lib.sh"

CASES="levels-stack-and-unwind"
require $CASES

case_levels() {
	local pid orig code2
	start_victim l --mode busy --threads 16 || return
	pid=${VPID[l]}
	wait_state l "version=0 probe=0 errors=0 counter_ok=1 threads=16" || return
	orig=$(text_bytes "$pid" compute compute_slow tag)

	hp_ok apply "$PATCH_DIR/v1.hp" "$pid" || return
	wait_state l "version=1 probe=1 sprobe=1 errors=0 counter_ok=1 threads=16" || return
	expect_status "$pid" "v1:1:active" || return

	hp_ok apply "$PATCH_DIR/v2.hp" "$pid" --json || return
	local r
	r=$(json "(d['results'][0]['result'], d['results'][0]['patch_id'], d['results'][0]['level'])")
	[ "$r" = "('applied', 'v2', 2)" ] || why "apply v2 --json says $r" || return
	untraced "$pid" || return
	wait_state l "version=2 probe=2 sprobe=2 errors=0 counter_ok=1 threads=16" || return
	expect_status "$pid" "v1:1:inactive v2:2:active" || return
	progressing l || return
	code2=$(text_bytes "$pid" compute compute_slow tag)

	hp_ok revert v2 "$pid" || return
	untraced "$pid" || return
	wait_state l "version=1 probe=1 sprobe=1 errors=0 counter_ok=1 threads=16" || return
	expect_status "$pid" "v1:1:active" || return
	local now
	now=$(text_bytes "$pid" compute compute_slow tag)
	[ "$now" != "$code2" ] && [ "$now" != "$orig" ] ||
		why "code after reverting v2 is still v2's or the original's: $now" || return
	progressing l || return

	hp_ok revert v1 "$pid" || return
	untraced "$pid" || return
	wait_state l "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=16" || return
	expect_status "$pid" "" || return
	[ "$(text_bytes "$pid" compute compute_slow tag)" = "$orig" ] ||
		why "code after reverting v1 differs from the original" || return
	progressing l
}

PATCH_DIR=$T/patches
mkdir -p "$PATCH_DIR"
if ! make_patch "$PATCH_DIR/v1.hp" v1.c || ! make_patch "$PATCH_DIR/v2.hp" v2.c -O2 -- --level 2; then
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi
run_case levels-stack-and-unwind case_levels
