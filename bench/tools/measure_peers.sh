#!/usr/bin/env bash
# measure_peers.sh OUT 'NAME|URL|CMD' ...: HTTP load on each peer in turn, server pinned to CPU 0 and wrk
# to CPU 1, ROUNDS rounds; each round runs every peer once (the order rotates from round to round), so
# ratios can be taken within a round. Per run: WARMUP s of load unmeasured, then DUR s measured.
# Prints one line per run and appends `ROUND NAME RPS CPU_US_PER_REQ P50_US P99_US PEAK_RSS_KB` to OUT.
# env: ROUNDS (3) WARMUP (2) DUR (4) CONNS (64) DEPTH (1: not pipelined; N: N requests per write)
#   WRK_HEADER (one request header for every request, e.g. "Origin: https://app.example.com"; none by default).
set -u
TOOLS=$(dirname "$(readlink -f "$0")")
. "$TOOLS/peer_common.sh"
OUT=$1
shift
ROUNDS=${ROUNDS:-3} WARMUP=${WARMUP:-2} DUR=${DUR:-4} CONNS=${CONNS:-64} DEPTH=${DEPTH:-1}
TCK=$(getconf CLK_TCK)
trap peer_stop EXIT

# wrk's latency ("123.45us", "1.20ms", "2.00s") in microseconds.
to_us() { awk -v v="$1" 'BEGIN{ u = v; sub(/[0-9.]+/, "", u); n = v + 0
  printf "%.1f", u == "us" ? n : u == "ms" ? n * 1000 : u == "s" ? n * 1e6 : -1 }'; }

specs=("$@")
for round in $(seq "$ROUNDS"); do
  for k in $(seq 0 $((${#specs[@]} - 1))); do
    spec=${specs[$(((k + round - 1) % ${#specs[@]}))]}
    IFS='|' read -r name url cmd <<<"$spec"
    peer_start "$name" "$url" 0 "$cmd"
    path=/${url#http://*/}
    extra=()
    [ -n "${WRK_HEADER:-}" ] && extra=(-H "$WRK_HEADER")  # pipeline.lua's wrk.format() sends it too
    [ "$DEPTH" -gt 1 ] && extra+=(-s "$TOOLS/pipeline.lua" -- "$DEPTH" "$path")
    taskset -c 1 wrk -t1 -c"$CONNS" -d"${WARMUP}s" "$url" "${extra[@]}" >/dev/null 2>&1
    t0=$(tree_ticks "$PEER_PID")
    res=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$url" "${extra[@]}" 2>&1)
    t1=$(tree_ticks "$PEER_PID")
    rss=$(tree_status_kb "$PEER_PID" VmHWM)
    alive=1
    kill -0 "$PEER_PID" 2>/dev/null || alive=0
    peer_stop
    reqs=$(awk '/requests in/{print $1}' <<<"$res")
    rps=$(awk '/^Requests\/sec/{printf "%d", $2}' <<<"$res")
    non2xx=$(awk '/Non-2xx/{print $NF}' <<<"$res")
    sockerr=$(grep 'Socket errors' <<<"$res" | sed 's/^ *//')
    [ "$alive" = 1 ] || bench_fail "$name died under load (round $round, depth $DEPTH)"
    [ -n "$reqs" ] && [ "$reqs" -gt 0 ] || bench_fail "$name: wrk measured no request (round $round): $res"
    [ -z "$non2xx" ] || bench_fail "$name answered $non2xx non-2xx responses under load (round $round)"
    p50=$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$res")")
    p99=$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$res")")
    cpu=$(awk -v d=$((t1 - t0)) -v n="$reqs" -v k="$TCK" 'BEGIN{ printf "%.3f", d / k * 1e6 / n }')
    printf 'round %d %-9s rps=%-8s cpu_us_per_req=%-7s p50_us=%-8s p99_us=%-8s peak_rss_kB=%s %s\n' \
      "$round" "$name" "$rps" "$cpu" "$p50" "$p99" "$rss" "$sockerr"
    echo "$round $name $rps $cpu $p50 $p99 $rss" >>"$OUT"
  done
done
