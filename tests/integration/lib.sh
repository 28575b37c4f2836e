# Shared helpers of the integration tests (bash).  Source it first:
#     . "$(dirname "$0")/lib.sh"
#
# Everything a test writes goes to $T (a mktemp -d directory); every process
# it starts is recorded and killed by pid when a case ends and at exit, so a
# test leaves the machine as it found it.
#
# A case is a function that returns 0 on success, or sets the reason with
# why and returns non-zero; run_case NAME FUNC [ARGS] prints PASS/FAIL:
#     case_x() { some_check || why "what went wrong" || return; ...; }
#     run_case my-case case_x

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
# HOTPATCH_BUILD: the make BUILD directory to test (default build/).
BUILD_DIR=${HOTPATCH_BUILD:-$ROOT/build}
HOTPATCH=${HOTPATCH:-$BUILD_DIR/hotpatch}
VICTIM=$BUILD_DIR/victims/victim
OTHER=$BUILD_DIR/victims/other
TRACER=$BUILD_DIR/victims/tracer
PATCHES=$ROOT/tests/patches
HP_TIMEOUT=${HP_TIMEOUT:-60}	# no hotpatch command may take longer

T=$(mktemp -d "${TMPDIR:-/tmp}/hotpatch-it.XXXXXX") || exit 1
# hotpatch's own state stays in $T too: the trust store of public keys, the
# journal, the configuration (none: signatures checked, not required).
export HOTPATCH_KEYS=$T/keys HOTPATCH_JOURNAL=$T/journal HOTPATCH_CONF=$T/hotpatch.conf
SIGN_KEY=$T/test.sec	# its public half is in $HOTPATCH_KEYS
STARTED_PIDS=()
declare -A VPID=()
WHY=""
HP_RC=0

# ---- processes ------------------------------------------------------------

# alive PID: the process exists and is not a zombie.  A zombie main thread
# (pthread_exit) with other threads still counted (num_threads, field 20 of
# /proc/PID/stat) is a live process.
alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	set -- $st
	[ -n "$1" ] || return 1
	[ "$1" != Z ] && [ "$1" != X ] || [ "${18:-1}" -gt 1 ]
}

# forget_pid PID: PID was reaped: never signal that number again (it may
# belong to another process by now).
forget_pid() {
	local i
	for i in "${!STARTED_PIDS[@]}"; do
		[ "${STARTED_PIDS[i]}" = "$1" ] && unset 'STARTED_PIDS[i]'
	done
	STARTED_PIDS=("${STARTED_PIDS[@]}")
}

# reap PID: waits for a process started here and forgets it; returns its
# exit status.
reap() {
	local rc
	wait "$1"
	rc=$?
	forget_pid "$1"
	return $rc
}

# stop_pid PID: SIGTERM, up to 3 s to exit, then SIGKILL; reaps it.
stop_pid() {
	local pid=$1 i
	case " ${STARTED_PIDS[*]} " in
	*" $pid "*) ;;
	*) return 0 ;;	# not ours, or already reaped
	esac
	kill -TERM "$pid" 2>/dev/null
	kill -CONT "$pid" 2>/dev/null
	for ((i = 0; i < 60; i++)); do
		alive "$pid" || break
		sleep 0.05
	done
	if alive "$pid"; then
		echo "  (pid $pid ignored SIGTERM, killing)"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	forget_pid "$pid"
}

# stop_all: stops every process started so far, newest first.
stop_all() {
	local i
	local pids=("${STARTED_PIDS[@]}")
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		stop_pid "${pids[i]}"
	done
	STARTED_PIDS=()
	VPID=()
}

