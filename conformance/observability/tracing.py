"""Tracing contract machinery: make one policy decision under a trace id of our own (W3C
traceparent; OPA's server honours it) and find that trace in Jaeger's query API.

The trace id is random per run, so a span found under it can only come from this decision:
no other request of the stack can carry it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from conformance.access import Endpoint
from conformance.probes.clients import ContractFailure, failing_as, tcp_reachable
from conformance.waiting import WaitTimeout, wait_until

# OPA's batch span processor exports every 5 s; Jaeger indexes on receipt
WAIT_S = 30.0
POLL_S = 1.0


@dataclass(frozen=True)
class Traced:
    trace_id: str
    spans: list[str]  # "<service>: <operation>"


def traceparent() -> tuple[str, str]:
    """(trace id, traceparent header) for a new sampled trace."""
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def decide_traced(opa: Endpoint, path: str, body: dict[str, Any]) -> str:
    """POST one decision with a fresh traceparent; returns the trace id."""
    trace_id, header = traceparent()
    tcp_reachable(opa)
    with failing_as(opa, f"POST {path}"):
        resp = httpx.post(opa.url(path), json=body, headers={"traceparent": header}, timeout=10)
    if resp.status_code != 200:
        raise ContractFailure(f"{opa}: POST {path} answered HTTP {resp.status_code}: {resp.text[:120]!r}")
    return trace_id


def spans_of(doc: Any) -> list[str]:
    """'<service>: <operation>' of every span in a Jaeger /api/traces/<id> answer."""
    out: list[str] = []
    for trace in (doc or {}).get("data") or []:
        processes = trace.get("processes") or {}
        for span in trace.get("spans") or []:
            service = (processes.get(span.get("processID")) or {}).get("serviceName", "?")
            out.append(f"{service}: {span.get('operationName', '?')}")
    return out


def find_trace(jaeger: Endpoint, trace_id: str, service: str, wait_s: float = WAIT_S,
               poll_s: float = POLL_S) -> Traced:
    """Poll Jaeger's query API until the trace has a span of `service`, else fail naming
    what Jaeger last answered."""
    last = "no answer yet"

    def traced() -> Traced | None:
        nonlocal last
        tcp_reachable(jaeger)
        with failing_as(jaeger, f"GET /api/traces/{trace_id}"):
            resp = httpx.get(jaeger.url(f"/api/traces/{trace_id}"), timeout=5)
        if resp.status_code != 200:
            last = f"HTTP {resp.status_code} (trace not found)"
            return None
        spans = spans_of(resp.json())
        if any(s.startswith(f"{service}: ") for s in spans):
            return Traced(trace_id, spans)
        last = f"trace has spans {spans or 'none'}, none of service {service!r}"
        return None

    try:
        found = wait_until(traced, timeout=wait_s, interval=poll_s,
                           what=f"a {service} span of trace {trace_id} in {jaeger}")
    except WaitTimeout:
        raise ContractFailure(
            f"{jaeger}: no {service} span of trace {trace_id} within {wait_s:.0f}s ({last}): "
            f"the decision was made, but its span never reached this Jaeger") from None
    assert found is not None  # wait_until returns only a truthy answer
    return found
