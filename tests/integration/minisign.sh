# Signatures: hotpatch keygen/sign/verify against the real minisign, both
# ways, prehashed and legacy, plain and password-protected keys; tampering
# and the trust store refused with a message.
. "$(dirname "$0")/lib.sh"

CASES="sign-minisign-signed-verifies sign-hotpatch-signed-minisign-verifies
sign-with-minisign-key sign-encrypted-key-interop sign-tampering-refused
sign-trust-store keygen-refuses-overwrite sign-usage"
require $CASES
if ! command -v minisign >/dev/null; then
	for c in $CASES; do echo "FAIL: $c: missing: minisign"; done
	exit 1
fi

MS_LOG=$T/minisign.out

# ms ARGS...: runs minisign (stdin from $MS_IN, default nothing); output in
# $MS_LOG, status in $MS_RC.
ms() {
	echo "+ minisign $*"
	timeout 60 minisign "$@" <"${MS_IN:-/dev/null}" >"$MS_LOG" 2>&1
	MS_RC=$?
	sed 's/^/  ms: /' "$MS_LOG" | head -n 8
	echo "  rc=$MS_RC"
}

ms_ok() {
	ms "$@"
	[ "$MS_RC" = 0 ] || why "minisign $1 exited $MS_RC: $(head -c 300 "$MS_LOG" | tr '\n' ' ')"
}

# fresh_patch NAME: a copy of the v1 patch as $T/NAME.hp, no signature.
fresh_patch() {
	P=$T/$1.hp
	cp "$T/patches/v1.hp" "$P" || why "cannot copy the patch" || return
	rm -f "$P.minisig"
}

# key_id PUBFILE: the key id that minisign puts in a public key's comment.
key_id() {
	python3 - "$1" <<'EOF'
import base64, struct, sys
b = base64.b64decode(open(sys.argv[1]).read().splitlines()[1])
print("%016X" % struct.unpack("<Q", b[2:10])[0])
EOF
}

case_minisign_to_hotpatch() {
	local id
	fresh_patch m2h || return
	ms_ok -G -W -p "$T/ms.pub" -s "$T/ms.sec" || return
	id=$(key_id "$T/ms.pub")
	ms_ok -S -s "$T/ms.sec" -m "$P" -t "signed by minisign" || return
	grep -q '^trusted comment: signed by minisign$' "$P.minisig" || why "minisign wrote no trusted comment" || return
	hp_ok verify -p "$T/ms.pub" "$P" || return
	grep -q "$id" "$T/hp.out" || why "verify does not print the key id $id: $(cat "$T/hp.out")" || return
	grep -q "signed by minisign" "$T/hp.out" || why "verify does not print the trusted comment" || return
	hp_ok verify -p "$T/ms.pub" --json "$P" || return
	local r
	r=$(json "(d['verified'], d['key_id'], d['prehashed'], d['trusted_comment'])")
	[ "$r" = "(True, '$id', True, 'signed by minisign')" ] || why "verify --json says $r" || return

	# minisign's legacy format (-l: signature over the raw file).
	ms_ok -S -l -s "$T/ms.sec" -m "$P" -t "legacy" || return
	hp_ok verify -p "$T/ms.pub" --json "$P" || return
	r=$(json "(d['verified'], d['prehashed'], d['trusted_comment'])")
	[ "$r" = "(True, False, 'legacy')" ] || why "verify --json of a legacy signature says $r" || return
}

case_hotpatch_to_minisign() {
	local id bid
	fresh_patch h2m || return
	hp_ok keygen -p "$T/hp.pub" -s "$T/hp.sec" --comment "integration key" || return
	id=$(key_id "$T/hp.pub")
	grep -q "$id" "$T/hp.out" || why "keygen does not print the key id $id" || return
	hp_ok sign -s "$T/hp.sec" "$P" || return
	[ -s "$P.minisig" ] || why "sign wrote no $P.minisig" || return
	ms_ok -V -p "$T/hp.pub" -m "$P" || return
	grep -q "Signature and comment signature verified" "$MS_LOG" || why "minisign did not say verified" || return
	# -H: minisign insists on a prehashed signature.
	ms_ok -V -H -p "$T/hp.pub" -m "$P" || return
	# The default trusted comment names the patch and its target's build-id.
	bid=$(build_id "$VICTIM")
	grep -q "^Trusted comment: hotpatch id=v1 level=1 build-id=$bid file=h2m.hp timestamp=[0-9]*$" "$MS_LOG" ||
		why "trusted comment is not 'hotpatch id=v1 level=1 build-id=$bid file=h2m.hp timestamp=T': $(grep -i trusted "$MS_LOG")" || return
	hp_ok verify -p "$T/hp.pub" "$P" || return

	hp_ok sign -s "$T/hp.sec" --trusted-comment "release 7" --json "$P" || return
	[ "$(json "d['trusted_comment']")" = "release 7" ] || why "sign --json: $(cat "$T/hp.out")" || return
	ms_ok -V -H -p "$T/hp.pub" -m "$P" || return
	grep -q "^Trusted comment: release 7$" "$MS_LOG" || why "minisign shows $(grep -i trusted "$MS_LOG")" || return
}

