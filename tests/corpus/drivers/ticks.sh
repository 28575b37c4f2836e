# Shared by the corpus cases whose driver prints, every 100 ms,
# "tick N ok= bad= old= new= other=" (tests/corpus/drivers/corpus.h):
# waiting for the driver, and reading the counts of a window of ticks.
# Sourced by a case file; uses lib.sh's alive and why, and CASE_PID, CASE_LOG.

# corpus_window [N]: sums the counts of N (default 5) tick lines the driver
# prints after this call (the first tick line after the call is skipped: it
# may cover time before the call) into W_ok W_bad W_old W_new W_other.
corpus_window() {
	local log=$CASE_LOG want=${1:-5} off i n=0
	off=$(stat -c %s "$log" 2>/dev/null) || { why "no driver log $log"; return 1; }
	for ((i = 0; i < 200; i++)); do
		alive "$CASE_PID" || { why "driver $CASE_PID died: $(tail -n 3 "$log" | tr '\n' ' ')"; return 1; }
		n=$(tail -c +$((off + 1)) "$log" | grep -c '^tick ')
		[ "$n" -gt "$want" ] && break
		sleep 0.1
	done
	[ "$n" -gt "$want" ] || { why "driver printed only $n tick lines in 20 s"; return 1; }
	read -r W_ok W_bad W_old W_new W_other < <(tail -c +$((off + 1)) "$log" | awk -v want="$want" '
		/^tick / { if (++k == 1) next; if (k > want + 1) exit
			for (i = 3; i <= NF; i++) { split($i, kv, "="); s[kv[1]] += kv[2] } }
		END { print s["ok"] + 0, s["bad"] + 0, s["old"] + 0, s["new"] + 0, s["other"] + 0 }')
	W_desc="ok=$W_ok bad=$W_bad old=$W_old new=$W_new other=$W_other"
}

# corpus_started LIB: the driver printed its first tick and maps LIB.
corpus_started() {
	local lib i
	lib=$(readlink -f "$1") && [ -f "$lib" ] || { why "no library $1 (not built?)"; return 1; }
	for ((i = 0; i < 100; i++)); do
		grep -q '^tick ' "$CASE_LOG" 2>/dev/null && break
		alive "$CASE_PID" || { why "driver exited: $(tail -n 3 "$CASE_LOG" | tr '\n' ' ')"; return 1; }
		sleep 0.1
	done
	grep -q '^tick ' "$CASE_LOG" || { why "driver printed no tick in 10 s"; return 1; }
	grep -qF " $lib" "/proc/$CASE_PID/maps" || { why "driver $CASE_PID does not map $lib"; return 1; }
}

# corpus_expect_normal: the next ticks served normal input right.
corpus_expect_normal() {
	corpus_window || return 1
	[ "$W_ok" -gt 0 ] && [ "$W_bad" = 0 ] || { why "normal input: $W_desc"; return 1; }
}

# corpus_expect_old WHAT / corpus_expect_new WHAT: the next ticks saw only
# the old (new) behaviour on the vulnerable input; WHAT says what was expected.
corpus_expect_old() {
	corpus_window || return 1
	[ "$W_old" -gt 0 ] && [ "$W_new" = 0 ] && [ "$W_other" = 0 ] || { why "$1: $W_desc"; return 1; }
}

corpus_expect_new() {
	corpus_window || return 1
	[ "$W_new" -gt 0 ] && [ "$W_old" = 0 ] && [ "$W_other" = 0 ] || { why "$1: $W_desc"; return 1; }
}
