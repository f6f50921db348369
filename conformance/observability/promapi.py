"""A small, bounded Prometheus HTTP API client for contracts.

Every call has a timeout and every failure is a ContractFailure naming the endpoint and
the API path, so a broken Prometheus fails its contracts fast and legibly.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from conformance import tls
from conformance.access import Endpoint
from conformance.probes.clients import IO_TIMEOUT_S, ContractFailure, describe_exc, tcp_reachable


class Prometheus:
    """One Prometheus server reached at `ep` (host-reachable endpoint)."""

    def __init__(self, ep: Endpoint, timeout: float = IO_TIMEOUT_S) -> None:
        self.ep = ep
        self.timeout = timeout
        self._checked = False

    def api(self, path: str, params: dict[str, str] | None = None, post: bool = False) -> Any:
        """`data` of a /api/v1 call; anything but status=success is a ContractFailure."""
        if not self._checked:
            tcp_reachable(self.ep)
            self._checked = True
        url = self.ep.url(f"/api/v1/{path}")
        try:
            if post:
                resp = httpx.post(url, data=params or {}, timeout=self.timeout, verify=tls.verify(url))
            else:
                resp = httpx.get(url, params=params or {}, timeout=self.timeout, verify=tls.verify(url))
        except httpx.HTTPError as exc:
            raise ContractFailure(f"{self.ep}: GET /api/v1/{path}: {describe_exc(exc)}") from None
        try:
            body = resp.json()
        except ValueError:
            raise ContractFailure(f"{self.ep}: /api/v1/{path} answered HTTP {resp.status_code} "
                                  f"with non-JSON body {resp.text[:80]!r}") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error", body) if isinstance(body, dict) else body
            raise ContractFailure(f"{self.ep}: /api/v1/{path} failed (HTTP {resp.status_code}): {error}")
        return body.get("data")

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Series of an instant query (vector or matrix); a scalar counts as one series."""
        data = self.api("query", {"query": expr}, post=True)
        kind = data.get("resultType")
        if kind in ("vector", "matrix"):
            return list(data.get("result") or [])
        return [{"metric": {}, "value": data.get("result")}]

    def uptime_s(self) -> float:
        """Seconds since this Prometheus started (its runtime info's startTime)."""
        from datetime import datetime

        started = str(self.api("status/runtimeinfo").get("startTime", ""))
        try:
            when = datetime.fromisoformat(started.replace("Z", "+00:00"))
        except ValueError:
            raise ContractFailure(f"{self.ep}: unreadable startTime {started!r} in runtime info") from None
        return max(0.0, time.time() - when.timestamp())

    def active_targets(self) -> list[dict[str, Any]]:
        return list(self.api("targets", {"state": "active"}).get("activeTargets") or [])

    def rule_groups(self) -> list[dict[str, Any]]:
        return list(self.api("rules", {"type": "alert"}).get("groups") or [])

    def label_values(self, match: str | None, label: str, lookback_s: int = 3600) -> list[str]:
        """Values of `label` (on series matching `match`) seen in the last `lookback_s`."""
        now = time.time()
        params = {"start": f"{now - lookback_s:.3f}", "end": f"{now:.3f}"}
        if match:
            params["match[]"] = match
        return sorted(str(v) for v in self.api(f"label/{label}/values", params) or [])

    def live_config(self) -> str:
        return str(self.api("status/config").get("yaml", ""))
