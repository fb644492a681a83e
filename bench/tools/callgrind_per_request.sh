#!/usr/bin/env bash
# CPU per request of `waitless hello --threads 1` as callgrind instructions (user space, deterministic
# enough to compare two builds on a loaded machine where wall-clock figures are noise), driven by wrk with
# 64 connections on loopback. The counters are zeroed after a warm-up run and dumped after the measured
# one; instructions / requests completed is the figure.
# usage: bench/tools/callgrind_per_request.sh WAITLESS_BINARY PORT DEPTH [DURATION_S]
#   DEPTH 1: one request at a time per connection; DEPTH 16: pipelined x16 (bench/tools/pipeline.lua)
#   env CG_PATH (/plaintext): the path requested; CG_HEADER: one header sent with every request;
#   CG_SERVER: another server command to run instead of `WAITLESS_BINARY hello`, with {PORT} for the port
#   (the framework app: CG_SERVER='build/framework_app_bench {PORT} /tmp/app.log' CG_PATH=/json
#   CG_HEADER='Origin: https://app.example.com', as bench/web_framework_bench.sh runs it)
# prints: instr_per_req N requests R
set -u
BIN=$1 PORT=$2 DEPTH=$3 DUR=${4:-5}
TOOLS=$(cd "$(dirname "$0")" && pwd)
for tool in valgrind callgrind_control wrk curl; do
  command -v "$tool" >/dev/null || { echo "callgrind_per_request: $tool is not installed" >&2; exit 2; }
done
OUT=$(mktemp -d /tmp/waitless-cg.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$OUT"
}
trap cleanup EXIT
URL_PATH=${CG_PATH:-/plaintext}
if [ -n "${CG_SERVER:-}" ]; then
  read -r -a server_cmd <<<"${CG_SERVER//\{PORT\}/$PORT}"
else
  server_cmd=("$BIN" hello --port "$PORT" --threads 1)
fi
header=()
[ -n "${CG_HEADER:-}" ] && header=(-H "$CG_HEADER")
valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.out" "${server_cmd[@]}" >"$OUT/server.log" 2>&1 &
pid=$!
up=
for _ in $(seq 300); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT$URL_PATH" && { up=1; break; }
  sleep 0.1
done
[ -n "$up" ] || { echo "callgrind_per_request: the server did not start" >&2; cat "$OUT/server.log" >&2; exit 1; }
extra=()
[ "$DEPTH" -gt 1 ] && extra=(-s "$TOOLS/pipeline.lua" -- "$DEPTH" "$URL_PATH")
wrk -t1 -c64 -d2s "${header[@]}" "http://127.0.0.1:$PORT$URL_PATH" "${extra[@]}" >/dev/null 2>&1  # warm-up
callgrind_control -z "$pid" >/dev/null
out=$(wrk -t1 -c64 -d"${DUR}s" "${header[@]}" "http://127.0.0.1:$PORT$URL_PATH" "${extra[@]}" 2>&1)
callgrind_control -d "$pid" >/dev/null
sleep 1
kill -INT "$pid"
wait "$pid" 2>/dev/null
pid=
reqs=$(echo "$out" | awk '/requests in/{print $1}')
f=$(ls "$OUT"/cg.out.* 2>/dev/null | sort | head -1)
ir=$(awk '/^summary:|^totals:/{print $2; exit}' "$f")
if [ -z "$reqs" ] || [ -z "$ir" ] || [ "$reqs" -eq 0 ]; then
  echo "callgrind_per_request: no figure (wrk: $out)" >&2
  exit 1
fi
awk -v ir="$ir" -v n="$reqs" 'BEGIN{printf "instr_per_req %.0f requests %d\n", ir / n, n}'
echo "$out" | grep -E "Non-2xx|Socket errors" || true
[ -n "${KEEP:-}" ] && cp "$f" "$KEEP"
exit 0
