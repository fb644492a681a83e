#!/usr/bin/env bash
# The `waitless` command line: `--help` on the command and on every subcommand prints usage on stdout and
# exits 0; no subcommand, an unknown subcommand, an unknown option or a bad value names the problem on
# stderr and exits 2. Then `waitless hello` with valid options serves /plaintext and stops on SIGTERM.
# Usage: tests/cli_e2e.sh [BUILD_DIR]   (as tests/run_e2e.sh runs it; prints 'N passed, N failed')
set -u
cd "$(dirname "$0")/.."
BIN=${1:-build}/waitless
[ -x "$BIN" ] || { echo "cli_e2e: $BIN not built"; exit 1; }
OUT=$(mktemp) ERR=$(mktemp)
trap 'rm -f "$OUT" "$ERR"' EXIT
pass=0 fail=0

# expect CODE PATTERN STREAM ARGS...: runs `waitless ARGS`, checks its exit status and that STREAM (out or
# err) matches the extended regex PATTERN.
expect() {
  local code=$1 pattern=$2 stream=$3
  shift 3
  timeout 10 "$BIN" "$@" >"$OUT" 2>"$ERR"
  local got=$?
  local file=$OUT
  [ "$stream" = err ] && file=$ERR
  if [ "$got" -eq "$code" ] && grep -Eq -- "$pattern" "$file"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: waitless $* -> exit $got (want $code), std$stream should match /$pattern/"
    sed 's/^/  stdout: /' "$OUT"
    sed 's/^/  stderr: /' "$ERR"
  fi
}

# Help: the command and each subcommand (the list is read from the command's own help).
expect 0 'Usage: waitless \[OPTIONS\] SUBCOMMAND' out --help
expect 0 'Usage: waitless' out -h
subcommands=$("$BIN" --help | awk '/^Subcommands:/ {on = 1; next} on && NF {print $1}')
[ -n "$subcommands" ] || { echo "FAIL: no subcommand listed by waitless --help"; fail=$((fail + 1)); }
for cmd in $subcommands; do
  expect 0 "Usage: waitless $cmd" out "$cmd" --help
  expect 2 'argument was not expected: --no-such-option' err "$cmd" --no-such-option
  expect 2 'argument was not expected: stray' err "$cmd" stray
done
for cmd in demo lab hello; do
  echo "$subcommands" | grep -qx "$cmd" || { echo "FAIL: $cmd missing from waitless --help"; fail=$((fail + 1)); }
done

# Usage errors of the command itself.
expect 2 'A subcommand is required' err
expect 2 'argument was not expected: no-such-command' err no-such-command
expect 2 'argument was not expected: --no-such-option' err --no-such-option

# Bad values: each is named, with the range it must be in.
expect 2 "--port: 'abc' is not a whole number in \[0 - 65535\]" err hello --port abc
expect 2 "--port: '70000' is not a whole number" err hello --port 70000
expect 2 "--port: '-1' is not a whole number" err hello --port -1
expect 2 "--port: '80.5' is not a whole number" err hello --port 80.5
expect 2 "--threads: '1025' is not a whole number in \[0 - 1024\]" err hello --threads 1025
expect 2 "--threads: 'two' is not a whole number" err hello --threads two
expect 2 '--port: 1 required' err hello --port
expect 2 '--host: 1 required' err hello --host

# Valid options still run the server: --port 0 takes a free port, printed on stdout.
LOG=$(mktemp)
"$BIN" hello --port 0 --threads 1 --host 127.0.0.1 >"$LOG" 2>&1 &
server=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$LOG")
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -n "$port" ] && [ "$(curl -s --max-time 5 "http://127.0.0.1:$port/plaintext")" = "Hello, World!" ]; then
  pass=$((pass + 1))
else
  fail=$((fail + 1))
  echo "FAIL: waitless hello --port 0 did not serve /plaintext (port '$port')"
  sed 's/^/  log: /' "$LOG"
fi
kill -TERM "$server" 2>/dev/null
if timeout 10 tail --pid="$server" -f /dev/null; then
  wait "$server"
  status=$?
  if [ "$status" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: hello exited $status on SIGTERM"; fi
else
  fail=$((fail + 1))
  echo "FAIL: hello did not stop within 10 s of SIGTERM"
  kill -KILL "$server" 2>/dev/null
fi
rm -f "$LOG"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
