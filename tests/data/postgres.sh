#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests and benchmarks: initdb into a temporary directory, on a free
# loopback port, run as the `postgres` user (created if absent: CI runs as root, and the server refuses
# to run as root).
#
#   eval "$(tests/data/postgres.sh start)"     # exports WAITLESS_PG (conninfo) and WAITLESS_PG_DIR
#   tests/data/postgres.sh stop "$WAITLESS_PG_DIR"
#   tests/data/postgres.sh kill9 DIR           # SIGKILL the postmaster and every backend (a crash)
#   tests/data/postgres.sh restart DIR         # start again on the same port and data
# Trust authentication on 127.0.0.1 only; fsync off (test data, not worth a disk flush).
set -euo pipefail

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] || { echo "postgres.sh: no PostgreSQL server installed (scripts/deps.sh installs it)" >&2; exit 1; }
  echo "$d"
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_server() {
  local dir=$1 port
  port=$(cat "$dir/port")
  as_pg "$(bindir)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
}

case "${1:-}" in
  start)
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    dir=$(mktemp -d /tmp/waitless-pg.XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    free_port > "$dir/port"
    as_pg "$(bindir)/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    start_server "$dir"
    echo "export WAITLESS_PG='host=127.0.0.1 port=$(cat "$dir/port") user=postgres dbname=postgres'"
    echo "export WAITLESS_PG_DIR='$dir'"
    ;;
  stop)
    dir=${2:?usage: postgres.sh stop DIR}
    [ -d "$dir/data" ] || exit 0
    as_pg "$(bindir)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  kill9)
    dir=${2:?usage: postgres.sh kill9 DIR}
    pid=$(head -1 "$dir/data/postmaster.pid")
    children=$(ps -o pid= --ppid "$pid" || true)
    kill -9 "$pid" $children 2>/dev/null || true
    # Wait until the port is free again (every process is gone).
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    ;;
  restart)
    dir=${2:?usage: postgres.sh restart DIR}
    start_server "$dir"
    ;;
  *)
    echo "usage: postgres.sh start | stop DIR | kill9 DIR | restart DIR" >&2
    exit 2
    ;;
esac
