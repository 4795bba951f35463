"""Blocking commands (lists, sorted sets, XREAD and XREADGROUP) with several connections: each scenario runs against redis-server 7.0
and against Damselfly in the same test, and their observations must be equal. Then a
producer/consumer run on Damselfly's threads counts every element exactly once.

Every wait is bounded: blocking commands carry timeouts, threads are joined with a deadline.
"""

import os
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
import redis

import conftest

SCENARIO_WAIT_S = 0.3


def _start(command, port):
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = time.monotonic() + conftest.STARTUP_TIMEOUT_S
    while not conftest._answers_ping(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{command[0]} did not answer PING on {port}")
        time.sleep(0.02)
    return proc, log


@pytest.fixture(scope="module")
def both_ports():
    """(redis-server port, Damselfly port)."""
    redis_exe = shutil.which("redis-server")
    if redis_exe is None:
        pytest.fail("redis-server not found: apt-get install -y redis-server")
    ports = (conftest._free_port(), conftest._free_port())
    saved = os.environ.pop("DIFF_AGAINST_REDIS", None)
    try:
        # Two threads whatever the machine's default: waiters, pushers and keys on different
        # threads are the point.
        damselfly_cmd = conftest._command(ports[1]) + ["--proactor_threads", "2"]
    finally:
        if saved is not None:
            os.environ["DIFF_AGAINST_REDIS"] = saved
    redis_cmd = [redis_exe, "--port", str(ports[0]), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--daemonize", "no"]
    started = []
    try:
        started.append(_start(redis_cmd, ports[0]))
        started.append(_start(damselfly_cmd, ports[1]))
        yield ports
    finally:
        for proc, log in started:
            proc.kill()
            proc.wait(timeout=10)
            log.close()


def _call(client, *args):
    try:
        return client.execute_command(*args)
    except redis.ResponseError as err:
        return f"error: {err}"


def _in_background(port, *args):
    """Runs a blocking command on its own connection; returns (thread, result box, client id)."""
    client = redis.Redis(port=port, socket_timeout=10, single_connection_client=True)
    box = {"id": client.client_id()}

    def run():
        box["reply"] = _call(client, *args)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(SCENARIO_WAIT_S)  # let it block before the next step
    return thread, box, box["id"]


def _join(thread):
    thread.join(timeout=10)
    assert not thread.is_alive(), "a blocked client was never answered"


def scenario_fifo_waiters(port):
    r = redis.Redis(port=port)
    r.flushall()
    first = _in_background(port, "BLPOP", "q", "5")
    second = _in_background(port, "BLPOP", "q", "5")
    pushed = r.lpush("q", "a", "b", "c")
    _join(first[0])
    _join(second[0])
    return [pushed, first[1]["reply"], second[1]["reply"], r.lrange("q", 0, -1)]


def scenario_ready_key_order_after_exec(port):
    r = redis.Redis(port=port)
    r.flushall()
    waiter = _in_background(port, "BLPOP", "k2", "k", "5")
    pipe = r.pipeline(transaction=True)
    pipe.lpush("k", "a")
    pipe.lpush("k2", "b")
    pipe.execute()
    _join(waiter[0])
    return [waiter[1]["reply"], r.lrange("k", 0, -1), r.lrange("k2", 0, -1)]


def scenario_pipeline_serves_between_commands(port):
    r = redis.Redis(port=port)
    r.flushall()
    waiter = _in_background(port, "BRPOP", "p", "5")
    pipe = r.pipeline(transaction=False)
    pipe.lpush("p", "a")
    pipe.lpop("p")
    replies = pipe.execute()
    _join(waiter[0])
    return [replies, waiter[1]["reply"]]


def scenario_type_change_and_rename(port):
    r = redis.Redis(port=port)
    r.flushall()
    waiter = _in_background(port, "BLPOP", "k", "5")
    r.set("k", "string")
    time.sleep(SCENARIO_WAIT_S)
    still_blocked = waiter[0].is_alive()
    r.delete("k")
    r.rpush("other", "z")
    r.rename("other", "k")
    _join(waiter[0])
    return [still_blocked, waiter[1]["reply"], r.exists("k")]


def scenario_blmove_across_keys(port):
    r = redis.Redis(port=port)
    r.flushall()
    mover = _in_background(port, "BLMOVE", "src", "dst", "RIGHT", "LEFT", "5")
    r.rpush("src", "x", "y")
    _join(mover[0])
    r.set("bad", "string")
    wrong = _in_background(port, "BLMOVE", "empty", "bad", "LEFT", "LEFT", "5")
    r.rpush("empty", "kept")
    _join(wrong[0])
    return [mover[1]["reply"], r.lrange("src", 0, -1), r.lrange("dst", 0, -1),
            wrong[1]["reply"], r.lrange("empty", 0, -1)]


def scenario_blmpop_and_timeouts(port):
    r = redis.Redis(port=port)
    r.flushall()
    popper = _in_background(port, "BLMPOP", "5", "2", "m1", "m2", "RIGHT", "COUNT", "2")
    r.rpush("m2", "1", "2", "3")
    _join(popper[0])
    started = time.monotonic()
    timed_out = _call(redis.Redis(port=port), "BRPOPLPUSH", "none", "dst2", "0.2")
    waited = time.monotonic() - started
    return [popper[1]["reply"], r.lrange("m2", 0, -1), timed_out, 0.15 < waited < 2.0,
            _call(r, "BLPOP", "k", "-1"), _call(r, "BLPOP", "k", "soon"),
            _call(r, "BLMPOP", "0", "0", "k", "LEFT")]


def scenario_client_unblock(port):
    r = redis.Redis(port=port)
    r.flushall()
    waiter = _in_background(port, "BLPOP", "never", "0")
    waiter_id = waiter[2]
    blocked = r.info("clients")["blocked_clients"]
    unblocked = r.execute_command("CLIENT", "UNBLOCK", waiter_id, "ERROR")
    _join(waiter[0])
    again = r.execute_command("CLIENT", "UNBLOCK", waiter_id)
    timeout = _in_background(port, "BLPOP", "never", "0")
    timeout_id = timeout[2]
    r.execute_command("CLIENT", "UNBLOCK", timeout_id, "TIMEOUT")
    _join(timeout[0])
    return [blocked, unblocked, waiter[1]["reply"], again, timeout[1]["reply"],
            r.info("clients")["blocked_clients"]]


def scenario_sorted_sets(port):
    r = redis.Redis(port=port)
    r.flushall()
    low = _in_background(port, "BZPOPMIN", "z1", "z2", "5")
    high = _in_background(port, "BZPOPMAX", "z2", "5")
    several = _in_background(port, "BZMPOP", "5", "2", "z1", "z2", "MAX", "COUNT", "2")
    r.zadd("z2", {"a": 1, "b": 2.5, "c": 3, "d": 4})
    for waiter in (low, high, several):
        _join(waiter[0])
    return [low[1]["reply"], high[1]["reply"], several[1]["reply"], r.zrange("z2", 0, -1),
            _call(r, "BZPOPMIN", "z9", "0.01"), _call(r, "BZMPOP", "0.01", "1", "z9", "MIN")]


def scenario_xread_waits_for_new_entries(port):
    r = redis.Redis(port=port)
    r.flushall()
    r.xadd("s1", {"f": "old"}, id="1-1")
    dollar = _in_background(port, "XREAD", "BLOCK", "5000", "STREAMS", "s1", "s2", "$", "$")
    past_id = _in_background(port, "XREAD", "COUNT", "1", "BLOCK", "5000", "STREAMS", "s1",
                             "5-0")
    r.xadd("s1", {"f": "a"}, id="3-0")  # past `$` only
    _join(dollar[0])
    still_waiting = past_id[0].is_alive()
    pipe = r.pipeline(transaction=True)
    pipe.xadd("s1", {"f": "b"}, id="6-0")
    pipe.xadd("s1", {"f": "c"}, id="7-0")
    pipe.execute()
    _join(past_id[0])
    forever = _in_background(port, "XREAD", "BLOCK", "0", "STREAMS", "s2", "$")
    r.xadd("s2", {"g": "1"}, id="1-0")
    _join(forever[0])
    started = time.monotonic()
    timed_out = _call(redis.Redis(port=port), "XREAD", "BLOCK", "200", "STREAMS", "s1", "$")
    waited = time.monotonic() - started
    return [dollar[1]["reply"], still_waiting, past_id[1]["reply"], forever[1]["reply"],
            timed_out, 0.15 < waited < 2.0,
            _call(r, "XREAD", "BLOCK", "-1", "STREAMS", "s1", "$"),
            _call(r, "XREAD", "BLOCK", "1.5", "STREAMS", "s1", "$")]


def scenario_xread_stays_blocked_through_other_writes(port):
    r = redis.Redis(port=port)
    r.flushall()
    r.xadd("s", {"f": "v"}, id="1-1")
    waiter = _in_background(port, "XREAD", "BLOCK", "5000", "STREAMS", "s", "$")
    r.execute_command("XSETID", "s", "5-5")
    r.xtrim("s", maxlen=0)
    r.delete("s")
    r.lpush("s", "x")
    time.sleep(SCENARIO_WAIT_S)
    still_blocked = waiter[0].is_alive()
    r.delete("s")
    r.xadd("s", {"f": "w"}, id="0-5")  # a new stream, below the `$` it waits past (1-1)
    time.sleep(SCENARIO_WAIT_S)
    still_blocked_after_lower = waiter[0].is_alive()
    r.xadd("s", {"f": "z"}, id="9-0")
    _join(waiter[0])
    return [still_blocked, still_blocked_after_lower, waiter[1]["reply"]]


def scenario_xreadgroup_serves_each_entry_once(port):
    r = redis.Redis(port=port)
    r.flushall()
    r.xgroup_create("jobs", "g", id="$", mkstream=True)
    alice = _in_background(port, "XREADGROUP", "GROUP", "g", "alice", "BLOCK", "5000",
                           "STREAMS", "jobs", ">")
    bob = _in_background(port, "XREADGROUP", "GROUP", "g", "bob", "BLOCK", "5000", "COUNT",
                         "1", "STREAMS", "jobs", ">")
    r.xadd("jobs", {"n": "1"}, id="1-0")
    r.xadd("jobs", {"n": "2"}, id="2-0")
    _join(alice[0])
    _join(bob[0])
    noack = _in_background(port, "XREADGROUP", "GROUP", "g", "carol", "BLOCK", "5000", "NOACK",
                           "STREAMS", "jobs", ">")
    pipe = r.pipeline(transaction=True)
    pipe.xadd("jobs", {"n": "3"}, id="3-0")
    pipe.xdel("jobs", "3-0")
    pipe.execute()
    _join(noack[0])
    history = _call(r, "XREADGROUP", "GROUP", "g", "alice", "BLOCK", "5000", "STREAMS", "jobs",
                    "0")
    return [alice[1]["reply"], bob[1]["reply"], noack[1]["reply"], history,
            r.xpending("jobs", "g")["pending"]]


def scenario_xreadgroup_learns_its_stream_or_group_went_away(port):
    r = redis.Redis(port=port)
    r.flushall()
    for key in ("a", "b", "c", "{a}d"):
        r.xgroup_create(key, "g", id="$", mkstream=True)
    destroyed = _in_background(port, "XREADGROUP", "GROUP", "g", "c1", "BLOCK", "5000",
                               "STREAMS", "a", ">")
    r.xgroup_destroy("a", "g")
    _join(destroyed[0])
    deleted = _in_background(port, "XREADGROUP", "GROUP", "g", "c1", "BLOCK", "5000",
                             "STREAMS", "b", ">")
    r.set("b", "now a string")
    _join(deleted[0])
    flushed = _in_background(port, "XREADGROUP", "GROUP", "g", "c1", "BLOCK", "5000",
                             "STREAMS", "c", "{a}d", ">", ">")
    r.xadd("{a}d", {"f": "v"}, id="1-0")
    _join(flushed[0])
    again = _in_background(port, "XREADGROUP", "GROUP", "g", "c2", "BLOCK", "5000",
                           "STREAMS", "c", "{a}d", ">", ">")
    r.flushall()
    _join(again[0])
    return [destroyed[1]["reply"], deleted[1]["reply"], flushed[1]["reply"], again[1]["reply"]]


SCENARIOS = [
    scenario_sorted_sets,
    scenario_fifo_waiters,
    scenario_ready_key_order_after_exec,
    scenario_pipeline_serves_between_commands,
    scenario_type_change_and_rename,
    scenario_blmove_across_keys,
    scenario_blmpop_and_timeouts,
    scenario_client_unblock,
    scenario_xread_waits_for_new_entries,
    scenario_xread_stays_blocked_through_other_writes,
    scenario_xreadgroup_serves_each_entry_once,
    scenario_xreadgroup_learns_its_stream_or_group_went_away,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_blocking_matches_redis(both_ports, scenario):
    redis_port, damselfly_port = both_ports
    expected = scenario(redis_port)
    got = scenario(damselfly_port)
    assert got == expected


def test_producers_and_consumers_count_every_element_once(both_ports):
    """Producers push onto three queues (spread over shards); consumers BRPOP all three or
    BLMOVE one into their own list. Every element is popped exactly once."""
    port = both_ports[1]
    r = redis.Redis(port=port)
    r.flushall()
    queues = ["jobs:a", "jobs:b", "jobs:c"]
    producers, per_producer = 4, 500
    popped, moved_popped, lock = [], [], threading.Lock()
    done = threading.Event()

    def produce(p):
        client = redis.Redis(port=port)
        for i in range(per_producer):
            client.lpush(queues[i % len(queues)], f"{p}:{i}")

    def consume_brpop():
        client = redis.Redis(port=port, socket_timeout=10)
        while not done.is_set():
            got = client.brpop(queues, timeout=0.2)
            if got is not None:
                with lock:
                    popped.append(got[1].decode())

    def consume_blmove(c):
        client = redis.Redis(port=port, socket_timeout=10)
        mine = f"processing:{c}"
        while not done.is_set():
            got = client.blmove(queues[c % len(queues)], mine, 0.2, "RIGHT", "LEFT")
            if got is not None:
                with lock:
                    popped.append(got.decode())
                    moved_popped.append(got.decode())

    consumers = [threading.Thread(target=consume_brpop, daemon=True) for _ in range(4)]
    consumers += [threading.Thread(target=consume_blmove, args=(c,), daemon=True)
                  for c in range(3)]
    for t in consumers:
        t.start()
    producer_threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for t in producer_threads:
        t.start()
    for t in producer_threads:
        t.join(timeout=60)
    deadline = time.monotonic() + 30
    total = producers * per_producer
    while time.monotonic() < deadline:
        with lock:
            if len(popped) >= total:
                break
        time.sleep(0.05)
    done.set()
    for t in consumers:
        t.join(timeout=10)
    moved = sum(r.llen(f"processing:{c}") for c in range(3))
    assert sorted(popped) == sorted(f"{p}:{i}" for p in range(producers)
                                    for i in range(per_producer))
    assert moved == len(moved_popped), "every BLMOVEd element sits in its consumer's list"
    assert all(r.llen(q) == 0 for q in queues)
    assert r.info("clients")["blocked_clients"] == 0
