# Helpers shared by rb_matrix.sh and rb_backends.sh (sourced; they set N, TICKS_PER_S,
# READY_WAIT_S, `work` and `pids` before calling these).

# locate_servers: sets root, DAMSELFLY_BIN, REDIS_BIN (from the environment or the defaults)
# and TICKS_PER_S; exits 2 when a server binary is missing.
locate_servers() {
  root=$(cd "$(dirname "$0")/.." && pwd)
  local target=${CARGO_TARGET_DIR:-$root/target}
  DAMSELFLY_BIN=${DAMSELFLY_BIN:-$target/release/damselfly}
  REDIS_BIN=${REDIS_BIN:-$(command -v redis-server || true)}
  TICKS_PER_S=$(getconf CLK_TCK)
  [[ -x $DAMSELFLY_BIN ]] || { echo "no damselfly at $DAMSELFLY_BIN (cargo build --release)" >&2; exit 2; }
  [[ -x $REDIS_BIN ]] || { echo "no redis-server" >&2; exit 2; }
}

# cleanup: stops every server started (by PID) and removes the work directory.
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}

# free_port: a loopback port that was free a moment ago.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# cpu_ticks PID: utime+stime of every thread. Fields counted after the last ')' of the name.
cpu_ticks() {
  sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# wait_ready PORT: until the server answers PING (at most READY_WAIT_S seconds).
wait_ready() {
  local port=$1 waited=0
  until [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]]; do
    ((waited < READY_WAIT_S * 10)) || { echo "no PONG on $port" >&2; return 1; }
    sleep 0.1
    waited=$((waited + 1))
  done
}

# csv_row TICKS: redis-benchmark's --csv on stdin to "rps p99_ms server_ticks", columns by
# header name ("test","rps",...,"p99_latency_ms",...).
csv_row() {
  awk -F, -v ticks="$1" '
    NR == 1 { for (i = 1; i <= NF; i++) { gsub(/"/, "", $i); col[$i] = i }; next }
    { gsub(/"/, ""); print $col["rps"], $col["p99_latency_ms"], ticks }'
}

# median COLUMN FILE: the median (lower middle) of a column.
median() {
  sort -g -k"$1" "$2" | awk -v c="$1" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'
}

# summary FILE: "median_rps median_p99 ops_per_cpu_s" over the rounds in FILE.
summary() {
  local ops_per_cpu_s
  ops_per_cpu_s=$(awk -v n="$N" -v tps="$TICKS_PER_S" '{ ticks += $3 }
    END { cpu_s = ticks / tps; printf "%.0f", (cpu_s > 0 ? NR * n / cpu_s : 0) }' "$1")
  echo "$(median 1 "$1") $(median 2 "$1") $ops_per_cpu_s"
}