# Keys made by one signed with by the other.
case_minisign_key() {
	fresh_patch mk || return
	[ -s "$T/ms.sec" ] || ms_ok -G -W -p "$T/ms.pub" -s "$T/ms.sec" || return
	hp_ok sign -s "$T/ms.sec" "$P" || return
	ms_ok -V -H -p "$T/ms.pub" -m "$P" || return
	[ -s "$T/hp.sec" ] || hp_ok keygen -p "$T/hp.pub" -s "$T/hp.sec" || return
	ms_ok -S -s "$T/hp.sec" -m "$P" || return
	hp_ok verify -p "$T/hp.pub" "$P" || return
}

# Password-protected keys at minisign's own scrypt cost (1 GiB; a few
# seconds each).
case_encrypted() {
	local mode
	fresh_patch enc || return
	printf 'a long pass phrase\n' >"$T/pw"
	printf 'not the pass phrase\n' >"$T/pw.bad"
	hp_ok keygen -p "$T/enc.pub" -s "$T/enc.sec" --password-file "$T/pw" --json || return
	[ "$(json "d['encrypted']")" = true ] || why "keygen --json: $(cat "$T/hp.out")" || return
	mode=$(stat -c %a "$T/enc.sec")
	[ "$mode" = 600 ] || why "secret key has mode $mode, expected 600" || return
	hp_ok sign -s "$T/enc.sec" --password-file "$T/pw" "$P" || return
	ms_ok -V -H -p "$T/enc.pub" -m "$P" || return
	# minisign decrypts the key hotpatch encrypted (password on stdin).
	MS_IN=$T/pw ms_ok -S -s "$T/enc.sec" -m "$P" -t "minisign with the password" || return
	hp_ok verify -p "$T/enc.pub" "$P" || return
	grep -q "minisign with the password" "$T/hp.out" || why "verify shows $(cat "$T/hp.out")" || return

	cp "$P.minisig" "$T/before.minisig"
	hp_refused 1 sign -s "$T/enc.sec" --password-file "$T/pw.bad" "$P" || return
	grep -qi "wrong password" "$T/hp.err" || why "wrong password not named: $(hp_err)" || return
	hp_refused 1 sign -s "$T/enc.sec" "$P" || return
	grep -qi "encrypted" "$T/hp.err" || why "missing password not explained: $(hp_err)" || return
	cmp -s "$P.minisig" "$T/before.minisig" || why "a refused sign changed the signature file" || return
}

case_tampering() {
	fresh_patch tamper || return
	[ -s "$T/hp.sec" ] || hp_ok keygen -p "$T/hp.pub" -s "$T/hp.sec" || return
	hp_ok sign -s "$T/hp.sec" "$P" || return
	cp "$P" "$T/orig.hp"
	cp "$P.minisig" "$T/orig.minisig"

	# One byte of the patch changed.
	printf '\x55' | dd of="$P" bs=1 seek=100 conv=notrunc status=none
	cmp -s "$P" "$T/orig.hp" && printf '\xaa' | dd of="$P" bs=1 seek=100 conv=notrunc status=none
	hp_refused 1 verify -p "$T/hp.pub" "$P" || return
	grep -q "does not match" "$T/hp.err" || why "message does not say the data does not match: $(hp_err)" || return
	ms -V -p "$T/hp.pub" -m "$P"
	[ "$MS_RC" != 0 ] || why "minisign accepted the changed patch (test is wrong)" || return

	# The trusted comment changed.
	cp "$T/orig.hp" "$P"
	sed 's/^trusted comment: hotpatch id=v1 level=1/trusted comment: hotpatch id=v1 level=9/' \
		"$T/orig.minisig" >"$P.minisig"
	cmp -s "$P.minisig" "$T/orig.minisig" && why "sed changed nothing" && return 1
	hp_refused 1 verify -p "$T/hp.pub" "$P" || return
	grep -q "trusted comment" "$T/hp.err" || why "message does not blame the trusted comment: $(hp_err)" || return
	hp verify -p "$T/hp.pub" --json "$P"
	[ "$HP_RC" = 1 ] || why "verify --json of a changed comment exited $HP_RC, expected 1" || return
	[ "$(json "d['code']")" = 74 ] || why "verify --json: $(cat "$T/hp.out")" || return	# EBADMSG

	# Signed by another key.
	cp "$T/orig.minisig" "$P.minisig"
	[ -s "$T/ms.pub" ] || ms_ok -G -W -p "$T/ms.pub" -s "$T/ms.sec" || return
	hp_refused 1 verify -p "$T/ms.pub" "$P" || return
	grep -q "not among" "$T/hp.err" || why "unknown key not explained: $(hp_err)" || return

	# No signature, a mangled one.
	rm -f "$P.minisig"
	hp_refused 1 verify -p "$T/hp.pub" "$P" || return
	head -n 2 "$T/orig.minisig" >"$P.minisig"
	hp_refused 1 verify -p "$T/hp.pub" "$P" || return
	grep -q "missing" "$T/hp.err" || why "truncated signature not explained: $(hp_err)" || return

	cp "$T/orig.minisig" "$P.minisig"
	hp_ok verify -p "$T/hp.pub" "$P"
}

