#!/usr/bin/env bash
# End-to-end tests of `waitless demo` over HTTP with curl (and Node's `ws` for the chat): the demo starts
# on a free loopback port with a temporary ./var (so its SQLite file is created and seeded), then every
# endpoint is checked: statuses, headers (Server-Timing, ETag, Link), validation errors, auth, the
# gateway degrading when a service is down or slow, the SSE feed, a chat round trip, /metrics, and a
# graceful exit on SIGTERM. Usage: tests/demo_e2e.sh [BUILD_DIR]   (default: build). PASS/FAIL per case.
set -u
cd "$(dirname "$0")/.."
REPO=$PWD
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
PEERS=${WAITLESS_PEERS:-/tmp/waitless-peers}
TMP=$(mktemp -d /tmp/waitless-demo-e2e.XXXXXX)
PID=
PG_DIR=
fail=0
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
  wait 2>/dev/null
  [ -n "$PG_DIR" ] && tests/data/postgres.sh stop "$PG_DIR" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
pass() { echo "PASS $1"; }
failed() { echo "FAIL $1${2:+: $2}"; fail=$((fail + 1)); }
check() {  # NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then pass "$1"; else failed "$1" "expected [$2], got [$3]"; fi
}
contains() {  # NAME NEEDLE HAYSTACK
  case "$3" in *"$2"*) pass "$1" ;; *) failed "$1" "[$2] not in [$(printf '%s' "$3" | head -c 400)]" ;; esac
}
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
header() {  # NAME ARGS...: the value of response header NAME
  local name=$1; shift
  curl -s -D - -o /dev/null --max-time 10 "$@" | tr -d '\r' | sed -n "s/^$name: //Ip" | head -1
}

