#!/usr/bin/env bash
# End-to-end tests of `waitless demo` over HTTP with curl (and Node's `ws` for the chat): the demo starts
# on a free loopback port with a temporary ./var (so its SQLite file is created and seeded), then every
# endpoint is checked: statuses, headers (Server-Timing, ETag, Link, Content-Encoding, WWW-Authenticate,
# Retry-After), validation errors naming the field, bearer auth on writes, the login rate limit, a 256 MiB
# gzip download in bounded memory, the gateway degrading when a service is down or slow, health probes,
# the page's static files, the SSE feed, a chat round trip, /metrics, a graceful exit on SIGTERM; then
# the same app on PostgreSQL. Usage: tests/demo_e2e.sh [BUILD_DIR]   (default: build). PASS/FAIL per case.
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

# Item writes: bearer token required; validation names the field; ETag / If-Match; 201, 204, 412.
J='Content-Type: application/json'
NEW='{"name":"Tea pot","category":"kitchen","price_cents":2500,"stock":3}'
check "create without a token 401" 401 "$(status -H "$J" -d "$NEW" "$URL/api/items")"
contains "401 challenge" 'Bearer realm=' "$(header WWW-Authenticate -H "$J" -d "$NEW" "$URL/api/items")"
check "create with a bad token 401" 401 "$(status -H "$J" -H 'Authorization: Bearer abc.def.ghi' -d "$NEW" "$URL/api/items")"
AUTH="Authorization: Bearer $TOKEN"
out=$(curl -s -w ' %{http_code}' --max-time 10 -H "$J" -H "$AUTH" -d '{"name":"Tea pot","category":"cars","price_cents":1}' "$URL/api/items")
contains "create validation names the field" '"detail":"category: must be one of' "$out"
contains "create validation 400" ' 400' "$out"
check "create price validation 400" 400 "$(status -H "$J" -H "$AUTH" -d '{"name":"x","category":"toys","price_cents":-5}' "$URL/api/items")"
out=$(curl -s -D "$TMP/h" --max-time 10 -H "$J" -H "$AUTH" -d "$NEW" "$URL/api/items")
contains "create 201" 'HTTP/1.1 201' "$(tr -d '\r' <"$TMP/h")"
location=$(tr -d '\r' <"$TMP/h" | sed -n 's/^Location: //Ip')
contains "create Location" '/api/items/' "$location"
contains "create body" '"name":"Tea pot","category":"kitchen","price_cents":2500,"stock":3,"version":1' "$out"
id=${location##*/}
check "created item ETag" "\"$id.1\"" "$(tr -d '\r' <"$TMP/h" | sed -n 's/^ETag: //Ip')"
check "created item readable" 200 "$(status "$URL$location")"
CHANGED='{"name":"Tea pot","category":"kitchen","price_cents":2700,"stock":2}'
check "update with a stale If-Match 412" 412 "$(status -X PUT -H "$J" -H "$AUTH" -H "If-Match: \"$id.9\"" -d "$CHANGED" "$URL$location")"
check "update with the ETag 200" 200 "$(status -X PUT -H "$J" -H "$AUTH" -H "If-Match: \"$id.1\"" -d "$CHANGED" "$URL$location")"
check "update bumps the ETag" "\"$id.2\"" "$(header ETag "$URL$location")"
check "update without a token 401" 401 "$(status -X PUT -H "$J" -d "$CHANGED" "$URL$location")"
check "delete 204" 204 "$(status -X DELETE -H "$AUTH" "$URL$location")"
check "deleted item 404" 404 "$(status "$URL$location")"
check "delete again 404" 404 "$(status -X DELETE -H "$AUTH" "$URL$location")"

# Login is rate limited per client: at most 10 a minute, then 429 with Retry-After.
for _ in $(seq 1 12); do
  code=$(curl -s -D "$TMP/h" -o /dev/null -w '%{http_code}' --max-time 10 -H "$J" \
    -d '{"email":"ada@example.com","password":"nope"}' "$URL/api/login")
  [ "$code" = 429 ] && break
done
check "login rate limit 429" 429 "$code"
contains "429 Retry-After" 'Retry-After: ' "$(tr -d '\r' <"$TMP/h")"