cleanup() {
	stop_all
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- cases ----------------------------------------------------------------

why() {
	WHY=$*
	return 1
}

# run_case NAME FUNC [ARGS...]
run_case() {
	local name=$1
	shift
	WHY=""
	echo "---- $name"
	if "$@"; then
		echo "PASS: $name"
	else
		echo "FAIL: $name: ${WHY:-failed}"
		local f
		for f in "$T"/*.log; do
			[ -s "$f" ] || continue
			echo "  -- $(basename "$f"):"
			tail -n 5 "$f" | sed 's/^/     /'
		done
	fi
	stop_all
	rm -f "$T"/*.log
}

# require: checks that what the tests run exists; prints FAIL for the given
# case names and exits otherwise.
require() {
	local missing=""
	[ -x "$HOTPATCH" ] || missing="$missing $HOTPATCH (run make)"
	local b
	for b in "$VICTIM" "$OTHER" "$TRACER"; do
		[ -x "$b" ] || missing="$missing $b (run make victims)"
	done
	for b in gcc nm readelf dd sha256sum python3; do
		command -v "$b" >/dev/null || missing="$missing $b"
	done
	if [ -n "$missing" ]; then
		local c
		for c in "$@"; do
			echo "FAIL: $c: missing:$missing"
		done
		exit 1
	fi
}

now_ms() {
	local t=${EPOCHREALTIME//[.,]/}
	echo $((t / 1000))
}

# ---- hotpatch -------------------------------------------------------------

# hp ARGS...: runs hotpatch; stdout in $T/hp.out, stderr in $T/hp.err, exit
# status in $HP_RC, duration in $HP_MS.  Logs all of it.
hp() {
	local t0
	t0=$(now_ms)
	echo "+ hotpatch $*"
	timeout --kill-after=5 "$HP_TIMEOUT" "$HOTPATCH" "$@" >"$T/hp.out" 2>"$T/hp.err"
	HP_RC=$?
	HP_MS=$(($(now_ms) - t0))
	head -c 2000 "$T/hp.out" | sed 's/^/  out: /'
	head -c 2000 "$T/hp.err" | sed 's/^/  err: /'
	echo "  rc=$HP_RC (${HP_MS} ms)"
	return 0
}

hp_err() { head -c 300 "$T/hp.err" | tr '\n' ' '; }

# hp_ok ARGS...: hp, and fails (with the reason set) unless it exited 0.
hp_ok() {
	hp "$@"
	[ "$HP_RC" = 0 ] || why "hotpatch $1 exited $HP_RC: $(hp_err)"
}

# hp_refused EXPECTED_RC ARGS...: hp, and fails unless it exited with
# EXPECTED_RC ("nonzero": any but 0, 2 and a timeout) and printed a
# "hotpatch: ..." message on stderr.
hp_refused() {
	local want=$1
	shift
	hp "$@"
	if [ "$want" = nonzero ]; then
		[ "$HP_RC" != 0 ] || why "hotpatch $1 succeeded, expected a refusal" || return
		[ "$HP_RC" != 2 ] || why "hotpatch $1 exited 2 (usage) for a valid command line: $(hp_err)" || return
		[ "$HP_RC" -lt 124 ] || why "hotpatch $1 was killed / timed out (rc=$HP_RC)" || return
	else
		[ "$HP_RC" = "$want" ] || why "hotpatch $1 exited $HP_RC, expected $want: $(hp_err)" || return
	fi
	grep -q '^hotpatch: ..' "$T/hp.err" || why "hotpatch $1 (rc=$HP_RC) printed no 'hotpatch: ...' message on stderr" || return
}

# json EXPR [FILE]: evaluates the python expression EXPR with d = the JSON
# document in FILE (default: the last hotpatch stdout) and prints the result.
json() {
	python3 - "$1" "${2:-$T/hp.out}" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[2]))
    v = eval(sys.argv[1], {"d": d})
except Exception as e:
    print("<json error: %s>" % e)
    sys.exit(1)
if v is True or v is False:
    v = str(v).lower()
print(v)
EOF
}

# status_list PID: runs `status PID --json` and sets STATUS_LIST to the
# applied patches of PID as "ID:LEVEL:active|inactive" words ordered by level
# ("" when none).
status_list() {
	STATUS_LIST=""
	hp status "$1" --json
	[ "$HP_RC" = 0 ] || why "status $1 exited $HP_RC: $(hp_err)" || return
	STATUS_LIST=$(json "' '.join('%s:%s:%s' % (p['id'], p['level'], 'active' if p['active'] else 'inactive') for p in sorted([q for pr in d['processes'] if pr['pid'] == $1 for q in pr['patches']], key=lambda p: p['level']))") ||
		why "status --json unreadable: $STATUS_LIST" || return
}

# expect_status PID 'ID:LEVEL:active ...': status shows exactly these patches.
expect_status() {
	status_list "$1" || return
	[ "$STATUS_LIST" = "$2" ] || why "status of $1 shows '$STATUS_LIST', expected '$2'"
}

# ensure_key: creates the signing key of this test run once; its public key
# goes into the trust store $HOTPATCH_KEYS.
ensure_key() {
	[ -s "$SIGN_KEY" ] && return 0
	mkdir -p -m 0755 "$HOTPATCH_KEYS"
	hp keygen -p "$HOTPATCH_KEYS/test.pub" -s "$SIGN_KEY" --comment "hotpatch integration tests"
	[ "$HP_RC" = 0 ] || why "keygen exited $HP_RC: $(hp_err)" || return
}

# sign_patch FILE.hp: signs FILE with the test key (writes FILE.hp.minisig).
sign_patch() {
	ensure_key || return
	hp sign -s "$SIGN_KEY" "$1"
	[ "$HP_RC" = 0 ] && [ -s "$1.minisig" ] || why "sign $1 exited $HP_RC: $(hp_err)"
}

# make_patch OUT.hp SRC.c [GCC FLAGS...] [-- PACK OPTIONS...]
# Compiles tests/patches/SRC.c (default -O2), packs it against $PACK_TARGET
# (default the victim) and signs it with the test key (unless NOSIGN=1).
make_patch() {
	local out=$1 src=$2
	shift 2
	local cflags=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		cflags+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	[ ${#cflags[@]} -gt 0 ] || cflags=(-O2)
	local obj="${out%.hp}.o"
	echo "+ gcc ${cflags[*]} -c $src"
	gcc "${cflags[@]}" -c "$PATCHES/$src" -o "$obj" || why "gcc ${cflags[*]} -c $src failed" || return
	hp pack --target "${PACK_TARGET:-$VICTIM}" -o "$out" "$@" "$obj"
	[ "$HP_RC" = 0 ] || why "pack $src exited $HP_RC: $(hp_err)" || return
	[ -s "$out" ] || why "pack $src made no file" || return
	[ "${NOSIGN:-0}" = 1 ] || sign_patch "$out"
}

# ---- victims --------------------------------------------------------------

# start_victim NAME ARGS...: starts the victim (or $VICTIM_BIN) with control
# socket $T/NAME.sock and log $T/NAME.log and waits until it answers.  Its
# pid is ${VPID[NAME]}.  With VICTIM_FD319=FILE it holds FILE open as fd 319.
start_victim() {
	local name=$1
	shift
	echo "+ victim $name $*"
	if [ -n "${VICTIM_FD319:-}" ]; then
		# the victim holds this file open (read-only) as its fd 319
		"${VICTIM_BIN:-$VICTIM}" --ctl "$T/$name.sock" --max-seconds "${VICTIM_MAX_SECONDS:-300}" "$@" >"$T/$name.log" 2>&1 319<"$VICTIM_FD319" &
	else
		"${VICTIM_BIN:-$VICTIM}" --ctl "$T/$name.sock" --max-seconds "${VICTIM_MAX_SECONDS:-300}" "$@" >"$T/$name.log" 2>&1 &
	fi
	local pid=$! i
	STARTED_PIDS+=("$pid")
	VPID[$name]=$pid
	for ((i = 0; i < 400; i++)); do
		if "$VICTIM" --ctl "$T/$name.sock" --query ping >/dev/null 2>&1; then
			echo "  pid $pid ready"
			return 0
		fi
		alive "$pid" || why "victim $name exited: $(tail -n 3 "$T/$name.log" | tr '\n' ' ')" || return
		sleep 0.05
	done
	why "victim $name not ready after 20 s"
}

# start_bg LOGNAME CMD...: starts a helper process (tracer, ...) in the
# background; its pid is $BG_PID.
start_bg() {
	local name=$1
	shift
	echo "+ $*"
	"$@" >"$T/$name.log" 2>&1 &
	BG_PID=$!
	STARTED_PIDS+=("$BG_PID")
}

# start_hogs N: N processes that burn CPU (nice 0) beside the test, as on a
# loaded production machine; stopped by pid with the rest.
start_hogs() {
	local i
	for ((i = 0; i < $1; i++)); do
		yes >/dev/null &
		STARTED_PIDS+=("$!")
	done
	echo "+ $1 CPU hogs"
}

# q NAME: the victim's status line (also left in $STATE).
q() {
	STATE=$("$VICTIM" --ctl "$T/$1.sock" --query status 2>&1)
	echo "$STATE"
}

# field KEY [LINE]: prints the value of KEY=... in LINE (default $STATE).
field() {
	getf "$1" "${2-$STATE}" && echo "$FIELD"
}

# getf KEY LINE: sets FIELD to the value of KEY in LINE (no subshell).
getf() {
	local kv
	FIELD=""
	for kv in $2; do
		if [ "${kv%%=*}" = "$1" ]; then
			FIELD=${kv#*=}
			return 0
		fi
	done
	return 1
}

# state_is 'k=v ...' [LINE]: every k has value v in LINE (default $STATE).
state_is() {
	local kv line=${2-$STATE}
	for kv in $1; do
		getf "${kv%%=*}" "$line" && [ "$FIELD" = "${kv#*=}" ] || return 1
	done
}

# wait_state NAME 'k=v ...' [SECONDS]: polls the victim until its status has
# all these values (default up to 10 s).  $STATE is the last answer.
wait_state() {
	local name=$1 want=$2 secs=${3:-10} t0
	t0=$(now_ms)
	while :; do
		q "$name" >/dev/null
		state_is "$want" && {
			echo "  $name: $STATE"
			return 0
		}
		if [ $(($(now_ms) - t0)) -gt $((secs * 1000)) ]; then
			local first
			first=$(grep -m1 -E '^victim: (error|counter|lib counter)' "$T/$name.log" 2>/dev/null)
			why "victim $name: after ${secs}s status is '$STATE', expected $want${first:+ (first complaint of the victim: $first)}"
			return 1
		fi
		alive "${VPID[$name]}" ||
			why "victim $name died: $(tail -n 3 "$T/$name.log" | tr '\n' ' ')" || return
		sleep 0.05
	done
}

# progressing NAME: the victim's workers still complete calls (calls grows
# within 5 s) and its counter keeps pace.
progressing() {
	q "$1" >/dev/null
	local c0 k0 i
	c0=$(field calls) k0=$(field counter)
	for ((i = 0; i < 100; i++)); do
		sleep 0.05
		q "$1" >/dev/null
		[ "$(field calls)" -gt $((c0 + 1)) ] 2>/dev/null && break
	done
	[ "$(field calls)" -gt $((c0 + 1)) ] 2>/dev/null ||
		why "victim $1 makes no progress: calls $c0 -> $(field calls) ($STATE)" || return
	[ "$(field counter)" -ge "$k0" ] 2>/dev/null ||
		why "victim $1: counter went back from $k0 to $(field counter)" || return
}

# untraced PID: no thread of PID is traced or stopped (hotpatch detached).
# With ALLOW_STOPPED=1, job-control stops (State T) are fine, tracing stops
# (State t) are not.
untraced() {
	local bad
	bad=$(awk -v allow="${ALLOW_STOPPED:-0}" '
		/^State:/ && ($2 == "t" || ($2 == "T" && allow != 1)) { print FILENAME ": " $0 }
		/^TracerPid:/ && $2 != 0 { print FILENAME ": " $0 }' /proc/"$1"/task/*/status 2>/dev/null | head -n 3)
	[ -z "$bad" ] || why "thread(s) of $1 left traced or stopped: $(echo $bad)"
}

