#!/bin/bash
# hotpatch build on a small multi-file project (tests/data/project): a fix to
# a function body becomes a patch that changes a running multithreaded
# program; fixes that cannot be patched live are refused with their reason;
# a comment-only fix is "nothing to patch"; bad input fails with a clear error.
. "$(dirname "$0")/lib.sh"

PROJECT=$ROOT/tests/data/project
FIXES=$PROJECT/fixes

require build-body build-refusals build-errors

# The running program: the project built its own way, in a copy.
RUNDIR=$T/run
cp -a "$PROJECT" "$RUNDIR"
make -s -C "$RUNDIR" >"$T/make.out" 2>&1 || { echo "FAIL: build: the project does not build: $(tail -n 3 "$T/make.out")"; exit 1; }
TICKER=$RUNDIR/ticker

# hp_build FIX OUT [ARGS]: hotpatch build of the project with FIX.
hp_build() {
	local fix=$1 out=$2
	shift 2
	HP_TIMEOUT=300 hp build --src "$PROJECT" --fix "$fix" --target "$TICKER" -o "$out" "$@"
}

# answers: the four answers of the newest tick line of the ticker's log.
answers() {
	local n
	n=$(wc -l <"$T/ticker.log")
	for _ in $(seq 40); do
		[ "$(wc -l <"$T/ticker.log")" -gt $((n + 1)) ] && break
		sleep 0.05
	done
	tail -n 1 "$T/ticker.log" | cut -d' ' -f4-
}

case_body() {
	local before after back
	hp_build "$FIXES/body.diff" "$T/body.hp" --id quota-fix --cve CVE-0000-0001 || return
	[ "$HP_RC" = 0 ] || why "build exited $HP_RC: $(hp_err)" || return
	grep -q "replaces: quota_allowed" "$T/hp.out" || why "quota_allowed not reported replaced" || return
	hp inspect "$T/body.hp" --json
	json 'len(d["functions"])' | grep -qx 1 ||
		why "the patch replaces $(json 'len(d["functions"])') functions, not 1" || return
	sign_patch "$T/body.hp" || return
	start_bg ticker "$TICKER"
	local pid=$BG_PID
	before=$(answers)
	[ "$before" = "0 1 1 1" ] || why "before the patch the answers are '$before'" || return
	hp_ok apply "$T/body.hp" "$pid" || return
	after=$(answers)
	[ "$after" = "0 0 0 0" ] || why "after the patch the answers are '$after', not '0 0 0 0'" || return
	tail -n 1 "$T/ticker.log" | grep -q -E "tick [0-9]+ (alpha|beta) " ||
		why "the unpatched part (table_name) changed: $(tail -n 1 "$T/ticker.log")" || return
	hp_ok revert quota-fix "$pid" || return
	back=$(answers)
	[ "$back" = "0 1 1 1" ] || why "after revert the answers are '$back'" || return
	alive "$pid" || why "the ticker died"
}

# refused FIX EXIT REGEX: build exits EXIT and says REGEX; no patch written.
refused() {
	hp_build "$FIXES/$1.diff" "$T/$1.hp"
	[ "$HP_RC" = "$2" ] || why "$1: build exited $HP_RC, not $2: $(hp_err)" || return
	grep -q -E "$3" "$T/hp.out" "$T/hp.err" || why "$1: the reason does not say /$3/: $(hp_err)" || return
	[ ! -e "$T/$1.hp" ] || why "$1: a patch file was written"
}

case_refusals() {
	refused data 4 'refused: changes the initial value of the variable quota_limit' || return
	refused layout 4 'refused: changes the layout of struct account' || return
	refused rodata 4 'refused: changes the read-only data names, which table_name reads' || return
	refused comment 3 'nothing to patch' || return
	# An original that does not reproduce the running binary (built -O0).
	cp -a "$PROJECT" "$T/o0" && make -s -C "$T/o0" CFLAGS="-O0 -g" >/dev/null 2>&1 ||
		why "the -O0 build failed" || return
	HP_TIMEOUT=300 hp build --src "$PROJECT" --fix "$FIXES/body.diff" --target "$T/o0/ticker" -o "$T/o0.hp"
	[ "$HP_RC" = 4 ] || why "a non-reproducing original: exit $HP_RC, not 4" || return
	grep -q "does not reproduce ticker: quota_allowed differs" "$T/hp.err" ||
		why "no reproduction refusal: $(hp_err)" || return
	[ ! -e "$T/o0.hp" ] || why "a patch was written for a binary the original does not reproduce"
}

case_errors() {
	hp_build "$FIXES/broken.diff" "$T/b.hp"
	[ "$HP_RC" = 1 ] && grep -q "does not apply to the source" "$T/hp.err" ||
		why "a fix that does not apply: exit $HP_RC: $(hp_err)" || return
	echo "not a diff" >"$T/junk.diff"
	hp_build "$T/junk.diff" "$T/b.hp"
	[ "$HP_RC" = 1 ] && grep -q "not a unified diff" "$T/hp.err" ||
		why "a fix that is no diff: exit $HP_RC: $(hp_err)" || return
	hp_build "$FIXES/body.diff" "$T/b.hp" --build false
	[ "$HP_RC" = 1 ] && grep -q "building the original failed" "$T/hp.err" ||
		why "a build that fails: exit $HP_RC: $(hp_err)" || return
	HP_TIMEOUT=60 hp build --src "$T/nonexistent" --fix "$FIXES/body.diff" --target "$TICKER" -o "$T/b.hp"
	[ "$HP_RC" = 1 ] && grep -q "not a source directory" "$T/hp.err" ||
		why "a missing source: exit $HP_RC: $(hp_err)" || return
	HP_TIMEOUT=60 hp build --src "$PROJECT" --fix "$FIXES/body.diff" --target "$PROJECT/Makefile" -o "$T/b.hp"
	[ "$HP_RC" = 1 ] || why "a target that is no ELF file: exit $HP_RC" || return
	hp build --src "$PROJECT" --target "$TICKER"
	[ "$HP_RC" = 2 ] || why "missing --fix and -o: exit $HP_RC, not 2 (usage)" || return
	[ ! -e "$T/b.hp" ] || why "a patch file was left behind" || return
	# No work directory is left behind in TMPDIR.
	! ls -d "$T"/tmp/hotpatch-build.* >/dev/null 2>&1 || why "a work directory was left in TMPDIR"
}

mkdir -p "$T/tmp"
export TMPDIR=$T/tmp
run_case build-body case_body
run_case build-refusals case_refusals
run_case build-errors case_errors
cleanup
