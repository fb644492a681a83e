#!/usr/bin/env bash
# The quick subset of the reliability suite (tests/reliability/README.md), under 2 minutes: pipelining
# without reading (RSS flat), oversized heads (431, 414 for a long target; closed), a 10 GB body (413, no
# growth), fd exhaustion under ulimit -n 256 (no busy loop, recovers), zero-loss SIGTERM under load, the
# keep-alive race at SIGTERM (64 one-at-a-time clients, 0 lost). Exits non-zero on failure.
# Usage: tests/reliability_quick_e2e.sh [BUILD_DIR]   (as tests/run_e2e.sh runs it)
set -u
cd "$(dirname "$0")/.."
exec timeout 300 tests/reliability/run.sh "${1:-build}" --quick
