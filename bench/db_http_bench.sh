#!/usr/bin/env bash
# Database over HTTP, side by side on the same PostgreSQL (issue 10): TechEmpower-style `/db` (one random
# row of `world`, 10 000 rows) and `/queries?n=20`, in waitless (build/db_http_bench serve: waitless::web,
# one loop, a PostgreSQL pool per loop, the N queries pipelined on one connection) against Fastify 5 + `pg`
# (bench/peers/fastify_db.js: Promise.all over a pg pool). Each server is pinned to CPU 0; PostgreSQL
# (tests/data/postgres.sh: a throwaway server on a free loopback port, stopped at the end) and wrk float.
# wrk: 64 connections, 1 s warm-up then DUR s (default 5). A run with any non-2xx answer or socket error
# fails the benchmark (a fast error page is not a figure).
# `ratio` lines (higher is better for waitless): db_speed_vs_fastify, queries20_speed_vs_fastify.
# Goal (issue 10): /queries?n=20 >= 3x Node.
# usage: bench/db_http_bench.sh [BUILD_DIR]   env: DUR (5) DB_HTTP_PORT_BASE (8140) WAITLESS_PEERS
set -u
BUILD=$(readlink -f "${1:-build}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/tools/peer_common.sh"
PEERS=${WAITLESS_PEERS:-/tmp/waitless-peers}
P=${DB_HTTP_PORT_BASE:-8140}
DUR=${DUR:-5}
BIN="$BUILD/db_http_bench"
PG="$ROOT/tests/data/postgres.sh"
[ -x "$BIN" ] || bench_fail "no $BIN: build first (make build)"
for tool in wrk node taskset curl; do command -v "$tool" >/dev/null || bench_fail "$tool not found: run scripts/deps.sh"; done
for mod in fastify pg; do
  [ -d "$PEERS/node_modules/$mod" ] || bench_fail "$mod not installed in $PEERS: run WITH_NPM=1 scripts/deps.sh"
done
WORK=$(mktemp -d /tmp/waitless-db-http.XXXXXX)
WAITLESS_PG_DIR=
cleanup() {
  peer_stop
  [ -n "$WAITLESS_PG_DIR" ] && "$PG" stop "$WAITLESS_PG_DIR"
  rm -rf "$WORK"
}
trap cleanup EXIT
export PEER_LOG_DIR=$WORK
env_lines=$("$PG" start) || bench_fail "could not start PostgreSQL"
eval "$env_lines"
"$BIN" setup || bench_fail "could not create the world table"
# node-pg wants a URL: the same server as the conninfo.
pg_port=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$WAITLESS_PG")
export WAITLESS_PG_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"

run_wrk() { # NAME URL: warm-up, then the measured run; appends "NAME PATH RPS"
  local name=$1 url=$2 out rps
  wrk -t1 -c64 -d1s "$url" >/dev/null 2>&1
  out=$(wrk -t1 -c64 -d"${DUR}s" "$url" 2>&1)
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
    peer_stop
    bench_fail "$name $url: errors during the run: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ')"
  fi
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  [ -n "$rps" ] || bench_fail "$name $url: no figure from wrk: $out"
  printf '  %-9s %-16s %10.0f req/s  latency %s\n' "$name" "${url#http://127.0.0.1:*/}" "$rps" \
    "$(awk '/^    Latency/ {print "avg " $2 ", max " $4}' <<<"$out")"
  echo "$name ${url##*/} $rps" >>"$WORK/results"
}
measure() { # NAME PORT CMD
  local name=$1 port=$2
  peer_start "$name" "http://127.0.0.1:$port/plaintext" 0 "$3"
  # Both answer with the row's JSON: check once before measuring.
  curl -s --max-time 2 "http://127.0.0.1:$port/db" | grep -q '"randomNumber"' || { peer_stop; bench_fail "$name: /db answers no row"; }
  [ "$(curl -s --max-time 5 "http://127.0.0.1:$port/queries?n=20" | grep -o '"id"' | wc -l)" = 20 ] ||
    { peer_stop; bench_fail "$name: /queries?n=20 does not answer 20 rows"; }
  run_wrk "$name" "http://127.0.0.1:$port/db"
  run_wrk "$name" "http://127.0.0.1:$port/queries?n=20"
  peer_stop
}

echo "-- /db and /queries?n=20 on PostgreSQL, wrk 64 connections, ${DUR} s"
measure waitless "$P" "env WAITLESS_PG='$WAITLESS_PG' $BIN serve $P 1"
measure fastify "$((P + 1))" "env NODE_PATH=$PEERS/node_modules WAITLESS_PG_URL=$WAITLESS_PG_URL node $ROOT/bench/peers/fastify_db.js $((P + 1))"

rps() { awk -v n="$1" -v p="$2" '$1 == n && $2 == p {print $3}' "$WORK/results"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.3f\n", a / b; else print "?" }'; }
for name in waitless fastify; do
  echo "figure ${name}_db_rps $(rps "$name" db)"
  echo "figure ${name}_queries20_rps $(rps "$name" 'queries?n=20')"
done
q=$(ratio "$(rps waitless 'queries?n=20')" "$(rps fastify 'queries?n=20')")
awk -v r="$q" 'BEGIN { printf "goal queries20 >= 3x fastify+pg: %s (%s)\n", (r != "?" && r >= 3) ? "met" : "missed", r }'
echo "ratio db_speed_vs_fastify $(ratio "$(rps waitless db)" "$(rps fastify db)")"
echo "ratio queries20_speed_vs_fastify $q"
