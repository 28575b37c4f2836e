# Bad input: each must fail with a message on stderr ("hotpatch: ...") and a
# non-zero exit, and leave the target exactly as it was (code of the
# functions and mappings compared before/after, no thread left traced, the
# victim still answering correctly).
. "$(dirname "$0")/lib.sh"

CASES="error-wrong-target error-no-such-pid error-already-traced error-corrupt-truncated
error-corrupt-random error-corrupt-body error-apply-twice error-revert-not-applied
error-revert-not-top error-apply-lower-level error-usage error-json-result
error-stopped-process error-stopped-process-keeps-fds error-not-root error-exits-mid-apply error-thread-in-d-state
error-vfork-child-opens-fifo error-missing-file-said-once error-32-bit-object"
require $CASES

# fresh NAME: a busy victim with 8 threads, running version 0, snapshotted.
fresh() {
	start_victim "$1" --mode busy --threads 8 || return
	PID=${VPID[$1]}
	wait_state "$1" "version=0 probe=0 sprobe=0 tag=0 errors=0 counter_ok=1 threads=8" || return
	snapshot "$PID"
}

# intact NAME 'k=v ...': the victim is unchanged since the snapshot, runs,
# and answers these values with no error.
intact() {
	unchanged "$PID" || return
	wait_state "$1" "$2 errors=0 counter_ok=1 threads=8" 5 || return
	progressing "$1"
}

case_wrong_target() {
	fresh w || return
	hp_refused 1 apply "$PATCH_DIR/other-v1.hp" "$PID" || return
	grep -qi 'build.id' "$T/hp.err" || why "the message does not mention the build-id: $(hp_err)" || return
	intact w "version=0 probe=0 sprobe=0" || return
	expect_status "$PID" ""
}

# With --json the failure is a result with result "error" and the message;
# the contract also wants every error on stderr as "hotpatch: ...".
case_json_error() {
	fresh j || return
	hp apply "$PATCH_DIR/other-v1.hp" "$PID" --json
	[ "$HP_RC" = 1 ] || why "apply --json of a wrong-target patch exited $HP_RC, expected 1" || return
	local r
	r=$(json "(d['results'][0]['pid'], d['results'][0]['result'], len(d['results'][0].get('error', '')) > 0)")
	[ "$r" = "($PID, 'error', True)" ] ||
		why "apply --json says $r, expected ($PID, 'error', True) (pid, result, has a message)" || return
	intact j "version=0 probe=0 sprobe=0" || return
	grep -q '^hotpatch: ..' "$T/hp.err" ||
		why "with --json the error is only in the JSON: nothing on stderr (contract: errors go to stderr as 'hotpatch: ...')"
}

case_no_such_pid() {
	local dead
	sleep 0 &
	dead=$!
	wait "$dead"
	[ ! -e "/proc/$dead" ] || why "pid $dead was reused" || return
	hp_refused 1 apply "$PATCH_DIR/v1.hp" "$dead" || return
	hp_refused nonzero revert v1 "$dead" || return
	hp_refused nonzero status "$dead"
}

