# Shared by the dnsmasq corpus cases (07, 08); sourced by the case files.
# Needs lib.sh (T, start_bg, why, alive) and $ROOT.
#
# dnsmasq runs in the foreground (-k, not -d: with -d it would not fork for
# TCP queries) on 127.0.0.1, forwarding to dnsfake.py (a fake upstream on
# loopback, UDP and TCP).  Each TCP query is served by a child that dnsmasq
# forks, with the code of the (patched) parent: the vulnerable input is sent
# over TCP so that its effect stays inside that short-lived child, and the
# process under test keeps serving.  The address space is limited
# (ulimit -v) because the unpatched CVE-2026-5172 path copies "endrr - p1"
# (negative, so about 2^64) bytes into newly allocated blocks, which grow
# the heap faster than the copy advances: without a limit the child would
# take all memory; with it, it logs "failed to allocate" and gives up.

DNSFAKE=$ROOT/tests/corpus/drivers/dnsfake.py
DNS_SEQ=0

# free_port: a TCP port on 127.0.0.1 free right now (UDP on it is checked too).
free_port() {
	python3 -c '
import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p); break'
}

# dnsmasq_start RUN: fake upstream, then RUN/src/dnsmasq; sets DNS_PORT,
# CASE_PID.
dnsmasq_start() {
	local run=$1 i up
	rm -f "$T/upstream.port"
	start_bg upstream python3 "$DNSFAKE" serve "$T/upstream.port"
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/upstream.port" ] && break
		sleep 0.05
	done
	[ -s "$T/upstream.port" ] || why "fake upstream did not start: $(tail -n 3 "$T/upstream.log" | tr '\n' ' ')" || return
	up=$(cat "$T/upstream.port")
	DNS_PORT=$(free_port) || why "no free port" || return
	start_bg dnsmasq sh -c 'ulimit -v 98304 && exec "$@"' dnsmasq "$run/src/dnsmasq" \
		-k --conf-file=/dev/null --port="$DNS_PORT" --listen-address=127.0.0.1 \
		--bind-interfaces --no-resolv --no-hosts --server="127.0.0.1#$up" \
		--log-queries --log-facility=- --pid-file= --user=root --group=root
	CASE_PID=$BG_PID
	DNSMASQ_LOG=$T/dnsmasq.log
	for ((i = 0; i < 100; i++)); do
		alive "$CASE_PID" || why "dnsmasq exited: $(tail -n 3 "$DNSMASQ_LOG" | tr '\n' ' ')" || return
		[ "$(dnsq udp "ok-start.test" A)" = "rcode=0 an=1 A 192.0.2.7" ] && return 0
		sleep 0.05
	done
	why "dnsmasq not answering on 127.0.0.1#$DNS_PORT: $(tail -n 3 "$DNSMASQ_LOG" | tr '\n' ' ')"
}

# dnsq udp|tcp NAME TYPE [TIMEOUT]: the answer of dnsmasq on one line.
dnsq() {
	python3 "$DNSFAKE" query "$DNS_PORT" "$1" "$2" "$3" "${4:-5}" 2>&1 | tr '\n' ' ' | sed 's/ $//'
}

# uniq_name PREFIX: a name never asked before (so dnsmasq forwards it and
# runs extract_addresses on the reply instead of answering from its cache).
uniq_name() {
	DNS_SEQ=$((DNS_SEQ + 1))
	echo "$1-$$-$DNS_SEQ-$RANDOM.test"
}

# dnsmasq_normal: A and SRV answers, and A for a long name, (UDP by the process itself, TCP by a
# child of it) equal the known-good ones, an unknown name is NXDOMAIN, and
# the process is still alive.
dnsmasq_normal() {
	local proto type want got n
	alive "$CASE_PID" || why "dnsmasq $CASE_PID is not running" || return
	for proto in udp tcp; do
		for type in A SRV; do
			case $type in
			A) want="rcode=0 an=1 A 192.0.2.7" ;;
			SRV) want="rcode=0 an=1 SRV 10 20 5060 target.example" ;;
			esac
			n=$(uniq_name ok)
			got=$(dnsq "$proto" "$n" "$type")
			[ "$got" = "$want" ] || why "$proto $type $n: got '$got', expected '$want'" || return
			# the second time it comes from the cache: the same answer
			got=$(dnsq "$proto" "$n" "$type")
			[ "$got" = "$want" ] || why "$proto $type $n (cached): got '$got', expected '$want'" || return
		done
		# a name longer than SMALLDNAME (50): cached in a union bigname
		n=$(uniq_name ok)
		n=${n%.test}.long-name-label-one.long-name-label-two.long-name-label-three.test
		got=$(dnsq "$proto" "$n" A)
		[ "$got" = "rcode=0 an=1 A 192.0.2.7" ] || why "$proto A $n: got '$got', expected 'rcode=0 an=1 A 192.0.2.7'" || return
		got=$(dnsq "$proto" "$n" A)
		[ "$got" = "rcode=0 an=1 A 192.0.2.7" ] || why "$proto A $n (cached): got '$got', expected 'rcode=0 an=1 A 192.0.2.7'" || return
		n=$(uniq_name nx)
		got=$(dnsq "$proto" "$n" A)
		[ "$got" = "rcode=3 an=0" ] || why "$proto A $n: got '$got', expected NXDOMAIN 'rcode=3 an=0'" || return
	done
	alive "$CASE_PID" || why "dnsmasq $CASE_PID died" || return
}
