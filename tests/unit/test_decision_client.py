"""DecisionClient against loopback servers: a decision that times out once is asked again
and counted; one that times out twice fails in one line naming the endpoint; a keep-alive
connection the server dropped is opened again."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conformance import catalog
from conformance.access import Endpoint
from conformance.policy import probe as policy_probe
from conformance.policy.probe import DecisionClient
from conformance.probes.clients import ContractFailure

READ_TIMEOUT_S = 0.3


def serve(slow_answers: int, drop_after_answer: bool = False,
          peers: set[tuple[str, int]] | None = None) -> tuple[ThreadingHTTPServer, list[float]]:
    """An OPA stand-in whose first `slow_answers` answers come after the read timeout, and
    which closes a kept-alive connection after each answer when drop_after_answer; peers
    collects the client address of every connection that asked."""
    asked: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as OPA

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            asked.append(time.monotonic())
            if peers is not None:
                peers.add(self.client_address)
            if len(asked) <= slow_answers:
                time.sleep(READ_TIMEOUT_S * 3)
            body = json.dumps({"result": True}).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up on this one
            self.close_connection = drop_after_answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, asked


@pytest.fixture(autouse=True)
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_probe, "READ_TIMEOUT_S", READ_TIMEOUT_S)
    monkeypatch.setattr(policy_probe, "CONNECT_TIMEOUT_S", 1.0)


@contextlib.contextmanager
def client_for(server: ThreadingHTTPServer) -> Iterator[DecisionClient]:
    client = DecisionClient(Endpoint("opa", "127.0.0.1", server.server_address[1]), catalog.load())
    try:
        yield client
    finally:
        client.close()
        server.shutdown()


def test_one_read_timeout_is_asked_again_and_counted() -> None:
    server, asked = serve(slow_answers=1)
    with client_for(server) as client:
        assert client.allow({"input": {}}) is True
        assert client.asked_again == 1 and len(asked) == 2


def test_two_read_timeouts_fail_naming_the_endpoint() -> None:
    server, asked = serve(slow_answers=2)
    with client_for(server) as client:
        with pytest.raises(ContractFailure, match=r"opa at 127\.0\.0\.1:\d+: POST /v1/data/soma/allow: "
                                                   r"TimeoutError: no answer within 0\.3s, twice"):
            client.allow({"input": {}})
        assert len(asked) == 2


def test_a_refused_connection_is_not_asked_again() -> None:
    server, asked = serve(slow_answers=0)
    with client_for(server) as client:
        server.shutdown()
        server.server_close()  # nothing listens any more: fails at once, no second try
        with pytest.raises(ContractFailure, match=r"opa at 127\.0\.0\.1:\d+: POST /v1/data/soma/allow"):
            client.allow({"input": {}})
        assert client.asked_again == 0 and not asked


def test_a_dropped_keep_alive_connection_is_opened_again() -> None:
    server, asked = serve(slow_answers=0, drop_after_answer=True)
    with client_for(server) as client:
        for _ in range(3):
            assert client.allow({"input": {}}) is True
        assert len(asked) == 3 and client.asked_again == 0


def test_connections_are_kept_alive_across_threads_and_rounds() -> None:
    """Three rounds of 4 threads (as each property runs its own pool) share 4 connections."""
    peers: set[tuple[str, int]] = set()
    server, asked = serve(slow_answers=0, peers=peers)
    with client_for(server) as client:
        for _ in range(3):
            with ThreadPoolExecutor(max_workers=4) as pool:
                assert all(pool.map(lambda _: client.allow({"input": {}}), range(40)))
        assert len(asked) == 120 and 1 <= len(peers) <= 4
