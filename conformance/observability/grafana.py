"""Grafana checks, where Grafana is deployed: the provisioned datasource answers and every
baseline dashboard is present. Anonymous Viewer access is what the stack configures."""

from __future__ import annotations

from typing import Any

import httpx

from conformance import tls
from conformance.access import Endpoint
from conformance.probes.clients import IO_TIMEOUT_S, ContractFailure, describe_exc, tcp_reachable


def _call(ep: Endpoint, method: str, path: str, body: Any = None) -> httpx.Response:
    tcp_reachable(ep)
    try:
        return httpx.request(method, ep.url(path), json=body, timeout=IO_TIMEOUT_S, verify=tls.verify(ep.url()))
    except httpx.HTTPError as exc:
        raise ContractFailure(f"{ep}: {method} {path}: {describe_exc(exc)}") from None


def datasource_healthy(ep: Endpoint, uid: str) -> str:
    """The datasource health check passes; where the caller may not run it (401/403),
    a query of `up` through the datasource must return frames instead."""
    path = f"/api/datasources/uid/{uid}/health"
    resp = _call(ep, "GET", path)
    if resp.status_code == 200 and str(_json(resp).get("status", "")).upper() == "OK":
        return f"{path}: OK"
    if resp.status_code not in (401, 403):
        raise ContractFailure(f"{ep}: GET {path} answered {resp.status_code}: {resp.text[:200]}")
    query = {"from": "now-5m", "to": "now",
             "queries": [{"refId": "A", "datasource": {"uid": uid}, "expr": "up", "instant": True}]}
    resp = _call(ep, "POST", "/api/ds/query", query)
    frames = (_json(resp).get("results") or {}).get("A", {}).get("frames") or []
    if resp.status_code != 200 or not frames:
        raise ContractFailure(f"{ep}: datasource {uid}: health check not permitted and "
                              f"query `up` answered {resp.status_code}: {resp.text[:200]}")
    return f"/api/ds/query `up` through datasource {uid}: {len(frames)} frames"


def missing_dashboards(ep: Endpoint, uids: list[str]) -> list[str]:
    """Baseline dashboard uids Grafana does not serve, each with the reason."""
    missing = []
    for uid in uids:
        resp = _call(ep, "GET", f"/api/dashboards/uid/{uid}")
        if resp.status_code != 200:
            missing.append(f"{uid} (HTTP {resp.status_code})")
    return missing


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
