#!/usr/bin/env bash
# make bench: every benchmark side by side with its peers (method: bench/README.md). Stops at the first
# benchmark that fails (a peer that cannot start, a wrong answer). Prints each benchmark's own report,
# then all `figure` lines, then all `ratio` lines (higher is better for waitless on every one).
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$(date +%s)
run() {
  echo "== $*"
  "$@" | tee -a "$out"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" -ne 0 ]; then
    echo "bench: $* failed (exit $rc): stopping" >&2
    exit 1
  fi
}
# loop_bench pins itself (single-threaded lines on one CPU, each posting thread on a CPU of its own, pool
# lines free to use every core): 10 rounds, 160 for the cross-thread lines, one pair per child process
# (bench/README.md; about 6.5 minutes).
run "$BUILD/loop_bench" 10 160
run "$BUILD/router_bench" 7
run "$BUILD/json_bench" 3
run "$BUILD/resp_bench" 3
for b in bench/*_bench.sh; do
  [ -e "$b" ] || continue
  run bash "$b" "$BUILD"
done
echo "== figures"
grep '^figure ' "$out"
echo "== ratios (higher is better for waitless; $(($(date +%s) - start)) s in all)"
grep '^ratio ' "$out"
