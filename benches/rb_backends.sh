#!/usr/bin/env bash
# redis-benchmark against redis-server and damselfly on each socket backend (io_uring, epoll) in
# one run, with each server's CPU time: the rb_matrix.sh method with a third server.
#
# All three servers start fresh, pinned to CPU 0 (damselfly with 1 thread), the client on
# CPU 1 (PIN=no: nothing pinned). Then, ROUNDS times, every (pipeline, test) runs against each
# server, the order rotating by round so drift falls on all alike. Each run is
#   taskset -c 1 redis-benchmark -p PORT -n N -c 50 -d 256 -P P -t TEST -q --csv
# and the server's utime+stime (/proc/PID/stat) is read before and after it. Printed per
# (pipeline, test, server): median ops/s, median p99, ops per server CPU-second (all rounds'
# ops over all rounds' CPU), and each damselfly backend's ratios to redis.
#
# Usage: benches/rb_backends.sh [N]        (default 200000 requests per run)
# Env:   PIPELINES="1 16"  TESTS="set get"  ROUNDS=3  CLIENTS=50  DATA_SIZE=256  PIN=yes
#        DAMSELFLY_BIN, REDIS_BIN, CARGO_TARGET_DIR (where damselfly is built)
set -euo pipefail

N=${1:-200000}
PIPELINES=${PIPELINES:-"1 16"}
TESTS=${TESTS:-"set get"}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
DATA_SIZE=${DATA_SIZE:-256}
PIN=${PIN:-yes}
READY_WAIT_S=10
RUN_TIME_MAX_S=300
SERVERS=(redis uring epoll)

# shellcheck source=rb_common.sh
source "$(dirname "$0")/rb_common.sh"
locate_servers

work=$(mktemp -d /tmp/damselfly-rbb.XXXXXX)
pids=()
trap cleanup EXIT

server_pin=() client_pin=()
if [[ $PIN == yes ]]; then server_pin=(taskset -c 0) client_pin=(taskset -c 1); fi

declare -A pid_of port_of
for server in "${SERVERS[@]}"; do
  port=$(free_port)
  case $server in
    redis) "${server_pin[@]}" "$REDIS_BIN" --port "$port" --bind 127.0.0.1 --save "" \
      --appendonly no --dir "$work" >"$work/redis.log" 2>&1 & ;;
    *) "${server_pin[@]}" "$DAMSELFLY_BIN" --port "$port" --bind 127.0.0.1 \
      --proactor_threads 1 --io_backend "$server" >"$work/$server.log" 2>&1 & ;;
  esac
  pid_of[$server]=$!
  port_of[$server]=$port
  pids+=("$!")
  wait_ready "$port"
done

bench() {
  local server=$1 p=$2 test=$3 pid=${pid_of[$1]} before after csv
  before=$(cpu_ticks "$pid")
  csv=$(timeout "$RUN_TIME_MAX_S" "${client_pin[@]}" redis-benchmark -p "${port_of[$server]}" \
    -n "$N" -c "$CLIENTS" -d "$DATA_SIZE" -P "$p" -t "$test" -q --csv)
  after=$(cpu_ticks "$pid")
  echo "$csv" | csv_row $((after - before)) \
    >>"$work/$p.$test.$server"
}

echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "kernel $(uname -r); commit $(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo '?');" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg); pinned: $PIN"
echo "# redis-benchmark -n $N -c $CLIENTS -d $DATA_SIZE -P <p> -t <test>; $ROUNDS rounds"
for round in $(seq 1 "$ROUNDS"); do
  for p in $PIPELINES; do
    for test in $TESTS; do
      for i in 0 1 2; do
        bench "${SERVERS[$(((i + round) % 3))]}" "$p" "$test"
      done
    done
  done
done
printf '%-3s %-4s %-10s %10s %8s %11s %8s %8s %9s\n' P test server 'ops/s' 'p99 ms' 'ops/cpu-s' \
  'ops/r' 'p99/r' 'cpu-eff/r'
for p in $PIPELINES; do
  for test in $TESTS; do
    read -r r_rps r_p99 r_eff < <(summary "$work/$p.$test.redis")
    for server in "${SERVERS[@]}"; do
      read -r rps p99 eff < <(summary "$work/$p.$test.$server")
      awk -v s="$server" -v p="$p" -v t="$test" -v a="$rps" -v c="$p99" -v e="$eff" \
        -v b="$r_rps" -v d="$r_p99" -v f="$r_eff" 'BEGIN {
          printf "%-3s %-4s %-10s %10s %8s %11s %7.2fx %7.2fx %8.2fx\n", p, t, s, a, c, e,
            (b > 0 ? a / b : 0), (d > 0 ? c / d : 0), (f > 0 ? e / f : 0) }'
    done
  done
done