case_trust_store() {
	local K=$T/store
	fresh_patch trust || return
	[ -s "$T/hp.sec" ] || hp_ok keygen -p "$T/hp.pub" -s "$T/hp.sec" || return
	[ -s "$T/ms.pub" ] || ms_ok -G -W -p "$T/ms.pub" -s "$T/ms.sec" || return
	hp_ok sign -s "$T/hp.sec" "$P" || return
	mkdir -m 0755 "$K" || why "mkdir $K" || return

	hp_refused 1 verify --keys "$K" "$P" || return
	grep -q "no trusted keys in $K" "$T/hp.err" || why "empty store not explained: $(hp_err)" || return

	install -m 0644 "$T/ms.pub" "$K/other.pub"
	hp_refused 1 verify --keys "$K" "$P" || return
	grep -q "not among" "$T/hp.err" || why "key outside the store not explained: $(hp_err)" || return

	install -m 0644 "$T/hp.pub" "$K/release.pub"
	hp_ok verify --keys "$K" --json "$P" || return
	[ "$(json "d['key_file']")" = "$K/release.pub" ] || why "verify --json: $(cat "$T/hp.out")" || return
	HOTPATCH_KEYS=$K hp_ok verify "$P" || return

	chmod 0777 "$K"
	hp_refused 1 verify --keys "$K" "$P" || return
	grep -q "chmod go-w $K" "$T/hp.err" || why "writable store not refused with the fix: $(hp_err)" || return
	chmod 0755 "$K"
	chmod 0666 "$K/release.pub"
	HOTPATCH_KEYS=$K hp_refused 1 verify "$P" || return
	grep -q "chmod go-w $K/release.pub" "$T/hp.err" || why "writable key not refused with the fix: $(hp_err)" || return
	chmod 0644 "$K/release.pub"
	if [ "$(id -u)" = 0 ]; then
		chown 65534 "$K/release.pub"
		hp_refused 1 verify --keys "$K" "$P" || return
		grep -q "chown root $K/release.pub" "$T/hp.err" || why "key owned by another user: $(hp_err)" || return
		chown 0 "$K/release.pub"
	fi
	hp_ok verify --keys "$K" "$P"
}

case_keygen_overwrite() {
	local sum
	hp_ok keygen -p "$T/o.pub" -s "$T/o.sec" || return
	sum=$(cat "$T/o.pub" "$T/o.sec" | sha256sum)
	hp_refused 1 keygen -p "$T/o.pub" -s "$T/o.sec" || return
	grep -q "already exists" "$T/hp.err" || why "refusal not explained: $(hp_err)" || return
	hp_refused 1 keygen -p "$T/o2.pub" -s "$T/o.sec" || return
	[ ! -e "$T/o2.pub" ] || why "a refused keygen left $T/o2.pub" || return
	[ "$(cat "$T/o.pub" "$T/o.sec" | sha256sum)" = "$sum" ] || why "the key files changed" || return
	# minisign reads it (-R recreates the public key from the secret key).
	ms_ok -R -s "$T/o.sec" -p "$T/o3.pub" || return
	[ "$(tail -n 1 "$T/o3.pub")" = "$(tail -n 1 "$T/o.pub")" ] || why "minisign -R gives another public key" || return
}

case_usage() {
	[ -s "$T/hp.sec" ] || hp_ok keygen -p "$T/hp.pub" -s "$T/hp.sec" || return
	hp verify -p "$T/hp.pub"
	[ "$HP_RC" = 2 ] || why "verify without a file exited $HP_RC, expected 2" || return
	hp sign "$T/patches/v1.hp"
	[ "$HP_RC" = 2 ] || why "sign without -s exited $HP_RC, expected 2" || return
	hp keygen -p "$T/x.pub"
	[ "$HP_RC" = 2 ] || why "keygen without -s exited $HP_RC, expected 2" || return
	hp verify -p "$T/hp.pub" --keys "$T" "$T/patches/v1.hp"
	[ "$HP_RC" = 2 ] || why "verify with -p and --keys exited $HP_RC, expected 2" || return
	# Only patch files are signed.
	echo "not a patch" >"$T/notes.txt"
	hp_refused 1 sign -s "$T/hp.sec" "$T/notes.txt" || return
	[ ! -e "$T/notes.txt.minisig" ] || why "sign wrote a signature for a file that is not a patch"
}

mkdir -p "$T/patches"
if ! make_patch "$T/patches/v1.hp" v1.c; then
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi
run_case sign-minisign-signed-verifies case_minisign_to_hotpatch
run_case sign-hotpatch-signed-minisign-verifies case_hotpatch_to_minisign
run_case sign-with-minisign-key case_minisign_key
run_case sign-encrypted-key-interop case_encrypted
run_case sign-tampering-refused case_tampering
run_case sign-trust-store case_trust_store
run_case keygen-refuses-overwrite case_keygen_overwrite
run_case sign-usage case_usage
