#!/usr/bin/env bash
# End-to-end tests of the HTTP/1.1 server: `waitless hello` and a test-only server (tests/http_test_server.cpp,
# the build's http_test_server target) on loopback ports, driven by curl and raw sockets
# (tests/http_e2e.py). Prints PASS/FAIL per case; exits non-zero if any case failed.
# Usage: tests/http_e2e.sh [BUILD_DIR]   (default: build)
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
e2e_setup http "${1:-build}"
# The test server is a CMake target of the same build (same compiler, flags and sanitizers).
need_binaries waitless http_test_server

HELLO_PORT=$(free_port)
"$BUILD/waitless" hello --port "$HELLO_PORT" --threads 1 >"$TMP/hello.log" 2>&1 &
HELLO_PID=$!
PIDS+=($HELLO_PID)
TEST_PORT=$(free_port)
"$BUILD/http_test_server" "$TEST_PORT" >"$TMP/test.log" 2>&1 &
TEST_PID=$!
PIDS+=($TEST_PID)
if ! wait_listening $HELLO_PID "$HELLO_PORT" || ! wait_listening $TEST_PID "$TEST_PORT"; then
  failed "setup" "servers did not start"; cat "$TMP/hello.log" "$TMP/test.log"
  exit 1
fi

# --- curl
H="http://127.0.0.1:$HELLO_PORT"
out=$(curl -sv "$H/plaintext" "$H/json" 2>&1)
if echo "$out" | grep -q "Re-using existing connection" && echo "$out" | grep -q '{"message":"Hello, World!"}' &&
   echo "$out" | grep -q "^Hello, World!"; then
  pass "curl: keep-alive reuses the connection for /plaintext then /json"
else
  failed "curl: keep-alive" "$(echo "$out" | tail -5)"
fi

head=$(curl -s -I "$H/plaintext")
if echo "$head" | grep -qi "^content-length: 13" && echo "$head" | grep -qi "^date: " &&
   echo "$head" | grep -qi "^server: waitless"; then
  pass "curl: HEAD /plaintext has Content-Length 13, Date and Server (no body: see the raw-socket case)"
else
  failed "curl: HEAD" "$head"
fi

code=$(curl -s -o /dev/null -w '%{http_code}' "$H/no/such/path")
if [ "$code" = 404 ]; then pass "curl: 404 for an unknown path"; else failed "curl: 404" "got $code"; fi

head -c 300000 /dev/urandom >"$TMP/body.bin"
got=$(curl -s -H 'Expect: 100-continue' --data-binary @"$TMP/body.bin" "http://127.0.0.1:$TEST_PORT/continue" | cmp - "$TMP/body.bin" && echo same)
if [ "$got" = same ]; then pass "curl: Expect: 100-continue upload echoed back"; else failed "curl: 100-continue" "$got"; fi

got=$(curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/body.bin" "http://127.0.0.1:$TEST_PORT/echo" | cmp - "$TMP/body.bin" && echo same)
if [ "$got" = same ]; then pass "curl: chunked upload echoed back"; else failed "curl: chunked upload" "$got"; fi

# --- raw sockets
if ! timeout 300 python3 tests/http_e2e.py "$HELLO_PORT" "$TEST_PORT"; then fail=$((fail + 1)); fi

# --- graceful shutdown on SIGTERM: the in-flight request finishes (Connection: close), the idle
# keep-alive connection is closed, the process exits 0 soon after.
got=$(python3 - "$TEST_PORT" "$TEST_PID" <<'EOF'
import os, signal, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
idle = socket.create_connection(("127.0.0.1", port), timeout=5)
idle.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
idle.recv(4096)
busy = socket.create_connection(("127.0.0.1", port), timeout=5)
busy.sendall(b"GET /q?ms=400 HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(0.1)
os.kill(pid, signal.SIGTERM)
idle_closed = idle.recv(4096) == b""
reply = b""
while True:
    d = busy.recv(4096)
    if not d:
        break
    reply += d
ok = idle_closed and reply.startswith(b"HTTP/1.1 200") and b"Connection: close" in reply and reply.endswith(b"ms=400")
print("ok" if ok else f"idle_closed={idle_closed} reply={reply!r}")
EOF
)
if [ "$got" = ok ]; then
  for _ in $(seq 1 50); do kill -0 $TEST_PID 2>/dev/null || break; sleep 0.1; done
  if kill -0 $TEST_PID 2>/dev/null; then
    failed "SIGTERM: graceful shutdown" "still running 5 s after SIGTERM"
  else
    wait $TEST_PID; rc=$?
    if [ $rc -eq 0 ]; then pass "SIGTERM: in-flight request finished with Connection: close, idle closed, exit 0"
    else failed "SIGTERM: graceful shutdown" "exit code $rc"; fi
  fi
else
  failed "SIGTERM: graceful shutdown" "$got"
fi

kill -INT $HELLO_PID
for _ in $(seq 1 50); do kill -0 $HELLO_PID 2>/dev/null || break; sleep 0.1; done
if kill -0 $HELLO_PID 2>/dev/null; then failed "SIGINT: hello exits" "still running"
else wait $HELLO_PID; rc=$?; [ $rc -eq 0 ] && pass "SIGINT: hello exits 0" || failed "SIGINT: hello exits" "exit $rc"; fi

if [ $fail -eq 0 ]; then echo "http e2e: all passed"; else echo "http e2e: $fail failed"; fi
[ $fail -eq 0 ]
