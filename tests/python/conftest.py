"""Starts the server under test on a free loopback port for the redis-py tests.

DAMSELFLY_BIN names the binary (.ci/run sets it). DIFF_AGAINST_REDIS=1 starts redis-server
instead, which proves the tests themselves against the reference.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

STARTUP_TIMEOUT_S = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _command(port: int) -> list:
    if os.environ.get("DIFF_AGAINST_REDIS") == "1":
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server not found: apt-get install -y redis-server")
        return [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no"]
    exe = os.environ.get("DAMSELFLY_BIN")
    if not exe:
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "../../target"))
        exe = os.path.join(target, "debug", "damselfly")
    if not os.access(exe, os.X_OK):
        pytest.fail(f"damselfly binary not found at {exe}: build it and set DAMSELFLY_BIN")
    return [exe, "--port", str(port), "--bind", "127.0.0.1"]


@pytest.fixture(scope="module")
def server_port():
    port = _free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(_command(port), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _answers_ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                output = log.read().decode(errors="replace")
                pytest.fail(f"server did not answer PING on {port} (exit {proc.poll()}):\n{output}")
            time.sleep(0.02)
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=10)
        log.close()