if [ ! -x "$BUILD/waitless" ]; then failed setup "$BUILD/waitless not found"; exit 1; fi
mkdir -p "$TMP/run"
(cd "$TMP/run" && exec "$BUILD/waitless" demo --port 0 --public "$REPO/apps/demo/public") >"$TMP/out" 2>"$TMP/err" &
PID=$!
PORT=
for _ in $(seq 1 200); do
  PORT=$(sed -n 's|^waitless demo listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$TMP/out")
  [ -n "$PORT" ] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$PORT" ]; then failed "demo starts" "$(cat "$TMP/out" "$TMP/err")"; exit 1; fi
pass "demo starts on port $PORT"
URL="http://127.0.0.1:$PORT"
contains "banner says what to try" "curl -i $URL/api/dashboard/1" "$(cat "$TMP/out")"
if [ -f "$TMP/run/var/demo.db" ]; then pass "SQLite file created under ./var"; else failed "SQLite file created under ./var"; fi

# Dashboard: three queries at once, each in Server-Timing with the total.
out=$(curl -s -D "$TMP/h" --max-time 10 "$URL/api/dashboard/1")
contains "dashboard profile" '"user":{"id":1,"name":"Ada Lovelace"' "$out"
contains "dashboard orders" '"orders":[{' "$out"
contains "dashboard recommendations" '"recommendations":[{' "$out"
timing=$(tr -d '\r' <"$TMP/h" | sed -n 's/^Server-Timing: //Ip')
for m in profile orders recommendations total; do contains "Server-Timing $m" "$m;dur=" "$timing"; done
check "dashboard unknown user 404" 404 "$(status "$URL/api/dashboard/99999")"
check "dashboard bad id 400" 400 "$(status "$URL/api/dashboard/abc")"

# Items: pagination, ETag, conditional GET, validation of the query.
out=$(curl -s -D "$TMP/h" --max-time 10 "$URL/api/items?page=2&per_page=5")
contains "items page" '"page":2,"per_page":5,"total":300,"pages":60' "$out"
contains "items Link next" 'page=3>; rel="next"' "$(tr -d '\r' <"$TMP/h")"
etag=$(tr -d '\r' <"$TMP/h" | sed -n 's/^ETag: //Ip')
contains "items page ETag" 'W/"' "$etag"
check "items page 304" 304 "$(status -H "If-None-Match: $etag" "$URL/api/items?page=2&per_page=5")"
out=$(curl -s --max-time 10 "$URL/api/items?per_page=500")
contains "per_page validation names the field" 'per_page: must be a whole number' "$out"
check "per_page validation 400" 400 "$(status "$URL/api/items?per_page=500")"
etag=$(header ETag "$URL/api/items/7")
check "item ETag" '"7.1"' "$etag"
check "item 304" 304 "$(status -H "If-None-Match: $etag" "$URL/api/items/7")"
check "item 404" 404 "$(status "$URL/api/items/100000")"

# Login: 401 for a wrong password, a token for the right one.
check "login wrong password 401" 401 "$(status -H 'Content-Type: application/json' \
  -d '{"email":"ada@example.com","password":"nope"}' "$URL/api/login")"
contains "login 401 WWW-Authenticate" "Bearer" "$(header WWW-Authenticate -H 'Content-Type: application/json' \
  -d '{"email":"ada@example.com","password":"nope"}' "$URL/api/login")"
out=$(curl -s --max-time 10 -H 'Content-Type: application/json' -d '{"email":"ada@example.com","password":"waitless"}' \
  "$URL/api/login")
TOKEN=$(printf '%s' "$out" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
if [ -n "$TOKEN" ]; then pass "login gives a token"; else failed "login gives a token" "$out"; fi
check "login missing field 400" 400 "$(status -H 'Content-Type: application/json' -d '{"email":"a"}' "$URL/api/login")"

# Download: a generated file streamed in constant memory.
size=$(curl -s -o /dev/null -w '%{size_download}' --max-time 30 "$URL/download/report.csv?mb=16")
check "download 16 MiB" $((16 * 1024 * 1024)) "$size"
check "download bad size 400" 400 "$(status "$URL/download/report.csv?mb=0")"

# CPU job on the pool, while the loop answers other requests.
out=$(curl -s --max-time 30 -H 'Content-Type: application/json' -d '{"password":"hunter2","salt":"00","iterations":1}' \
  "$URL/api/hash")
check "hash with 1 iteration" '"key":"' "$(printf '%s' "$out" | grep -o '"key":"' )"
contains "hash PBKDF2 value" '"iterations":1' "$out"
curl -s -o "$TMP/hash.json" --max-time 30 -H 'Content-Type: application/json' -d '{"password":"hunter2"}' "$URL/api/hash" &
HASH_PID=$!
check "loop answers during the hash" 200 "$(status "$URL/api/items/1")"
wait "$HASH_PID"
contains "hash 200000 iterations" '"iterations":200000' "$(cat "$TMP/hash.json")"
check "hash validation 400" 400 "$(status -H 'Content-Type: application/json' -d '{"password":""}' "$URL/api/hash")"

# Gateway: both services, then one down, one slow, then back up.
out=$(curl -s -D "$TMP/h" --max-time 10 "$URL/api/gateway/1")
contains "gateway merges" '"degraded":[]' "$out"
contains "gateway profile" '"profile":{"id":1' "$out"
contains "gateway Server-Timing" 'recommendations;dur=' "$(tr -d '\r' <"$TMP/h")"
check "service down" 200 "$(status -X POST "$URL/api/services/recommendations/down")"
out=$(curl -s -w ' %{http_code}' --max-time 10 "$URL/api/gateway/1")
contains "gateway degrades when a service is down" '"degraded":["recommendations"]' "$out"
contains "gateway still 200 with one service" ' 200' "$out"
check "service slow" 200 "$(status -X POST "$URL/api/services/recommendations/slow")"
out=$(curl -s --max-time 10 "$URL/api/gateway/1")
contains "gateway degrades when a service is slow" '"error":"timed out"' "$out"
check "profile down" 200 "$(status -X POST "$URL/api/services/profile/down")"
check "gateway 502 when both fail" 502 "$(status "$URL/api/gateway/1")"
status -X POST "$URL/api/services/profile/up" >/dev/null
status -X POST "$URL/api/services/recommendations/up" >/dev/null
contains "gateway recovers" '"degraded":[]' "$(curl -s --max-time 10 "$URL/api/gateway/1")"

# SSE: a stats event within a few seconds.
timeout 4 curl -s -N "$URL/events" >"$TMP/sse" 2>/dev/null
contains "SSE stats event" 'event: stats' "$(cat "$TMP/sse")"
contains "SSE carries requests/s" '"rps":' "$(cat "$TMP/sse")"

# Chat over WebSocket with Node's ws.
if [ ! -d "$PEERS/node_modules/ws" ]; then
  WITH_NPM=1 WAITLESS_PEERS="$PEERS" scripts/deps.sh >/dev/null 2>&1
fi
if [ -d "$PEERS/node_modules/ws" ]; then
  NODE_PATH="$PEERS/node_modules" timeout 15 node tests/demo_chat.js "$PORT" >"$TMP/chat" 2>&1
  sed 's/^/  /' "$TMP/chat"
  if grep -q '^FAIL' "$TMP/chat" || ! grep -q '^PASS broadcast reaches' "$TMP/chat"; then failed "chat round trip"; else
    pass "chat round trip"; fi
else
  failed "chat round trip" "ws not installed under $PEERS"
fi
check "chat bad room 400" 400 "$(status -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
  -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$URL/ws/chat?room=no%20spaces")"

# Metrics: real counters.
out=$(curl -s --max-time 10 "$URL/metrics")
contains "metrics requests counter" 'waitless_demo_http_requests_total{code="2xx"}' "$out"
contains "metrics latency histogram" 'waitless_demo_http_request_duration_seconds_bucket{le="+Inf"}' "$out"
contains "metrics loop utilization" 'waitless_demo_event_loop_utilization' "$out"
contains "metrics cpu pool" 'waitless_demo_pool_queue_depth{pool="cpu"}' "$out"
contains "metrics hash jobs counted" 'waitless_demo_hash_jobs_total 2' "$out"
contains "metrics gateway degraded counted" 'waitless_demo_gateway_requests_total{result="degraded"} 3' "$out"
twoxx=$(printf '%s\n' "$out" | sed -n 's/^waitless_demo_http_requests_total{code="2xx"} //p')
if [ "${twoxx:-0}" -ge 20 ]; then pass "metrics count the requests ($twoxx 2xx)"; else failed "metrics count the requests" "$twoxx"; fi

# Graceful exit on SIGTERM with an SSE client still reading: the stream is ended, the process exits 0.
timeout 20 curl -s -N "$URL/events" >"$TMP/sse2" 2>/dev/null &
SSE_PID=$!
for _ in $(seq 1 40); do grep -q 'event: stats' "$TMP/sse2" && break; sleep 0.1; done
kill -TERM "$PID"
for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$PID" 2>/dev/null; then failed "graceful exit on SIGTERM"; else pass "graceful exit on SIGTERM"; fi
wait "$PID" 2>/dev/null
check "exit status 0" 0 "$?"
PID=
if kill -0 "$SSE_PID" 2>/dev/null; then failed "shutdown ends the SSE stream"; kill "$SSE_PID"; else
  pass "shutdown ends the SSE stream"; fi
wait "$SSE_PID" 2>/dev/null
# A second start reuses the seeded file.
(cd "$TMP/run" && exec "$BUILD/waitless" demo --port 0 --public "$REPO/apps/demo/public") >"$TMP/out2" 2>&1 &
PID=$!
for _ in $(seq 1 100); do grep -q listening "$TMP/out2" && break; sleep 0.05; done
case "$(cat "$TMP/out2")" in
  *"created and seeded"*) failed "restart keeps the data" "seeded again" ;;
  *listening*) pass "restart keeps the data" ;;
  *) failed "restart keeps the data" "$(cat "$TMP/out2")" ;;
