#!/usr/bin/env bash
# WebSocket topics across two real processes through a real Redis (data::RedisTopics): two
# websocket_test_server processes started with --redis on one redis-server (tests/data/start_redis.sh: a
# free loopback port, a temp dir, stopped at the end), Node `ws` clients on both (tests/websocket_redis_e2e.js):
# a message published on either process reaches every subscriber of both exactly once, in order.
# Usage: tests/websocket_redis_e2e.sh [BUILD_DIR]   (default: build)
set -u
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.."
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
# Re-run under a throwaway Redis (which sets WAITLESS_REDIS and stops the server whatever happens).
if [ -z "${WAITLESS_REDIS:-}" ]; then exec tests/data/start_redis.sh bash "$SELF" "$BUILD"; fi
PEERS=${WAITLESS_PEERS:-/tmp/waitless-peers}
TMP=$(mktemp -d /tmp/waitless-ws-redis-e2e.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  sleep 0.2
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

if [ ! -d "$PEERS/node_modules/ws" ]; then
  WITH_NPM=1 WAITLESS_PEERS="$PEERS" scripts/deps.sh >/dev/null || { echo "FAIL install ws: scripts/deps.sh failed"; exit 1; }
fi
SERVER="$BUILD/websocket_test_server"
if [ ! -x "$SERVER" ]; then
  cmake --build "$BUILD" --target websocket_test_server >/dev/null || { echo "FAIL build websocket_test_server"; exit 1; }
fi

wait_port() {
  for _ in $(seq 1 100); do
    local p
    p=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$1" | head -1)
    if [ -n "$p" ]; then echo "$p"; return 0; fi
    sleep 0.1
  done
  return 1
}

ports=()
for name in a b; do
  "$SERVER" 0 2 --redis "$WAITLESS_REDIS" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PIDS+=($!)
  port=$(wait_port "$TMP/$name.out") || { echo "FAIL server $name start: $(cat "$TMP/$name.err")"; exit 1; }
  ports+=("$port")
done
echo "websocket_redis_e2e: processes on ports ${ports[*]}, Redis $WAITLESS_REDIS"
NODE_PATH="$PEERS/node_modules" timeout 40 node tests/websocket_redis_e2e.js "${ports[0]}" "${ports[1]}" \
  "${WS_REDIS_CLIENTS:-50}" "${WS_REDIS_MESSAGES:-200}"
rc=$?
[ "$rc" -eq 0 ] && echo "websocket redis e2e: passed" || echo "websocket redis e2e: failed"
exit "$rc"
