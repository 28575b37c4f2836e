# The same victim built the ways other distributions and projects build
# programs: with CET landing pads (endbr64 at every function entry, as
# Ubuntu and Fedora do), as a non-PIE executable at a fixed address, and
# statically linked (libc inside the executable).  Each gets v1 (plain
# code), newglobal (new data and a helper) and static (the victim's static
# variable and helper, and libc) applied and reverted.
. "$(dirname "$0")/lib.sh"

CASES="variant-cet-endbr64 variant-non-pie variant-static"
require $CASES

# case_variant NAME "VICTIM GCC FLAGS" "PATCH GCC FLAGS"
case_variant() {
	local name=$1 vflags=$2 pflags=$3 pid exe=$T/victim-$1 orig
	echo "+ gcc $vflags -o victim-$name victim.c"
	# shellcheck disable=SC2086
	gcc -O2 -g -pthread $vflags -o "$exe" "$ROOT/tests/victims/victim.c" -lm >"$T/gcc.out" 2>&1 ||
		why "cannot build the victim with $vflags: $(head -c 300 "$T/gcc.out")" || return
	local p
	for p in v1 newglobal static; do
		if [ "$name" = static ] && [ "$p" = static ]; then
			# strlen is an IFUNC inside a static executable: pack must refuse it, saying so
			# shellcheck disable=SC2086
			if PACK_TARGET=$exe make_patch "$T/$p-$name.hp" "$p.c" -O2 $pflags -- --id "$p"; then
				why "pack accepted a call to an IFUNC of a static executable" || return
			fi
			hp_err | grep -qi ifunc || why "the refusal does not name the IFUNC: $(hp_err)" || return
			WHY=""
			continue
		fi
		# shellcheck disable=SC2086
		PACK_TARGET=$exe make_patch "$T/$p-$name.hp" "$p.c" -O2 $pflags -- --id "$p" || return
	done
	if [ "$name" = cet ]; then
		# the premise: functions start with endbr64 (f3 0f 1e fa)
		objdump -d --no-show-raw-insn "$exe" | grep -A1 '<compute>:' | grep -q endbr64 ||
			why "compute() of the CET build does not start with endbr64" || return
	fi
	VICTIM_BIN=$exe start_victim "$name" --mode busy --threads 4 || return
	pid=${VPID[$name]}
	wait_state "$name" "version=0 probe=0 tag=0 errors=0 counter_ok=1 threads=4" || return
	orig=$(text_bytes "$pid" compute compute_slow tag)

	hp_ok apply "$T/v1-$name.hp" "$pid" || return
	wait_state "$name" "version=1 probe=1 sprobe=1 tag=0 errors=0 counter_ok=1 threads=4" || return
	hp_ok revert v1 "$pid" || return
	wait_state "$name" "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=4" || return

	hp_ok apply "$T/newglobal-$name.hp" "$pid" || return
	wait_state "$name" "version=3 probe=3 sprobe=0 tag=0 errors=0 counter_ok=1 threads=4" || return
	hp_ok revert newglobal "$pid" || return
	wait_state "$name" "version=0 probe=0 errors=0 counter_ok=1 threads=4" || return

	if [ "$name" != static ]; then
		hp_ok apply "$T/static-$name.hp" "$pid" || return
		wait_state "$name" "tag=1 tprobe=1 version=0 errors=0 counter_ok=1 threads=4" || return
		progressing "$name" || return
		hp_ok revert static "$pid" || return
		wait_state "$name" "tag=0 tprobe=0 version=0 errors=0 counter_ok=1 threads=4" || return
	fi

	untraced "$pid" || return
	[ "$(text_bytes "$pid" compute compute_slow tag)" = "$orig" ] || why "code after the reverts differs from the original" || return
	expect_status "$pid" ""
}

run_case variant-cet-endbr64 case_variant cet "-fcf-protection=full" "-fcf-protection=full"
run_case variant-non-pie case_variant nopie "-no-pie -fno-pie" "-fno-pie"
run_case variant-static case_variant static "-static" ""
