"""Asking the live OPA for decisions: the readiness pair and a client for many decisions.

Every call is bounded (connect and read timeouts) and every failure becomes a
ContractFailure that names the endpoint and the cause.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from collections.abc import Callable
from typing import Any

from conformance import tls
from conformance.access import Endpoint
from conformance.catalog import Catalog
from conformance.probes import clients
from conformance.probes.clients import ContractFailure

Mint = Callable[[str, str], str]
CONNECT_TIMEOUT_S = clients.CONNECT_TIMEOUT_S
READ_TIMEOUT_S = clients.IO_TIMEOUT_S
# Dropped keep-alive connections, seen when a request is sent on one the server closed
_DROPPED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class DecisionClient:
    """Keep-alive connections to the decision paths of one OPA (fuzzing needs thousands).

    Plain http.client, as many HTTP/1.1 connections as requests run at once, kept alive
    between them: a property asks OPA 2,000 times from a few threads, and httpx spends
    several times more of the test process's CPU per request, CPU that the 2 cores running
    both the suite and the stack then lack (docs/infra/SUITE.md, "Where the time goes")."""

    def __init__(self, ep: Endpoint, catalog: Catalog) -> None:
        clients.tcp_reachable(ep)
        self.ep = ep
        self.allow_path = str(catalog.policy["decision_path"])
        self.debug_path = str(catalog.policy["debug_path"])
        verify = tls.verify(ep.url())
        self._tls: ssl.SSLContext | None = None
        if ep.scheme == "https":
            self._tls = verify if isinstance(verify, ssl.SSLContext) else ssl.create_default_context()
        self._idle: list[http.client.HTTPConnection] = []  # kept alive between requests
        self._lock = threading.Lock()
        self.asked_again = 0  # decisions that timed out once and were asked again

    def close(self) -> None:
        with self._lock:
            for conn in self._idle:
                conn.close()
            self._idle.clear()

    def _take(self) -> http.client.HTTPConnection:
        """An idle connection, or a new one (as many as requests run at once)."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
        if self._tls is not None:
            return http.client.HTTPSConnection(self.ep.host, self.ep.port, timeout=CONNECT_TIMEOUT_S,
                                               context=self._tls)
        return http.client.HTTPConnection(self.ep.host, self.ep.port, timeout=CONNECT_TIMEOUT_S)

    def _ask(self, conn: http.client.HTTPConnection, method: str, path: str,
             body: bytes | None) -> tuple[int, bytes]:
        if conn.sock is None:
            conn.connect()  # within CONNECT_TIMEOUT_S; each read then waits READ_TIMEOUT_S
            if conn.sock is not None:
                conn.sock.settimeout(READ_TIMEOUT_S)
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()

    def _exchange(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        """One request on a kept-alive connection; one the server had dropped is opened
        again once (the request never reached OPA)."""
        conn = self._take()
        try:
            try:
                answer = self._ask(conn, method, path, body)
            except _DROPPED:
                conn.close()
                answer = self._ask(conn, method, path, body)
        except BaseException:
            conn.close()  # a half-read answer must not be read by the next request
            raise
        with self._lock:
            self._idle.append(conn)
        return answer

    def _send(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        """A decision is a pure read, so one that times out is asked once more and counted:
        one slow answer in thousands (a kubectl port-forward stream, a CPU-throttled OPA)
        says nothing about the verdicts a property checks. A second timeout fails."""
        try:
            return self._exchange(method, path, body)
        except TimeoutError:
            with self._lock:
                self.asked_again += 1
        try:
            return self._exchange(method, path, body)
        except TimeoutError:
            raise TimeoutError(f"no answer within {READ_TIMEOUT_S:g}s, twice") from None

    def _result(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        """The `result` of an answer (None when undefined); anything else fails in one line."""
        what = f"{method} {path}"
        with clients.failing_as(self.ep, what):
            status, raw = self._send(method, path, None if body is None else json.dumps(body).encode())
        payload = clients.json_body(self.ep, status, raw.decode(errors="replace"), what)
        if status != 200 or not isinstance(payload, dict):
            raise ContractFailure(f"{self.ep}: {what} answered HTTP {status}: {str(payload)[:160]}")
        return payload.get("result")

    def query(self, path: str, body: dict[str, Any]) -> Any:
        """POST body to path; the `result` (None when undefined)."""
        return self._result("POST", path, body)

    def get(self, path: str) -> Any:
        return self._result("GET", path, None)

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
    from conformance.policy.cases import golden, golden_case

    _, picks = golden()
    for want, name in ((True, picks["allow"]), (False, picks["deny"])):
        body = golden_case(name).body(mint)
        got = decide(ep, catalog, body.get("input"))
        if got is not want:
            raise ContractFailure(f"{ep}: {catalog.policy['decision_path']} for {name!r} "
                                  f"must be {want}, decision was {got!r}")
