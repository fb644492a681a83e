#!/usr/bin/env bash
# Memory of idle WebSocket connections: opens N (default 10 000) connections to the waitless server
# (tests/websocket_test_server.cpp, one loop, route /quiet) from a separate Python process, and prints the
# server's user-space bytes per connection: malloc's bytes in use (mallinfo2 uordblks) after minus before,
# divided by N. The resident-set growth per connection is printed too (it also counts the pages malloc
# keeps and the kernel-independent part of the stack, so it is the coarser figure). Kernel socket buffers
# are not user space and not counted. Goal: <= 512 B per connection.
# Usage: bench/websocket_memory_bench.sh [BUILD_DIR] [N]   (make bench runs it with N = 10 000)
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${2:-10000}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
SERVER="$BUILD/websocket_test_server"
[ -x "$SERVER" ] || cmake --build "$BUILD" --target websocket_test_server >/dev/null || exit 1
ulimit -n $((N + 1000)) 2>/dev/null || { echo "websocket_memory: cannot raise the fd limit to $((N + 1000))"; exit 1; }
TMP=$(mktemp -d /tmp/waitless-ws-mem.XXXXXX)
"$SERVER" 0 1 >"$TMP/out" 2>"$TMP/err" &
PID=$!
trap 'kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 1 100); do grep -q '^listening' "$TMP/out" && break; sleep 0.1; done
PORT=$(sed -n 's/^listening //p' "$TMP/out")
[ -n "$PORT" ] || { echo "websocket_memory: server did not start"; exit 1; }
python3 - "$PORT" "$N" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])

def stats():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        d = s.recv(4096)
        if not d: break
        data += d
    s.close()
    body = data.split(b"\r\n\r\n", 1)[1].decode()
    return {k: int(v) for k, v in (kv.split("=") for kv in body.split())}

REQ = (b"GET /quiet HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")

def open_many(count):
    socks = []
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(REQ)
        socks.append(s)
    for s in socks:
        head = b""
        while b"\r\n\r\n" not in head:
            d = s.recv(4096)
            if not d: raise SystemExit("connection closed during the handshake")
            head += d
        if not head.startswith(b"HTTP/1.1 101"): raise SystemExit("handshake refused: %r" % head[:40])
    return socks

def wait_open(count):
    for _ in range(200):
        st = stats()
        if st["open"] == count: return st
        time.sleep(0.05)
    raise SystemExit("server reports %d open, expected %d" % (st["open"], count))

# Warm-up: the loop's pools and the per-loop WebSocket state exist before the baseline.
warm = open_many(50); wait_open(50)
for s in warm: s.close()
wait_open(0)
time.sleep(0.2)
before = stats()
socks = []
for k in range(0, n, 1000):
    socks += open_many(min(1000, n - k))
after = wait_open(n)
heap = (after["heap"] - before["heap"]) / n
rss = (after["rss"] - before["rss"]) / n
print("websocket_memory: %d idle connections: heap %.0f B/connection (goal <= 512), rss %.0f B/connection" % (n, heap, rss))
print("  heap %d -> %d, rss %d -> %d" % (before["heap"], after["heap"], before["rss"], after["rss"]))
print("figure websocket_idle_heap_bytes_per_connection %.0f" % heap)
print("figure websocket_idle_rss_bytes_per_connection %.0f" % rss)
for s in socks: s.close()
PY