case_traced() {
	fresh t || return
	start_bg tracer "$TRACER" "$PID"
	local tracer=$BG_PID i
	for ((i = 0; i < 100; i++)); do
		grep -q '^tracing' "$T/tracer.log" 2>/dev/null && break
		alive "$tracer" || why "tracer failed: $(cat "$T/tracer.log")" || return
		sleep 0.05
	done
	grep -q '^tracing' "$T/tracer.log" || why "tracer did not start" || return
	grep -q "^TracerPid:[[:space:]]*$tracer\$" "/proc/$PID/status" || why "victim not traced by the tracer" || return
	hp_refused 1 apply "$PATCH_DIR/v1.hp" "$PID" || return
	grep -q "traced by pid $tracer (tracer)" "$T/hp.err" ||
		why "the message does not name the tracer (pid $tracer, tracer): $(hp_err)" || return
	# still traced by the tracer, and only by it
	local f
	for f in /proc/"$PID"/task/*/status; do
		grep -q "^TracerPid:[[:space:]]*$tracer\$" "$f" ||
			why "after the refusal $(grep TracerPid "$f") in $f, expected $tracer" || return
	done
	stop_pid "$tracer"
	intact t "version=0 probe=0 sprobe=0" || return
	expect_status "$PID" ""
}

# corrupt CASE-NAME FILE: FILE is refused by inspect and by apply, both
# without a signature and with --allow-unsigned, which takes apply past the
# signature check to the parser (hotpatch sign refuses to sign such files).
corrupt() {
	fresh "$1" || return
	hp_refused 1 inspect "$2" || return
	hp_refused 1 apply "$2" "$PID" || return
	hp_refused 1 apply "$2" "$PID" --allow-unsigned || return
	grep -qi 'warning' "$T/hp.err" && ! grep -v 'warning' "$T/hp.err" | grep -q '^hotpatch: ..' &&
		{ why "with --allow-unsigned only a warning, no error message: $(hp_err)"; return 1; }
	intact "$1" "version=0 probe=0 sprobe=0"
}

case_truncated() {
	local size
	size=$(stat -c %s "$PATCH_DIR/v1.hp")
	head -c $((size / 2)) "$PATCH_DIR/v1.hp" >"$PATCH_DIR/trunc.hp"
	corrupt c "$PATCH_DIR/trunc.hp"
}

case_random() {
	head -c 4096 /dev/urandom >"$PATCH_DIR/random.hp"
	corrupt c "$PATCH_DIR/random.hp"
}

# The first 64 bytes (magic, header) kept, the rest random.
case_body() {
	local size
	size=$(stat -c %s "$PATCH_DIR/v1.hp")
	{
		head -c 64 "$PATCH_DIR/v1.hp"
		head -c $((size - 64)) /dev/urandom
	} >"$PATCH_DIR/body.hp"
	corrupt c "$PATCH_DIR/body.hp"
}

case_twice() {
	fresh a || return
	hp_ok apply "$PATCH_DIR/v1.hp" "$PID" || return
	wait_state a "version=1 probe=1 errors=0" || return
	snapshot "$PID"
	hp_refused 3 apply "$PATCH_DIR/v1.hp" "$PID" || return
	intact a "version=1 probe=1 sprobe=1" || return
	expect_status "$PID" "v1:1:active"
}

case_revert_not_applied() {
	fresh r || return
	hp_refused nonzero revert v1 "$PID" || return
	intact r "version=0 probe=0 sprobe=0" || return
	hp_ok apply "$PATCH_DIR/v1.hp" "$PID" || return
	wait_state r "version=1 probe=1 errors=0" || return
	snapshot "$PID"
	hp_refused nonzero revert v2 "$PID" || return
	intact r "version=1 probe=1 sprobe=1" || return
	expect_status "$PID" "v1:1:active"
}

# stack NAME: fresh victim with v1 and v2 applied, snapshotted.
stack() {
	fresh "$1" || return
	hp_ok apply "$PATCH_DIR/v1.hp" "$PID" || return
	hp_ok apply "$PATCH_DIR/v2.hp" "$PID" || return
	wait_state "$1" "version=2 probe=2 sprobe=2 errors=0" || return
	snapshot "$PID"
}

case_not_top() {
	stack n || return
	hp_refused nonzero revert v1 "$PID" || return
	intact n "version=2 probe=2 sprobe=2" || return
	expect_status "$PID" "v1:1:inactive v2:2:active" || return
	# and the stack still unwinds properly
	hp_ok revert v2 "$PID" || return
	hp_ok revert v1 "$PID" || return
	wait_state n "version=0 probe=0 sprobe=0 errors=0 counter_ok=1" || return
	expect_status "$PID" ""
}

# With level 2 on top, applying level 1 (again) is refused.
case_lower_level() {
	stack l || return
	hp_refused nonzero apply "$PATCH_DIR/v1.hp" "$PID" || return
	intact l "version=2 probe=2 sprobe=2" || return
	expect_status "$PID" "v1:1:inactive v2:2:active"
}

case_usage() {
	hp || true
	[ "$HP_RC" = 2 ] || why "hotpatch without arguments exited $HP_RC, expected 2" || return
	hp frobnicate
	[ "$HP_RC" = 2 ] || why "hotpatch frobnicate exited $HP_RC, expected 2" || return
	hp apply "$PATCH_DIR/v1.hp"
	[ "$HP_RC" = 2 ] || why "hotpatch apply without a pid exited $HP_RC, expected 2" || return
	[ -s "$T/hp.err" ] || why "no usage message on stderr" || return
	hp pack -o "$T/x.hp"
	[ "$HP_RC" = 2 ] || why "hotpatch pack without --target and objects exited $HP_RC, expected 2" || return
	[ ! -e "$T/x.hp" ] || why "pack with bad usage left an output file" || return
	# a timeout that is not a number of seconds (nan compares false with anything)
	local bad
	for bad in nan -nan inf 0 -1 "" 5x; do
		hp apply --timeout "$bad" "$PATCH_DIR/v1.hp" 1
		[ "$HP_RC" = 2 ] || why "apply --timeout '$bad' exited $HP_RC, expected 2 (usage): $(hp_err)" || return
	done
	# a process id is digits, one per argument
	for bad in "12 34" " 12" "12 " "+12" "0x10" "-5"; do
		hp status "$bad"
		[ "$HP_RC" = 2 ] || why "status '$bad' exited $HP_RC, expected 2 (usage): $(hp_err)" || return
		hp apply "$PATCH_DIR/v1.hp" "$bad"
		[ "$HP_RC" = 2 ] || why "apply with pid '$bad' exited $HP_RC, expected 2 (usage): $(hp_err)" || return
		hp repair "$bad"
		[ "$HP_RC" = 2 ] || why "repair '$bad' exited $HP_RC, expected 2 (usage): $(hp_err)" || return
	done
}

# A process stopped by SIGSTOP (job control): hotpatch may patch it or
# refuse with a message that says so, but it must leave it stopped, and
# unchanged if it refused.
case_stopped() {
	local i st
	fresh s || return
	kill -STOP "$PID"
	for ((i = 0; i < 100; i++)); do
		st=$(awk '/^State:/ { print $2 }' /proc/"$PID"/task/*/status | sort -u | tr -d '\n')
		[ "$st" = T ] && break
		sleep 0.02
	done
	[ "$st" = T ] || why "victim did not stop (states: $st)" || return
	hp apply "$PATCH_DIR/v1.hp" "$PID" --timeout 2
	local rc=$HP_RC
	st=$(awk '/^State:/ { print $2 }' /proc/"$PID"/task/*/status | sort -u | tr -d '\n')
	ALLOW_STOPPED=1 untraced "$PID" || return
	if [ "$rc" = 0 ]; then
		[ "$st" = T ] || why "apply resumed the stopped process (states now: $st)" || return
		kill -CONT "$PID"
		wait_state s "version=1 probe=1 sprobe=1 errors=0 counter_ok=1 threads=8" || return
		expect_status "$PID" "v1:1:active"
	else
		[ "$rc" = 1 ] || why "apply exited $rc, expected 0 or 1" || return
		grep -q '^hotpatch: ..' "$T/hp.err" || why "no 'hotpatch: ...' message on stderr" || return
		grep -qi 'stop' "$T/hp.err" ||
			why "refused with a message that does not say the process is stopped: $(hp_err)" || return
		[ "$st" = T ] || why "apply resumed the stopped process (states now: $st)" || return
		ALLOW_STOPPED=1 unchanged "$PID" || return
		kill -CONT "$PID"
		intact s "version=0 probe=0 sprobe=0" || return
		expect_status "$PID" ""
	fi
}

# The same with the victim holding a file open as fd 319 (319 is
# __NR_memfd_create): whatever hotpatch does with a stopped process, the
# process's files and descriptors are not its to touch.
case_stopped_fds() {
	local i st
	echo "precious data" >"$T/precious"
	VICTIM_FD319=$T/precious fresh sf || return
	[ "$(readlink "/proc/$PID/fd/319")" = "$T/precious" ] || why "victim does not hold fd 319" || return
	kill -STOP "$PID"
	for ((i = 0; i < 100; i++)); do
		st=$(awk '/^State:/ { print $2 }' /proc/"$PID"/task/*/status | sort -u | tr -d '\n')
		[ "$st" = T ] && break
		sleep 0.02
	done
	[ "$st" = T ] || why "victim did not stop (states: $st)" || return
	hp apply "$PATCH_DIR/v1.hp" "$PID" --timeout 2
	kill -CONT "$PID"
	[ "$(cat "$T/precious")" = "precious data" ] ||
		why "apply (rc=$HP_RC) overwrote the file behind the victim's fd 319: now $(stat -c %s "$T/precious") bytes starting $(head -c 16 "$T/precious" | od -An -tx1 | tr -d '\n')" || return
	[ "$(readlink "/proc/$PID/fd/319")" = "$T/precious" ] ||
		why "apply (rc=$HP_RC) closed the victim's fd 319 (now: $(readlink "/proc/$PID/fd/319" || echo closed))" || return
	! grep -q precious "/proc/$PID/maps" || why "apply (rc=$HP_RC) mapped the victim's file behind fd 319 as patch code" || return
	# and it was either applied or refused
	if [ "$HP_RC" = 0 ]; then
		wait_state sf "version=1 probe=1 errors=0 counter_ok=1 threads=8"
	else
		intact sf "version=0 probe=0 sprobe=0"
	fi
}

