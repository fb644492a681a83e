#!/usr/bin/env bash
# Installs what waitless needs to build, test and benchmark, idempotently.
# Runs `apt-get update` only when a package is missing; npm peers go to a scratch folder outside the repo.
# DEPS=run: only what building and running `waitless` needs (make run): no test, benchmark or lint tools,
# no database or proxy servers.
set -euo pipefail
RUN_PKGS=(build-essential cmake ninja-build ccache pkg-config clang-16 lld-16 llvm-16 libcli11-dev libfmt-dev
          node-llhttp libc-ares-dev libssl-dev zlib1g-dev libbrotli-dev libsqlite3-dev libpq-dev
          libboost-json1.81-dev curl)
# clang 16 is the default compiler (lld-16 links, llvm-16's ar/ranlib archive LTO objects, libclang-rt-16-dev
# holds the sanitizer runtimes, libfuzzer-16-dev libFuzzer, for `make fuzz` too); g++ stays buildable.
PKGS=(build-essential cmake ninja-build ccache pkg-config g++ clang-16 lld-16 llvm-16 libclang-rt-16-dev
      libfuzzer-16-dev libcli11-dev
      googletest libgtest-dev libgmock-dev libbenchmark-dev libfmt-dev node-llhttp libc-ares-dev
      libssl-dev zlib1g-dev libbrotli-dev libsqlite3-dev libpq-dev postgresql libuv1-dev libhiredis-dev redis-server
      libboost-json1.81-dev libsimdjson-dev curl wrk
      nginx-light haproxy nodejs slowhttptest procps psmisc chromium
      clang-format clang-tidy valgrind
      openssl ca-certificates)  # the TLS tests make throwaway certificates; the client's default trust store
[ "${DEPS:-all}" = run ] && PKGS=("${RUN_PKGS[@]}")
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# npm peers (benchmarks and tests only) live outside the repo.
if [ "${WITH_NPM:-0}" = 1 ]; then
  PEERS=${WAITLESS_PEERS:-/tmp/waitless-peers}
  mkdir -p "$PEERS"
  # ws: the WebSocket peer of tests/websocket_e2e.sh and tests/demo_e2e.sh; playwright-core drives Debian's
  # chromium in tests/demo_browser.js (it never downloads a browser of its own); pg: the PostgreSQL client of
  # the Fastify peer in bench/db_http_bench.sh; morgan, cors and @fastify/cors: the Express and Fastify apps
  # of bench/web_framework_bench.sh.
  if [ ! -d "$PEERS/node_modules/express" ] || [ ! -d "$PEERS/node_modules/fastify" ] ||
     [ ! -d "$PEERS/node_modules/ws" ] || [ ! -d "$PEERS/node_modules/playwright-core" ] ||
     [ ! -d "$PEERS/node_modules/pg" ] || [ ! -d "$PEERS/node_modules/morgan" ] ||
     [ ! -d "$PEERS/node_modules/cors" ] || [ ! -d "$PEERS/node_modules/@fastify/cors" ]; then
    (cd "$PEERS" && [ -f package.json ] || (cd "$PEERS" && npm init -y >/dev/null)
     cd "$PEERS" && npm install --silent --no-audit --no-fund express@5 fastify@5 ws@8 playwright-core@1 pg@8 \
       morgan@1 cors@2 @fastify/cors@11 >/dev/null)
  fi
fi
