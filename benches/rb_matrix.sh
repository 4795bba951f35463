#!/usr/bin/env bash
# redis-benchmark against redis-server and damselfly side by side, with each server's CPU time:
# the issue-6 matrix (SET and GET, pipeline 1 and 16, pinned and unpinned, 1 and 2 threads).
#
# For each configuration both servers start fresh; then, ROUNDS times, every (pipeline, test)
# runs against one server and then the other, alternating which goes first, so drift falls on
# both alike. Each run is
#   [taskset -c 1] redis-benchmark -p PORT -n N -c 50 -d 256 -P P -t TEST -q --csv $RB_EXTRA
# and the server's utime+stime (/proc/PID/stat, all threads) is read before and after it.
# Printed per (configuration, pipeline, test, server): median ops/s, median p99, and ops per
# server CPU-second (all rounds' ops over all rounds' CPU), then damselfly/redis ratios.
#
# Usage: benches/rb_matrix.sh [N]                 (default 200000 requests per run)
# Env:   CONFIGS="pin1 free1 free2"   pin1: servers on CPU 0 (damselfly 1 thread), client on
#          CPU 1; free1/free2: nothing pinned, damselfly with 1/2 threads; pin2: servers on
#          CPU 0, damselfly 2 threads (both on the one CPU)
#        PIPELINES="1 16"  TESTS="set get"  ROUNDS=3  CLIENTS=50  DATA_SIZE=256
#        RB_EXTRA (more redis-benchmark flags, e.g. "-r 100000" for random keys; without it
#          every request hits the one key "key:__rand_int__", as in the issue's command)
#        DAMSELFLY_BIN, REDIS_BIN, CARGO_TARGET_DIR (where damselfly is built)
set -euo pipefail

N=${1:-200000}
CONFIGS=${CONFIGS:-"pin1 free1 free2"}
PIPELINES=${PIPELINES:-"1 16"}
TESTS=${TESTS:-"set get"}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
DATA_SIZE=${DATA_SIZE:-256}
RB_EXTRA=${RB_EXTRA:-}
READY_WAIT_S=10
# A run is bounded: even 10k ops/s finish N=200000 in 20 s.
RUN_TIME_MAX_S=300

# shellcheck source=rb_common.sh
source "$(dirname "$0")/rb_common.sh"
locate_servers
command -v redis-benchmark >/dev/null || { echo "redis-benchmark missing (redis-tools)" >&2; exit 2; }

work=$(mktemp -d /tmp/damselfly-rb.XXXXXX)
pids=()
trap cleanup EXIT

# start NAME PINNED THREADS: starts a server; sets started_pid and started_port.
start() {
  local name=$1 pinned=$2 threads=$3 port pin=()
  port=$(free_port)
  [[ $pinned == yes ]] && pin=(taskset -c 0)
  case $name in
    redis)
      "${pin[@]}" "$REDIS_BIN" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$work" >"$work/redis.log" 2>&1 &
      ;;
    damselfly)
      "${pin[@]}" "$DAMSELFLY_BIN" --port "$port" --bind 127.0.0.1 \
        --proactor_threads "$threads" >"$work/damselfly.log" 2>&1 &
      ;;
  esac
  started_pid=$!
  started_port=$port
  pids+=("$started_pid")
  wait_ready "$port"
}

# bench PID PORT PINNED P TEST: one redis-benchmark run; appends "rps p99 ticks" to a file.
bench() {
  local pid=$1 port=$2 pinned=$3 p=$4 test=$5 out=$6 pin=() before after csv
  [[ $pinned == yes ]] && pin=(taskset -c 1)
  before=$(cpu_ticks "$pid")
  # shellcheck disable=SC2086 # RB_EXTRA is a list of flags
  csv=$(timeout "$RUN_TIME_MAX_S" "${pin[@]}" redis-benchmark -p "$port" -n "$N" -c "$CLIENTS" \
    -d "$DATA_SIZE" -P "$p" -t "$test" -q --csv $RB_EXTRA)
  after=$(cpu_ticks "$pid")
  echo "$csv" | csv_row $((after - before)) >>"$out"
}

echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "kernel $(uname -r); commit $(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo '?');" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# redis-benchmark -n $N -c $CLIENTS -d $DATA_SIZE -P <p> -t <test> $RB_EXTRA; $ROUNDS rounds"
printf '%-6s %-3s %-4s %-10s %10s %9s %12s\n' config P test server 'ops/s' 'p99 ms' 'ops/cpu-s'
for config in $CONFIGS; do
  case $config in
    pin1) pinned=yes threads=1 ;;
    pin2) pinned=yes threads=2 ;;
    free1) pinned=no threads=1 ;;
    free2) pinned=no threads=2 ;;
    *) echo "unknown config $config" >&2; exit 2 ;;
  esac
  start redis "$pinned" 1
  rpid=$started_pid rport=$started_port
  start damselfly "$pinned" "$threads"
  dpid=$started_pid dport=$started_port
  for round in $(seq 1 "$ROUNDS"); do
    for p in $PIPELINES; do
      for test in $TESTS; do
        if ((round % 2)); then order="redis damselfly"; else order="damselfly redis"; fi
        for server in $order; do
          if [[ $server == redis ]]; then
            bench "$rpid" "$rport" "$pinned" "$p" "$test" "$work/$config.$p.$test.redis"
          else
            bench "$dpid" "$dport" "$pinned" "$p" "$test" "$work/$config.$p.$test.damselfly"
          fi
        done
      done
    done
  done
  kill -TERM "$rpid" "$dpid"
  wait "$rpid" "$dpid" 2>/dev/null || true
  for p in $PIPELINES; do
    for test in $TESTS; do
      read -r r_rps r_p99 r_eff < <(summary "$work/$config.$p.$test.redis")
      read -r d_rps d_p99 d_eff < <(summary "$work/$config.$p.$test.damselfly")
      printf '%-6s %-3s %-4s %-10s %10s %9s %12s\n' "$config" "$p" "$test" redis "$r_rps" "$r_p99" "$r_eff"
      printf '%-6s %-3s %-4s %-10s %10s %9s %12s\n' "$config" "$p" "$test" "damselfly/$threads" \
        "$d_rps" "$d_p99" "$d_eff"
      awk -v a="$d_rps" -v b="$r_rps" -v c="$d_p99" -v d="$r_p99" -v e="$d_eff" -v f="$r_eff" \
        -v cfg="$config" -v p="$p" -v t="$test" 'BEGIN {
          printf "%-6s %-3s %-4s %-10s %9.2fx %8.2fx %11.2fx\n", cfg, p, t, "ratio",
            (b > 0 ? a / b : 0), (d > 0 ? c / d : 0), (f > 0 ? e / f : 0) }'
    done
  done
done