PATCH_DIR=$T/patches
mkdir -p "$PATCH_DIR"
if ! make_patch "$PATCH_DIR/v1.hp" v1.c ||
	! make_patch "$PATCH_DIR/v2.hp" v2.c -O2 -- --level 2 ||
	! PACK_TARGET=$OTHER make_patch "$PATCH_DIR/other-v1.hp" v1.c -O2 -- --id v1; then
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi
# Without root (here: user nobody, no capabilities) ptrace of another
# user's process is denied: a clear error that says what is needed, and the
# target untouched.  The patch, key store and journal are made readable and
# writable for nobody so that the refusal is the ptrace one.
case_not_root() {
	command -v setpriv >/dev/null || { echo "SKIP: error-not-root: setpriv missing"; return 0; }
	fresh n || return
	local pub=$T/nobody
	mkdir -p "$pub" && cp "$PATCH_DIR/v1.hp" "$pub/" && chmod 0755 "$pub" && chmod 0644 "$pub/v1.hp"
	touch "$pub/journal" && chown nobody "$pub/journal"
	chmod 0711 "$T"
	HOTPATCH_JOURNAL=$pub/journal setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$HOTPATCH" apply --allow-unsigned "$pub/v1.hp" "$PID" >"$T/hp.out" 2>"$T/hp.err"
	HP_RC=$?
	chmod 0700 "$T"
	[ "$HP_RC" = 1 ] || why "apply as nobody exited $HP_RC, expected 1: $(hp_err)" || return
	grep -q '^hotpatch: ..' "$T/hp.err" || why "no 'hotpatch: ...' message: $(hp_err)" || return
	grep -qiE 'root|CAP_SYS_PTRACE|permission' "$T/hp.err" ||
		why "the message does not say root or CAP_SYS_PTRACE is needed: $(hp_err)" || return
	intact n "version=0 probe=0 sprobe=0" || return
	expect_status "$PID" ""
}

