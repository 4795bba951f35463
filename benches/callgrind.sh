#!/usr/bin/env bash
# Instructions per GET, server side, under valgrind's callgrind: for damselfly and redis-server.
#
# Each server starts under callgrind with instrumentation off; the key range is loaded with the
# benches' loader (uninstrumented), then instrumentation is switched on for exactly N pipelined
# GETs (one connection, pipeline 16) and off again. Total instructions (Ir) over N is the figure:
# it includes the event loop, syscall wrappers and replies, not the kernel. Target: damselfly at
# most 1,500 per GET; redis-server 7.0 is about 3,600.
#
# Usage: benches/callgrind.sh [GETS]        (default 100000; loopback only)
#        (the other commands: RATIO=1:0 measures SETs; PIPELINE=1 one command per batch)
# Env:   SERVERS="redis damselfly"  KEYS=10000  DAMSELFLY_BIN=...  REDIS_BIN=redis-server
#        CARGO_TARGET_DIR (where loadgen and damselfly are built; default <root>/target)
#        PIPELINE=16  RATIO=0:1 (SET:GET)  DATA_SIZE=32 (value bytes)  CLIENTS=1 (connections)
#        DAMSELFLY_ARGS (default "--proactor_threads 1": one shard, as redis-server's one thread;
#        with 2 threads about half the keys take a cross-thread hop)
#        OUT_DIR: keep each server's callgrind output there as <server>.callgrind, for
#        `callgrind_annotate --inclusive=yes OUT_DIR/damselfly.callgrind`
set -euo pipefail

GETS=${1:-100000}
KEYS=${KEYS:-10000}
SERVERS=${SERVERS:-"redis damselfly"}
PIPELINE=${PIPELINE:-16}
RATIO=${RATIO:-0:1}
DATA_SIZE=${DATA_SIZE:-32}
CLIENTS=${CLIENTS:-1}
# valgrind runs servers 20-50x slower: generous, but bounded, waits.
READY_WAIT_S=60
LOAD_TIME_MAX_S=300

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
loadgen=$target/release/loadgen
DAMSELFLY_BIN=${DAMSELFLY_BIN:-$target/release/damselfly}
REDIS_BIN=${REDIS_BIN:-$(command -v redis-server || true)}

command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install -y valgrind" >&2; exit 2; }
command -v redis-cli >/dev/null || { echo "redis-cli missing: apt-get install -y redis-tools" >&2; exit 2; }
if [[ ! -x $loadgen ]]; then
  (cd "$root" && cargo build --release -p benches --bin loadgen)
fi

work=$(mktemp -d /tmp/damselfly-callgrind.XXXXXX)
vpid=
cleanup() {
  if [[ -n $vpid ]] && kill -0 "$vpid" 2>/dev/null; then kill -KILL "$vpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# measure NAME BIN ARGS...: prints instructions per GET for one server.
measure() {
  local name=$1 bin=$2
  shift 2
  if [[ ! -x $bin ]]; then
    echo "$name: no binary at $bin (build it, or set DAMSELFLY_BIN / REDIS_BIN)" >&2
    return 1
  fi
  local port out
  port=$(free_port)
  out=$work/$name.callgrind
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
    "$bin" --port "$port" --bind 127.0.0.1 "$@" >"$work/$name.log" 2>&1 &
  vpid=$!
  local waited=0
  until [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]]; do
    if ! kill -0 "$vpid" 2>/dev/null || ((waited >= READY_WAIT_S * 10)); then
      echo "$name: no PONG on port $port; log:" >&2
      tail -20 "$work/$name.log" >&2
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  "$loadgen" --port "$port" --load --key-range "$KEYS" --data-size "$DATA_SIZE" \
    --duration "$LOAD_TIME_MAX_S" >/dev/null
  callgrind_control -i on "$vpid" >/dev/null 2>&1
  "$loadgen" --port "$port" --ratio "$RATIO" --pipeline "$PIPELINE" --clients "$CLIENTS" \
    --threads 1 \
    --key-range "$KEYS" --data-size "$DATA_SIZE" --requests "$GETS" \
    --duration "$LOAD_TIME_MAX_S" | sed "s/^/  $name: /"
  callgrind_control -i off "$vpid" >/dev/null 2>&1
  # SHUTDOWN, not SIGTERM: under valgrind 3.19 damselfly's signal thread never sees the signal.
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill -TERM "$vpid"
  wait "$vpid" || true
  vpid=
  local total
  # `totals:` (not `summary:`, which stays 0 when collection starts switched off), summed over
  # any dump files too.
  total=$(cat "$out"* | awk '/^totals:/ {sum += $2} END {print sum + 0}')
  if [[ -n ${OUT_DIR:-} ]]; then
    mkdir -p "$OUT_DIR"
    cp "$out" "$OUT_DIR/$name.callgrind"
  fi
  echo "$name: $total instructions for $GETS commands (SET:GET $RATIO, pipeline $PIPELINE," \
    "$DATA_SIZE B values, $CLIENTS connections): $((total / GETS)) per command"
}

status=0
for server in $SERVERS; do
  case $server in
    redis) measure redis "$REDIS_BIN" --save "" --appendonly no --dir "$work" || status=1 ;;
    # shellcheck disable=SC2086 # DAMSELFLY_ARGS is a list of flags
    damselfly)
      measure damselfly "$DAMSELFLY_BIN" ${DAMSELFLY_ARGS:---proactor_threads 1} || status=1
      ;;
    *) echo "unknown server $server" >&2; status=2 ;;
  esac
done
exit $status
