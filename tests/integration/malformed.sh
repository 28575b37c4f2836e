# Malformed patch files against a live process, and the policy around apply.
#
# The damaged files are the ones the unit test's malformed suite builds
# (build/tests/test-patchfile in its dump mode, HP_DUMP_MALFORMED), derived
# from a patch packed for the victim.  Each is given to
# `hotpatch apply --allow-unsigned` (past the signature check, to the
# parser) against one running victim, which must be refused: exit 1,
# "hotpatch: ...: malformed patch file: DETAIL" on stderr, a "refuse" record
# in the journal, and the victim exactly as it was.  One PASS line per class
# of damage.  Then: a journal that cannot be written, require_signature,
# the journal's records, signatures by unknown keys or for other files.
. "$(dirname "$0")/lib.sh"

UNIT=$BUILD_DIR/tests/test-patchfile
MAL=$T/mal

# class;regex over the variant's name (without NNN- and .hp);what is wrong.
# The first matching class takes a variant.
CLASSES='truncated;^(empty-buffer|truncated-to-.*|last-byte-missing|one-elf-header|elf-header-minus-one)$;the file cut short (several lengths)
huge-counts;count-1000000|count-4096|e-shnum-65535|e-shnum-4097|extended-e-shnum|strings-len-2-32-1|build-id-len-2-32-1|nobits-of-1-tib|function-of-4-gib;huge counts, sizes and lengths
wrong-elf-class;elfclass32|class-7|big-endian|bad-elf-magic;not ELF64 little-endian
wrong-machine;em-aarch64|em-386|et-exec|et-dyn;not an x86_64 relocatable object
section-header-table;e-shnum|e-shoff|e-shstrndx;a bad section header table
section-beyond-file;past-the-end|at-the-end-of-the-file|sh-offset-sh-size-wraps|symtab-1-tib;a section beyond the end of the file
sections-overlapping;hotpatch-funcs-on-hotpatch-info|text-inside-symtab|overlapping;two sections overlapping
duplicate-sections;^two-;a section present twice
unterminated-strings;not-terminated|unterminated;a string not terminated
string-offsets;beyond|offset|strings-len|target-name;a string offset or area out of range
symbol-index-out-of-range;symbol-index|section-index|sh-link|sh-info-out-of-range|not-linked;a symbol or section index out of range
relocation-outside-section;relocation-at-the-section-end|4-byte-relocation|relocation-offset;a relocation outside its section
relocation-sections;rela-|rel-instead;a bad relocation section
symbol-table;symtab|function-larger|common-symbol|no-symbol-table;a bad symbol table
info-magic-version;info-bad-magic|info-version;bad .hotpatch.info magic or version
info-fields;build-id-len|severity|level-0|info-shorter|info-nobits|no-hotpatch-info|alignment|empty-id|id-with;bad .hotpatch.info fields, section attributes, patch id
replaced-functions-overlap;same-function-twice|second-starts|second-contains;duplicate or overlapping replaced functions
funcs-table;funcs|function-of-size-0|address-size-wraps|new-name;a bad .hotpatch.funcs table
syms-table;syms-;a bad .hotpatch.syms table'

CASES="malformed-dump malformed-base-applies"
while IFS=';' read -r c _; do CASES="$CASES malformed-$c"; done <<<"$CLASSES"
CASES="$CASES malformed-journal-unwritable malformed-require-signature malformed-journal-json
malformed-untrusted-key malformed-signature-of-other-file"

if [ ! -x "$UNIT" ]; then
	for c in $CASES; do echo "SKIP: $c: $UNIT not built (make build/tests/test-patchfile)"; done
	exit 0
fi
require $CASES

# fresh NAME: a busy victim with 4 threads, running version 0, snapshotted.
fresh() {
	start_victim "$1" --mode busy --threads 4 || return
	PID=${VPID[$1]}
	wait_state "$1" "version=0 probe=0 sprobe=0 tag=0 tprobe=0 errors=0 counter_ok=1 threads=4" || return
	snapshot "$PID"
}

