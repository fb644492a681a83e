#!/usr/bin/env bash
# End-to-end tests: each tests/*_e2e.sh gets the build directory; prints 'N passed, N failed'.
# E2E_JOBS scripts run at a time (default 2): most of a script's time is spent waiting on servers, peers
# and timers, and each one takes free loopback ports and its own temporary directory. A script's output
# is printed whole when it ends, with its time, so parallel runs do not interleave.
set -u
BUILD=${1:-build}
JOBS=${E2E_JOBS:-2}
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

run_one() {  # script -> its log file; exit status of the script
  local t=$1 start=$SECONDS rc=0
  timeout 600 bash "$t" "$BUILD" >"$logs/$(basename "$t").log" 2>&1 || rc=$?
  echo "($((SECONDS - start)) s)" >>"$logs/$(basename "$t").log"
  return "$rc"
}

pass=0; fail=0; running=0
declare -A script_of
collect() {  # waits for one script to end and reports it
  local pid rc=0
  wait -n -p pid || rc=$?
  local t=${script_of[$pid]}
  cat "$logs/$(basename "$t").log"
  if [ "$rc" -eq 0 ]; then pass=$((pass + 1)); echo "PASS $t"; else fail=$((fail + 1)); echo "FAIL $t"; fi
  running=$((running - 1))
}

for t in tests/*_e2e.sh; do
  [ -e "$t" ] || continue
  [ "$t" = tests/run_e2e.sh ] && continue
  [ "$running" -ge "$JOBS" ] && collect
  run_one "$t" &
  script_of[$!]=$t
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do collect; done
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
