#!/usr/bin/env bash
# build/db_bench against a throwaway PostgreSQL 15 (tests/data/postgres.sh), stopped at the end.
# Usage: bench/db_bench.sh [BUILD_DIR]   (bench/run_all.sh runs it); ROUNDS (default 5).
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SCRIPT="$PWD/tests/data/postgres.sh"
env_lines=$("$SCRIPT" start) || { echo "db_bench: could not start PostgreSQL" >&2; exit 1; }
eval "$env_lines"
trap '"$SCRIPT" stop "$WAITLESS_PG_DIR"' EXIT
"$BUILD/db_bench" "${ROUNDS:-5}"
