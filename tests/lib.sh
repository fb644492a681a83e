# Sourced by the end-to-end scripts after `set -u; cd "$(dirname "$0")/.."`:
#
#   . tests/lib.sh
#   e2e_setup web "${1:-build}"        # BUILD (absolute), TMP (removed at exit), fail=0
#   "$BUILD/web_test_server" ... & PID=$!        # one server: PID; more: PIDS+=($!)
#   wait_listening "$PID" "$PORT" || { failed setup "server did not start"; exit 1; }
#   check "status" 200 "$(curl ...)"
#   ...
#   exit $((fail > 0))
#
# At exit every process in PID and PIDS gets SIGKILL (a test that checks a graceful exit sends its own
# signal first and clears PID), and TMP is removed.

e2e_setup() {  # NAME BUILD_DIR
  BUILD=$2
  case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
  TMP=$(mktemp -d "/tmp/waitless-$1-e2e.XXXXXX")
  PID=
  PIDS=()
  fail=0
  trap e2e_cleanup EXIT
}

e2e_cleanup() {
  local p
  for p in ${PID:-} "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TMP"
}

pass() { echo "PASS $1"; }
failed() { echo "FAIL $1${2:+: $2}"; fail=$((fail + 1)); }
check() {  # NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then pass "$1"; else failed "$1" "expected [$2], got [$3]"; fi
}

# Fails the setup (and exits) unless every named binary is in BUILD.
need_binaries() {  # NAME...
  local b
  for b in "$@"; do
    [ -x "$BUILD/$b" ] || { failed "setup" "$BUILD/$b not found (cmake --build $BUILD)"; exit 1; }
  done
}

# A port that is free on 127.0.0.1 right now (the kernel picks it; another process taking it before our
# server binds shows as a clear start failure).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Until 127.0.0.1:PORT accepts a connection (5 s at most) while PID lives.
wait_listening() {  # PID PORT
  for _ in $(seq 1 100); do
    kill -0 "$1" 2>/dev/null || return 1
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $2), timeout=0.2).close()" 2>/dev/null &&
      return 0
    sleep 0.05
  done
  return 1
}
