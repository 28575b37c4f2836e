# Apply and revert a patch on a victim whose threads call the replaced
# function in a tight loop: 1, 16 and 128 threads.
. "$(dirname "$0")/lib.sh"

CASES="busy-apply-revert-1-thread busy-apply-revert-16-threads busy-apply-revert-128-threads
busy-apply-revert-two-processes"
require $CASES

# case_busy N: apply v1 to a victim with N busy threads, check it, revert it.
case_busy() {
	local n=$1 name=b$1 pid
	start_victim "$name" --mode busy --threads "$n" || return
	pid=${VPID[$name]}
	wait_state "$name" "version=0 tag=0 probe=0 errors=0 counter_ok=1 threads=$n" || return
	local orig k0 maps0
	orig=$(text_bytes "$pid" compute compute_slow tag)
	maps0=$(maps_of "$pid")
	k0=$(field counter)

	hp_ok apply "$PATCH_DIR/v1.hp" "$pid" --json || return
	local r
	r=$(json "(d['results'][0]['pid'], d['results'][0]['result'], d['results'][0]['patch_id'], d['results'][0]['level'], d['results'][0]['functions'], d['results'][0]['threads'])")
	[ "$r" = "($pid, 'applied', 'v1', 1, 2, $((n + 2)))" ] ||
		why "apply --json says $r, expected ($pid, 'applied', 'v1', 1, 2, $((n + 2))) (pid, result, id, level, functions, threads = workers + main + control)" || return
	untraced "$pid" || return
	wait_state "$name" "version=1 probe=1 sprobe=1 tag=0 tprobe=0 errors=0 counter_ok=1 threads=$n" 10 || return
	[ "$(field counter)" -ge "$k0" ] || why "counter went back from $k0 to $(field counter)" || return
	progressing "$name" || return
	local patched
	patched=$(text_bytes "$pid" compute compute_slow tag)
	[ "$patched" != "$orig" ] || why "code of compute unchanged after apply" || return
	[ "${patched#*tag:}" = "${orig#*tag:}" ] || why "tag() changed though v1 does not replace it" || return

	expect_status "$pid" "v1:1:active" || return
	local st want_old
	want_old=$(sym_addr "$pid" compute)
	st=$(json "[(p['object'], p['build_id'], sorted((f['name'], int(f['old'], 16)) for f in p['functions'])) for pr in d['processes'] for p in pr['patches']][0]")
	[ "$st" = "('$VICTIM', '$(build_id "$VICTIM")', [('compute', $((want_old))), ('compute_slow', $(($(sym_addr "$pid" compute_slow))))])" ] ||
		why "status --json says $st; expected the victim's path, build-id and the run-time addresses of compute/compute_slow" || return

	k0=$(field counter)
	hp_ok revert v1 "$pid" --json || return
	untraced "$pid" || return
	wait_state "$name" "version=0 probe=0 sprobe=0 tag=0 tprobe=0 errors=0 counter_ok=1 threads=$n" 10 || return
	[ "$(field counter)" -ge "$k0" ] || why "counter went back from $k0 to $(field counter) on revert" || return
	progressing "$name" || return
	local back
	back=$(text_bytes "$pid" compute compute_slow tag)
	[ "$back" = "$orig" ] || why "code after revert '$back' differs from the original '$orig'" || return
	local maps1
	maps1=$(maps_of "$pid")
	[ "$maps1" = "$maps0" ] ||
		why "mappings left after revert: $(diff <(echo "$maps0") <(echo "$maps1") | grep '^[<>]' | head -n 4 | tr '\n' ' ')" || return
	expect_status "$pid" "" || return
	wait_state "$name" "errors=0 counter_ok=1 threads=$n" 1
}

# One command, two processes.
case_two() {
	start_victim p1 --mode busy --threads 4 || return
	start_victim p2 --mode busy --threads 4 || return
	local a=${VPID[p1]} b=${VPID[p2]} r
	hp_ok apply "$PATCH_DIR/v1.hp" "$a" "$b" --json || return
	r=$(json "sorted((x['pid'], x['result']) for x in d['results'])")
	[ "$r" = "[($((a < b ? a : b)), 'applied'), ($((a < b ? b : a)), 'applied')]" ] || why "apply --json says $r" || return
	wait_state p1 "version=1 probe=1 sprobe=1 errors=0 counter_ok=1 threads=4" || return
	wait_state p2 "version=1 probe=1 sprobe=1 errors=0 counter_ok=1 threads=4" || return
	hp_ok status "$a" "$b" --json || return
	r=$(json "sorted((x['pid'], [p['id'] for p in x['patches']]) for x in d['processes'])")
	[ "$r" = "[($((a < b ? a : b)), ['v1']), ($((a < b ? b : a)), ['v1'])]" ] || why "status --json says $r" || return
	hp_ok revert v1 "$a" "$b" || return
	wait_state p1 "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=4" || return
	wait_state p2 "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=4" || return
	expect_status "$a" "" || return
	expect_status "$b" ""
}

PATCH_DIR=$T/patches
mkdir -p "$PATCH_DIR"
if ! make_patch "$PATCH_DIR/v1.hp" v1.c; then
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi
run_case busy-apply-revert-1-thread case_busy 1
run_case busy-apply-revert-16-threads case_busy 16
run_case busy-apply-revert-128-threads case_busy 128
run_case busy-apply-revert-two-processes case_two