# intact NAME: unchanged since the snapshot, answering version 0, no error,
# no patch in status.
intact() {
	unchanged "$PID" || return
	q "$1" >/dev/null
	state_is "version=0 probe=0 sprobe=0 tag=0 tprobe=0 errors=0 counter_ok=1 threads=4" ||
		wait_state "$1" "version=0 probe=0 sprobe=0 tag=0 tprobe=0 errors=0 counter_ok=1 threads=4" 2 || return
	no_patch "$PID"
}

# only_hotpatch_lines: every line hotpatch wrote on stderr is "hotpatch: ...".
only_hotpatch_lines() {
	local bad
	bad=$(grep -v '^hotpatch: ..' "$T/hp.err" | head -n 2)
	[ -s "$T/hp.err" ] || why "nothing on stderr" || return
	[ -z "$bad" ] || why "stderr has lines not starting with 'hotpatch:': $bad"
}

# jfield KEY LINE: sets FIELD to the value of "KEY":"..." or "KEY":N in one
# journal line (hotpatch's own one-line JSON; escaped quotes are kept as \").
jfield() {
	local re="\"$1\":(\"(([^\"\\]|\\\\.)*)\"|([0-9-]+))"
	FIELD="<missing>"
	[[ "$2" =~ $re ]] && FIELD=${BASH_REMATCH[2]}${BASH_REMATCH[4]}
	[ "$FIELD" != "<missing>" ]
}

# refuse_journaled FILE KEYID REASON-REGEX: the journal's last record is a
# refusal of FILE (its sha256), with this key id, matching the reason.
# (No python here: it runs for every variant; malformed-journal-json reads
# the journal as JSON.)
refuse_journaled() {
	local sha line op res s k reason
	sha=$(sha256sum "$1" | cut -d' ' -f1)
	line=$(tail -n 1 "$HOTPATCH_JOURNAL" 2>/dev/null)
	jfield op "$line" && op=$FIELD && jfield result "$line" && res=$FIELD &&
		jfield sha256 "$line" && s=$FIELD && jfield key_id "$line" && k=$FIELD &&
		jfield reason "$line" && reason=$FIELD ||
		why "the journal's last line lacks fields: $(echo "$line" | head -c 300)" || return
	[ "$op $res" = "refuse error" ] || why "journal's last record is '$op $res', expected 'refuse error'" || return
	[ "$s" = "$sha" ] || why "journaled sha256 $s, the file's is $sha" || return
	[ "$k" = "$2" ] || why "journaled key_id '$k', expected '$2'" || return
	[[ "$reason" =~ $3 ]] || why "journaled reason '$reason' does not match /$3/"
}

# no_patch PID: status --json lists no patch for PID (a string match, for
# speed; expect_status parses it).
no_patch() {
	hp status "$1" --json
	[ "$HP_RC" = 0 ] || why "status $1 exited $HP_RC: $(hp_err)" || return
	json "[p for pr in d['processes'] if pr['pid'] == $1 for p in pr['patches']]" | grep -qx "\[\]" || why "status of $1 shows patches: $(head -c 300 "$T/hp.out")"
}

# ---- the malformed variants ----------------------------------------------

