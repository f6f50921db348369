"""The inside probe against hostile peers on loopback: a closed port, a server that
accepts and never answers, one that speaks another protocol, a name that does not
resolve. Each gives a failed result with a cause, within the probe's time bound."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from conformance.inside import probe as inside
from conformance.inside.checks import InsideCheck, decode_results, encode_checks


@pytest.fixture
def server() -> Iterator[Any]:
    servers: list[socket.socket] = []

    def start(reply: bytes | list[bytes] | None) -> int:
        replies = [reply] if isinstance(reply, bytes) else reply
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        servers.append(sock)

        def serve() -> None:
            while True:
                try:
                    conn, _ = sock.accept()
                except OSError:
                    return
                if replies is not None:
                    for answer in replies:  # one answer per request received
                        conn.recv(1024)
                        conn.sendall(answer)
                    conn.close()
                # reply None: hold the connection open and never answer

        threading.Thread(target=serve, daemon=True).start()
        return int(sock.getsockname()[1])

    yield start
    for sock in servers:
        sock.close()


def check(protocol: str, port: int, host: str = "127.0.0.1", path: str = "") -> dict[str, Any]:
    return {"service": "svc", "host": host, "port": port, "protocol": protocol, "path": path}


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def test_closed_port_fails_fast() -> None:
    t0 = time.monotonic()
    result = inside.run(check("postgres", closed_port()))
    assert not result["ok"] and "ConnectionRefused" in result["detail"]
    assert time.monotonic() - t0 < 2


def test_silent_server_times_out_in_bound(server: Any) -> None:
    t0 = time.monotonic()
    result = inside.run(check("kafka", server(None)))
    assert not result["ok"] and "timed out" in result["detail"]
    assert time.monotonic() - t0 < inside.TIMEOUT + 2


@pytest.mark.parametrize("protocol", ["postgres", "redis", "kafka", "http"])
def test_other_protocol_is_not_accepted(server: Any, protocol: str) -> None:
    port = server(b"SSH-2.0-OpenSSH_9.2\r\n")
    result = inside.run(check(protocol, port))
    assert not result["ok"], result


def test_unresolvable_name() -> None:
    result = inside.run(check("http", 80, host="no-such-service.invalid"))
    assert not result["ok"] and "does not resolve" in result["detail"]


def test_each_protocol_accepts_its_own_reply(server: Any) -> None:
    import struct

    auth_ok = b"R" + struct.pack("!ii", 8, 0)
    assert inside.run(check("postgres", server([b"N", auth_ok])))["ok"]
    assert not inside.run(check("postgres", server([b"N", b"HTTP/1.1 400"])))["ok"]
    assert inside.run(check("redis", server(b"+PONG\r\n")))["ok"]
    assert inside.run(check("http", server(b"HTTP/1.1 200 OK\r\n\r\nok"), path="/health"))["ok"]
    assert not inside.run(check("http", server(b"HTTP/1.1 503 Unavailable\r\n\r\n")))["ok"]


def test_results_round_trip_and_missing_results_fail() -> None:
    checks = [InsideCheck("a", "a.x", 1, "http"), InsideCheck("b", "b.x", 2, "redis")]
    assert "a.x" in encode_checks(checks)
    out = '{"service": "a", "ok": true, "detail": "fine", "addresses": ["10.0.0.1"]}\nnoise\n'
    results = decode_results(out, checks)
    assert results[0].ok and results[0].addresses == ("10.0.0.1",)
    assert not results[1].ok and "no result" in results[1].detail


def python39() -> str | None:
    """A Python 3.9 interpreter on this machine (PATH, or a pyenv install), or None."""
    pyenv = glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3.9"))
    candidates = [shutil.which("python3.9"), *sorted(pyenv)]
    for exe in filter(None, candidates):
        proc = subprocess.run([exe, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                              text=True, timeout=30, check=False)
        if proc.returncode == 0 and proc.stdout.strip() == "(3, 9)":
            return exe
    return None


def test_probe_keeps_its_python_39_promise(server: Any) -> None:
    """The postgres check waits 0.3s for bytes after 'N'; its recv timeout relied on 3.10's
    socket.timeout == TimeoutError, so under 3.9 every plain Postgres failed."""
    exe = python39()
    if exe is None:
        pytest.skip("no Python 3.9 interpreter on this machine")
    auth_ok = b"R" + (8).to_bytes(4, "big") + (0).to_bytes(4, "big")
    checks = [check("postgres", server([b"N", auth_ok]))]
    proc = subprocess.run([exe, inside.__file__, json.dumps(checks)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[0])
    assert result["ok"], result["detail"]
