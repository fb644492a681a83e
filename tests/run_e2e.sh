#!/usr/bin/env bash
# End-to-end tests: each tests/*_e2e.sh gets the build directory; prints 'N passed, N failed'.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
pass=0; fail=0
for t in tests/*_e2e.sh; do
  [ -e "$t" ] || continue
  [ "$t" = tests/run_e2e.sh ] && continue
  if timeout 600 bash "$t" "$BUILD"; then pass=$((pass + 1)); echo "PASS $t"; else fail=$((fail + 1)); echo "FAIL $t"; fi
done
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
