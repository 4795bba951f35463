#!/usr/bin/env python3
"""Where a request's server CPU goes: redis-server and damselfly under the same redis-benchmark
load, each sampled by `perf record -e cpu-clock -g` (software clock: hardware counters are not
available on this machine), every sample's stack sorted into one bucket, reported as CPU
microseconds per request.

Buckets (first match wins, on the sample's whole stack):
  tcp send       tcp_sendmsg: the reply's transmit, which on loopback also runs the client
                 socket's receive path (softirq in the sender's context)
  tcp recv       tcp_recvmsg: copying the request out of the socket
  scheduler      __schedule / try_to_wake_up: going to sleep and being woken
  epoll          the epoll calls (redis; damselfly's epoll backend)
  io_uring       io_uring's own work: submit, poll arming, completions (damselfly's default)
  syscall        syscall entry and exit and the rest of the kernel
  user           the server's own code

The two tcp buckets are what any server pays per request; the rest is the server's choice.

Usage: benches/perf_split.py [--requests N] [--pipeline P] [--test get|set] [--threads T]
Needs perf, redis-server, redis-benchmark; servers on CPU 0, client on CPU 1.
"""

import argparse
import collections
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

FREQ_HZ = 4000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BUCKETS = [
    ("tcp send", ("tcp_sendmsg",)),
    ("tcp recv", ("tcp_recvmsg",)),
    ("scheduler", ("__schedule", "try_to_wake_up", "finish_task_switch")),
    ("epoll", ("ep_poll", "do_epoll_wait", "do_epoll_ctl", "ep_send_events")),
    ("io_uring", ("io_uring", "io_submit_sqes", "io_issue_sqe", "io_poll", "io_recv", "io_send")),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port):
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"no server on port {port}")


def bucket_of(stack):
    """stack: frames leaf first, each 'symbol (dso)'."""
    if "[kernel" not in stack[0]:
        return "user"
    joined = " ".join(stack)
    for name, marks in BUCKETS:
        if any(mark in joined for mark in marks):
            return name
    return "syscall"


def split(perf_data):
    out = subprocess.run(
        ["perf", "script", "-i", perf_data, "-F", "ip,sym,dso"],
        capture_output=True, text=True, check=True).stdout
    counts = collections.Counter()
    stack = []
    for line in out.splitlines() + [""]:
        if line.strip():
            stack.append(line.split(None, 1)[-1])
        elif stack:
            counts[bucket_of(stack)] += 1
            stack = []
    return counts


def profile(name, argv, port, args, work):
    server = subprocess.Popen(["taskset", "-c", "0", *argv],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port)
        data = os.path.join(work, f"{name}.data")
        perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", str(FREQ_HZ), "-g",
                                 "-p", str(server.pid), "-o", data],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        bench = subprocess.run(
            ["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-n", str(args.requests),
             "-c", "50", "-d", "256", "-P", str(args.pipeline), "-t", args.test, "-q", "--csv"],
            capture_output=True, text=True, check=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        perf.send_signal(2)
        perf.wait()
        rps = float(bench.strip().splitlines()[-1].split(",")[1].strip('"'))
        client_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return rps, client_s, split(data)
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300000)
    parser.add_argument("--pipeline", type=int, default=1)
    parser.add_argument("--test", default="get")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--damselfly-bin", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "damselfly"))
    parser.add_argument("--damselfly-args", default="")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="damselfly-perf.")
    servers = []
    port = free_port()
    servers.append(("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", work], port))
    port = free_port()
    servers.append(("damselfly", [args.damselfly_bin, "--port", str(port), "--bind", "127.0.0.1",
                                  "--proactor_threads", str(args.threads),
                                  *args.damselfly_args.split()], port))
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print(f"# perf_split: commit {commit}; load {open('/proc/loadavg').read().split()[:3]}; "
          f"redis-benchmark -n {args.requests} -c 50 -d 256 -P {args.pipeline} -t {args.test}; "
          f"damselfly threads {args.threads} {args.damselfly_args}".rstrip())
    results = {name: profile(name, argv, port, args, work) for name, argv, port in servers}

    names = ["tcp send", "tcp recv", "scheduler", "epoll", "io_uring", "syscall", "user"]
    print(f"{'server CPU us/request':24s}" + "".join(f"{n:>12s}" for n in results))
    per_request = {}
    for server, (_, _, counts) in results.items():
        per_request[server] = {k: v / FREQ_HZ * 1e6 / args.requests for k, v in counts.items()}
    for bucket in names:
        print(f"{bucket:24s}" + "".join(f"{per_request[s].get(bucket, 0):12.2f}" for s in results))
    totals = {s: sum(per_request[s].values()) for s in results}
    print(f"{'total':24s}" + "".join(f"{totals[s]:12.2f}" for s in results))
    print(f"{'ops/s':24s}" + "".join(f"{results[s][0]:12.0f}" for s in results))
    print(f"{'client CPU us/request':24s}"
          + "".join(f"{results[s][1] * 1e6 / args.requests:12.2f}" for s in results))
    redis, ours = totals["redis"], totals["damselfly"]
    print(f"# damselfly/redis: ops/s {results['damselfly'][0] / results['redis'][0]:.2f}x, "
          f"requests per server CPU-second {redis / ours:.2f}x")
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
