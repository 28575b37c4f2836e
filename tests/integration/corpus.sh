#!/bin/bash
# Real security fixes from Debian 12 source packages, live-patched into the
# programs built from them (tests/corpus/README.md says what a case is).
#
# For each case: fetch the source package, build the program from the source
# before the fix and start it exercising the fixed code; `hotpatch build` the
# fix; sign; apply; check that normal input is still served right and that the
# vulnerable input now gets the fixed behaviour; revert and check the old
# behaviour is back.  Cases that must be refused (layout and data changes) or
# that change no code check hotpatch build's exit code and reason, and that
# the running program was not touched.
#
# CORPUS=pattern runs only the cases whose file name matches.  A table of
# results (case, result, build time, functions, reason) is written to
# $CORPUS_TABLE (default build/corpus-results.md).
# test-timeout: 3600
. "$(dirname "$0")/lib.sh"

CASES_DIR=$ROOT/tests/corpus/cases
export HOTPATCH_SRC_CACHE=${HOTPATCH_SRC_CACHE:-$T/cache}
export HP_CFLAGS="-O2 -g"
TABLE=${CORPUS_TABLE:-$BUILD_DIR/corpus-results.md}
BUILD_TIMEOUT=${CORPUS_BUILD_TIMEOUT:-1200}

require corpus
mkdir -p "$(dirname "$TABLE")"
{
	echo "| case | expected | result | plain build s / hotpatch build s | functions replaced | reason / note |"
	echo "|---|---|---|---|---|---|"
} >"$TABLE"

table_row() {
	echo "| $1 | $2 | $3 | $4 | $5 | $6 |" >>"$TABLE"
	echo "TABLE: $1 | $2 | $3 | $4 | $5 | $6"
}

# pids_of_case: the processes to patch (nginx: master and workers).
pids_of_case() {
	if [ -n "${CASE_PIDS:-}" ]; then
		echo "$CASE_PIDS"
	else
		echo "$CASE_PID"
	fi
}

# build_patch DIR FIX LEVEL OUT: runs hotpatch build; sets BUILD_RC, BUILD_S.
build_patch() {
	local dir=$1 fix=$2 level=$3 out=$4 cmd t0 conf=()
	cmd=$CASE_BUILD
	[ -n "$CASE_SUBDIR" ] && cmd="cd $CASE_SUBDIR && $CASE_BUILD"
	if [ -n "${CASE_CONFIGURE:-}" ]; then
		conf=(--configure "${CASE_SUBDIR:+cd $CASE_SUBDIR && }$CASE_CONFIGURE")
	fi
	t0=$(now_ms)
	echo "+ hotpatch build --src $dir/orig --fix $fix --level $level -o $out"
	timeout --kill-after=10 "$BUILD_TIMEOUT" "$HOTPATCH" build --src "$dir/orig" --fix "$fix" \
		"${conf[@]}" --build "$cmd" --target "$RUN_DIR/$CASE_TARGET" --level "$level" \
		--id "$CASE_ID-$level" --cve "$CASE_CVE" -o "$out" >"$dir/build.out" 2>"$dir/build.err"
	BUILD_RC=$?
	BUILD_S=$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')
	sed 's/^/  build: /' "$dir/build.out" "$dir/build.err" | head -n 60
	echo "  rc=$BUILD_RC (${BUILD_S} s)"
}

replaced_of() {
	sed -n 's/^  replaces: //p' "$1" | head -n 1
}

# apply_all PATCH: applies to every process of the case.
apply_all() {
	local pid
	for pid in $(pids_of_case); do
		hp_ok apply "$1" "$pid" --timeout 20 || return
	done
}

revert_all() {
	local pid
	for pid in $(pids_of_case); do
		hp_ok revert "$1" "$pid" --timeout 20 || return
	done
}

all_alive() {
	local pid
	for pid in $(pids_of_case); do
		alive "$pid" || why "process $pid of the case died" || return
	done
}

