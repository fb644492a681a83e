#!/usr/bin/env bash
# make bench: every benchmark, side by side with its peers; `ratio <metric> <value>` lines last.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
out=$(mktemp)
echo "== loop_bench (waitless vs libuv)"
taskset -c 0 "$BUILD/loop_bench" 3 | tee -a "$out"
for b in bench/*_bench.sh; do
  [ -e "$b" ] || continue
  echo "== $b"
  bash "$b" "$BUILD" | tee -a "$out"
done
echo "== ratios"
grep '^ratio ' "$out"
rm -f "$out"
