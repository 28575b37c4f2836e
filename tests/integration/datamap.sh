# A process that maps the target's file without running it (a debugger, a
# scanner, a backup tool) carries the patch's build-id but is no target:
# apply refuses it, writes nothing into it, maps nothing into it, journals
# the refusal.  A process that runs the file and also maps it as data is
# patched in the loaded image only.  tests/victims/mapper.c makes the
# mappings; its ready line gives their addresses.
. "$(dirname "$0")/lib.sh"

MAPPER=$BUILD_DIR/victims/mapper
CASES="datamap-data-only datamap-exec-wrong-offset datamap-loaded-and-data"
require $CASES
if [ ! -x "$MAPPER" ]; then
	for c in $CASES; do echo "FAIL: $c: missing $MAPPER (run make victims)"; done
	exit 1
fi

# start_mapper ARGS...: starts the mapper, waits for its ready line, sets
# MPID and READY (the line; getf KEY "$READY" reads it).
start_mapper() {
	local i
	start_bg mapper "$MAPPER" "$@"
	MPID=$BG_PID
	for ((i = 0; i < 100; i++)); do
		READY=$(grep -m1 '^ready' "$T/mapper.log" 2>/dev/null) && [ -n "$READY" ] && break
		alive "$MPID" || why "mapper exited: $(cat "$T/mapper.log")" || return
		sleep 0.05
	done
	[ -n "$READY" ] || why "mapper not ready: $(cat "$T/mapper.log")" || return
	echo "  $READY"
}

# mem_sum PID ADDR LEN: sha256 of LEN bytes at ADDR in PID's memory.
mem_sum() {
	dd if="/proc/$1/mem" bs=4096 iflag=skip_bytes,count_bytes skip=$(($2)) count=$(($3)) 2>/dev/null |
		sha256sum | cut -d' ' -f1
}

# mapped_sums: the checksums of the mapper's data mapping and r-x page (if any).
mapped_sums() {
	local data len exec
	getf data "$READY" && data=$FIELD
	getf len "$READY" && len=$FIELD
	getf exec "$READY" && exec=$FIELD
	echo "data:$(mem_sum "$MPID" "$data" "$len")"
	[ "$((exec))" = 0 ] || echo "exec:$(mem_sum "$MPID" "$exec" 4096)"
}

# journal_last_is OP RESULT REASON-REGEX: the journal's last record.
journal_last_is() {
	tail -n 1 "$HOTPATCH_JOURNAL" >"$T/jlast"
	local r
	r=$(json "(d['op'], d['result'], d['pid'])" "$T/jlast")
	[ "$r" = "('$1', '$2', $MPID)" ] || why "journal's last record is $r, expected ('$1', '$2', $MPID)" || return
	r=$(json "d['reason']" "$T/jlast")
	[[ "$r" =~ $3 ]] || why "journaled reason '$r' does not match /$3/"
}

# refused_as_data: apply v1 to the mapper is refused with a message naming
# the process and the file; its mappings, their bytes, its threads as they
# were; the refusal journaled; status and revert see no patch.
refused_as_data() {
	local sums maps
	sums=$(mapped_sums)
	maps=$(maps_of "$MPID")
	hp_refused 1 apply "$PATCH_DIR/v1.hp" "$MPID" || return
	grep -q "process $MPID maps $VICTIM only as data, it does not run it" "$T/hp.err" ||
		why "the message does not say the process maps the file only as data: $(hp_err)" || return
	[ "$(mapped_sums)" = "$sums" ] || why "the bytes of the mapper's mappings of the file changed" || return
	[ "$(maps_of "$MPID")" = "$maps" ] ||
		why "mappings changed: $(diff <(echo "$maps") <(maps_of "$MPID") | grep '^[<>]' | head -n 4 | tr '\n' ' ')" || return
	untraced "$MPID" || return
	journal_last_is apply error "only as data" || return
	expect_status "$MPID" "" || return
	hp_refused 3 revert v1 "$MPID"
}

case_data_only() {
	start_mapper "$VICTIM" || return
	refused_as_data
}

# A page of the file's code mapped r-x, but not at the address the file's
# offset-0 mapping puts it: not a loaded image either.
case_exec_wrong_offset() {
	start_mapper --exec "$VICTIM" || return
	getf exec "$READY" && [ "$((FIELD))" != 0 ] || why "the mapper mapped no r-x page" || return
	refused_as_data
}

# compute1 WANT: the mapper's compute(1), asked for by SIGUSR1, is WANT.
compute1() {
	local n i
	n=$(grep -c '^compute' "$T/mapper.log")
	kill -USR1 "$MPID"
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c '^compute' "$T/mapper.log")" -gt "$n" ] && break
		sleep 0.02
	done
	local got
	got=$(grep '^compute' "$T/mapper.log" | tail -n 1)
	[ "$got" = "compute(1)=$1" ] || why "mapper says '$got', expected compute(1)=$1"
}

# The mapper runs its own executable and maps it as data below its load
# address: the loaded image is patched and reverted, the data mapping is
# never written.
case_loaded_and_data() {
	printf 'long compute(long x) { return x + 1000; }\n' >"$T/m1.c"
	gcc -O2 -c "$T/m1.c" -o "$T/m1.o" || why "gcc failed" || return
	hp_ok pack --target "$MAPPER" -o "$T/m1.hp" --id m1 "$T/m1.o" || return
	sign_patch "$T/m1.hp" || return
	start_mapper --self || return
	local data compute sums
	getf data "$READY" && data=$FIELD
	getf compute "$READY" && compute=$FIELD
	# Below the image, the data mapping is the first one a scan meets.
	[ "$((data))" -lt "$((compute))" ] || why "the data mapping $data is not below the image ($compute)" || return
	compute1 10 || return
	sums=$(mapped_sums)
	hp_ok apply "$T/m1.hp" "$MPID" || return
	[ "$(mapped_sums)" = "$sums" ] || why "apply wrote into the mapper's data mapping of its own file" || return
	compute1 1001 || return
	untraced "$MPID" || return
	expect_status "$MPID" "m1:1:active" || return
	hp_ok revert m1 "$MPID" || return
	compute1 10 || return
	[ "$(mapped_sums)" = "$sums" ] || why "revert wrote into the mapper's data mapping of its own file" || return
	expect_status "$MPID" ""
}

PATCH_DIR=$T/patches
mkdir -p "$PATCH_DIR"
if ! make_patch "$PATCH_DIR/v1.hp" v1.c; then
	for c in $CASES; do echo "FAIL: $c: $WHY"; done
	exit 1
fi

run_case datamap-data-only case_data_only
run_case datamap-exec-wrong-offset case_exec_wrong_offset
run_case datamap-loaded-and-data case_loaded_and_data
