"""The tracing contract's machinery against a stub of Jaeger's query API (unit test of
the suite's own code; the live proof against real OPA + Jaeger is tests/tracing/
test_tracing.py, make test-tracing): it finds an OPA span of the right trace, and it fails, naming what
Jaeger answered, when the trace never arrives or carries no OPA span."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from conformance.access import Endpoint
from conformance.observability import tracing
from conformance.probes.clients import ContractFailure

TRACES: dict[str, dict[str, Any]] = {}


class StubJaeger(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        m = re.fullmatch(r"/api/traces/([0-9a-f]{32})", self.path)
        doc = TRACES.get(m.group(1)) if m else None
        body = json.dumps(doc or {"data": None, "errors": [{"code": 404, "msg": "trace not found"}]}).encode()
        self.send_response(200 if doc else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def jaeger() -> Iterator[Endpoint]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubJaeger)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Endpoint("jaeger", "127.0.0.1", int(server.server_address[1]))
    finally:
        server.shutdown()


def trace(trace_id: str, service: str, operation: str) -> dict[str, Any]:
    return {"data": [{"traceID": trace_id, "processes": {"p1": {"serviceName": service}},
                      "spans": [{"traceID": trace_id, "operationName": operation, "processID": "p1"}]}]}


def test_traceparent_is_w3c_and_sampled() -> None:
    trace_id, header = tracing.traceparent()
    assert re.fullmatch(r"00-([0-9a-f]{32})-[0-9a-f]{16}-01", header)
    assert header.split("-")[1] == trace_id


def test_finds_the_opa_span_of_the_trace(jaeger: Endpoint) -> None:
    trace_id, _ = tracing.traceparent()
    TRACES[trace_id] = trace(trace_id, "opa", "v1/data")
    found = tracing.find_trace(jaeger, trace_id, "opa", wait_s=2, poll_s=0.1)
    assert found.spans == ["opa: v1/data"]


def test_missing_trace_fails_naming_jaeger_and_the_trace(jaeger: Endpoint) -> None:
    trace_id, _ = tracing.traceparent()
    with pytest.raises(ContractFailure, match=rf"no opa span of trace {trace_id} within 1s \(HTTP 404"):
        tracing.find_trace(jaeger, trace_id, "opa", wait_s=1, poll_s=0.2)


def test_trace_without_an_opa_span_fails(jaeger: Endpoint) -> None:
    trace_id, _ = tracing.traceparent()
    TRACES[trace_id] = trace(trace_id, "etcd", "put")
    with pytest.raises(ContractFailure, match=r"none of service 'opa'.*never reached this Jaeger"):
        tracing.find_trace(jaeger, trace_id, "opa", wait_s=1, poll_s=0.2)


def test_unreachable_jaeger_fails_fast() -> None:
    with pytest.raises(ContractFailure, match="not reachable"):
        tracing.find_trace(Endpoint("jaeger", "127.0.0.1", 1), "0" * 32, "opa", wait_s=1, poll_s=0.2)