# The process exits while apply waits for a sleeping thread to leave the
# function: apply ends promptly with "process exited", it does not hang.
case_exits_mid_apply() {
	start_victim x --mode sleepy --threads 2 --sleep-ms 20000 --max-seconds 3 || return
	local pid=${VPID[x]} t0 t1
	t0=$(date +%s)
	hp_refused 1 apply "$PATCH_DIR/v1.hp" "$pid" --timeout 15 || return
	t1=$(date +%s)
	grep -qi 'exit' "$T/hp.err" || why "the message does not say the process exited: $(hp_err)" || return
	[ $((t1 - t0)) -le 8 ] || why "apply took $((t1 - t0)) s after the process exited" || return
}

# A thread in uninterruptible sleep (a vfork parent) cannot be stopped:
# apply gives up after its stop wait (2 s) instead of holding every other
# thread stopped for as long as the sleep lasts; the process is untouched
# and no longer traced.  The message says what the thread really waits for:
# its vfork child, named, and what the child does.
# case_d_state [fifo]: with fifo, the vfork child blocks opening a FIFO
# that has no writer (posix_spawn with a redirection from a FIFO): a thread
# that looks like a FIFO reader from outside, whose parent cannot stop.
case_d_state() {
	local bin=$BUILD_DIR/victims/vforker pid i st t0 t1 child fifo=${1:+$T/fifo}
	[ -x "$bin" ] || why "missing $bin (make victims)" || return
	printf 'int compute(int x) { volatile int y = x * 3 + 1; return y; }\n' >"$T/dfix.c"
	gcc -O2 -c "$T/dfix.c" -o "$T/dfix.o" || why "gcc failed" || return
	hp_ok pack --target "$bin" -o "$T/dfix.hp" --id dfix "$T/dfix.o" || return
	sign_patch "$T/dfix.hp"
	[ -z "$fifo" ] || mkfifo "$fifo" || why "mkfifo failed" || return
	"$bin" 10 $fifo >/dev/null 2>&1 &
	pid=$!
	STARTED_PIDS+=("$pid")
	for i in $(seq 50); do
		st=$(grep -h '^State' /proc/"$pid"/task/*/status 2>/dev/null | grep -c 'D (')
		[ "$st" -ge 1 ] && break
		sleep 0.1
	done
	[ "$st" -ge 1 ] || why "no thread of the vforker reached state D" || return
	child=$(cat /proc/"$pid"/task/*/children 2>/dev/null | tr -d ' \n')
	[ -n "$child" ] || why "the vforker has no child" || return
	t0=$(date +%s)
	hp_refused 4 apply "$T/dfix.hp" "$pid" --timeout 3 || return
	t1=$(date +%s)
	grep -q 'did not stop' "$T/hp.err" || why "the message does not say a thread did not stop: $(hp_err)" || return
	grep -q "a vfork parent waiting for its child $child (vforker)" "$T/hp.err" ||
		why "the message does not name the vfork child $child: $(hp_err)" || return
	if [ -n "$fifo" ]; then
		grep -q "which sleeps in [a-z_]" "$T/hp.err" || why "the message does not say where the child sleeps: $(hp_err)" || return
		# a writer lets the child go: the vfork parent runs again, and stops
		timeout 5 sh -c ": >'$fifo'" || why "the FIFO found no reader" || return
		sleep 0.2
		hp_ok stop-resume "$pid" || return
	fi
	[ $((t1 - t0)) -le 10 ] || why "apply took $((t1 - t0)) s" || return
	untraced "$pid" || return
	expect_status "$pid" ""
	# the victim still runs (its own check aborts on a wrong answer)
	sleep 0.3
	alive "$pid" || why "the vforker died" || return
	kill -9 "$pid" 2>/dev/null	# its vfork child dies with it (PDEATHSIG)
	wait "$pid" 2>/dev/null
	return 0
}

