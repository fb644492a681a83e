#!/usr/bin/env python3
"""Clients for tests/proxy_e2e.sh.

client.py loop URL SECONDS OUT   GETs URL back to back on one keep-alive connection for SECONDS; writes
                                 "ok N failed M" and a count per body (the upstream ids) to OUT. A failure
                                 is any status but 200 or a connection error (then a new connection).
client.py slow HOST PORT PATH MARKER_FILE WAIT
                                 reads a large response slowly: after the first 256 KiB it stops reading
                                 until MARKER_FILE says the upstream has written the whole body (at most
                                 WAIT s), then reads the rest. Prints "upstream-finished-first BYTES" or
                                 "upstream-held BYTES".
"""
import collections
import http.client
import os
import socket
import sys
import time


def loop(url, seconds, out):
    host_port, path = url[len("http://"):].split("/", 1)
    host, port = host_port.split(":")
    ok = failed = 0
    ids = collections.Counter()
    errors = collections.Counter()
    conn = None
    end = time.time() + float(seconds)
    while time.time() < end:
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, int(port), timeout=5)
            conn.request("GET", "/" + path)
            r = conn.getresponse()
            body = r.read().decode()
            if r.status == 200:
                ok += 1
                ids[body] += 1
            else:
                failed += 1
                errors[f"{r.status} {body.strip()}"] += 1
        except Exception as e:  # a connection error is a failed request
            failed += 1
            errors[type(e).__name__] += 1
            conn = None
    with open(out, "w") as f:
        f.write(f"ok {ok} failed {failed}\n")
        for k, v in sorted(ids.items()):
            f.write(f"id {k} {v}\n")
        for k, v in errors.items():
            f.write(f"error {k} {v}\n")


def slow(host, port, path, marker, wait):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # before connect: a small window
    s.connect((host, int(port)))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        data = s.recv(16384)
        if not data:
            break
        head += data
    got = len(head) - head.find(b"\r\n\r\n") - 4  # body bytes only
    while got < 256 * 1024:
        data = s.recv(16384)
        if not data:
            break
        got += len(data)
    deadline = time.time() + float(wait)
    finished = False
    while time.time() < deadline:
        if os.path.exists(marker) and "big-done" in open(marker).read():
            finished = True
            break
        time.sleep(0.05)
    while True:
        data = s.recv(1 << 20)
        if not data:
            break
        got += len(data)
    print(("upstream-finished-first" if finished else "upstream-held") + f" {got}")


if sys.argv[1] == "loop":
    loop(sys.argv[2], sys.argv[3], sys.argv[4])
else:
    slow(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6])
