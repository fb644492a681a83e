#!/usr/bin/env bash
# End-to-end WebSocket tests against Node's `ws` package as the real peer, both ways:
#   - the waitless server (tests/websocket_test_server.cpp, 2 loops) driven by ws clients
#     (tests/websocket_e2e.js): echo, fragmentation, ping/pong, idle close, close codes, permessage-deflate
#     both directions, a room of 1 000 clients all receiving every message in order;
#   - the waitless client against a ws server (tests/websocket_peer_server.js), with and without
#     permessage-deflate.
# Installs ws the way scripts/deps.sh installs npm peers (WITH_NPM=1, under /tmp/waitless-peers).
# Usage: tests/websocket_e2e.sh [BUILD_DIR]   (default: build)
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
PEERS=${WAITLESS_PEERS:-/tmp/waitless-peers}
ROOM_CLIENTS=${WS_ROOM_CLIENTS:-1000}
TMP=$(mktemp -d /tmp/waitless-ws-e2e.XXXXXX)
PIDS=()
fail=0

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  sleep 0.2
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

pass() { echo "PASS $1"; }
failed() { echo "FAIL $1${2:+: $2}"; fail=$((fail + 1)); }

if [ ! -d "$PEERS/node_modules/ws" ]; then
  WITH_NPM=1 WAITLESS_PEERS="$PEERS" scripts/deps.sh >/dev/null || { failed "install ws" "scripts/deps.sh failed"; exit 1; }
fi
if [ ! -d "$PEERS/node_modules/ws" ]; then failed "install ws" "not under $PEERS"; exit 1; fi
SERVER="$BUILD/websocket_test_server"
if [ ! -x "$SERVER" ]; then
  cmake --build "$BUILD" --target websocket_test_server >/dev/null || { failed "build websocket_test_server"; exit 1; }
fi
ulimit -n 8192 2>/dev/null || true

# Waits until the process's stdout ($1) says "listening PORT"; prints PORT.
wait_port() {
  for _ in $(seq 1 100); do
    local p
    p=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$1" | head -1)
    if [ -n "$p" ]; then echo "$p"; return 0; fi
    sleep 0.1
  done
  return 1
}

# 1. ws clients -> waitless server.
"$SERVER" 0 2 >"$TMP/server.out" 2>"$TMP/server.err" &
PIDS+=($!)
SERVER_PID=$!
if PORT=$(wait_port "$TMP/server.out"); then
  NODE_PATH="$PEERS/node_modules" timeout 120 node tests/websocket_e2e.js "$PORT" "$ROOM_CLIENTS" | sed 's/^/  /' | tee "$TMP/node.out"
  grep -q '^  FAIL' "$TMP/node.out" && failed "ws clients against the waitless server" || \
    { grep -q '^  PASS room' "$TMP/node.out" && pass "ws clients against the waitless server" || failed "ws clients" "incomplete run"; }
  # Graceful shutdown: SIGTERM ends the server (connections were closed by the clients).
  kill -TERM "$SERVER_PID"
  for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SERVER_PID" 2>/dev/null; then failed "server shutdown" "still running 5 s after SIGTERM"; else pass "server shutdown"; fi
else
  failed "waitless server start" "$(cat "$TMP/server.err")"
fi

# 2. waitless client -> ws server.
NODE_PATH="$PEERS/node_modules" node tests/websocket_peer_server.js >"$TMP/peer.out" 2>"$TMP/peer.err" &
PIDS+=($!)
if PEER_PORT=$(wait_port "$TMP/peer.out"); then
  for mode in "" "--deflate"; do
    if out=$(timeout 30 "$SERVER" --client "ws://127.0.0.1:$PEER_PORT/" $mode 2>&1); then
      pass "waitless client against ws server ${mode:-(no deflate)}: $out"
    else
      failed "waitless client against ws server ${mode:-(no deflate)}" "$out"
    fi
  done
else
  failed "ws peer server start" "$(cat "$TMP/peer.err")"
fi

[ "$fail" -eq 0 ] && echo "websocket e2e: all passed" || echo "websocket e2e: $fail failed"
[ "$fail" -eq 0 ]