# A file that cannot be opened: the message names it once and says the
# system's error once ("cannot open X: No such file or directory").
case_said_once() {
	local f=$T/no-such-dir/fix.hp n
	hp_refused 1 apply "$f" 1 || return
	n=$(grep -o "$f" "$T/hp.err" | wc -l)
	[ "$n" = 1 ] || why "the path is printed $n times: $(hp_err)" || return
	n=$(grep -o "No such file or directory" "$T/hp.err" | wc -l)
	[ "$n" = 1 ] || why "the error is printed $n times: $(hp_err)" || return
	hp_refused 1 inspect "$f" || return
	n=$(grep -o "$f" "$T/hp.err" | wc -l)
	[ "$n" = 1 ] || why "inspect prints the path $n times: $(hp_err)"
}

# A 32-bit object (gcc -m32, no 32-bit libraries needed to compile one) is
# not supported, and the message says so: it is not a damaged file.  (A
# running 32-bit process gets "runs a 32-bit program: not supported
# (32-bit)" from the same check of the ELF class, lib/elf; this kernel may
# not even run one.)
case_32bit() {
	printf 'long compute(long x) { return 3 * x + 7; }\n' >"$T/fix32.c"
	if ! gcc -m32 -O2 -c "$T/fix32.c" -o "$T/fix32.o" 2>/dev/null; then
		echo "SKIP: error-32-bit-object: gcc -m32 cannot compile"
		return 0
	fi
	hp_refused 1 pack --target "$VICTIM" -o "$T/x32.hp" "$T/fix32.o" || return
	grep -q 'not supported (32-bit)' "$T/hp.err" || why "pack of a 32-bit fix: $(hp_err)" || return
	! grep -qi malformed "$T/hp.err" || why "a 32-bit object called malformed: $(hp_err)" || return
	hp_refused 1 pack --target "$T/fix32.o" -o "$T/x32.hp" "$T/fix32.o" || return
	grep -q 'not supported (32-bit)' "$T/hp.err" || why "pack against a 32-bit target: $(hp_err)" || return
	[ ! -e "$T/x32.hp" ] || why "pack left an output file"
}

run_case error-wrong-target case_wrong_target
run_case error-no-such-pid case_no_such_pid
run_case error-already-traced case_traced
run_case error-corrupt-truncated case_truncated
run_case error-corrupt-random case_random
run_case error-corrupt-body case_body
run_case error-apply-twice case_twice
run_case error-revert-not-applied case_revert_not_applied
run_case error-revert-not-top case_not_top
run_case error-apply-lower-level case_lower_level
run_case error-usage case_usage
run_case error-json-result case_json_error
run_case error-stopped-process case_stopped
run_case error-stopped-process-keeps-fds case_stopped_fds
run_case error-not-root case_not_root
run_case error-exits-mid-apply case_exits_mid_apply
run_case error-thread-in-d-state case_d_state
run_case error-vfork-child-opens-fifo case_d_state fifo
run_case error-missing-file-said-once case_said_once
run_case error-32-bit-object case_32bit
