"""--wait-ready: waits for services to accept connections, gives up at the deadline, and
says which services were still down (it never judges: the contracts do)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from conformance import catalog
from conformance.access import Credentials, Endpoint
from conformance.inside.checks import InsideCheck, InsideResult
from conformance.readiness_wait import wait_ready
from conformance.targets.base import Target, TargetOptions


class Ports(Target):
    name = "stub"

    def __init__(self, ports: dict[str, int]) -> None:
        super().__init__(catalog.load(), TargetOptions())
        self.ports = ports

    def setup(self) -> None: ...
    def deployed(self, service: str) -> bool:
        return service in self.ports

    def endpoint(self, service: str) -> Endpoint:
        return Endpoint(service, "127.0.0.1", self.ports[service])

    def credentials(self) -> Credentials:
        return Credentials()

    def run_inside(self, checks: list[InsideCheck]) -> list[InsideResult]:
        return []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def listening() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    yield int(server.getsockname()[1])
    server.close()


def test_ready_services_return_at_once(listening: int) -> None:
    line = wait_ready(Ports({"redis": listening}), deadline_s=30)
    assert line.startswith("every deployed service accepted a connection after")


def test_gives_up_at_the_deadline_naming_what_is_down(listening: int) -> None:
    t0 = time.monotonic()
    line = wait_ready(Ports({"redis": listening, "postgres": free_port()}), deadline_s=1.5)
    assert time.monotonic() - t0 < 15
    assert line.startswith("still not accepting after") and line.endswith(": postgres")


def test_a_service_that_comes_up_late_is_waited_for() -> None:
    port = free_port()

    def start_later() -> None:
        time.sleep(1.5)
        server = socket.create_server(("127.0.0.1", port))
        time.sleep(10)
        server.close()

    threading.Thread(target=start_later, daemon=True).start()
    line = wait_ready(Ports({"redis": port}), deadline_s=30)
    assert line.startswith("every deployed service accepted"), line