case_dump() {
	local obj=$T/base.o
	# Two functions of the victim, a reference to a static variable and a
	# static function of the victim (so .hotpatch.syms has entries), calls
	# to libc (undefined symbols, relocations in .text): every mutation of
	# the suite has something to damage.
	cat >"$T/base.c" <<'EOF'
#include <stddef.h>
#include <stdio.h>
#include <string.h>

extern unsigned long counter;			/* static in victim.c */
extern unsigned long scramble(unsigned long x);	/* static in victim.c */

long compute_slow(long x, unsigned ms)
{
	(void)ms;
	return x * 3 + 7;
}

int tag(long x, char *buf, size_t n)
{
	__atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
	snprintf(buf, n, "t1:%ld:%lu", x, scramble((unsigned long)x));
	return (int)strlen(buf);
}
EOF
	gcc -O2 -c "$T/base.c" -o "$obj" || why "gcc -O2 -c base.c failed" || return
	echo "+ HP_DUMP_MALFORMED=$MAL HP_DUMP_TARGET=$VICTIM HP_DUMP_OBJ=$obj $UNIT"
	HP_DUMP_MALFORMED=$MAL HP_DUMP_TARGET=$VICTIM HP_DUMP_OBJ=$obj "$UNIT" >"$T/unit.out" 2>&1
	local rc=$?
	sed 's/^/  unit: /' "$T/unit.out" | grep -v 'unit: PASS' | head -n 20
	# the library refused every variant too
	[ "$rc" = 0 ] || why "test-patchfile in dump mode exited $rc: $(grep -m1 '^FAIL' "$T/unit.out")" || return
	[ -s "$MAL/base.hp" ] || why "no base.hp dumped" || return
	cmp -s "$MAL/target" "$VICTIM" || why "the dumped target is not the victim" || return
	NVARIANTS=$(find "$MAL" -name '[0-9][0-9][0-9]-*.hp' | wc -l)
	echo "  $NVARIANTS variants"
	[ "$NVARIANTS" -ge 100 ] || why "only $NVARIANTS variants dumped"
}

# The base the variants are made of applies to the victim (and reverts): the
# refusals below are the damage's doing, not a wrong target.
case_base_applies() {
	fresh b || return
	hp_ok apply "$MAL/base.hp" "$PID" --allow-unsigned || return
	wait_state b "sprobe=1 tprobe=1 tag=1 errors=0 counter_ok=1 threads=4" || return
	expect_status "$PID" "malformed:1:active" || return
	hp_ok revert malformed "$PID" || return
	wait_state b "sprobe=0 tprobe=0 tag=0 errors=0 counter_ok=1 threads=4" || return
	[ "$(text_bytes "$PID" compute compute_slow tag)" = "$SNAP_TEXT" ] || why "code after revert differs from the original"
}

# check_variant FILE: refused as malformed, journaled, victim intact.
check_variant() {
	local f=$1 n0 n1
	n0=$(wc -l <"$HOTPATCH_JOURNAL" 2>/dev/null || echo 0)
	hp apply --allow-unsigned "$f" "$PID"
	if [ "$HP_RC" = 0 ]; then
		why "applied! (then reverted: rc $(hp revert malformed "$PID" >/dev/null; echo $HP_RC))"
		return 1
	fi
	[ "$HP_RC" = 1 ] || why "exited $HP_RC, expected 1: $(hp_err)" || return
	only_hotpatch_lines || return
	grep -q '^hotpatch: apply .*: malformed patch file: [^ ]' "$T/hp.err" ||
		why "no 'hotpatch: apply FILE: malformed patch file: DETAIL' message: $(hp_err)" || return
	n1=$(wc -l <"$HOTPATCH_JOURNAL" 2>/dev/null || echo 0)
	[ "$n1" = $((n0 + 1)) ] || why "the journal grew by $((n1 - n0)) records, expected 1" || return
	refuse_journaled "$f" "" '^malformed patch file: [^ ]' || return
	intact m
}

