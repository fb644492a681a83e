#!/usr/bin/env bash
# CPU per request of the web framework against the bare HTTP server: `waitless hello` (GET /plaintext) and
# an App (tests/web_test_server.cpp: errors() middleware, then a plain route, GET /hello), one loop each,
# driven in turn by wrk (1 thread, 32 connections, not pipelined). Server CPU time (utime + stime from
# /proc) over the requests wrk counted; best of 2 rounds each. Goal (issue 9): the App's CPU per request
# <= 1.3x hello's, i.e. the ratio line (hello / App) >= 0.77.
# Usage: bench/web_app_bench.sh [BUILD_DIR]
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
for t in waitless web_test_server; do
  [ -x "$BUILD/$t" ] || { echo "web_app_bench: $BUILD/$t missing"; exit 1; }
done
command -v wrk >/dev/null || { echo "web_app_bench: wrk missing"; exit 1; }
TMP=$(mktemp -d /tmp/waitless-web-bench.XXXXXX)
mkdir -p "$TMP/up"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
P1=$(port)
P2=$(port)
"$BUILD/waitless" hello --port "$P1" --threads 1 >/dev/null 2>&1 &
HELLO=$!
"$BUILD/web_test_server" "$P2" "$TMP/up" >/dev/null 2>&1 &
APP=$!
trap 'kill $HELLO $APP 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$P1/plaintext" && curl -s -o /dev/null "http://127.0.0.1:$P2/hello" && break
  sleep 0.05
done
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Prints microseconds of server CPU per request for one wrk run.
measure() {  # PID URL
  local c0 n c1
  c0=$(cpu_ticks "$1")
  n=$(wrk -t1 -c32 -d4s "$2" 2>/dev/null | awk '/requests in/ {print $1}')
  c1=$(cpu_ticks "$1")
  python3 -c "print('%.3f' % (($c1 - $c0) * 1e6 / $(getconf CLK_TCK) / max($n, 1)))"
}
best_hello=1e9
best_app=1e9
for _ in 1 2; do
  h=$(measure $HELLO "http://127.0.0.1:$P1/plaintext")
  a=$(measure $APP "http://127.0.0.1:$P2/hello")
  best_hello=$(python3 -c "print(min($best_hello, $h))")
  best_app=$(python3 -c "print(min($best_app, $a))")
done
echo "figure web_hello_cpu_us_per_request $best_hello"
echo "figure web_app_cpu_us_per_request $best_app"
echo "ratio web_app_cpu_vs_hello $(python3 -c "print('%.3f' % ($best_hello / $best_app))") (goal >= 0.77: App <= 1.3x hello)"
