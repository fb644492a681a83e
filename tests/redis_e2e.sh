#!/usr/bin/env bash
# The Redis client and cache tests against a real redis-server (tests/data/start_redis.sh starts one on a
# free loopback port): typed replies, pipelining, pub/sub, timeouts, cancellation, server restart, the
# cache's Redis second level. Fails if any of them skipped (they skip only without WAITLESS_REDIS).
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
tests/data/start_redis.sh "$BUILD/unit_tests" --gtest_filter='Redis*:Cache*' 2>&1 | tee "$out" | grep -E '^\[  (PASSED|FAILED|SKIPPED) |^start_redis|FAILED|Failure' 
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  tail -50 "$out"
  exit "$rc"
fi
if grep -q '^\[  SKIPPED \]' "$out"; then
  echo "redis_e2e: tests skipped although a server was given"
  exit 1
fi
grep -E '^\[==========\] [0-9]+ tests' "$out" | tail -1
