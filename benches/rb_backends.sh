#!/usr/bin/env bash
# redis-benchmark against redis-server and damselfly on each socket backend (io_uring, epoll) in
# one run, with each server's CPU time: the rb_matrix.sh method with a third server.
#
# All servers start fresh, pinned to CPU 0 (damselfly with THREADS threads, default 1), the
# client on CPU 1 (PIN=no: nothing pinned; the default with THREADS > 1). Then, ROUNDS times, every (pipeline, test) runs against each
# server, the order rotating by round so drift falls on all alike. Each run is
#   taskset -c 1 redis-benchmark -p PORT -n N -c 50 -d 256 -P P -t TEST -q --csv
# and the server's utime+stime (/proc/PID/stat) is read before and after it. Printed per
# (pipeline, test, server): median ops/s, median p99, ops per server CPU-second (all rounds'
# ops over all rounds' CPU), each damselfly backend's ratios to redis, and the client's median
# CPU share (client%: its CPU seconds over its wall time; near 100% the client set the pace).
#
# Usage: benches/rb_backends.sh [N]        (default 200000 requests per run)
# Env:   PIPELINES="1 16"  TESTS="set get"  ROUNDS=3  CLIENTS=50  DATA_SIZE=256  PIN=yes
#        THREADS=1  KEY_RANGE= (redis-benchmark -r: spread keys; unset: one key)
#        SERVERS="redis uring epoll" (redis first; "base" is BASE_BIN on io_uring, for an A/B)
#        DAMSELFLY_BIN, BASE_BIN, REDIS_BIN, CARGO_TARGET_DIR (where damselfly is built)
set -euo pipefail

N=${1:-200000}
PIPELINES=${PIPELINES:-"1 16"}
TESTS=${TESTS:-"set get"}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
DATA_SIZE=${DATA_SIZE:-256}
THREADS=${THREADS:-1}
if ((THREADS > 1)); then PIN=${PIN:-no}; else PIN=${PIN:-yes}; fi
KEY_RANGE=${KEY_RANGE:-}
READY_WAIT_S=10
RUN_TIME_MAX_S=300
read -r -a SERVERS <<<"${SERVERS:-redis uring epoll}"
[[ ${SERVERS[0]} == redis ]] || { echo "SERVERS must start with redis (the ratios' base)" >&2; exit 2; }

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
    base) "${server_pin[@]}" "${BASE_BIN:?BASE_BIN names the binary to compare with}" \
      --port "$port" --bind 127.0.0.1 --proactor_threads "$THREADS" --io_backend uring \
      >"$work/$server.log" 2>&1 & ;;
    *) "${server_pin[@]}" "$DAMSELFLY_BIN" --port "$port" --bind 127.0.0.1 \
      --proactor_threads "$THREADS" --io_backend "$server" >"$work/$server.log" 2>&1 & ;;
  esac
  pid_of[$server]=$!
  port_of[$server]=$port
  pids+=("$!")
  wait_ready "$port"
done

bench() {
  local server=$1 p=$2 test=$3 pid=${pid_of[$1]} before after csv busy
  before=$(cpu_ticks "$pid")
  csv=$(timeout "$RUN_TIME_MAX_S" /usr/bin/time -f '%e %U %S' -o "$work/client.time" \
    "${client_pin[@]}" redis-benchmark -p "${port_of[$server]}" -n "$N" -c "$CLIENTS" \
    -d "$DATA_SIZE" -P "$p" -t "$test" ${KEY_RANGE:+-r "$KEY_RANGE"} -q --csv)
  after=$(cpu_ticks "$pid")
  # The client's CPU over its wall time: near 100% means the client, not the server, set the pace.
  busy=$(awk '{ printf "%.0f", ($1 > 0 ? 100 * ($2 + $3) / $1 : 0) }' "$work/client.time")
  echo "$csv" | csv_row $((after - before)) | sed "s/\$/ $busy/" \
    >>"$work/$p.$test.$server"
}

echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "kernel $(uname -r); commit $(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo '?');" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg); pinned: $PIN; damselfly threads: $THREADS"
echo "# redis-benchmark -n $N -c $CLIENTS -d $DATA_SIZE -P <p> -t <test>${KEY_RANGE:+ -r $KEY_RANGE}; $ROUNDS rounds"
for round in $(seq 1 "$ROUNDS"); do
  for p in $PIPELINES; do
    for test in $TESTS; do
      for i in "${!SERVERS[@]}"; do
        bench "${SERVERS[$(((i + round) % ${#SERVERS[@]}))]}" "$p" "$test"
      done
    done
  done
done
printf '%-3s %-4s %-10s %10s %8s %11s %8s %8s %9s %8s\n' P test server 'ops/s' 'p99 ms' 'ops/cpu-s' \
  'ops/r' 'p99/r' 'cpu-eff/r' 'client%'
for p in $PIPELINES; do
  for test in $TESTS; do
    read -r r_rps r_p99 r_eff < <(summary "$work/$p.$test.redis")
    for server in "${SERVERS[@]}"; do
      read -r rps p99 eff < <(summary "$work/$p.$test.$server")
      busy=$(median 4 "$work/$p.$test.$server")
      awk -v s="$server" -v p="$p" -v t="$test" -v a="$rps" -v c="$p99" -v e="$eff" \
        -v b="$r_rps" -v d="$r_p99" -v f="$r_eff" -v k="$busy" 'BEGIN {
          printf "%-3s %-4s %-10s %10s %8s %11s %7.2fx %7.2fx %8.2fx %7s%%\n", p, t, s, a, c, e,
            (b > 0 ? a / b : 0), (d > 0 ? c / d : 0), (f > 0 ? e / f : 0), k }'
    done
  done
done
