"""Asking the live OPA for decisions: the readiness pair and a client for many decisions.

Every call is bounded (httpx timeouts) and every failure becomes a ContractFailure that
names the endpoint and the cause.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from conformance import tls
from conformance.catalog import Catalog
from conformance.probes import clients
from conformance.probes.clients import ContractFailure
from conformance.targets.base import Endpoint

Mint = Callable[[str, str], str]
TIMEOUT = httpx.Timeout(clients.IO_TIMEOUT_S, connect=clients.CONNECT_TIMEOUT_S)


class DecisionClient:
    """A keep-alive client for the decision paths of one OPA (fuzzing needs thousands)."""

    def __init__(self, ep: Endpoint, catalog: Catalog) -> None:
        clients.tcp_reachable(ep)
        self.ep = ep
        self.allow_path = str(catalog.policy["decision_path"])
        self.debug_path = str(catalog.policy["debug_path"])
        self._http = httpx.Client(base_url=ep.url(), timeout=TIMEOUT, verify=tls.verify(ep.url()))
        self._lock = threading.Lock()
        self.asked_again = 0  # decisions that timed out once and were asked again

    def close(self) -> None:
        self._http.close()

    def query(self, path: str, body: dict[str, Any]) -> Any:
        """POST body to path; the `result` (None when undefined)."""
        with clients.failing_as(self.ep, f"POST {path}"):
            resp = self._post(path, body)
        payload = clients.json_of(self.ep, resp, f"POST {path}")
        if resp.status_code != 200 or not isinstance(payload, dict):
            raise ContractFailure(f"{self.ep}: POST {path} answered HTTP {resp.status_code}: "
                                  f"{str(payload)[:160]}")
        return payload.get("result")

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """A decision is a pure read, so one that times out is asked once more and counted:
        one slow answer in thousands (a kubectl port-forward stream, a CPU-throttled OPA)
        says nothing about the verdicts a property checks. A second timeout fails."""
        try:
            return self._http.post(path, json=body)
        except httpx.ReadTimeout:
            with self._lock:
                self.asked_again += 1
            return self._http.post(path, json=body)

    def get(self, path: str) -> Any:
        with clients.failing_as(self.ep, f"GET {path}"):
            resp = self._http.get(path)
        payload = clients.json_of(self.ep, resp, f"GET {path}")
        if resp.status_code != 200 or not isinstance(payload, dict):
            raise ContractFailure(f"{self.ep}: GET {path} answered HTTP {resp.status_code}: "
                                  f"{str(payload)[:160]}")
        return payload.get("result")

    def allow(self, body: dict[str, Any]) -> Any:
        return self.query(self.allow_path, body)

    def decision(self, body: dict[str, Any]) -> dict[str, Any]:
        """The debug decision, checked for shape: {allow: bool, reasons: [str], route}."""
        got = self.query(self.debug_path, body)
        if (not isinstance(got, dict) or not isinstance(got.get("allow"), bool)
                or not isinstance(got.get("reasons"), list)):
            raise ContractFailure(f"{self.ep}: {self.debug_path} is not a decision object: {got!r:.160}")
        return got


def decide(ep: Endpoint, catalog: Catalog, inp: object) -> object:
    """One decision on the contract path (the readiness probe)."""
    path = str(catalog.policy["decision_path"])
    resp = clients.http_post_json(ep, path, {"input": inp})
    body = clients.json_of(ep, resp, f"POST {path}")
    if resp.status_code != 200 or not isinstance(body, dict):
        raise ContractFailure(f"{ep}: POST {path} answered {resp.status_code}: {str(body)[:120]}")
    return body.get("result")


def readiness_decisions(ep: Endpoint, catalog: Catalog, mint: Mint) -> None:
    """The golden table's readiness picks: one call that must allow (a real token from the
    live issuer) and one that must deny (a caller/callee pair outside the allowlist)."""
    from conformance.policy_cases import golden, golden_case

    _, picks = golden()
    for want, name in ((True, picks["allow"]), (False, picks["deny"])):
        body = golden_case(name).body(mint)
        got = decide(ep, catalog, body.get("input"))
        if got is not want:
            raise ContractFailure(f"{ep}: {catalog.policy['decision_path']} for {name!r} "
                                  f"must be {want}, decision was {got!r}")
