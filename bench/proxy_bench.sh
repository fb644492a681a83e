#!/usr/bin/env bash
# Reverse proxy side by side (method: bench/README.md): `waitless proxy` (1 thread) against nginx (1 worker,
# proxy_pass to an upstream block with `keepalive`) and HAProxy (nbthread 1, http-reuse always), each in
# front of the same `waitless hello --threads 1` upstream; plaintext "Hello, World!" through the proxy, 64
# client connections, not pipelined. The proxy under test is pinned to CPU 0; wrk and the upstream share
# CPU 1 (the same for every peer). Each proxy adds X-Forwarded-For (waitless also adds X-Forwarded-Proto,
# X-Forwarded-Host, Forwarded and Via, which it always does; nginx is configured to add X-Forwarded-For
# and X-Forwarded-Proto, HAProxy `option forwardfor`).
#
# CPU per request is the proxy's own (utime + stime of its process tree over the measured run / wrk's
# request count). `ratio <name> <value>` lines, each the median over the rounds of the ratio taken within
# one round, higher better for waitless:
#   speed_vs_nginx_proxy / speed_vs_haproxy          waitless req/s / peer req/s
#   cpu_saving_vs_nginx_proxy / cpu_saving_vs_haproxy  peer CPU per request / waitless CPU per request
# usage: bench/proxy_bench.sh [BUILD_DIR]   env: ROUNDS (3) DUR (5) WARMUP (2) BENCH_PORT_BASE (8290)
set -u
BUILD=$(readlink -f "${1:-build}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$ROOT/bench/tools
. "$TOOLS/peer_common.sh"
P=${BENCH_PORT_BASE:-8290}
UP=$((P + 9))
WORK=$(mktemp -d /tmp/waitless-proxy-bench.XXXXXX)
UPSTREAM_PID=
trap '[ -n "$UPSTREAM_PID" ] && kill "$UPSTREAM_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
export ROUNDS=${ROUNDS:-3} DUR=${DUR:-5} WARMUP=${WARMUP:-2} PEER_LOG_DIR=$WORK

[ -x "$BUILD/waitless" ] || bench_fail "no $BUILD/waitless: build first (make build)"
for tool in wrk nginx haproxy curl taskset; do
  command -v "$tool" >/dev/null || bench_fail "$tool not found: run scripts/deps.sh"
done

# The one upstream, on CPU 1 beside wrk.
curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$UP/plaintext" && bench_fail "port $UP is already taken"
taskset -c 1 "$BUILD/waitless" hello --port "$UP" --threads 1 >"$WORK/upstream.log" 2>&1 &
UPSTREAM_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$UP/plaintext" && break; sleep 0.05; done
[ "$(curl -s "http://127.0.0.1:$UP/plaintext")" = "$BENCH_BODY" ] || bench_fail "the upstream did not start"

cat >"$WORK/proxy.json" <<CONF
{ "listen": "127.0.0.1:$P", "threads": 1,
  "upstreams": { "app": { "servers": ["127.0.0.1:$UP"] } },
  "routes": [ { "prefix": "/", "upstream": "app" } ] }
CONF

mkdir -p "$WORK/nginx"
{ nginx_config_start "$WORK/nginx"; cat <<CONF; } >"$WORK/nginx/nginx.conf"
  upstream app {
    server 127.0.0.1:$UP;
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$((P + 1));
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
CONF

cat >"$WORK/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 1500  # under the peers' fd limit (ulimit -n 4096: two fds per proxied connection)
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  option forwardfor
  http-reuse always
frontend front
  bind 127.0.0.1:$((P + 2))
  default_backend app
backend app
  server up1 127.0.0.1:$UP
CONF
haproxy -c -f "$WORK/haproxy.cfg" >/dev/null 2>&1 || bench_fail "haproxy refuses its config: $(haproxy -c -f "$WORK/haproxy.cfg" 2>&1 | tail -2)"

url() { echo "http://127.0.0.1:$1/plaintext"; }
specs=(
  "waitless|$(url "$P")|$BUILD/waitless proxy --config $WORK/proxy.json"
  "nginx|$(url $((P + 1)))|nginx -c $WORK/nginx/nginx.conf"
  "haproxy|$(url $((P + 2)))|haproxy -db -f $WORK/haproxy.cfg"
)
echo "-- reverse proxy, not pipelined: $ROUNDS rounds x (${WARMUP} s warm-up + ${DUR} s), 64 connections"
DEPTH=1 "$TOOLS/measure_peers.sh" "$WORK/proxy.txt" "${specs[@]}" || exit 1

printf '%-9s %10s %14s %10s %10s\n' peer req/s cpu_us/req p50_us p99_us
for name in waitless nginx haproxy; do
  printf '%-9s %10.0f %14s %10s %10s\n' "$name" "$(median_of "$WORK/proxy.txt" "$name" 3)" \
    "$(median_of "$WORK/proxy.txt" "$name" 4)" "$(median_of "$WORK/proxy.txt" "$name" 5)" "$(median_of "$WORK/proxy.txt" "$name" 6)"
done
echo "figure waitless_proxy_rps $(median_of "$WORK/proxy.txt" waitless 3)"
echo "figure waitless_proxy_cpu_us_per_req $(median_of "$WORK/proxy.txt" waitless 4)"
echo "ratio speed_vs_nginx_proxy $(ratio_of "$WORK/proxy.txt" nginx 3 1)"
echo "ratio cpu_saving_vs_nginx_proxy $(ratio_of "$WORK/proxy.txt" nginx 4 0)"
echo "ratio speed_vs_haproxy $(ratio_of "$WORK/proxy.txt" haproxy 3 1)"
echo "ratio cpu_saving_vs_haproxy $(ratio_of "$WORK/proxy.txt" haproxy 4 0)"