# Download: a generated file streamed in constant memory.
size=$(curl -s -o /dev/null -w '%{size_download}' --max-time 30 "$URL/download/report.csv?mb=16")
check "download 16 MiB" $((16 * 1024 * 1024)) "$size"
# Through gzip: 32 MiB generated, compressed as it streams; the server's peak memory stays small.
hwm_before=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
curl -s -D "$TMP/h" -H 'Accept-Encoding: gzip' --max-time 60 "$URL/download/big.csv?mb=32" -o "$TMP/big.gz"
contains "download Content-Encoding gzip" 'Content-Encoding: gzip' "$(tr -d '\r' <"$TMP/h")"
check "download gunzips to 32 MiB" $((32 * 1024 * 1024)) "$(gzip -dc "$TMP/big.gz" | wc -c)"
check "download is a CSV" 'row,date,user_id,item_id,amount_cents,note' "$(gzip -dc "$TMP/big.gz" 2>/dev/null | head -1)"
echo "demo_e2e: 32 MiB download sent as $(stat -c %s "$TMP/big.gz") gzip bytes"
rm -f "$TMP/big.gz"
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
if nm "$BUILD/waitless" 2>/dev/null | grep -q __asan_init; then
  echo "demo_e2e: peak RSS not checked under AddressSanitizer"
elif [ $((hwm_kb - hwm_before)) -lt $((32 * 1024)) ]; then
  pass "download in constant memory (peak RSS ${hwm_before} -> ${hwm_kb} KiB)"
else
  failed "download in constant memory" "peak RSS ${hwm_before} -> ${hwm_kb} KiB"
fi
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
timeout 5 curl -s -N "$URL/events" >"$TMP/sse" 2>/dev/null &
SSE_PID=$!
for _ in $(seq 1 50); do grep -q '"rps":' "$TMP/sse" && break; sleep 0.1; done
kill "$SSE_PID" 2>/dev/null; wait "$SSE_PID" 2>/dev/null
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

# Health probes.
check "healthz 200" 200 "$(status "$URL/healthz")"
check "readyz 200" 200 "$(status "$URL/readyz")"

# The page: served with ETag and compression.
out=$(curl -s -D "$TMP/h" --max-time 10 "$URL/")
contains "page served" '<canvas id="c-rps"' "$out"
etag=$(tr -d '\r' <"$TMP/h" | sed -n 's/^ETag: //Ip')
if [ -n "$etag" ]; then pass "page ETag"; else failed "page ETag"; fi
check "page 304" 304 "$(status -H "If-None-Match: $etag" "$URL/")"
contains "script compressed" 'gzip' "$(header Content-Encoding -H 'Accept-Encoding: gzip' "$URL/app.js")"
check "chat page" 200 "$(status "$URL/chat.html")"
check "no such file 404" 404 "$(status "$URL/nope.js")"
check "no traversal (dot segments)" 400 "$(status --path-as-is "$URL/../README.md")"
check "no traversal (encoded)" 403 "$(status --path-as-is "$URL/%2e%2e%2fREADME.md")"

# The dashboard in headless Chromium (Debian's, driven by playwright-core): live charts, a scenario button,
# a screenshot kept under the build directory.
if [ ! -x /usr/bin/chromium ] || [ ! -d "$PEERS/node_modules/playwright-core" ]; then
  WITH_NPM=1 WAITLESS_PEERS="$PEERS" scripts/deps.sh >/dev/null 2>&1
fi
if [ -x /usr/bin/chromium ] && [ -d "$PEERS/node_modules/playwright-core" ]; then
  NODE_PATH="$PEERS/node_modules" timeout 60 node tests/demo_browser.js "$URL/" "$BUILD/demo-dashboard.png" \
    >"$TMP/browser" 2>&1
  sed 's/^/  /' "$TMP/browser"
  if grep -q '^FAIL' "$TMP/browser" || ! grep -q '^PASS browser: no script errors' "$TMP/browser"; then
    failed "dashboard in headless Chromium"
  else
    pass "dashboard in headless Chromium (screenshot $BUILD/demo-dashboard.png)"
  fi
else
  failed "dashboard in headless Chromium" "chromium or playwright-core missing (scripts/deps.sh)"
fi

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