# Runs every variant against one victim; CLASS_N[class] counts the variants,
# CLASS_WHY[class] keeps the first failure.
declare -A CLASS_N=() CLASS_WHY=()
run_variants() {
	local f name c re cls line
	fresh m || { CLASS_WHY[all]="victim: $WHY"; return; }
	for f in "$MAL"/[0-9][0-9][0-9]-*.hp; do
		name=$(basename "$f" .hp)
		name=${name#*-}
		cls=other
		while IFS= read -r line; do
			c=${line%%;*}
			re=${line#*;}
			re=${re%;*}
			if [[ "$name" =~ $re ]]; then
				cls=$c
				break
			fi
		done <<<"$CLASSES"
		CLASS_N[$cls]=$((${CLASS_N[$cls]:-0} + 1))
		echo "-- $(basename "$f") [$cls]"
		WHY=""
		if ! check_variant "$f"; then
			echo "  FAILED: $WHY"
			[ -n "${CLASS_WHY[$cls]:-}" ] || CLASS_WHY[$cls]="$(basename "$f"): $WHY"
			# a victim in an unknown state: start over with a new one
			stop_pid "$PID"
			fresh m || { CLASS_WHY[all]="victim: $WHY"; return; }
		fi
	done
	progressing m || CLASS_WHY[all]="after all variants: $WHY"
	stop_pid "$PID"
}

class_result() {
	[ -z "${CLASS_WHY[all]:-}" ] || why "${CLASS_WHY[all]}" || return
	[ "${CLASS_N[$1]:-0}" -gt 0 ] || why "no variant of this class was dumped" || return
	echo "  ${CLASS_N[$1]} variant(s): $2"
	[ -z "${CLASS_WHY[$1]:-}" ] || why "${CLASS_WHY[$1]}"
}

# ---- journal and policy ---------------------------------------------------

# (a) A journal that cannot be written: the apply is refused before the
# process is touched.
case_journal_unwritable() {
	fresh j || return
	HOTPATCH_JOURNAL=/dev/full hp_refused 1 apply "$PATCH_DIR/v1.hp" "$PID" || return
	grep -qi 'journal' "$T/hp.err" || why "the refusal does not mention the journal: $(hp_err)" || return
	only_hotpatch_lines || return
	intact j || return
	progressing j || return
	# with a journal it applies
	hp_ok apply "$PATCH_DIR/v1.hp" "$PID" || return
	wait_state j "version=1 probe=1 sprobe=1 errors=0" || return
	hp_ok revert v1 "$PID" || return
	wait_state j "version=0 probe=0 sprobe=0 errors=0"
}

# (b) require_signature = yes: --allow-unsigned refused, signed still fine.
require_signature() {
	fresh r || return
	hp_refused 1 apply "$PATCH_DIR/unsigned.hp" "$PID" --allow-unsigned || return
	grep -q 'require_signature' "$T/hp.err" || why "the refusal does not name require_signature: $(hp_err)" || return
	only_hotpatch_lines || return
	refuse_journaled "$PATCH_DIR/unsigned.hp" "" 'require_signature' || return
	intact r || return
	# refused even for a signed patch: the option itself is not allowed
	hp_refused 1 apply "$PATCH_DIR/v1.hp" "$PID" --allow-unsigned || return
	grep -q 'require_signature' "$T/hp.err" || why "the refusal does not name require_signature: $(hp_err)" || return
	intact r || return
	hp_ok apply "$PATCH_DIR/v1.hp" "$PID" || return
	wait_state r "version=1 probe=1 sprobe=1 errors=0 counter_ok=1" || return
	expect_status "$PID" "v1:1:active" || return
	hp_ok revert v1 "$PID" || return
	wait_state r "version=0 probe=0 sprobe=0 errors=0 counter_ok=1" || return
	expect_status "$PID" "" || return
	[ "$(text_bytes "$PID" compute compute_slow tag)" = "$SNAP_TEXT" ] || why "code after revert differs from the original"
}
case_require_signature() {
	printf '# test\nrequire_signature = yes\n' >"$HOTPATCH_CONF"
	require_signature
	local rc=$?
	rm -f "$HOTPATCH_CONF"
	return $rc
}

# (c) hotpatch journal --json: apply, revert and refuse records with every
# field.
case_journal_json() {
	fresh c || return
	rm -f "$HOTPATCH_JOURNAL"
	hp_ok apply "$PATCH_DIR/v1.hp" "$PID" || return
	hp_ok revert v1 "$PID" || return
	hp_refused 1 apply "$PATCH_DIR/unsigned.hp" "$PID" || return
	hp_ok journal --json || return
	local out
	out=$(python3 - "$T/hp.out" "$PID" "$(exe_of "$PID")" "$(build_id "$VICTIM")" "$KEYID" \
		"$(sha256sum "$PATCH_DIR/v1.hp" | cut -d' ' -f1)" "$(sha256sum "$PATCH_DIR/unsigned.hp" | cut -d' ' -f1)" <<'PY'
import json, os, re, sys
doc, pid, exe, bid, keyid, sha_v1, sha_uns = sys.argv[1:]
pid = int(pid)
d = json.load(open(doc))
recs = d["records"]
fields = ["time", "uid", "op", "patch_id", "sha256", "key_id", "pid", "exe", "build_id", "result", "reason"]
bad = []
for i, r in enumerate(recs):
    miss = [k for k in fields if k not in r]
    if miss:
        bad.append("record %d lacks %s" % (i, miss))
        continue
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"]):
        bad.append("record %d: time %r" % (i, r["time"]))
    if r["uid"] != os.getuid():
        bad.append("record %d: uid %r" % (i, r["uid"]))
    if not isinstance(r["pid"], int):
        bad.append("record %d: pid %r" % (i, r["pid"]))
    if r["op"] in ("apply", "refuse") and not re.fullmatch(r"[0-9a-f]{64}", r["sha256"]):
        bad.append("record %d (%s): sha256 %r" % (i, r["op"], r["sha256"]))
got = [(r["op"], r["result"]) for r in recs]
want = [("apply", "begin"), ("apply", "ok"), ("revert", "begin"), ("revert", "ok"), ("refuse", "error")]
if got != want:
    bad.append("records %s, expected %s" % (got, want))
else:
    for r in recs[:2]:
        exp = {"patch_id": "v1", "sha256": sha_v1, "key_id": keyid, "pid": pid, "exe": exe, "build_id": bid}
        for k, v in exp.items():
            if r[k] != v:
                bad.append("apply %s: %s %r, expected %r" % (r["result"], k, r[k], v))
    for r in recs[2:4]:
        exp = {"patch_id": "v1", "pid": pid, "exe": exe}
        for k, v in exp.items():
            if r[k] != v:
                bad.append("revert %s: %s %r, expected %r" % (r["result"], k, r[k], v))
    r = recs[4]
    if r["sha256"] != sha_uns:
        bad.append("refuse: sha256 %r, expected %r" % (r["sha256"], sha_uns))
    if "not signed" not in r["reason"]:
        bad.append("refuse: reason %r does not say the patch is not signed" % r["reason"])
    if r["reason"] == "" or recs[1]["reason"] != "":
        bad.append("reasons: refuse %r, apply ok %r" % (r["reason"], recs[1]["reason"]))
print("; ".join(bad) if bad else "ok")
PY
	) || why "journal --json unreadable: $out" || return
	[ "$out" = ok ] || why "$out" || return
	hp_ok journal || return
	[ "$(grep -c -E '^[0-9]{4}-' "$T/hp.out")" = 5 ] || why "journal (text) does not show 5 records: $(head -c 300 "$T/hp.out")"
}

# (d) A signature by a key that is not trusted: refused before the file is
# parsed (a malformed file with that signature is refused for the
# signature, not as malformed), journaled with the key id.
case_untrusted_key() {
	local other_id bad=$PATCH_DIR/bad-other-key.hp
	cp "$PATCH_DIR/unsigned.hp" "$PATCH_DIR/other-key.hp"
	hp keygen -p "$T/other.pub" -s "$T/other.sec" --json
	[ "$HP_RC" = 0 ] || why "keygen exited $HP_RC: $(hp_err)" || return
	other_id=$(json "d['key_id']")
	hp sign -s "$T/other.sec" "$PATCH_DIR/other-key.hp"
	[ "$HP_RC" = 0 ] || why "sign exited $HP_RC: $(hp_err)" || return
	fresh k || return
	hp_refused 1 apply "$PATCH_DIR/other-key.hp" "$PID" || return
	grep -q "$other_id" "$T/hp.err" || why "the refusal does not name the key $other_id: $(hp_err)" || return
	refuse_journaled "$PATCH_DIR/other-key.hp" "$other_id" '^signature: .*not among' || return
	intact k || return
	# the same signature beside a malformed file (any variant)
	cp "$(ls "$MAL"/*-text-inside-symtab.hp | head -n 1)" "$bad" || why "no text-inside-symtab variant" || return
	cp "$PATCH_DIR/other-key.hp.minisig" "$bad.minisig"
	hp_refused 1 apply "$bad" "$PID" || return
	! grep -q 'malformed' "$T/hp.err" || why "parsed before the signature was checked: $(hp_err)" || return
	grep -q "$other_id" "$T/hp.err" || why "the refusal does not name the key $other_id: $(hp_err)" || return
	refuse_journaled "$bad" "$other_id" '^signature: .*not among' || return
	intact k
}

# A trusted key's .minisig made for another file: refused before parsing,
# journaled with the key id.
case_other_file() {
	local bad=$PATCH_DIR/bad-v1-sig.hp
	cp "$PATCH_DIR/unsigned.hp" "$PATCH_DIR/swapped.hp"
	cp "$PATCH_DIR/v1.hp.minisig" "$PATCH_DIR/swapped.hp.minisig"
	fresh o || return
	hp_refused 1 apply "$PATCH_DIR/swapped.hp" "$PID" || return
	grep -qi 'sign' "$T/hp.err" || why "the refusal does not mention the signature: $(hp_err)" || return
	refuse_journaled "$PATCH_DIR/swapped.hp" "$KEYID" '^signature: .*does not match' || return
	intact o || return
	cp "$(ls "$MAL"/*-text-inside-symtab.hp | head -n 1)" "$bad" || why "no text-inside-symtab variant" || return
	cp "$PATCH_DIR/v1.hp.minisig" "$bad.minisig"
	hp_refused 1 apply "$bad" "$PID" || return
	! grep -q 'malformed' "$T/hp.err" || why "parsed before the signature was checked: $(hp_err)" || return
	refuse_journaled "$bad" "$KEYID" '^signature: .*does not match' || return
	intact o
}

# ---- main -------------------------------------------------------------------

t_start=$(now_ms)
run_case malformed-dump case_dump
if [ ! -s "$MAL/base.hp" ]; then
	for c in $CASES; do [ "$c" = malformed-dump ] || echo "FAIL: $c: no variants (malformed-dump failed)"; done
	exit 1
fi
run_case malformed-base-applies case_base_applies
echo "---- running the variants"
run_variants
echo "  ($(($(now_ms) - t_start)) ms so far)"
while IFS=';' read -r c re what; do
	run_case "malformed-$c" class_result "$c" "$what"
done <<<"$CLASSES"
if [ -n "${CLASS_N[other]:-}" ]; then
	run_case malformed-other class_result other "variants matching no class"
fi

PATCH_DIR=$T/patches
mkdir -p "$PATCH_DIR"
if ! make_patch "$PATCH_DIR/v1.hp" v1.c || ! NOSIGN=1 make_patch "$PATCH_DIR/unsigned.hp" v1.c; then
	for c in malformed-journal-unwritable malformed-require-signature malformed-journal-json \
		malformed-untrusted-key malformed-signature-of-other-file; do echo "FAIL: $c: $WHY"; done
	exit 1
fi
hp verify -p "$HOTPATCH_KEYS/test.pub" --json "$PATCH_DIR/v1.hp"
KEYID=$(json "d['key_id']")	# of the test key
run_case malformed-journal-unwritable case_journal_unwritable
run_case malformed-require-signature case_require_signature
run_case malformed-journal-json case_journal_json
run_case malformed-untrusted-key case_untrusted_key
run_case malformed-signature-of-other-file case_other_file
echo "  ($(($(now_ms) - t_start)) ms in all)"
