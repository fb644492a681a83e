#!/usr/bin/env bash
# HTTP throughput side by side (../shared/BENCHMARKS.md): waitless hello (1 thread) vs the floor server,
# Node http, Express 5, Fastify 5 and nginx (1 worker), plaintext, 64 connections, not pipelined and
# pipelined x16; then user-space memory per idle keep-alive connection at 10 000 connections.
# Prints `ratio <metric> <value>` lines last (waitless / floor, unless the metric says otherwise).
set -u
BUILD=$(readlink -f "${1:-build}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=${WAITLESS_TOOLS:-$ROOT/../shared/tools}
PEERS=${WAITLESS_PEERS:-/tmp/waitless-peers}
WORK=$(mktemp -d /tmp/waitless-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROUNDS=${ROUNDS:-2} DUR=${DUR:-5}
export ROUNDS DUR

cc -O2 -o "$WORK/floor" "$TOOLS/floor_server.c"
cc -O2 -o "$WORK/holdconns" "$TOOLS/holdconns.c"

# nginx: one worker, return 200 "Hello, World!".
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:8094;
    location / { default_type text/plain; return 200 "Hello, World!"; }
  }
}
CONF

specs=(
  "floor=http://127.0.0.1:8090/plaintext|$WORK/floor 8090"
  "waitless=http://127.0.0.1:8091/plaintext|$BUILD/waitless hello --port 8091 --threads 1"
  "node=http://127.0.0.1:8092/plaintext|node $ROOT/bench/peers/node_http.js 8092"
  "nginx=http://127.0.0.1:8094/plaintext|nginx -c $WORK/nginx/nginx.conf"
)
if [ -d "$PEERS/node_modules/express" ]; then
  specs+=("express=http://127.0.0.1:8095/plaintext|env NODE_PATH=$PEERS/node_modules node $ROOT/bench/peers/express.js 8095")
  specs+=("fastify=http://127.0.0.1:8096/plaintext|env NODE_PATH=$PEERS/node_modules node $ROOT/bench/peers/fastify.js 8096")
fi

echo "-- not pipelined"
DEPTH=1 bash "$TOOLS/peer_bench.sh" "${specs[@]}" | tee "$WORK/plain.txt"
echo "-- pipelined x16"
DEPTH=16 bash "$TOOLS/peer_bench.sh" "${specs[@]}" | tee "$WORK/pipe.txt"
echo "-- idle keep-alive connections (10 000)"
HOLD="$WORK/holdconns" bash "$TOOLS/idle_mem.sh" 10000 \
  "floor=8090|$WORK/floor 8090" \
  "waitless=8091|$BUILD/waitless hello --port 8091 --threads 1" \
  "nginx=8094|nginx -c $WORK/nginx/nginx.conf" | tee "$WORK/idle.txt"

best() { awk -v n="$2" '/^--- best/{b=1; next} b && $1 == n {print $'"$3"'}' "$1"; }
ratio() { awk -v a="$2" -v b="$3" -v m="$1" 'BEGIN{ if (a > 0 && b > 0) printf "ratio %s %.3f\n", m, a / b; else printf "ratio %s ?\n", m }'; }
ratio rps_vs_floor "$(best "$WORK/plain.txt" waitless 2)" "$(best "$WORK/plain.txt" floor 2)"
ratio cpu_per_req_vs_floor "$(best "$WORK/plain.txt" waitless 3)" "$(best "$WORK/plain.txt" floor 3)"
ratio rps_pipelined_vs_floor "$(best "$WORK/pipe.txt" waitless 2)" "$(best "$WORK/pipe.txt" floor 2)"
ratio cpu_per_req_pipelined_vs_floor "$(best "$WORK/pipe.txt" waitless 3)" "$(best "$WORK/pipe.txt" floor 3)"
ratio cpu_per_req_vs_nginx "$(best "$WORK/plain.txt" waitless 3)" "$(best "$WORK/plain.txt" nginx 3)"
ratio cpu_per_req_vs_node "$(best "$WORK/plain.txt" waitless 3)" "$(best "$WORK/plain.txt" node 3)"
echo "ratio peak_rss_kB $(best "$WORK/plain.txt" waitless 4)"
echo "ratio idle_bytes_per_conn $(awk '/^waitless:/{for(i=1;i<=NF;i++) if ($i ~ /^per_conn=/) {sub("per_conn=","",$i); print $i}}' "$WORK/idle.txt")"
