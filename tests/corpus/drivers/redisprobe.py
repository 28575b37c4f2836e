#!/usr/bin/env python3
"""A small Redis client for the redis corpus cases (no redis-cli needed).

  redisprobe.py ping PORT PASSWORD
      "ok" once AUTH PASSWORD + PING answer +OK / +PONG, else the error.
  redisprobe.py normal PORT PASSWORD
      Checks the ordinary service, printing "ok" or what differed:
      an unauthenticated command gets -NOAUTH and the connection stays
      usable; AUTH; SET/GET/INCR/DEL and a Lua EVAL give the known answers; an
      authenticated client that pipelines 20000 commands before reading
      gets all 20000 replies, in order (authenticated clients have no
      output limit by default).
  redisprobe.py flood PORT N
      Unauthenticated: sends N "SET x 5" commands without reading (with a
      small receive buffer, so that the replies pile up in the server),
      then reads.  Prints "served R" when all N -NOAUTH replies came
      (R = N: the server buffered them all: no output limit for
      unauthenticated clients, CVE-2025-21605) or "disconnected R" when the
      server closed the connection after R replies (the fix: unauthenticated
      clients are dropped once their output buffer passes 1 KiB).
"""
import socket
import sys
import time


def conn(port, rcvbuf=None, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


class Reader:
    def __init__(self, s):
        self.s, self.buf, self.pos = s, b"", 0

    def fill(self):
        d = self.s.recv(262144)
        if not d:
            raise EOFError("connection closed")
        self.buf = self.buf[self.pos:] + d
        self.pos = 0

    def line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                l, self.pos = self.buf[self.pos:i], i + 2
                return l
            self.fill()

    def reply(self):
        l = self.line()
        if l[:1] == b"$":
            n = int(l[1:])
            if n < 0:
                return None
            while len(self.buf) - self.pos < n + 2:
                self.fill()
            v = self.buf[self.pos:self.pos + n]
            self.pos += n + 2
            return v.decode()
        return l.decode()


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def ping(port, pw):
    s = conn(port, timeout=3)
    r = Reader(s)
    s.sendall(cmd("AUTH", pw) + cmd("PING"))
    a, b = r.reply(), r.reply()
    if a != "+OK" or b != "+PONG":
        return "auth/ping answered %r %r" % (a, b)
    return "ok"


def normal(port, pw):
    s = conn(port)
    r = Reader(s)
    s.sendall(cmd("GET", "k"))
    a = r.reply()
    if not a.startswith("-NOAUTH"):
        return "unauthenticated GET answered %r, expected -NOAUTH" % a
    s.sendall(cmd("AUTH", "wrong-" + pw))
    a = r.reply()
    if not a.startswith("-WRONGPASS"):
        return "AUTH with a wrong password answered %r, expected -WRONGPASS" % a
    s.sendall(cmd("AUTH", pw))
    a = r.reply()
    if a != "+OK":
        return "AUTH answered %r" % a
    key = "hp-%d" % time.monotonic_ns()
    want = [("SET", key, "hello"), "+OK", ("GET", key), "hello",
            ("DEL", key + "n"), ":0", ("INCR", key + "n"), ":1",
            ("INCRBY", key + "n", 41), ":42", ("DEL", key, key + "n"), ":2",
            ("GET", key), None,
            ("EVAL", "return ARGV[1] .. '!' .. redis.call('PING')['ok']", 0, "hi"), "hi!PONG"]
    for c, exp in zip(want[0::2], want[1::2]):
        s.sendall(cmd(*c))
        a = r.reply()
        if a != exp:
            return "%s answered %r, expected %r" % (" ".join(map(str, c)), a, exp)
    # authenticated pipelining: 20000 replies held back, then all read
    n = 20000
    s.sendall(cmd("SET", key, "v" * 100))
    if r.reply() != "+OK":
        return "SET before the pipeline failed"
    s.sendall(cmd("GET", key) * n)
    for i in range(n):
        a = r.reply()
        if a != "v" * 100:
            return "pipelined GET %d of %d answered %r" % (i, n, a[:40] if a else a)
    s.sendall(cmd("DEL", key))
    if r.reply() != ":1":
        return "DEL after the pipeline failed"
    s.close()
    return "ok"


def flood(port, n):
    s = conn(port, rcvbuf=4096, timeout=20)
    r = Reader(s)
    one = b"SET x 5\r\n"
    batch = 2000
    sent = 0
    try:
        while sent < n:
            k = min(batch, n - sent)
            s.sendall(one * k)
            sent += k
    except (BrokenPipeError, ConnectionResetError, socket.timeout) as e:
        pass
    got = 0
    try:
        while got < sent:
            a = r.reply()
            if not a.startswith("-NOAUTH"):
                return "unexpected reply %r after %d" % (a, got)
            got += 1
    except (EOFError, ConnectionResetError, BrokenPipeError):
        return "disconnected %d" % got
    except socket.timeout:
        return "timeout after %d replies (sent %d)" % (got, sent)
    if sent < n:
        return "disconnected %d" % got
    return "served %d" % got


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    try:
        if mode == "ping":
            print(ping(port, sys.argv[3]))
        elif mode == "normal":
            print(normal(port, sys.argv[3]))
        elif mode == "flood":
            print(flood(port, int(sys.argv[3])))
        else:
            sys.exit("usage: redisprobe.py ping|normal PORT PASSWORD | flood PORT N")
    except Exception as e:
        print("error: %s: %s" % (type(e).__name__, e))
