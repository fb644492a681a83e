#!/usr/bin/env bash
# HTTPS side by side (method: bench/README.md): `waitless hello --tls-cert/--tls-key` (1 thread) against
# nginx (1 worker, `return 200`, the same certificate: ECDSA P-256 from tests/tls_certs.sh, TLS 1.2/1.3,
# session cache); plaintext "Hello, World!" over keep-alive TLS connections, 64 connections, not
# pipelined (wrk: one handshake per connection, then requests: the cost measured is mostly record
# encryption and decryption, plus the server's HTTP work).
#
# `ratio <name> <value>` lines, each the median over the rounds of the ratio taken within one round, higher
# better for waitless:
#   speed_vs_nginx_tls       waitless req/s / nginx req/s
#   cpu_saving_vs_nginx_tls  nginx CPU per request / waitless CPU per request
# usage: bench/tls_bench.sh [BUILD_DIR]   env: ROUNDS (3) DUR (4) WARMUP (2) BENCH_PORT_BASE (8190)
set -u
BUILD=$(readlink -f "${1:-build}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$ROOT/bench/tools
. "$TOOLS/peer_common.sh"
P=${BENCH_PORT_BASE:-8190}
WORK=$(mktemp -d /tmp/waitless-tls-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export ROUNDS=${ROUNDS:-3} DUR=${DUR:-4} WARMUP=${WARMUP:-2} PEER_LOG_DIR=$WORK

[ -x "$BUILD/waitless" ] || bench_fail "no $BUILD/waitless: build first (make build)"
for tool in wrk nginx curl taskset openssl; do
  command -v "$tool" >/dev/null || bench_fail "$tool not found: run scripts/deps.sh"
done
"$ROOT/tests/tls_certs.sh" "$WORK/certs" || bench_fail "openssl could not make the certificates"
C=$WORK/certs
export CURL_CA_BUNDLE=$C/ca.crt  # peer_start's checks verify the peers' certificate

mkdir -p "$WORK/nginx"
{ nginx_config_start "$WORK/nginx"; cat <<CONF; } >"$WORK/nginx/nginx.conf"
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:10m;
  server {
    listen 127.0.0.1:$((P + 1)) ssl;
    ssl_certificate $C/server.crt;
    ssl_certificate_key $C/server.key;
    location / { default_type text/plain; return 200 "$BENCH_BODY"; }
  }
}
CONF

url() { echo "https://localhost:$1/plaintext"; }
specs=(
  "waitless|$(url "$P")|$BUILD/waitless hello --port $P --threads 1 --tls-cert $C/server.crt --tls-key $C/server.key"
  "nginx|$(url $((P + 1)))|nginx -c $WORK/nginx/nginx.conf"
)
echo "-- HTTPS, not pipelined: $ROUNDS rounds x (${WARMUP} s warm-up + ${DUR} s), 64 connections"
DEPTH=1 "$TOOLS/measure_peers.sh" "$WORK/tls.txt" "${specs[@]}" || exit 1

printf '%-9s %10s %14s %10s %10s\n' peer req/s cpu_us/req p50_us p99_us
for name in waitless nginx; do
  printf '%-9s %10.0f %14s %10s %10s\n' "$name" "$(median_of "$WORK/tls.txt" "$name" 3)" \
    "$(median_of "$WORK/tls.txt" "$name" 4)" "$(median_of "$WORK/tls.txt" "$name" 5)" "$(median_of "$WORK/tls.txt" "$name" 6)"
done
echo "figure waitless_tls_rps $(median_of "$WORK/tls.txt" waitless 3)"
echo "figure waitless_tls_cpu_us_per_req $(median_of "$WORK/tls.txt" waitless 4)"
echo "ratio speed_vs_nginx_tls $(ratio_of "$WORK/tls.txt" nginx 3 1)"
echo "ratio cpu_saving_vs_nginx_tls $(ratio_of "$WORK/tls.txt" nginx 4 0)"
