"""Decisions the readiness contract asks OPA for: one that must allow, one that must deny.

Placeholder until the policy contract lands: only the deny half is checked.
"""

from __future__ import annotations

from conformance.catalog import Catalog
from conformance.probes import clients
from conformance.probes.clients import ContractFailure
from conformance.targets.base import Endpoint


def decide(ep: Endpoint, catalog: Catalog, inp: object) -> object:
    path = str(catalog.policy["decision_path"])
    resp = clients.http_post_json(ep, path, {"input": inp})
    body = clients.json_of(ep, resp, f"POST {path}")
    if resp.status_code != 200 or not isinstance(body, dict):
        raise ContractFailure(f"{ep}: POST {path} answered {resp.status_code}: {str(body)[:120]}")
    return body.get("result")


def readiness_decisions(ep: Endpoint, catalog: Catalog) -> None:
    got = decide(ep, catalog, {})
    if got is not False:
        raise ContractFailure(f"{ep}: empty input must be denied, decision was {got!r}")
