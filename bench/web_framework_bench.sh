#!/usr/bin/env bash
# The web framework side by side (issue 9; method: bench/README.md). The same app in three frameworks:
# 50 GET routes, an access log written to a file, CORS with an origin allow-list, GET /json answering
# {"message":"Hello, World!"} (bench/framework_app_bench.cpp, bench/peers/express_app.js,
# bench/peers/fastify_app.js); and `waitless hello --threads 1` (the bare HTTP server, no framework) on its
# /json, the same response. Every request carries `Origin: https://app.example.com`, so CORS answers it.
# One loop / one Node process each, pinned to CPU 0, wrk on CPU 1 (bench/tools/measure_peers.sh): 64
# connections not pipelined, then pipelined x16; requests/s and server CPU time per request (utime + stime
# of the process tree over the requests wrk counted), medians over ROUNDS rounds.
# Goals (issue 9), each printed as met or missed with its figure:
#   not pipelined: the App's CPU per request <= 1.3x `waitless hello`'s  (ratio web_app_json_cpu_vs_hello
#     = hello / App >= 0.769);
#   pipelined x16: the App's CPU per request <= 1/10 of Fastify's and <= 1/15 of Express's
#     (ratio web_app_cpu_saving_vs_fastify_pipelined >= 10, ..._vs_express_pipelined >= 15).
# usage: bench/web_framework_bench.sh [BUILD_DIR]   env: ROUNDS (3) DUR (4) WARMUP (2) BENCH_PORT_BASE (8090)
#   WAITLESS_PEERS (/tmp/waitless-peers: express, fastify, morgan, cors, @fastify/cors from
#   `WITH_NPM=1 scripts/deps.sh`)
set -u
BUILD=$(readlink -f "${1:-build}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$ROOT/bench/tools
export BENCH_BODY='{"message":"Hello, World!"}'  # what each server must answer on /json before it is measured
. "$TOOLS/peer_common.sh"
PEERS=${WAITLESS_PEERS:-/tmp/waitless-peers}
P=$((${BENCH_PORT_BASE:-8090} + 20))  # clear of http_bench.sh's ports
WORK=$(mktemp -d /tmp/waitless-web-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export ROUNDS=${ROUNDS:-3} DUR=${DUR:-4} WARMUP=${WARMUP:-2} PEER_LOG_DIR=$WORK
export WRK_HEADER='Origin: https://app.example.com'

for t in waitless framework_app_bench; do
  [ -x "$BUILD/$t" ] || bench_fail "no $BUILD/$t: build first (make build)"
done
for tool in wrk node curl taskset; do
  command -v "$tool" >/dev/null || bench_fail "$tool not found: run scripts/deps.sh"
done
for mod in express fastify morgan cors @fastify/cors pino; do
  [ -d "$PEERS/node_modules/$mod" ] || bench_fail "$mod not installed in $PEERS: run WITH_NPM=1 scripts/deps.sh"
done

node_app() { echo "env NODE_PATH=$PEERS/node_modules node $ROOT/bench/peers/$1 $2 $WORK/$1.log"; }
specs=(
  "app|http://127.0.0.1:$P/json|$BUILD/framework_app_bench $P $WORK/app.log"
  "hello|http://127.0.0.1:$((P + 1))/json|$BUILD/waitless hello --port $((P + 1)) --threads 1"
  "fastify|http://127.0.0.1:$((P + 2))/json|$(node_app fastify_app.js $((P + 2)))"
  "express|http://127.0.0.1:$((P + 3))/json|$(node_app express_app.js $((P + 3)))"
)
# The App's access log must keep up: its sink drops lines rather than block the loop (log_sink.hpp), and a
# run that dropped lines did less work than the peers, whose loggers never drop. framework_app_bench
# prints its counts when it stops; this reads the last run's.
app_log_counts() { grep -o 'lines written [0-9]*, dropped [0-9]*' "$WORK/peer_app.log" || echo "no counts"; }

echo "-- not pipelined: $ROUNDS rounds x (${WARMUP} s warm-up + ${DUR} s), 64 connections, GET /json"
DEPTH=1 "$TOOLS/measure_peers.sh" "$WORK/plain.txt" "${specs[@]}" || exit 1
echo "app access log, last run: $(app_log_counts)"
echo "-- pipelined x16"
DEPTH=16 "$TOOLS/measure_peers.sh" "$WORK/pipe.txt" "${specs[@]}" || exit 1
echo "app access log, last run: $(app_log_counts)"
pipe_dropped=$(app_log_counts | sed -n 's/.*dropped \([0-9]*\)/\1/p')

# Rows of a measure file: ROUND NAME RPS CPU P50 P99 RSS (columns 3..7).
ratio_between() {  # FILE NUMERATOR DENOMINATOR COLUMN: the median over rounds of the ratio within a round
  awk -v a="$2" -v b="$3" -v c="$4" '{ v[$1, $2] = $c; if ($1 > R) R = $1 }
    END { for (r = 1; r <= R; r++) { x1 = v[r, a]; x2 = v[r, b]; if (x1 > 0 && x2 > 0) x[++k] = x1 / x2 }
      if (!k) { print "?"; exit }
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
      printf "%.3f\n", k % 2 ? x[(k + 1) / 2] : (x[k / 2] + x[k / 2 + 1]) / 2 }' "$1"
}
table() {  # FILE
  printf '%-9s %10s %12s %10s %10s\n' server req/s cpu_us/req p50_us p99_us
  for name in app hello fastify express; do
    printf '%-9s %10.0f %12s %10s %10s\n' "$name" "$(median_of "$1" "$name" 3)" "$(median_of "$1" "$name" 4)" \
      "$(median_of "$1" "$name" 5)" "$(median_of "$1" "$name" 6)"
  done
}
echo "-- medians over $ROUNDS rounds, not pipelined"
table "$WORK/plain.txt"
echo "-- medians over $ROUNDS rounds, pipelined x16"
table "$WORK/pipe.txt"
for name in app hello fastify express; do
  echo "figure web_${name}_json_rps $(median_of "$WORK/plain.txt" "$name" 3)"
  echo "figure web_${name}_json_cpu_us_per_req $(median_of "$WORK/plain.txt" "$name" 4)"
  echo "figure web_${name}_json_rps_pipelined $(median_of "$WORK/pipe.txt" "$name" 3)"
  echo "figure web_${name}_json_cpu_us_per_req_pipelined $(median_of "$WORK/pipe.txt" "$name" 4)"
done

vs_hello=$(ratio_between "$WORK/plain.txt" hello app 4)
vs_fastify=$(ratio_between "$WORK/pipe.txt" fastify app 4)
vs_express=$(ratio_between "$WORK/pipe.txt" express app 4)
echo "ratio web_app_json_cpu_vs_hello $vs_hello (goal >= 0.769: App <= 1.3x hello's CPU per request)"
for peer in fastify express; do
  echo "ratio web_app_speed_vs_$peer $(ratio_between "$WORK/plain.txt" app "$peer" 3)"
  echo "ratio web_app_cpu_saving_vs_$peer $(ratio_between "$WORK/plain.txt" "$peer" app 4)"
  echo "ratio web_app_speed_vs_${peer}_pipelined $(ratio_between "$WORK/pipe.txt" app "$peer" 3)"
done
echo "ratio web_app_cpu_saving_vs_fastify_pipelined $vs_fastify (goal >= 10)"
echo "ratio web_app_cpu_saving_vs_express_pipelined $vs_express (goal >= 15)"
goal() {  # NAME VALUE THRESHOLD
  awk -v n="$1" -v v="$2" -v g="$3" 'BEGIN { printf "goal %s: %s (%s, goal >= %s)\n", n,
    (v != "?" && v + 0 >= g) ? "met" : "missed", v, g }'
}
goal web_app_json_cpu_vs_hello "$vs_hello" 0.769
goal web_app_cpu_saving_vs_fastify_pipelined "$vs_fastify" 10
goal web_app_cpu_saving_vs_express_pipelined "$vs_express" 15
[ "${pipe_dropped:-0}" = 0 ] || echo "note: the App's access log dropped $pipe_dropped lines in its last pipelined run" \
  "(the sink could not keep up): its pipelined CPU figure includes less logging than the peers'"
