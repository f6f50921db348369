"""Helpers of the identity contracts: the catalog's issuer with reachable URLs, and
accept/reject assertions that name the endpoint and the cause."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from conformance import tls
from conformance.identity.under_test import Validator
from conformance.identity.validator import InvalidToken, ValidatorConfig
from conformance.probes.clients import ContractFailure


@dataclasses.dataclass
class Issuer:
    """The target's issuer as the catalog names it, with host-reachable URLs."""

    catalog: dict[str, Any]
    jwks_url: str          # reachable rewrite of catalog jwks_url
    discovery_url: str     # reachable rewrite of catalog discovery_url

    def config(self, **changes: Any) -> ValidatorConfig:
        return dataclasses.replace(ValidatorConfig.from_catalog(self.catalog, self.jwks_url), **changes)

    def get(self, url: str) -> httpx.Response:
        try:
            return httpx.get(url, timeout=httpx.Timeout(5.0, connect=3.0), verify=tls.verify(url))
        except httpx.HTTPError as exc:
            raise ContractFailure(f"vault at {url}: {type(exc).__name__}: {exc}") from None

    def get_json(self, url: str) -> tuple[httpx.Response, Any]:
        resp = self.get(url)
        if resp.status_code != 200:
            raise ContractFailure(f"vault at {url}: HTTP {resp.status_code}: {resp.text[:120]}")
        try:
            return resp, resp.json()
        except ValueError:
            raise ContractFailure(f"vault at {url}: not JSON: {resp.text[:80]!r}") from None


def rejects(v: Validator, token: str, why: str, expected_tenant: str | None = None) -> str:
    """Assert the validator rejects token; returns its reason."""
    try:
        claims = v.validate(token, expected_tenant=expected_tenant)
    except InvalidToken as exc:
        return str(exc)
    raise ContractFailure(f"validator accepted {why}: claims {claims}")


def accepts(v: Validator, token: str, what: str, expected_tenant: str | None = None) -> dict[str, Any]:
    try:
        return v.validate(token, expected_tenant=expected_tenant)
    except InvalidToken as exc:
        raise ContractFailure(f"validator rejected {what}: {exc}") from None