# exe_of PID: path of PID's executable as /proc/PID/maps shows it (without
# a " (deleted)" suffix).
exe_of() {
	local e
	e=$(readlink "/proc/$1/exe") || return 1
	echo "${e% (deleted)}"
}

# load_base PID [OBJ]: start address of the mapping of OBJ's offset 0
# (default OBJ: PID's executable).
load_base() {
	local exe=${2:-$(exe_of "$1")}
	awk -v e="$exe" '$6 == e && $3 ~ /^0+$/ { split($1, a, "-"); print a[1]; exit }' "/proc/$1/maps"
}

# syms PID [OBJ]: `nm -S --defined-only` of OBJ (default: PID's executable,
# read through /proc/PID/exe, so that a deleted file works too), cached.
syms() {
	local c="$T/nm.$1.$(echo "${2:-exe}" | tr / _)"
	[ -s "$c" ] || nm -S --defined-only "${2:-/proc/$1/exe}" >"$c"
	cat "$c"
}

# sym_addr PID SYM: run-time address (hex, 0x...) of SYM of PID's executable.
sym_addr() {
	local base v
	base=$(load_base "$1")
	v=$(syms "$1" | awk -v s="$2" '$4 == s { print $1; exit }')
	[ -n "$base" ] && [ -n "$v" ] || return 1
	printf '0x%x\n' $((0x$base + 0x$v))
}