esac
kill -TERM "$PID"; wait "$PID" 2>/dev/null; PID=

# The same app on PostgreSQL (--db): a throwaway server (tests/data/postgres.sh), seeded by the demo.
if env_lines=$(tests/data/postgres.sh start 2>"$TMP/pg.err"); then
  eval "$env_lines"
  PG_DIR=$WAITLESS_PG_DIR
  (cd "$TMP/run" && exec "$BUILD/waitless" demo --port 0 --db "$WAITLESS_PG" --public "$REPO/apps/demo/public") \
    >"$TMP/out3" 2>&1 &
  PID=$!
  PORT=
  for _ in $(seq 1 200); do
    PORT=$(sed -n 's|^waitless demo listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$TMP/out3")
    [ -n "$PORT" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  if [ -n "$PORT" ]; then
    contains "postgres: seeded" "(postgres: " "$(cat "$TMP/out3")"
    contains "postgres: dashboard" '"user":{"id":1,"name":"Ada Lovelace"' "$(curl -s --max-time 10 "http://127.0.0.1:$PORT/api/dashboard/1")"
    contains "postgres: items page" '"total":300' "$(curl -s --max-time 10 "http://127.0.0.1:$PORT/api/items?per_page=3")"
    contains "postgres: gateway" '"degraded":[]' "$(curl -s --max-time 10 "http://127.0.0.1:$PORT/api/gateway/3")"
  else
    failed "postgres: demo starts" "$(cat "$TMP/out3")"
  fi
  kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=
  tests/data/postgres.sh stop "$PG_DIR"
  PG_DIR=
else
  failed "postgres: server starts" "$(cat "$TMP/pg.err")"
fi
[ "$fail" -eq 0 ]
