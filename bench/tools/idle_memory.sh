#!/usr/bin/env bash
# idle_memory.sh N HOLDCONNS OUT 'NAME|URL|CMD' ...: user-space memory each server spends per idle
# keep-alive connection. Starts the server (CPU 0), reads its RSS (whole process tree), has HOLDCONNS
# (tests/reliability/holdconns.c) open N connections, send one request on each, read each answer and
# hold them idle; 1 s later reads RSS again. Prints and appends to OUT `NAME N BEFORE_KB AFTER_KB BYTES_PER_CONN`.
set -u
TOOLS=$(dirname "$(readlink -f "$0")")
. "$TOOLS/peer_common.sh"
N=$1 HOLD=$2 OUT=$3
shift 3
PEER_NOFILE=$((N + 1000))
trap peer_stop EXIT
for spec in "$@"; do
  IFS='|' read -r name url cmd <<<"$spec"
  port=${url#http://*:}
  port=${port%%/*}
  path=/${url#http://*/}
  peer_start "$name" "$url" 0 "$cmd"
  sleep 0.5  # let the first requests' allocations settle before the baseline
  before=$(tree_status_kb "$PEER_PID" VmRSS)
  coproc HOLDER { ulimit -n $((N + 1000)); exec "$HOLD" "$port" "$N" "$path"; }
  line=
  read -r line <&"${HOLDER[0]}"
  if [ "${line%% *}" != held ]; then
    kill "$HOLDER_PID" 2>/dev/null
    bench_fail "$name: holding $N idle connections failed: ${line:-holdconns said nothing}"
  fi
  sleep 1
  after=$(tree_status_kb "$PEER_PID" VmRSS)
  kill "$HOLDER_PID" 2>/dev/null
  wait "$HOLDER_PID" 2>/dev/null
  peer_stop
  per=$(((after - before) * 1024 / N))
  printf '%-9s held=%d rss_before_kB=%d rss_after_kB=%d bytes_per_idle_conn=%d\n' "$name" "$N" "$before" "$after" "$per"
  echo "$name $N $before $after $per" >>"$OUT"
done
