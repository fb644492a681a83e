#!/usr/bin/env bash
# Differential and request-smuggling suite: the corpus tests/adversarial/cases.txt sent to Node's http
# server, nginx and `waitless hello`, each started here on a free loopback port and stopped on exit.
# Usage: tests/adversarial_e2e.sh [BUILD_DIR]   (BUILD_DIR holds the `waitless` binary; default build)
# Exits 0 only when tests/adversarial/run.py does and every server started: a peer (Node, nginx) that is
# missing or does not start fails the suite with the reason printed (a comparison with fewer peers proves
# less, and scripts/deps.sh installs both); whatever did start is still compared first. Extra arguments
# after BUILD_DIR go to run.py (e.g. --only cl- --dump).
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift $(( $# > 0 ? 1 : 0 ))
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
ADV=tests/adversarial
TMP=$(mktemp -d /tmp/waitless-adv.XXXXXX)
PIDS=()
PEER_FAILURES=()
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    # nginx's master stops its worker on SIGTERM; give every peer a second, then force.
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port that is free on 127.0.0.1 right now (the kernel picks it; a race with another process taking it
# before our server binds is possible but shows as a clear start failure).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_listening PID PORT: until 127.0.0.1:PORT accepts (5 s at most) while PID lives.
wait_listening() {
  local pid=$1 port=$2
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 1
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), timeout=0.2).close()" \
      2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# The runner's own tests first: a harness that cannot see a smuggled response proves nothing.
if ! python3 "$ADV/selftest.py" >"$TMP/selftest.log" 2>&1; then
  echo "adversarial: FAIL: run.py self-test"; cat "$TMP/selftest.log"
  exit 1
fi

TARGETS=()

# --- Node 20 http
if command -v node >/dev/null; then
  NODE_PORT=$(free_port)
  node "$ADV/node_server.js" "$NODE_PORT" >"$TMP/node.log" 2>&1 &
  PIDS+=($!)
  if wait_listening $! "$NODE_PORT"; then
    TARGETS+=("node=127.0.0.1:$NODE_PORT")
  else
    PEER_FAILURES+=("node did not start listening on 127.0.0.1:$NODE_PORT: $(tail -5 "$TMP/node.log" | tr '\n' ' ')")
  fi
else
  PEER_FAILURES+=("node not installed (scripts/deps.sh installs nodejs)")
fi

# --- nginx (Debian nginx-light): one worker, no daemon, everything in the temp dir
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ -x "$NGINX" ]; then
  NGINX_PORT=$(free_port)
  mkdir -p "$TMP/nginx"
  # As root the master would run the worker as nobody, which cannot enter the 0700 temp dir.
  USER_LINE=""; [ "$(id -u)" -eq 0 ] && USER_LINE="user root;"
  cat >"$TMP/nginx/nginx.conf" <<EOF
$USER_LINE
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  default_type text/plain;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { return 200 "ok"; }
  }
}
EOF
  "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" >"$TMP/nginx.log" 2>&1 &
  PIDS+=($!)
  if wait_listening $! "$NGINX_PORT"; then
    TARGETS+=("nginx=127.0.0.1:$NGINX_PORT")
  else
    PEER_FAILURES+=("nginx did not start listening on 127.0.0.1:$NGINX_PORT: $(cat "$TMP/nginx.log" "$TMP/nginx/error.log" 2>/dev/null | tail -5 | tr '\n' ' ')")
  fi
else
  PEER_FAILURES+=("nginx not installed (scripts/deps.sh installs nginx-light)")
fi

# --- waitless hello
WAITLESS_OK=0
if [ -x "$BUILD/waitless" ]; then
  W_PORT=$(free_port)
  "$BUILD/waitless" hello --port "$W_PORT" --threads 1 >"$TMP/waitless.log" 2>&1 &
  PIDS+=($!)
  if wait_listening $! "$W_PORT"; then
    TARGETS+=("waitless=127.0.0.1:$W_PORT")
    WAITLESS_OK=1
  else
    echo "adversarial: '$BUILD/waitless hello' did not start listening:"; head -20 "$TMP/waitless.log"
  fi
else
  echo "adversarial: $BUILD/waitless not found"
fi

for f in "${PEER_FAILURES[@]}"; do echo "adversarial: peer: $f"; done
if [ ${#TARGETS[@]} -eq 0 ]; then
  echo "adversarial: no server could be started"
  exit 1
fi

timeout 150 python3 "$ADV/run.py" "$@" "${TARGETS[@]}"
rc=$?
if [ ${#PEER_FAILURES[@]} -gt 0 ]; then
  for f in "${PEER_FAILURES[@]}"; do echo "adversarial: FAIL: peer: $f"; done
  exit 1
fi
if [ $WAITLESS_OK -eq 0 ]; then
  echo "adversarial: FAIL: waitless hello is not available, only the peers were compared"
  exit 1
fi
if [ $rc -ne 0 ]; then
  echo "adversarial: FAIL (run.py exit $rc)"
  exit 1
fi
echo "adversarial: OK"
