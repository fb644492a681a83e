# Sourced by the bench scripts: starting a peer server, checking its answer, stopping it, its process tree.
# A peer that cannot start, or answers anything but `200` with the body $BENCH_BODY ("Hello, World!" unless
# the caller set another), stops the benchmark with the reason (its log's last lines): a ratio against a
# broken peer would be a wrong figure.

BENCH_BODY=${BENCH_BODY:-'Hello, World!'}

bench_fail() {
  echo "bench: FAILED: $*" >&2
  exit 1
}

# The start of an nginx.conf for a benchmark peer, its files under DIR: one worker, no daemon, no access
# log, unbounded keep-alive; the caller writes the rest of the http block (servers) and closes it.
nginx_config_start() {  # DIR
  cat <<CONF
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $1;
  proxy_temp_path $1;
  fastcgi_temp_path $1;
  uwsgi_temp_path $1;
  scgi_temp_path $1;
CONF
}

# The pids of a process and all its descendants (nginx forks its worker).
proc_tree() {
  echo "$1"
  local c
  for c in $(pgrep -P "$1"); do proc_tree "$c"; done
}

# CPU ticks (user + system) spent so far by a process tree.
tree_ticks() {
  local t=0 p
  for p in $(proc_tree "$1"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}

# Sum over a process tree of a /proc/PID/status field in kB (VmRSS, VmHWM).
tree_status_kb() {
  local t=0 p
  for p in $(proc_tree "$1"); do t=$((t + $(awk -v f="$2:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done
  echo "$t"
}

# peer_start NAME URL CPUS CMD: starts CMD (pinned to CPUS) in the background, waits until URL answers,
# checks status and body. Sets PEER_PID. Stops the benchmark if the port is already taken, if the peer
# exits or does not answer within 10 s, or if its answer is wrong. Extra env: PEER_LOG_DIR, PEER_NOFILE.
peer_start() {
  local name=$1 url=$2 cpus=$3 cmd=$4 log="${PEER_LOG_DIR:-/tmp}/peer_$1.log"
  if curl -s -o /dev/null --max-time 1 "$url"; then
    bench_fail "$name: $url already answers before $name was started (another server holds the port)"
  fi
  taskset -c "$cpus" bash -c "ulimit -n ${PEER_NOFILE:-4096}; exec $cmd" >"$log" 2>&1 &
  PEER_PID=$!
  local i
  for i in $(seq 100); do
    curl -s -o /dev/null --max-time 1 "$url" && break
    if ! kill -0 "$PEER_PID" 2>/dev/null; then
      bench_fail "$name exited at start ($cmd): $(tail -n 5 "$log" | tr '\n' ' ')"
    fi
    sleep 0.1
  done
  local status body
  status=$(curl -s -o "$log.body" --max-time 2 -w '%{http_code}' "$url")
  body=$(cat "$log.body" 2>/dev/null)
  if [ "$status" != 200 ] || [ "$body" != "$BENCH_BODY" ]; then
    peer_stop
    bench_fail "$name did not answer $url with 200 \"$BENCH_BODY\" within 10 s (status ${status:-none}," \
      "body \"${body:0:60}\"; $cmd): $(tail -n 5 "$log" | tr '\n' ' ')"
  fi
}

peer_stop() {
  [ -n "${PEER_PID:-}" ] || return 0
  kill "$PEER_PID" 2>/dev/null
  wait "$PEER_PID" 2>/dev/null
  PEER_PID=
}
