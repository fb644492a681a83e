#!/usr/bin/env bash
# Runs a command beside a throwaway Redis: redis-server on a free loopback port, no persistence, in a temp
# dir, stopped (and the dir removed) when the command ends, also on failure or interrupt.
#   tests/data/start_redis.sh ./build/unit_tests --gtest_filter='Redis*'
# The command gets WAITLESS_REDIS=127.0.0.1:<port>; its exit status is this script's.
set -euo pipefail
command -v redis-server >/dev/null || { echo "start_redis: redis-server not found (scripts/deps.sh installs it)" >&2; exit 1; }
dir=$(mktemp -d /tmp/waitless-redis.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
  --logfile "$dir/redis.log" --daemonize no &
pid=$!
for _ in $(seq 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "start_redis: redis-server exited:" >&2; cat "$dir/redis.log" >&2; exit 1; }
  sleep 0.05
done
redis-cli -p "$port" ping >/dev/null || { echo "start_redis: redis-server did not answer on $port" >&2; exit 1; }
echo "start_redis: redis-server $(redis-server --version | grep -o 'v=[0-9.]*') on 127.0.0.1:$port (pid $pid)"
set +e
WAITLESS_REDIS=127.0.0.1:$port "$@"
exit $?
