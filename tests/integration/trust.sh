# The paths to the trust store and to its keys, checked like sshd's
# StrictModes: a parent directory of the store (or of a key's final path)
# that someone else could change makes apply refuse, naming the directory
# and the chmod/chown that fixes it, with the victim untouched.  A sticky
# directory owned by root (/tmp, where $T lives) is a safe parent.
. "$(dirname "$0")/lib.sh"

CASES="trust-parent-group-writable trust-parent-other-owner trust-key-symlink-world-writable
trust-key-symlink-safe trust-sticky-parent"
require $CASES

# fresh NAME: a busy victim with 4 threads, running version 0, snapshotted.
fresh() {
	start_victim "$1" --mode busy --threads 4 || return
	PID=${VPID[$1]}
	wait_state "$1" "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=4" || return
	snapshot "$PID"
}

# store DIR [MODE]: a trust store DIR (mode 0755) holding the test key,
# its parents created with MODE (default 0755).
store() {
	mkdir -p -m "${2:-0755}" "$(dirname "$1")" && mkdir -m 0755 "$1" &&
		cp "$HOTPATCH_KEYS/test.pub" "$1/" || why "cannot make the store $1"
}

# refused NAME DIR WORDS...: apply with --keys DIR is refused (1), the
# message names every WORD, and nothing is applied.
refused() {
	local name=$1 dir=$2 w
	shift 2
	hp_refused 1 apply "$PATCH_DIR/v1.hp" "$PID" --keys "$dir" || return
	for w; do
		grep -qF -- "$w" "$T/hp.err" || why "the refusal does not name '$w': $(hp_err)" || return
	done
	unchanged "$PID" || return
	wait_state "$name" "version=0 probe=0 errors=0 counter_ok=1 threads=4" 2 || return
	expect_status "$PID" ""
}

# applies NAME DIR: apply with --keys DIR works; then revert.
applies() {
	hp_ok apply "$PATCH_DIR/v1.hp" "$PID" --keys "$2" || return
	wait_state "$1" "version=1 probe=1 sprobe=1 errors=0 counter_ok=1 threads=4" || return
	expect_status "$PID" "v1:1:active" || return
	hp_ok revert v1 "$PID" || return
	wait_state "$1" "version=0 probe=0 errors=0 counter_ok=1 threads=4"
}

case_group_writable() {
	store "$T/gw/keys" 0775 || return
	chmod 0775 "$T/gw"
	fresh g || return
	refused g "$T/gw/keys" "$T/gw" "chmod go-w $T/gw" || return
	chmod 0755 "$T/gw"
	applies g "$T/gw/keys"
}

case_other_owner() {
	store "$T/nb/keys" || return
	chown nobody "$T/nb" || why "chown nobody failed" || return
	fresh o || return
	refused o "$T/nb/keys" "$T/nb" "chown root $T/nb" || return
	chown root "$T/nb"
	applies o "$T/nb/keys"
}

# The store's key is a symlink into a directory anyone can write (not
# sticky): whoever can write there can replace the key.
case_symlink_world_writable() {
	mkdir -m 0777 "$T/ww" && chmod 0777 "$T/ww" && cp "$HOTPATCH_KEYS/test.pub" "$T/ww/" &&
		mkdir -m 0755 "$T/ls" && ln -s "$T/ww/test.pub" "$T/ls/test.pub" || why "setup failed" || return
	fresh w || return
	refused w "$T/ls" "$T/ww" "chmod go-w $T/ww"
}

case_symlink_safe() {
	mkdir -m 0755 "$T/safe" "$T/ls2" && cp "$HOTPATCH_KEYS/test.pub" "$T/safe/" &&
		ln -s ../safe/test.pub "$T/ls2/test.pub" || why "setup failed" || return
	fresh s || return
	applies s "$T/ls2"
}

# A store under a sticky world-writable directory owned by root (like
# /tmp): accepted.  $T itself is under ${TMPDIR:-/tmp}.
case_sticky_parent() {
	local m
	m=$(stat -c '%a %U' "$(dirname "$T")")
	echo "  parent of \$T: $(dirname "$T") $m"
	mkdir -m 1777 "$T/sticky" && chmod 1777 "$T/sticky" && store "$T/sticky/keys" || return
	fresh t || return
	applies t "$T/sticky/keys" || return
	# the store of every other test, below $T
	applies t "$HOTPATCH_KEYS"
}

PATCH_DIR=$T/patches
mkdir -p "$PATCH_DIR"
if ! make_patch "$PATCH_DIR/v1.hp" v1.c; then
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi
run_case trust-parent-group-writable case_group_writable
run_case trust-parent-other-owner case_other_owner
run_case trust-key-symlink-world-writable case_symlink_world_writable
run_case trust-key-symlink-safe case_symlink_safe
run_case trust-sticky-parent case_sticky_parent
