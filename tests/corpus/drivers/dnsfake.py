#!/usr/bin/env python3
"""A fake DNS upstream and a tiny DNS client, for the dnsmasq corpus cases.

  dnsfake.py serve PORTFILE
      Serves UDP and TCP on 127.0.0.1 (a free port, written to PORTFILE once
      both sockets are bound).  Answers, by the first label of the name:
        ok-*      A 192.0.2.7 (ttl 300); for SRV: 10 20 5060 target.example.
        lie-*     SRV whose rdlen lies: it says 6 (priority, weight, port)
                  but the target name follows past the end the rdlen gives
                  (CVE-2026-5172: dnsmasq's extract_addresses() walks past
                  the record and copies endrr - p1 < 0 bytes).
        anything else: NXDOMAIN.
  dnsfake.py query PORT udp|tcp NAME TYPE [TIMEOUT]
      Asks 127.0.0.1#PORT; prints "rcode=N an=N" and one line per answer
      ("A 1.2.3.4", "SRV 10 20 5060 target.example", "CNAME ...", or
      "TYPE n rdlen=N"), or "noanswer: ..." when no (complete) reply came.
"""
import os
import random
import socket
import struct
import sys
import threading

T_A, T_CNAME, T_SRV = 1, 5, 33
TYPES = {"A": T_A, "CNAME": T_CNAME, "SRV": T_SRV, "TXT": 16, "MX": 15}


def enc_name(name):
    out = b""
    for lab in name.rstrip(".").split("."):
        if lab:
            b = lab.encode()
            out += bytes([len(b)]) + b
    return out + b"\0"


def parse_name(pkt, off):
    """Returns (labels as bytes list, offset after the name)."""
    labels, jumped, end = [], False, None
    for _ in range(200):
        n = pkt[off]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off = ((n & 0x3F) << 8) | pkt[off + 1]
            jumped = True
            continue
        off += 1
        if n == 0:
            break
        labels.append(pkt[off:off + n])
        off += n
    return labels, (end if jumped else off)


def name_text(labels):
    return ".".join(l.decode("latin-1") for l in labels)


def rr(name_wire, rtype, ttl, rdata, rdlen=None):
    if rdlen is None:
        rdlen = len(rdata)
    return name_wire + struct.pack(">HHIH", rtype, 1, ttl, rdlen) + rdata


def answer(q):
    qid, flags, qd = struct.unpack(">HHH", q[:6])
    labels, off = parse_name(q, 12)
    qtype, qclass = struct.unpack(">HH", q[off:off + 4])
    question = q[12:off + 4]
    first = labels[0].decode("latin-1") if labels else ""
    rflags = 0x8180 | (flags & 0x0100)   # QR, RD copied, RA
    ans, rcode = [], 0
    ptr = b"\xc0\x0c"
    if first.startswith("ok-"):
        if qtype == T_A:
            ans.append(rr(ptr, T_A, 300, socket.inet_aton("192.0.2.7")))
        elif qtype == T_SRV:
            ans.append(rr(ptr, T_SRV, 300, struct.pack(">HHH", 10, 20, 5060) + enc_name("target.example")))
    elif first.startswith("lie-") and qtype == T_SRV:
        # rdlen says 6 but the target name follows: a record whose name
        # runs past its end.
        ans.append(rr(ptr, T_SRV, 300, struct.pack(">HHH", 10, 20, 5060) + enc_name("target.example"), rdlen=6))
    else:
        rcode = 3
    hdr = struct.pack(">HHHHHH", qid, rflags | rcode, 1, len(ans), 0, 0)
    return hdr + question + b"".join(ans)


def serve(portfile):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("127.0.0.1", port))
    t.listen(16)

    def udp_loop():
        while True:
            q, a = u.recvfrom(65535)
            try:
                u.sendto(answer(q), a)
            except Exception as e:
                print("udp:", e, flush=True)

    def tcp_conn(c):
        try:
            while True:
                hdr = recvn(c, 2)
                if not hdr:
                    break
                q = recvn(c, struct.unpack(">H", hdr)[0])
                if q is None:
                    break
                r = answer(q)
                c.sendall(struct.pack(">H", len(r)) + r)
        except Exception as e:
            print("tcp:", e, flush=True)
        finally:
            c.close()

    def tcp_loop():
        while True:
            c, _ = t.accept()
            threading.Thread(target=tcp_conn, args=(c,), daemon=True).start()

    threading.Thread(target=udp_loop, daemon=True).start()
    threading.Thread(target=tcp_loop, daemon=True).start()
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, portfile)
    print("fake upstream on 127.0.0.1#%d" % port, flush=True)
    threading.Event().wait()


def recvn(s, n):
    b = b""
    while len(b) < n:
        x = s.recv(n - len(b))
        if not x:
            return None
        b += x
    return b


def query(port, proto, name, qtype, timeout=5.0):
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + enc_name(name) + struct.pack(">HH", TYPES[qtype], 1)
    try:
        if proto == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(timeout)
            s.sendto(q, ("127.0.0.1", port))
            r, _ = s.recvfrom(65535)
        else:
            s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            s.settimeout(timeout)
            s.sendall(struct.pack(">H", len(q)) + q)
            hdr = recvn(s, 2)
            if hdr is None:
                print("noanswer: connection closed")
                return
            r = recvn(s, struct.unpack(">H", hdr)[0])
            if r is None:
                print("noanswer: connection closed mid-reply")
                return
    except socket.timeout:
        print("noanswer: timeout")
        return
    except OSError as e:
        print("noanswer: %s" % e)
        return
    rid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", r[:12])
    print("rcode=%d an=%d" % (flags & 15, an))
    off = 12
    for _ in range(qd):
        _, off = parse_name(r, off)
        off += 4
    for _ in range(an):
        _, off = parse_name(r, off)
        rtype, _, _, rdlen = struct.unpack(">HHIH", r[off:off + 10])
        off += 10
        rd = r[off:off + rdlen]
        if rtype == T_A and rdlen == 4:
            print("A " + socket.inet_ntoa(rd))
        elif rtype == T_SRV and rdlen < 7:
            print("SRV-short rdlen=%d" % rdlen)
        elif rtype == T_SRV:
            pr, w, p = struct.unpack(">HHH", rd[:6])
            labels, _ = parse_name(r, off + 6)
            print("SRV %d %d %d %s" % (pr, w, p, name_text(labels)))
        elif rtype == T_CNAME:
            labels, _ = parse_name(r, off)
            print("CNAME %d labels %d bytes" % (len(labels), sum(len(l) for l in labels)))
        else:
            print("TYPE %d rdlen=%d" % (rtype, rdlen))
        off += rdlen


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif sys.argv[1] == "query":
        query(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5],
              float(sys.argv[6]) if len(sys.argv) > 6 else 5.0)
    else:
        sys.exit("usage: dnsfake.py serve PORTFILE | query PORT udp|tcp NAME TYPE [TIMEOUT]")