# obj_bytes PID OBJ SYM...: hex of the code bytes of these functions of the
# object OBJ ("" for the executable) as they are in the memory of PID now
# (read from /proc/PID/mem).
obj_bytes() {
	local pid=$1 obj=$2 base sym line addr size
	shift 2
	base=$(load_base "$pid" "$obj")
	[ -n "$base" ] || { echo "no-base"; return 1; }
	for sym; do
		line=$(syms "$pid" "$obj" | awk -v s="$sym" '$4 == s { print $1, $2; exit }')
		read -r addr size <<<"$line"
		[ -n "$size" ] || { echo "no-symbol-$sym"; return 1; }
		printf '%s:' "$sym"
		dd if="/proc/$pid/mem" bs=4096 iflag=skip_bytes,count_bytes skip=$((0x$base + 0x$addr)) \
			count=$((0x$size)) 2>/dev/null | od -An -v -tx1 | tr -d ' \n'
		printf ' '
	done
	echo
}

# text_bytes PID SYM...: obj_bytes for PID's executable.
text_bytes() {
	local pid=$1
	shift
	obj_bytes "$pid" "" "$@"
}

# maps_of PID: the mappings of PID (addresses, permissions, path), without
# the stack of the main thread, whose reported extent may vary.
maps_of() {
	awk '$6 != "[stack]" { print $1, $2, $6 }' "/proc/$1/maps"
}

# snapshot PID: remembers the code of the patchable functions and the
# mappings of PID, for unchanged PID later.
snapshot() {
	SNAP_TEXT=$(text_bytes "$1" compute compute_slow tag)
	SNAP_MAPS=$(maps_of "$1")
}

# unchanged PID: code and mappings are as at the last snapshot, and no thread
# is left traced.
unchanged() {
	local t m
	t=$(text_bytes "$1" compute compute_slow tag)
	[ "$t" = "$SNAP_TEXT" ] || why "code of the functions changed: before '$SNAP_TEXT' after '$t'" || return
	m=$(maps_of "$1")
	if [ "$m" != "$SNAP_MAPS" ]; then
		why "mappings changed: $(diff <(echo "$SNAP_MAPS") <(echo "$m") | grep '^[<>]' | head -n 4 | tr '\n' ' ')"
		return 1
	fi
	untraced "$1"
}

build_id() {
	readelf -n "$1" | awk '/Build ID:/ { print $3; exit }'
}
