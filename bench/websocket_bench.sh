#!/usr/bin/env bash
# WebSocket side by side: the waitless server (build/websocket_bench serve: one loop) against a Node `ws`
# server doing the same (bench/peers/ws_server.js), each pinned to CPU 0, driven by build/websocket_bench's
# load generator pinned to CPU 1 (C++ on raw sockets with waitless's frame code: see the .cpp for why, and
# its loader_cpu figure for its own CPU share).
#   echo:      64 clients, 16 messages of 32 bytes in flight each; echoes per second
#   broadcast: 1 000 subscribers, one publisher sending 1 message per ms (its send time inside); deliveries
#              per second and the p99 delivery latency measured by the subscribers
# Each run: 1 s warm-up + DUR s (default 5), loopback only; every process is stopped at the end.
# `ratio` lines (higher is better for waitless): ws_echo_speed_vs_node, ws_broadcast_delivered_vs_node,
# ws_broadcast_p99_saving_vs_node (Node's p99 / waitless's). Goal (issue 11): >= 5 on echo and broadcast.
# usage: bench/websocket_bench.sh [BUILD_DIR]   env: DUR (5) WS_BENCH_PORT_BASE (8130) WAITLESS_PEERS
set -u
BUILD=$(readlink -f "${1:-build}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/tools/peer_common.sh"
PEERS=${WAITLESS_PEERS:-/tmp/waitless-peers}
P=${WS_BENCH_PORT_BASE:-8130}
DUR=${DUR:-5}
WORK=$(mktemp -d /tmp/waitless-ws-bench.XXXXXX)
trap 'peer_stop; rm -rf "$WORK"' EXIT
export PEER_LOG_DIR=$WORK PEER_NOFILE=8192
BIN="$BUILD/websocket_bench"
[ -x "$BIN" ] || bench_fail "no $BIN: build first (make build)"
for tool in node taskset curl; do command -v "$tool" >/dev/null || bench_fail "$tool not found: run scripts/deps.sh"; done
[ -d "$PEERS/node_modules/ws" ] || bench_fail "ws not installed in $PEERS: run WITH_NPM=1 scripts/deps.sh"
ulimit -n 8192 2>/dev/null || true

# CPU 1 for the load generator when there are two CPUs or more.
LOAD_CPU=$(($(nproc) > 1 ? 1 : 0))
measure() { # NAME PORT CMD: start the server, run both loads, stop it; appends "NAME key value" lines
  local name=$1 port=$2 cmd=$3 out
  peer_start "$name" "http://127.0.0.1:$port/" 0 "$cmd"
  out=$(timeout $((DUR + 30)) taskset -c "$LOAD_CPU" "$BIN" echo "$port" 64 "$DUR" 16) ||
    { peer_stop; bench_fail "$name echo run failed: $out"; }
  echo "  $name $out"
  echo "$name $out" >>"$WORK/results"
  out=$(timeout $((DUR + 30)) taskset -c "$LOAD_CPU" "$BIN" broadcast "$port" 1000 "$DUR") ||
    { peer_stop; bench_fail "$name broadcast run failed: $out"; }
  echo "  $name $out"
  echo "$name $out" >>"$WORK/results"
  peer_stop
}

echo "-- WebSocket: echo (64 clients x 16 in flight) and broadcast (1 msg/ms to 1000), ${DUR} s each"
measure waitless "$P" "$BIN serve $P"
measure node "$((P + 1))" "env NODE_PATH=$PEERS/node_modules node $ROOT/bench/peers/ws_server.js $((P + 1))"

# value NAME KIND KEY: the figure after KEY on NAME's KIND line.
value() { awk -v n="$1" -v k="$2" -v key="$3" '$1 == n && $2 == k { for (i = 3; i < NF; i++) if ($i == key) print $(i + 1) }' "$WORK/results"; }
for name in waitless node; do
  echo "figure ws_${name}_echo_msgs_per_s $(value "$name" echo msgs_per_s)"
  echo "figure ws_${name}_broadcast_delivered_per_s $(value "$name" broadcast delivered_per_s)"
  echo "figure ws_${name}_broadcast_p99_us $(value "$name" broadcast p99_us)"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.3f\n", a / b; else print "?" }'; }
echo_r=$(ratio "$(value waitless echo msgs_per_s)" "$(value node echo msgs_per_s)")
bc_r=$(ratio "$(value waitless broadcast delivered_per_s)" "$(value node broadcast delivered_per_s)")
p99_r=$(ratio "$(value node broadcast p99_us)" "$(value waitless broadcast p99_us)")
goal() { awk -v r="$2" -v n="$1" 'BEGIN { printf "goal %s >= 5x node ws: %s (%s)\n", n, (r != "?" && r >= 5) ? "met" : "missed", r }'; }
goal echo "$echo_r"
goal broadcast_delivered "$bc_r"
echo "ratio ws_echo_speed_vs_node $echo_r"
echo "ratio ws_broadcast_delivered_vs_node $bc_r"
echo "ratio ws_broadcast_p99_saving_vs_node $p99_r"
