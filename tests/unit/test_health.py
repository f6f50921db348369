"""The generic readiness checker judges the catalog's `health` declarations: it passes an
answer that matches, and fails (naming endpoint, path and cause) on a wrong status, a wrong
body member, a body that is not JSON, and a service that is not there. A loopback HTTP
server plays each service, answering what a healthy or a broken one answers."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from conformance import catalog, health
from conformance.access import Endpoint
from conformance.probes.clients import ContractFailure

CATALOG = catalog.load()
HTTP_SERVICES = [s.name for s in CATALOG.services.values() if s.health["kind"] == "http"]


@dataclass
class Answer:
    """What the stand-in service answers next: status and raw body, and what it was asked."""

    status: int = 200
    body: bytes = b"ok"
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def stand_in() -> Iterator[tuple[Endpoint, Answer]]:
    answer = Answer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer.paths.append(self.path)
            self.send_response(answer.status)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Endpoint("stand-in", "127.0.0.1", int(server.server_address[1])), answer
    finally:
        server.shutdown()
        server.server_close()


def healthy(declared: dict[str, Any]) -> Answer:
    """The answer a healthy service gives: the declared status (or 200) and body members."""
    body = json.dumps(declared.get("expect_json", {"status": "ok"})).encode()
    return Answer(int(declared.get("expect_status", 200)), body)


def test_every_http_service_declares_what_its_readiness_test_checked() -> None:
    """The facts the readiness tests used to hard-code, now read from the catalog."""
    assert {n: CATALOG.service(n).health.get("path") for n in ("opa", "prometheus", "grafana", "etcd", "vault")} == {
        "opa": "/health", "prometheus": "/-/ready", "grafana": "/api/health", "etcd": "/health",
        "vault": "/v1/sys/health?standbyok=true"}
    assert CATALOG.service("etcd").health["expect_json"] == {"health": "true"}
    assert CATALOG.service("grafana").health["expect_json"] == {"database": "ok"}
    assert CATALOG.service("vault").health["expect_json"] == {"initialized": True, "sealed": False}


@pytest.mark.parametrize("name", HTTP_SERVICES)
def test_healthy_answer_passes(name: str, stand_in: tuple[Endpoint, Answer]) -> None:
    ep, answer = stand_in
    declared = CATALOG.service(name).health
    good = healthy(declared)
    answer.status, answer.body = good.status, good.body
    line = health.check(ep, declared)
    assert answer.paths == [declared["path"]] and line.startswith(f"GET {declared['path']}: status ")


@pytest.mark.parametrize("name", [n for n in HTTP_SERVICES if "expect_status" in CATALOG.service(n).health])
def test_wrong_status_fails(name: str, stand_in: tuple[Endpoint, Answer]) -> None:
    ep, answer = stand_in
    declared = CATALOG.service(name).health
    answer.body = healthy(declared).body
    answer.status = 503
    with pytest.raises(ContractFailure, match=rf"stand-in at .*: GET {declared['path']} answered 503 .*"
                                              rf"status 503, expected {declared['expect_status']}"):
        health.check(ep, declared)


@pytest.mark.parametrize("name", [n for n in HTTP_SERVICES if CATALOG.service(n).health.get("expect_json")])
def test_wrong_body_member_fails(name: str, stand_in: tuple[Endpoint, Answer]) -> None:
    ep, answer = stand_in
    declared = CATALOG.service(name).health
    expected = dict(declared["expect_json"])
    key = next(iter(expected))
    answer.body = json.dumps({**expected, key: "wrong"}).encode()
    with pytest.raises(ContractFailure, match=rf"{key} is 'wrong', expected "):
        health.check(ep, declared)
    answer.body = json.dumps({k: v for k, v in expected.items() if k != key}).encode()
    with pytest.raises(ContractFailure, match=rf"{key} is null, expected "):
        health.check(ep, declared)


def test_sealed_vault_fails_naming_sealed(stand_in: tuple[Endpoint, Answer]) -> None:
    """fixtures/faults/vault-sealed expects the failure to say 'sealed'; a sealed Vault
    answers 503 with its state in the body."""
    ep, answer = stand_in
    answer.status = 503
    answer.body = json.dumps({"initialized": True, "sealed": True, "standby": True}).encode()
    with pytest.raises(ContractFailure, match="sealed is true, expected false"):
        health.check(ep, CATALOG.service("vault").health)
    answer.status = 429  # an unsealed standby: any status, the body decides
    answer.body = json.dumps({"initialized": True, "sealed": False, "standby": True}).encode()
    assert "sealed=false" in health.check(ep, CATALOG.service("vault").health)


def test_non_json_or_non_object_body_fails(stand_in: tuple[Endpoint, Answer]) -> None:
    ep, answer = stand_in
    declared = CATALOG.service("etcd").health
    answer.body = b"<html>proxy error</html>"
    with pytest.raises(ContractFailure, match="non-JSON body"):
        health.check(ep, declared)
    answer.body = b'["true"]'
    with pytest.raises(ContractFailure, match="body is not a JSON object"):
        health.check(ep, declared)


def test_nothing_listening_fails_naming_the_endpoint() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with pytest.raises(ContractFailure, match=f"opa at 127.0.0.1:{port}: not reachable"):
        health.check(Endpoint("opa", "127.0.0.1", port), CATALOG.service("opa").health)


def test_protocol_kinds_have_no_generic_checker() -> None:
    assert {s.health["kind"] for s in CATALOG.services.values()} <= {*health.CHECKERS, *health.PROTOCOL_KINDS}
    with pytest.raises(ValueError, match="no generic checker for health kind 'sql'"):
        health.check(Endpoint("postgres", "127.0.0.1", 1), CATALOG.service("postgres").health)
