#!/usr/bin/env bash
# The reliability suite: slow clients, floods, exhaustion, zero-loss shutdown, the keep-alive race and fs
# faults against `waitless hello` on loopback (see tests/reliability/README.md). Prints PASS/FAIL per check, then the table
# (test, cases, passed, figure); exits non-zero if any check failed. About 4 minutes in full.
# Usage: tests/reliability/run.sh [BUILD_DIR] [--quick] [--only slow,flood,exhaust,shutdown,race,fs]
#   --quick: the CI subset (flood without reading, oversized heads, 10 GB body, ulimit 256, shutdown,
#            the keep-alive race against waitless).
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
[ $# -gt 0 ] && shift
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
TMP=$(mktemp -d /tmp/waitless-reliability.XXXXXX)
PY_PID=

# Every server and client the driver starts leads its own session; their pids are in $TMP/pids. The driver
# kills them itself on the way out; this trap also does, should the driver itself be killed.
cleanup() {
  if [ -n "$PY_PID" ] && kill -0 "$PY_PID" 2>/dev/null; then
    kill -TERM "$PY_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$PY_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PY_PID" 2>/dev/null
  fi
  if [ -f "$TMP/pids" ]; then
    while read -r pid; do
      # Only a process that still leads the session it was started in (not a recycled pid).
      [ "$(ps -o sid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ] && kill -KILL -- "-$pid" 2>/dev/null
    done <"$TMP/pids"
  fi
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ! -x "$BUILD/waitless" ]; then
  echo "FAIL setup: $BUILD/waitless not found (build first: make build)"
  exit 1
fi
if ! cc -O2 -Wall -o "$TMP/holdconns" tests/reliability/holdconns.c 2>"$TMP/cc.log"; then
  echo "FAIL setup: cannot build tests/reliability/holdconns.c"; cat "$TMP/cc.log"
  exit 1
fi
RELIABILITY_PIDS="$TMP/pids" PYTHONDONTWRITEBYTECODE=1 python3 -B tests/reliability/main.py \
  --build "$BUILD" --tmp "$TMP" "$@" &
PY_PID=$!
wait "$PY_PID"
rc=$?
PY_PID=
exit $rc
