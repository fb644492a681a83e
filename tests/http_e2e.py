#!/usr/bin/env python3
"""End-to-end cases for the HTTP/1.1 server over raw sockets (standard library only).

    http_e2e.py HELLO_PORT TEST_SERVER_PORT

Prints PASS/FAIL per case; exits 1 if any failed. Driven by tests/http_e2e.sh, which starts
`waitless hello` and tests/http_test_server.cpp on loopback ports.
"""
import socket
import sys
import time
import zlib

HOST = "127.0.0.1"
failures = 0


def case(name):
    def wrap(fn):
        def run(*args):
            global failures
            try:
                fn(*args)
                print(f"PASS {name}")
            except Exception as e:  # noqa: BLE001 - every failure is reported the same way
                failures += 1
                print(f"FAIL {name}: {e}")
        run.__name__ = fn.__name__
        return run
    return wrap


class Conn:
    def __init__(self, port, timeout=10):
        self.s = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def response(self, head_request=False):
        """(status, {lower-name: value}, body) of the next response."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        if head_request or status < 200 or status in (204, 304):
            return status, headers, b""
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    self._fill()
                size_line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(size_line, 16)
                while len(self.buf) < size + 2:
                    self._fill()
                body += self.buf[:size]
                self.buf = self.buf[size + 2:]
                if size == 0:
                    return status, headers, body
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def closed(self, within=3.0):
        self.s.settimeout(within)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (socket.timeout, ConnectionResetError):
            return False

    def close(self):
        self.s.close()


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def get(path, extra=""):
    return f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n".encode()


@case("keep-alive: three requests on one connection, Server and Date headers")
def keep_alive(hello):
    c = Conn(hello)
    for path, body, ctype in [("/plaintext", b"Hello, World!", "text/plain"),
                              ("/json", b'{"message":"Hello, World!"}', "application/json"),
                              ("/plaintext", b"Hello, World!", "text/plain")]:
        c.send(get(path))
        st, h, b = c.response()
        expect(st == 200 and b == body, f"{path}: {st} {b!r}")
        expect(h.get("content-type") == ctype, f"content-type {h.get('content-type')}")
        expect(h.get("server") == "waitless", "Server header")
        expect(h.get("date", "").endswith(" GMT") and len(h["date"]) == 29, f"Date header {h.get('date')}")
        expect("connection" not in h, "keep-alive needs no Connection header")
    c.close()


@case("Date is refreshed once a second (cached in between)")
def date_refresh(hello):
    c = Conn(hello)
    c.send(get("/plaintext") + get("/plaintext"))
    d1 = c.response()[1]["date"]
    d2 = c.response()[1]["date"]
    time.sleep(1.1)
    c.send(get("/plaintext"))
    d3 = c.response()[1]["date"]
    expect(d3 != d1, f"Date did not change after 1.1 s: {d1} / {d3}")
    c.close()


@case("100 pipelined requests in one write: 100 responses in order")
def pipelined(test):
    c = Conn(test)
    c.send(b"".join(get(f"/q?{i}") for i in range(100)))
    for i in range(100):
        st, _, b = c.response()
        expect(st == 200 and b == str(i).encode(), f"response {i}: {st} {b!r}")
    c.close()


@case("pipelined with async handlers finishing out of order: responses in request order")
def pipelined_async(test):
    c = Conn(test)
    c.send(get("/q?ms=200") + get("/q?ms=1") + get("/q?ms=100") + get("/q?x"))
    for want in (b"ms=200", b"ms=1", b"ms=100", b"x"):
        st, _, b = c.response()
        expect(b == want, f"got {b!r}, want {want!r}")
    c.close()


@case("HEAD: headers of the body, no body")
def head(hello):
    c = Conn(hello)
    c.send(b"HEAD /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n" + get("/json"))
    st, h, _ = c.response(head_request=True)
    expect(st == 200 and h.get("content-length") == "13", f"HEAD: {st} {h}")
    st, _, b = c.response()  # a body after the HEAD response would corrupt this one
    expect(st == 200 and b == b'{"message":"Hello, World!"}', f"after HEAD: {st} {b!r}")
    c.close()


@case("404 for an unknown path, 405 for POST /plaintext")
def not_found(hello):
    c = Conn(hello)
    c.send(get("/nope"))
    st, _, _ = c.response()
    expect(st == 404, f"status {st}")
    c.send(b"POST /plaintext HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc")
    st, h, _ = c.response()
    expect(st == 405 and "GET" in h.get("allow", ""), f"status {st} {h}")
    c.close()


@case("chunked upload of 50 MB, streamed to the handler")
def upload(test):
    size = 50 * 1024 * 1024
    block = bytes((i * 7 + 3) & 0xFF for i in range(65536))
    c = Conn(test, timeout=60)
    c.send(b"POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n")
    crc = 0
    frame = b"%x\r\n" % len(block) + block + b"\r\n"
    for _ in range(size // len(block)):
        c.send(frame)
        crc = zlib.crc32(block, crc)
    c.send(b"0\r\n\r\n")
    st, _, b = c.response()
    want = f"bytes={size} crc32={crc:08x}\n".encode()
    expect(st == 200 and b == want, f"got {st} {b!r}, want {want!r}")
    c.close()


@case("Expect: 100-continue answered only when the handler asks for the body")
def expect_continue(test):
    c = Conn(test)
    t0 = time.monotonic()
    c.send(b"POST /continue HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
    st, _, _ = c.response()
    waited = time.monotonic() - t0
    expect(st == 100, f"first response {st}")
    expect(waited >= 0.09, f"100 Continue after {waited:.3f} s, before the handler asked (100 ms)")
    c.send(b"hello")
    st, _, b = c.response()
    expect(st == 200 and b == b"hello", f"final {st} {b!r}")
    c.close()


def head_of_size(size):
    pre = b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\nX-Pad: "
    post = b"\r\n\r\n"
    return pre + b"p" * (size - len(pre) - len(post)) + post


@case("limit: request head of 16384 bytes served, 16385 answered 431 and closed")
def head_limit(hello):
    c = Conn(hello)
    c.send(head_of_size(16384))
    st, _, _ = c.response()
    expect(st == 200, f"16384: {st}")
    c.send(head_of_size(16385))
    st, h, _ = c.response()
    expect(st == 431 and h.get("connection") == "close", f"16385: {st} {h}")
    expect(c.closed(), "not closed after 431")


def with_headers(n):
    return (b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\n" +
            b"".join(b"X-%d: v\r\n" % i for i in range(1, n)) + b"\r\n")


@case("limit: 100 header fields served, 101 answered 431")
def header_count(hello):
    c = Conn(hello)
    c.send(with_headers(100))
    st, _, _ = c.response()
    expect(st == 200, f"100: {st}")
    c.send(with_headers(101))
    st, _, _ = c.response()
    expect(st == 431, f"101: {st}")
    expect(c.closed(), "not closed after 431")


@case("limit: body of 1 MiB served, 1 MiB + 1 answered 413 (Content-Length and chunked)")
def body_limit(test):
    mib = 1024 * 1024
    c = Conn(test)
    c.send(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % mib + b"a" * mib)
    st, _, b = c.response()
    expect(st == 200 and len(b) == mib, f"1 MiB: {st} {len(b)}")
    c.send(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % (mib + 1))
    st, h, _ = c.response()
    expect(st == 413 and h.get("connection") == "close", f"1 MiB + 1: {st} {h}")
    c.close()
    c = Conn(test)
    c.send(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" +
           b"%x\r\n" % mib + b"b" * mib + b"\r\n1\r\nb\r\n0\r\n\r\n")
    st, _, _ = c.response()
    expect(st == 413, f"chunked 1 MiB + 1: {st}")
    c.close()


@case("bad requests: 400 and close (obs-fold, bare LF, CL+TE, missing Host)")
def bad_requests(hello):
    for raw in [b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
                b"GET / HTTP/1.1\nHost: a\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"GET / HTTP/1.1\r\n\r\n"]:
        c = Conn(hello)
        c.send(raw)
        st, h, _ = c.response()
        expect(st == 400 and h.get("connection") == "close", f"{raw!r}: {st}")
        expect(c.closed(), f"{raw!r}: not closed")


def main():
    hello, test = int(sys.argv[1]), int(sys.argv[2])
    keep_alive(hello)
    date_refresh(hello)
    pipelined(test)
    pipelined_async(test)
    head(hello)
    not_found(hello)
    upload(test)
    expect_continue(test)
    head_limit(hello)
    header_count(hello)
    body_limit(test)
    bad_requests(hello)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
