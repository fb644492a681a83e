#!/usr/bin/env bash
# The database tests against a real PostgreSQL 15: starts a throwaway server (tests/data/postgres.sh:
# initdb in a temporary directory, free loopback port), runs the unit tests that need it with WAITLESS_PG
# set (without it they are skipped), and stops the server at the end, even on failure.
# Usage: tests/data_e2e.sh [BUILD_DIR]   (as tests/run_e2e.sh runs it)
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SCRIPT="$PWD/tests/data/postgres.sh"
env_lines=$("$SCRIPT" start) || { echo "data_e2e: FAIL: could not start PostgreSQL"; exit 1; }
eval "$env_lines"
export WAITLESS_PG_SCRIPT="$SCRIPT"
trap '"$SCRIPT" stop "$WAITLESS_PG_DIR"' EXIT
echo "data_e2e: PostgreSQL at $WAITLESS_PG"
timeout 300 "$BUILD/unit_tests" --gtest_filter='Postgres*:PoolPostgres.*:Pool.*:Sqlite*' --gtest_brief=1
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "data_e2e: FAIL (unit_tests exited $rc); server log:"
  tail -20 "$WAITLESS_PG_DIR/server.log"
  exit 1
fi
echo "data_e2e: PASS"
