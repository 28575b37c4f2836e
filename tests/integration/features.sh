# What a patch may contain: new globals and functions; references to the
# target's static variables and functions and to libc; any -O level.
. "$(dirname "$0")/lib.sh"

CASES="patch-new-global-and-helper patch-static-var-static-helper-libc patch-compiled-O0
patch-shared-library inspect-shows-metadata"
require $CASES

# apply_revert NAME PATCH.hp ID 'state after apply' 'state after revert'
apply_revert() {
	local name=$1 hpf=$2 id=$3 after=$4 before=$5 pid k0
	start_victim "$name" --mode busy --threads 8 || return
	pid=${VPID[$name]}
	wait_state "$name" "$before errors=0 counter_ok=1 threads=8" || return
	local orig
	orig=$(text_bytes "$pid" compute compute_slow tag)
	k0=$(field counter)
	hp_ok apply "$hpf" "$pid" || return
	untraced "$pid" || return
	wait_state "$name" "$after errors=0 counter_ok=1 threads=8" || return
	[ "$(field counter)" -ge "$k0" ] || why "counter went back from $k0 to $(field counter)" || return
	progressing "$name" || return
	expect_status "$pid" "$id:1:active" || return
	# let it run patched for a while: every call is checked by the victim
	sleep 0.5
	wait_state "$name" "$after errors=0 counter_ok=1 threads=8" 1 || return
	k0=$(field counter)
	hp_ok revert "$id" "$pid" || return
	untraced "$pid" || return
	wait_state "$name" "$before errors=0 counter_ok=1 threads=8" || return
	[ "$(field counter)" -ge "$k0" ] || why "counter went back from $k0 to $(field counter) on revert" || return
	progressing "$name" || return
	expect_status "$pid" "" || return
	[ "$(text_bytes "$pid" compute compute_slow tag)" = "$orig" ] || why "code after revert differs from the original"
}

# compute() answers 7x+3 (version 3) through new .data/.bss/.rodata and a
# new helper function in a section of its own.
case_newglobal() {
	apply_revert ng "$PATCH_DIR/newglobal.hp" newglobal \
		"version=3 probe=3 sprobe=0 tag=0 tprobe=0" "version=0 probe=0 sprobe=0 tag=0 tprobe=0"
}

# tag() reaches the victim's static `counter`, static scramble() and libc:
# tag version 1; the counter (counter_ok) goes on in the victim's variable.
case_static() {
	apply_revert st "$PATCH_DIR/static.hp" static \
		"tag=1 tprobe=1 version=0 probe=0" "tag=0 tprobe=0 version=0 probe=0"
}

case_O0() {
	apply_revert o0 "$PATCH_DIR/v1-O0.hp" v1-O0 \
		"version=1 probe=1 sprobe=1 tag=0" "version=0 probe=0 sprobe=0 tag=0"
}

# lib_compute() of a dlopen()ed library: the patch is packed against the
# library, the executable is left alone, the library's static counter goes on.
case_shlib() {
	local pid lib=$T/libvictim.so orig exe_orig
	start_victim sl --mode busy --threads 8 --lib "$lib" || return
	pid=${VPID[sl]}
	wait_state sl "lversion=0 lprobe=0 probe=0 errors=0 counter_ok=1 lcounter_ok=1 threads=8" || return
	orig=$(obj_bytes "$pid" "$lib" lib_compute lib_twice)
	exe_orig=$(text_bytes "$pid" compute compute_slow tag)
	hp_ok apply "$PATCH_DIR/lib_v1.hp" "$pid" || return
	untraced "$pid" || return
	wait_state sl "lversion=1 lprobe=1 version=0 probe=0 errors=0 counter_ok=1 lcounter_ok=1 threads=8" || return
	progressing sl || return
	[ "$(text_bytes "$pid" compute compute_slow tag)" = "$exe_orig" ] || why "the executable's code changed" || return
	[ "$(obj_bytes "$pid" "$lib" lib_compute lib_twice)" != "$orig" ] || why "lib_compute's code unchanged" || return
	expect_status "$pid" "lib_v1:1:active" || return
	local o
	o=$(json "[p['object'] for pr in d['processes'] for p in pr['patches']]")
	[ "$o" = "['$lib']" ] || why "status names the object $o, expected $lib" || return
	hp_ok revert lib_v1 "$pid" || return
	untraced "$pid" || return
	wait_state sl "lversion=0 lprobe=0 version=0 probe=0 errors=0 counter_ok=1 lcounter_ok=1 threads=8" || return
	[ "$(obj_bytes "$pid" "$lib" lib_compute lib_twice)" = "$orig" ] || why "library code after revert differs from the original" || return
	expect_status "$pid" ""
}

# The metadata given to pack comes back from inspect.
case_inspect() {
	hp_ok inspect "$PATCH_DIR/meta.hp" || return
	local f want
	for want in fix-42 CVE-2024-0001 CVE-2024-0002 "a test description" critical compute compute_slow; do
		grep -q -- "$want" "$T/hp.out" || why "inspect does not show '$want'" || return
	done
	hp_ok inspect "$PATCH_DIR/meta.hp" --json || return
	f=$(python3 -c 'import json,sys; json.load(open(sys.argv[1])); print("ok")' "$T/hp.out" 2>&1)
	[ "$f" = ok ] || why "inspect --json is not JSON: $f" || return
	for want in fix-42 CVE-2024-0001 "$(build_id "$VICTIM")" compute_slow; do
		grep -q -- "$want" "$T/hp.out" || why "inspect --json does not show '$want'" || return
	done
}

PATCH_DIR=$T/patches
mkdir -p "$PATCH_DIR"
echo "+ gcc -shared libvictim.c"
if ! gcc -O2 -g -fPIC -shared -o "$T/libvictim.so" "$ROOT/tests/victims/shlib/libvictim.c"; then
	WHY="cannot build libvictim.so"
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi
if ! make_patch "$PATCH_DIR/newglobal.hp" newglobal.c ||
	! PACK_TARGET=$T/libvictim.so make_patch "$PATCH_DIR/lib_v1.hp" lib_v1.c ||
	! make_patch "$PATCH_DIR/static.hp" static.c ||
	! make_patch "$PATCH_DIR/v1-O0.hp" v1.c -O0 ||
	! make_patch "$PATCH_DIR/meta.hp" v1.c -O2 -- --id fix-42 --severity critical \
		--cve CVE-2024-0001 --cve CVE-2024-0002 --description "a test description"; then
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi
run_case patch-new-global-and-helper case_newglobal
run_case patch-static-var-static-helper-libc case_static
run_case patch-compiled-O0 case_O0
run_case patch-shared-library case_shlib
run_case inspect-shows-metadata case_inspect
