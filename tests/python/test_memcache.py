"""pymemcache, a real Memcached client, against Damselfly's --memcached_port.

Starts its own server (the RESP fixture in conftest.py has no Memcached port) on free loopback
ports, with two threads so keys spread over shards; DIFF_AGAINST_MEMCACHED=1 runs the same
tests against Debian's memcached instead, which proves them against the reference.
"""

import os
import socket
import subprocess
import tempfile
import time

import pytest

pymemcache = pytest.importorskip("pymemcache")
from pymemcache.client.base import Client  # noqa: E402

STARTUP_TIMEOUT_S = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers_version(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"version\r\n")
            return s.recv(64).startswith(b"VERSION ")
    except OSError:
        return False


def _damselfly_bin() -> str:
    exe = os.environ.get("DAMSELFLY_BIN")
    if not exe:
        target = os.environ.get(
            "CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "../../target"))
        exe = os.path.join(target, "debug", "damselfly")
    if not os.access(exe, os.X_OK):
        pytest.fail(f"damselfly binary not found at {exe}: build it and set DAMSELFLY_BIN")
    return exe


@pytest.fixture(scope="module")
def ports():
    """(memcached port, RESP port or None)."""
    mc_port = _free_port()
    if os.environ.get("DIFF_AGAINST_MEMCACHED") == "1":
        cmd = ["memcached", "-u", "root", "-l", "127.0.0.1", "-U", "0", "-t", "1",
               "-p", str(mc_port)]
        resp_port = None
    else:
        resp_port = _free_port()
        cmd = [_damselfly_bin(), "--port", str(resp_port), "--bind", "127.0.0.1",
               "--proactor_threads", "2", "--memcached_port", str(mc_port)]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _answers_version(mc_port):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                output = log.read().decode(errors="replace")
                pytest.fail(f"no memcached protocol on {mc_port} (exit {proc.poll()}):\n{output}")
            time.sleep(0.02)
        yield mc_port, resp_port
    finally:
        proc.kill()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture
def client(ports):
    c = Client(("127.0.0.1", ports[0]), connect_timeout=5, timeout=5)
    c.flush_all()
    yield c
    c.close()


def test_set_get_delete(client):
    assert client.set("k", b"v") is True
    assert client.get("k") == b"v"
    assert client.get("missing") is None
    assert client.delete("k") is True
    assert client.get("k") is None
    assert client.delete("k", noreply=False) is False


def test_add_replace_append_prepend(client):
    assert client.add("a", b"1", noreply=False) is True
    assert client.add("a", b"2", noreply=False) is False
    assert client.replace("a", b"3", noreply=False) is True
    assert client.replace("nope", b"3", noreply=False) is False
    assert client.append("a", b"+", noreply=False) is True
    assert client.prepend("a", b"-", noreply=False) is True
    assert client.get("a") == b"-3+"


def test_many_keys_in_one_get(client):
    values = {f"key:{i}": f"value:{i}".encode() for i in range(200)}
    assert client.set_many(values, noreply=False) == []
    got = client.get_many(list(values) + ["absent"])
    assert got == values


def test_gets_and_cas(client):
    client.set("c", b"one")
    value, cas = client.gets("c")
    assert value == b"one"
    assert client.cas("c", b"two", cas, noreply=False) is True
    # The unique changed with the write: the old one no longer matches.
    assert client.cas("c", b"three", cas, noreply=False) is False
    assert client.get("c") == b"two"
    assert client.cas("nope", b"x", cas, noreply=False) is None


def test_cas_race_between_two_clients(ports, client):
    other = Client(("127.0.0.1", ports[0]), connect_timeout=5, timeout=5)
    try:
        client.set("race", b"0", noreply=False)
        _, cas = client.gets("race")
        # Acknowledged: without the reply the two connections' writes are not ordered.
        other.set("race", b"other", noreply=False)
        assert client.cas("race", b"mine", cas, noreply=False) is False
        assert client.get("race") == b"other"
    finally:
        other.close()


def test_incr_decr_unsigned(client):
    client.set("n", b"18446744073709551615")
    assert client.incr("n", 1, noreply=False) == 0
    assert client.decr("n", 5, noreply=False) == 0
    assert client.incr("n", 10, noreply=False) == 10
    assert client.incr("absent", 1, noreply=False) is None


def test_flags_travel_with_the_item(client):
    client.set("g", b"xyz", flags=42, noreply=False)
    result = client.raw_command(b"get g", b"END\r\n")
    assert result == b"VALUE g 42 3\r\nxyz\r\n"
    assert client.get("g") == b"xyz"


def test_touch_and_expiry(client):
    client.set("t", b"x", expire=1, noreply=False)
    assert client.touch("t", expire=100, noreply=False) is True
    time.sleep(1.5)
    assert client.get("t") == b"x"
    assert client.touch("t", expire=-1, noreply=False) is True
    assert client.get("t") is None
    assert client.touch("t", expire=10, noreply=False) is False


def test_stats_and_version(client):
    assert client.version().startswith(b"1.6")
    stats = client.stats()
    assert b"curr_items" in stats or "curr_items" in stats


def test_items_are_resp_strings(ports, client):
    if ports[1] is None:
        pytest.skip("memcached has no RESP port")
    client.set("shared", b"from-memcache", noreply=False)
    with socket.create_connection(("127.0.0.1", ports[1]), timeout=5) as s:
        s.sendall(b"*2\r\n$3\r\nGET\r\n$6\r\nshared\r\n")
        assert s.recv(64) == b"$13\r\nfrom-memcache\r\n"
        s.sendall(b"*3\r\n$3\r\nSET\r\n$6\r\nshared\r\n$9\r\nfrom-resp\r\n")
        assert s.recv(64) == b"+OK\r\n"
    assert client.get("shared") == b"from-resp"
