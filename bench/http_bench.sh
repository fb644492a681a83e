#!/usr/bin/env bash
# HTTP side by side (method: bench/README.md): `waitless hello` (1 thread) against the floor (a server that
# parses nothing, bench/tools/floor_server.c), nginx (1 worker), Node.js http, Fastify 5 and Express 5;
# plaintext "Hello, World!", 64 connections, not pipelined and pipelined x16; then user-space memory per
# idle keep-alive connection at 10 000 connections.
#
# Figures (requests/s, CPU microseconds per request, latency, memory) are printed as tables and `figure`
# lines; `ratio <name> <value>` lines come last, each the median over the rounds of the ratio taken within
# one round, higher always better for waitless:
#   speed_vs_P       waitless req/s / P's req/s
#   cpu_saving_vs_P  P's CPU per request / waitless's CPU per request
#   memory_saving_vs_P_idle  P's bytes per idle connection / waitless's
# usage: bench/http_bench.sh [BUILD_DIR]   env: ROUNDS (3) DUR (4) WARMUP (2) IDLE_CONNS (10000)
#   WAITLESS_PEERS (/tmp/waitless-peers: where scripts/deps.sh WITH_NPM=1 installs express and fastify)
#   BENCH_PORT_BASE (8090)
set -u
BUILD=$(readlink -f "${1:-build}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$ROOT/bench/tools
. "$TOOLS/peer_common.sh"
PEERS=${WAITLESS_PEERS:-/tmp/waitless-peers}
P=${BENCH_PORT_BASE:-8090}
WORK=$(mktemp -d /tmp/waitless-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export ROUNDS=${ROUNDS:-3} DUR=${DUR:-4} WARMUP=${WARMUP:-2} PEER_LOG_DIR=$WORK

[ -x "$BUILD/waitless" ] || bench_fail "no $BUILD/waitless: build first (make build)"
for tool in wrk nginx node curl taskset cc; do
  command -v "$tool" >/dev/null || bench_fail "$tool not found: run scripts/deps.sh"
done
for mod in express fastify; do
  [ -d "$PEERS/node_modules/$mod" ] || bench_fail "$mod not installed in $PEERS: run WITH_NPM=1 scripts/deps.sh"
done
cc -O2 -Wall -o "$WORK/floor" "$TOOLS/floor_server.c" || bench_fail "cannot build bench/tools/floor_server.c"
cc -O2 -Wall -o "$WORK/holdconns" "$ROOT/tests/reliability/holdconns.c" ||
  bench_fail "cannot build tests/reliability/holdconns.c"

# nginx: one worker, no access log, `return 200 "Hello, World!"`.
mkdir -p "$WORK/nginx"
{ nginx_config_start "$WORK/nginx"; cat <<CONF; } >"$WORK/nginx/nginx.conf"
  server {
    listen 127.0.0.1:$((P + 4));
    location / { default_type text/plain; return 200 "$BENCH_BODY"; }
  }
}
CONF

url() { echo "http://127.0.0.1:$1/plaintext"; }
specs=(
  "waitless|$(url $((P + 1)))|$BUILD/waitless hello --port $((P + 1)) --threads 1"
  "floor|$(url "$P")|$WORK/floor $P"
  "nginx|$(url $((P + 4)))|nginx -c $WORK/nginx/nginx.conf"
  "node|$(url $((P + 2)))|node $ROOT/bench/peers/node_http.js $((P + 2))"
  "fastify|$(url $((P + 6)))|env NODE_PATH=$PEERS/node_modules node $ROOT/bench/peers/fastify.js $((P + 6))"
  "express|$(url $((P + 5)))|env NODE_PATH=$PEERS/node_modules node $ROOT/bench/peers/express.js $((P + 5))"
)

echo "-- not pipelined: $ROUNDS rounds x (${WARMUP} s warm-up + ${DUR} s), 64 connections"
DEPTH=1 "$TOOLS/measure_peers.sh" "$WORK/plain.txt" "${specs[@]}" || exit 1
echo "-- pipelined x16"
DEPTH=16 "$TOOLS/measure_peers.sh" "$WORK/pipe.txt" "${specs[0]}" "${specs[1]}" "${specs[2]}" "${specs[3]}" || exit 1
IDLE_CONNS=${IDLE_CONNS:-10000}
echo "-- idle keep-alive connections ($IDLE_CONNS)"
"$TOOLS/idle_memory.sh" "$IDLE_CONNS" "$WORK/holdconns" "$WORK/idle.txt" "${specs[0]}" "${specs[1]}" "${specs[2]}" \
  "${specs[3]}" || exit 1

# Rows of a measure file: ROUND NAME RPS CPU P50 P99 RSS (columns 3..7).
table() { # FILE: the medians of every peer
  printf '%-9s %10s %14s %10s %10s %12s\n' peer req/s cpu_us/req p50_us p99_us peak_rss_kB
  for name in $(awk '{print $2}' "$1" | awk '!seen[$0]++'); do
    printf '%-9s %10.0f %14s %10s %10s %12.0f\n' "$name" "$(median_of "$1" "$name" 3)" "$(median_of "$1" "$name" 4)" \
      "$(median_of "$1" "$name" 5)" "$(median_of "$1" "$name" 6)" "$(median_of "$1" "$name" 7)"
  done
}
# FILE PEER COLUMN HIGHER_IS_BETTER(1|0): the median over rounds of waitless/peer (or peer/waitless).

echo "-- medians over $ROUNDS rounds, not pipelined"
table "$WORK/plain.txt"
echo "-- medians over $ROUNDS rounds, pipelined x16"
table "$WORK/pipe.txt"
echo "figure waitless_rps $(median_of "$WORK/plain.txt" waitless 3)"
echo "figure waitless_cpu_us_per_req $(median_of "$WORK/plain.txt" waitless 4)"
echo "figure waitless_p99_us $(median_of "$WORK/plain.txt" waitless 6)"
echo "figure waitless_rps_pipelined $(median_of "$WORK/pipe.txt" waitless 3)"
echo "figure waitless_cpu_us_per_req_pipelined $(median_of "$WORK/pipe.txt" waitless 4)"
echo "figure waitless_peak_rss_kB $(median_of "$WORK/plain.txt" waitless 7)"
for name in waitless floor nginx node; do
  echo "figure ${name}_bytes_per_idle_conn $(awk -v n="$name" '$1 == n {print $5}' "$WORK/idle.txt")"
done

for peer in floor nginx node fastify express; do
  echo "ratio speed_vs_$peer $(ratio_of "$WORK/plain.txt" "$peer" 3 1)"
  echo "ratio cpu_saving_vs_$peer $(ratio_of "$WORK/plain.txt" "$peer" 4 0)"
done
for peer in floor nginx node; do
  echo "ratio speed_vs_${peer}_pipelined $(ratio_of "$WORK/pipe.txt" "$peer" 3 1)"
  echo "ratio cpu_saving_vs_${peer}_pipelined $(ratio_of "$WORK/pipe.txt" "$peer" 4 0)"
done
idle() { awk -v n="$1" '$1 == n {print $5}' "$WORK/idle.txt"; }
for peer in nginx node; do
  awk -v m="memory_saving_vs_${peer}_idle" -v o="$(idle "$peer")" -v w="$(idle waitless)" \
    'BEGIN{ if (w > 0 && o > 0) printf "ratio %s %.3f\n", m, o / w; else printf "ratio %s ?\n", m }'
done
