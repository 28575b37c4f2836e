# Signatures: apply takes only patches signed by a key of the trust store
# ($HOTPATCH_KEYS, here in $T), unless --allow-unsigned; every apply, revert
# and refusal goes to the journal ($HOTPATCH_JOURNAL, here in $T).
. "$(dirname "$0")/lib.sh"

CASES="sign-unsigned-refused sign-untrusted-key-refused sign-tampered-refused sign-allow-unsigned
sign-journal-records"
require $CASES

# fresh NAME: a busy victim with 4 threads, running version 0, snapshotted.
fresh() {
	start_victim "$1" --mode busy --threads 4 || return
	PID=${VPID[$1]}
	wait_state "$1" "version=0 probe=0 sprobe=0 errors=0 counter_ok=1 threads=4" || return
	snapshot "$PID"
}

# refused_intact NAME PATCH.hp: apply is refused (1, message naming the
# signature) and the victim is unchanged.
refused_intact() {
	hp_refused 1 apply "$2" "$PID" || return
	grep -qi 'sign' "$T/hp.err" || why "the refusal does not mention the signature: $(hp_err)" || return
	unchanged "$PID" || return
	wait_state "$1" "version=0 probe=0 errors=0 counter_ok=1 threads=4" 2 || return
	expect_status "$PID" ""
}

case_unsigned() {
	fresh u || return
	refused_intact u "$PATCH_DIR/unsigned.hp"
}

# Signed, but by a key that is not in the trust store.
case_untrusted() {
	cp "$PATCH_DIR/unsigned.hp" "$PATCH_DIR/other-key.hp"
	hp keygen -p "$T/other.pub" -s "$T/other.sec"
	[ "$HP_RC" = 0 ] || why "keygen exited $HP_RC: $(hp_err)" || return
	hp sign -s "$T/other.sec" "$PATCH_DIR/other-key.hp"
	[ "$HP_RC" = 0 ] || why "sign exited $HP_RC: $(hp_err)" || return
	fresh k || return
	refused_intact k "$PATCH_DIR/other-key.hp"
}

# Signed by the trusted key, then one byte of the patch changed.
case_tampered() {
	local size off
	cp "$PATCH_DIR/v1.hp" "$PATCH_DIR/tampered.hp"
	cp "$PATCH_DIR/v1.hp.minisig" "$PATCH_DIR/tampered.hp.minisig"
	size=$(stat -c %s "$PATCH_DIR/tampered.hp")
	off=$((size / 2))
	printf '\x5a' | dd of="$PATCH_DIR/tampered.hp" bs=1 seek="$off" conv=notrunc 2>/dev/null
	cmp -s "$PATCH_DIR/v1.hp" "$PATCH_DIR/tampered.hp" &&
		{ printf '\xa5' | dd of="$PATCH_DIR/tampered.hp" bs=1 seek="$off" conv=notrunc 2>/dev/null; }
	cmp -s "$PATCH_DIR/v1.hp" "$PATCH_DIR/tampered.hp" && { why "could not change the copy"; return 1; }
	fresh t || return
	refused_intact t "$PATCH_DIR/tampered.hp"
}

# --allow-unsigned applies an unsigned patch (no require_signature here).
case_allow_unsigned() {
	fresh a || return
	hp_ok apply "$PATCH_DIR/unsigned.hp" "$PID" --allow-unsigned || return
	wait_state a "version=1 probe=1 sprobe=1 errors=0 counter_ok=1 threads=4" || return
	expect_status "$PID" "unsigned:1:active" || return
	hp_ok revert unsigned "$PID" || return
	wait_state a "version=0 probe=0 errors=0 counter_ok=1 threads=4" || return
	[ "$(text_bytes "$PID" compute compute_slow tag)" = "$SNAP_TEXT" ] || why "code after revert differs from the original"
}

# The journal of this run (in $T) records an apply, a revert and a refusal
# for the victim's pid.
case_journal() {
	fresh j || return
	rm -f "$HOTPATCH_JOURNAL"
	hp_ok apply "$PATCH_DIR/v1.hp" "$PID" || return
	hp_ok revert v1 "$PID" || return
	hp_refused 1 apply "$PATCH_DIR/unsigned.hp" "$PID" || return
	[ -s "$HOTPATCH_JOURNAL" ] || why "no journal written at \$HOTPATCH_JOURNAL" || return
	local ops
	ops=$(python3 - "$HOTPATCH_JOURNAL" <<'PY'
import json, sys
ops = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    ops.append("%s:%s" % (r.get("op"), r.get("result")))
print(" ".join(ops))
PY
	) || why "journal is not JSON lines: $ops" || return
	echo "  journal: $ops"
	case " $ops " in
	*" apply:ok "*) ;;
	*) why "journal has no successful apply: $ops"; return 1 ;;
	esac
	case " $ops " in
	*" revert:ok "*) ;;
	*) why "journal has no successful revert: $ops"; return 1 ;;
	esac
	case " $ops " in
	*" refuse:"*) ;;
	*) why "journal has no refusal: $ops"; return 1 ;;
	esac
	hp_ok journal --json || return
}

PATCH_DIR=$T/patches
mkdir -p "$PATCH_DIR"
if ! make_patch "$PATCH_DIR/v1.hp" v1.c || ! NOSIGN=1 make_patch "$PATCH_DIR/unsigned.hp" v1.c; then
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi
run_case sign-unsigned-refused case_unsigned
run_case sign-untrusted-key-refused case_untrusted
run_case sign-tampered-refused case_tampered
run_case sign-allow-unsigned case_allow_unsigned
run_case sign-journal-records case_journal
