#!/usr/bin/env python3
"""The longest pause a DEL of a big collection causes, damselfly beside redis-server.

Loads one set of N members and one hash of N fields into a fresh server of each kind, then
times DEL of each from a client while another connection's PINGs measure how long the
server stalls for everyone else. Prints milliseconds. Usage:
    benches/del_pause.py [--members 1000000] [--damselfly target/release/damselfly]
"""
import argparse
import os
import socket
import subprocess
import tempfile
import threading
import time

import redis


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind, binary, workdir):
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1"]
    if kind == "redis":
        args += ["--save", "", "--appendonly", "no", "--dir", workdir]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=workdir)
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc, port
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{kind} did not start")


def load(client, key, n, kind):
    batch = 10_000
    pipe = client.pipeline(transaction=False)
    for start in range(0, n, batch):
        names = [f"member:{j}" for j in range(start, min(n, start + batch))]
        if kind == "set":
            pipe.sadd(key, *names)
        else:
            pipe.hset(key, mapping={m: "v" for m in names})
        pipe.execute()


def worst_ping_during(port, action):
    """Runs `action` while another client PINGs; returns (action ms, worst PING ms)."""
    stop = threading.Event()
    worst = [0.0]

    def pinger():
        c = redis.Redis(port=port)
        while not stop.is_set():
            t = time.perf_counter()
            c.ping()
            worst[0] = max(worst[0], (time.perf_counter() - t) * 1000)

    thread = threading.Thread(target=pinger)
    thread.start()
    time.sleep(0.2)
    t = time.perf_counter()
    action()
    took = (time.perf_counter() - t) * 1000
    time.sleep(0.2)
    stop.set()
    thread.join()
    return took, worst[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--damselfly", default="target/release/damselfly")
    ap.add_argument("--redis", default="/usr/bin/redis-server")
    args = ap.parse_args()
    print(f"| server | shape | DEL ms | worst PING ms meanwhile |")
    print("|---|---|---|---|")
    for kind, binary in [("redis", args.redis), ("damselfly", os.path.abspath(args.damselfly))]:
        with tempfile.TemporaryDirectory() as workdir:
            proc, port = start(kind, binary, workdir)
            try:
                client = redis.Redis(port=port)
                for shape in ["set", "hash"]:
                    key = f"big{shape}"
                    load(client, key, args.members, shape)
                    took, worst = worst_ping_during(port, lambda: client.delete(key))
                    print(f"| {kind} | {shape} of {args.members} | {took:.1f} | {worst:.1f} |")
            finally:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
