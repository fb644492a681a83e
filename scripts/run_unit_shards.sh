#!/usr/bin/env bash
# Runs the unit test binaries of a build directory as GoogleTest shards, all shards at once, instead of one
# process per test (ctest's way). Why: under ASan+UBSan (with libFuzzer's coverage) starting the 180 MB
# unit_tests binary costs ~0.3 s of CPU, so 800 processes spent ~270 s of CPU starting up, more than the
# tests themselves (~45 s of CPU); and the tests mostly wait on timers and sockets, so more shards than
# cores finish sooner. A shard's output is printed whole if it fails (with the failed tests' names at its
# end), else one line. A sanitizer report aborts its shard, which fails.
# Usage: scripts/run_unit_shards.sh BUILD_DIR [SHARDS] [GTEST_FILTER]
#   SHARDS: shards of unit_tests (default 6; app_tests, a few seconds, is one more); GTEST_FILTER: e.g.
#   '-*Emfile*' to leave tests out (default: every test).
set -u
BUILD=$1
SHARDS=${2:-6}
FILTER=${3:-*}
LIMIT=${SHARD_TIMEOUT:-900}  # seconds per shard: a hang fails the shard instead of holding CI
out=$(mktemp -d /tmp/waitless-shards.XXXXXX)
trap 'rm -rf "$out"' EXIT

declare -A label=()
start_shard() {  # binary total index
  local bin=$1 total=$2 index=$3 name
  name="$(basename "$bin") shard $((index + 1))/$total"
  GTEST_TOTAL_SHARDS=$total GTEST_SHARD_INDEX=$index GTEST_FILTER=$FILTER \
    timeout -k 10 "$LIMIT" "$bin" > "$out/$index-$(basename "$bin").log" 2>&1 &
  label[$!]="$name|$out/$index-$(basename "$bin").log"
}

t0=$(date +%s)
[ -x "$BUILD/unit_tests" ] || { echo "run_unit_shards: no $BUILD/unit_tests"; exit 1; }
for ((i = 0; i < SHARDS; i++)); do start_shard "$BUILD/unit_tests" "$SHARDS" "$i"; done
[ -x "$BUILD/app_tests" ] && start_shard "$BUILD/app_tests" 1 0

failed=0
while [ ${#label[@]} -gt 0 ]; do
  wait -n -p pid; rc=$?
  [ -n "${pid:-}" ] || break
  IFS='|' read -r name log <<< "${label[$pid]}"
  unset "label[$pid]"
  ran=$(grep -E '^\[==========\] [0-9]+ tests? from' "$log" | tail -1 | sed 's/^\[==========\] //')
  if [ "$rc" -eq 0 ]; then
    echo "PASS $name: ${ran:-no summary}"
  else
    failed=$((failed + 1))
    cat "$log"
    [ "$rc" -eq 124 ] && echo "(shard timed out after ${LIMIT} s)"
    echo "FAIL $name (exit $rc)"
  fi
done
echo "unit shards: $failed failed, $(( $(date +%s) - t0 )) s"
[ "$failed" -eq 0 ]
