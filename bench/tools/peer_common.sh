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

# The median over the rounds of one peer's figure: FILE holds lines "ROUND PEER COLUMNS..." as
# measure_peers.sh writes them.
median_of() {  # FILE PEER COLUMN
  awk -v n="$2" -v c="$3" '$2 == n {v[++k] = $c} END { if (!k) { print "?"; exit }
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    print (k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2) }' "$1"
}

# The median over rounds of waitless's figure against PEER's in the same round, turned so that higher is
# better for waitless: waitless / peer when the figure's higher is better (1), peer / waitless when not (0).
ratio_of() {  # FILE PEER COLUMN HIGHER_IS_BETTER(1|0)
  awk -v p="$2" -v c="$3" -v up="$4" '{ v[$1, $2] = $c; if ($1 > R) R = $1 }
    END { for (r = 1; r <= R; r++) { w = v[r, "waitless"]; o = v[r, p]
        if (w > 0 && o > 0) x[++k] = up ? w / o : o / w }
      if (!k) { print "?"; exit }
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
      printf "%.3f\n", k % 2 ? x[(k + 1) / 2] : (x[k / 2] + x[k / 2 + 1]) / 2 }' "$1"
}
