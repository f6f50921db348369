"""Hostile endpoints: the whole suite against an external target whose services are a
closed port, a server that accepts and never answers, a server speaking another
protocol, a name that does not resolve, and an OPA answering garbage JSON. Every
contract must fail or skip cleanly -- no error, no traceback, no hang."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.suite_runner import run_suite


class Hostile:
    """Loopback servers with bad manners; closed when the test ends."""

    def __init__(self) -> None:
        self.socks: list[socket.socket] = []

    def serve(self, reply: bytes | None) -> int:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self.socks.append(sock)

        def loop() -> None:
            held = []
            while True:
                try:
                    conn, _ = sock.accept()
                except OSError:
                    return
                if reply is None:
                    held.append(conn)  # accept, never answer, never close
                    continue
                try:
                    conn.settimeout(2)
                    conn.recv(65536)
                    conn.sendall(reply)
                except OSError:
                    pass
                conn.close()

        threading.Thread(target=loop, daemon=True).start()
        return int(sock.getsockname()[1])

    def closed(self) -> int:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
        sock.close()
        return port

    def close(self) -> None:
        for sock in self.socks:
            sock.close()


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    h = Hostile()
    yield h
    h.close()


GARBAGE_JSON = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"
                b"Connection: close\r\n\r\n{\"result\": tru")
SSH = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"


def test_suite_fails_cleanly_against_hostile_endpoints(hostile: Hostile, tmp_path: Path) -> None:
    services = {
        "postgres": {"host": "127.0.0.1", "port": hostile.closed()},
        "redis": {"host": "127.0.0.1", "port": hostile.serve(None)},
        "kafka": {"host": "127.0.0.1", "port": hostile.serve(SSH)},
        "opa": {"host": "127.0.0.1", "port": hostile.serve(GARBAGE_JSON)},
        "vault": {"host": "no-such-vault.invalid", "port": 8200},
        "prometheus": {"host": "127.0.0.1", "port": hostile.serve(None)},
        "etcd": {"host": "127.0.0.1", "port": hostile.serve(GARBAGE_JSON)},
        "grafana": {"deployed": False},
    }
    endpoints = tmp_path / "hostile.yaml"
    endpoints.write_text(yaml.safe_dump({"name": "hostile", "services": services}))
    # 4 workers: the run is the contracts waiting out their bounded timeouts (51 s one after another)
    run = run_suite(["--target=external", f"--endpoints={endpoints}", "-m", "readiness or sizing", "-n", "4"],
                    tmp_path, timeout=300)
    assert run.outcomes, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    # a fixture may fail cleanly (e.g. no token can be minted from a dead issuer): that is
    # a one-line `Failed:` naming the endpoint, not a crash
    errors = {n: m for n, m in run.messages.items()
              if run.outcomes[n] == "error" and 'with "Failed: ' not in m}
    assert not errors, f"errors instead of clean failures: {errors}"
    passed = [n for n, o in run.outcomes.items() if o == "passed"]
    assert not passed, f"contracts passed against hostile endpoints: {passed}"
    for name, message in run.messages.items():
        if run.outcomes[name] == "failed":
            assert "\n" not in message.strip() or len(message) < 2000, message
    failed = sum(1 for o in run.outcomes.values() if o == "failed")
    print(f"\nhostile endpoints: {failed} contracts failed cleanly in {run.seconds:.1f}s")
    assert run.seconds < 150, f"took {run.seconds:.0f}s"