corpus_case() {
	local file=$1 name dir rc fix2 level=1 p1 p2 replaced snap t0
	name=$(basename "$file" .sh)
	unset CASE_FIX_NEXT CASE_PIDS CASE_PID CASE_REFUSE CASE_SUBDIR CASE_CONFIGURE
	# shellcheck source=/dev/null
	. "$file"
	CASE_ID=$(echo "$name" | cut -d- -f1)-$CASE_CVE
	dir=$T/$name
	mkdir -p "$dir"
	"$ROOT/scripts/debian-source" "$CASE_PKG" "$CASE_FIX" "$dir" >"$dir/source.log" 2>&1
	rc=$?
	if [ "$rc" = 77 ]; then
		echo "SKIP: $name: the sources of $CASE_PKG cannot be fetched: $(tail -n 2 "$dir/source.log" | tr '\n' ' ')"
		table_row "$name" "$CASE_EXPECT" "skipped (no sources)" - - "$(tail -n 1 "$dir/source.log")"
		return 0
	fi
	[ "$rc" = 0 ] || why "debian-source $CASE_PKG $CASE_FIX: $(tail -n 3 "$dir/source.log" | tr '\n' ' ')" || return

	# The running program: built from the source before the fix.
	cp -a "$dir/orig" "$dir/run"
	RUN_DIR=$dir/run${CASE_SUBDIR:+/$CASE_SUBDIR}
	echo "+ building the running program: ${CASE_CONFIGURE:+$CASE_CONFIGURE && }$CASE_BUILD"
	t0=$(now_ms)
	(cd "$RUN_DIR" && { [ -z "${CASE_CONFIGURE:-}" ] || sh -c "$CASE_CONFIGURE"; } && sh -c "$CASE_BUILD") >"$dir/run-build.log" 2>&1 ||
		why "building $CASE_PKG failed: $(tail -n 5 "$dir/run-build.log" | tr '\n' ' ')" || return
	[ -f "$RUN_DIR/$CASE_TARGET" ] || why "the build made no $CASE_TARGET" || return
	PLAIN_S=$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')
	RUN_DIR=$(cd "$RUN_DIR" && pwd -P)
	case_start "$RUN_DIR" || return
	all_alive || return
	case_check_normal || return
	if [ "$CASE_EXPECT" = apply ]; then
		case_check_vulnerable || why "before the patch: ${WHY:-the vulnerable input did not get the old behaviour}" || return
	fi
	snap=$(for pid in $(pids_of_case); do grep -c . "/proc/$pid/maps"; done | tr '\n' ' ')

	build_patch "$dir" "$dir/fix.diff" 1 "$dir/p1.hp"
	replaced=$(replaced_of "$dir/build.out")
	case $CASE_EXPECT in
	refuse | nothing)
		local want=4 reason
		[ "$CASE_EXPECT" = nothing ] && want=3
		reason=$(grep -h -E 'refused:|nothing to patch' "$dir/build.err" "$dir/build.out" | head -n 3 | tr '\n' ' ')
		[ "$BUILD_RC" = "$want" ] ||
			why "hotpatch build exited $BUILD_RC, expected $want ($CASE_EXPECT): $(tail -n 3 "$dir/build.err" | tr '\n' ' ')" || return
		grep -q -E "$CASE_REFUSE" "$dir/build.out" "$dir/build.err" ||
			why "hotpatch build's reason does not mention /$CASE_REFUSE/: $reason" || return
		[ -e "$dir/p1.hp" ] && { why "a patch file was written although the fix was $CASE_EXPECT"; return 1; }
		all_alive || return
		case_check_normal || return
		[ "$snap" = "$(for pid in $(pids_of_case); do grep -c . "/proc/$pid/maps"; done | tr '\n' ' ')" ] ||
			why "the running program's mappings changed" || return
		table_row "$name" "$CASE_EXPECT" "$CASE_EXPECT (as expected)" "$PLAIN_S / $BUILD_S" - "${reason//|/\\|}"
		return 0
		;;
	esac
	[ "$BUILD_RC" = 0 ] || why "hotpatch build exited $BUILD_RC: $(grep -h refused "$dir/build.err" | head -n 3 | tr '\n' ' ')$(tail -n 2 "$dir/build.err" | tr '\n' ' ')" || return
	p1=$dir/p1.hp
	sign_patch "$p1" || return
	apply_all "$p1" || return
	all_alive || return
	case_check_normal || why "after the patch: ${WHY:-normal input not served right}" || return
	if [ -n "${CASE_FIX_NEXT:-}" ]; then
		# The next part of the fix, stacked: a level 2 patch carrying both parts.
		level=2
		fix2=$dir/fix-both.diff
		cat "$dir/fix.diff" "$dir/orig/debian/patches/$CASE_FIX_NEXT" >"$fix2"
		build_patch "$dir" "$fix2" 2 "$dir/p2.hp"
		[ "$BUILD_RC" = 0 ] || why "hotpatch build of $CASE_FIX_NEXT (level 2) exited $BUILD_RC: $(grep -h refused "$dir/build.err" | head -n 3 | tr '\n' ' ')" || return
		replaced="$replaced; level 2: $(replaced_of "$dir/build.out")"
		p2=$dir/p2.hp
		sign_patch "$p2" || return
		apply_all "$p2" || return
		all_alive || return
		case_check_normal || why "after the level 2 patch: ${WHY:-normal input not served right}" || return
	fi
	case_check_fixed || why "after the patch: ${WHY:-the vulnerable input did not get the fixed behaviour}" || return
	# And back: revert every level, the old behaviour returns.
	for ((; level >= 1; level--)); do
		revert_all "$CASE_ID-$level" || return
	done
	all_alive || return
	case_check_normal || why "after revert: ${WHY:-normal input not served right}" || return
	case_check_vulnerable || why "after revert: ${WHY:-the old behaviour did not come back}" || return
	table_row "$name" apply "applied, fixed, reverted" "$PLAIN_S / $BUILD_S" "${replaced:-?}" \
		"$(grep -c 'line number' "$dir/build.out") line-number-only changes left out"
	return 0
}

found=0
for f in "$CASES_DIR"/*.sh; do
	[ -f "$f" ] || continue
	[ -n "${CORPUS:-}" ] && [[ "$(basename "$f")" != *$CORPUS* ]] && continue
	found=1
	run_case "corpus-$(basename "$f" .sh)" corpus_case "$f"
done
[ "$found" = 1 ] || echo "SKIP: corpus: no case file in $CASES_DIR"
echo "results table: $TABLE"
cat "$TABLE"
cleanup
