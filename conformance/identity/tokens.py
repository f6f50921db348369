"""Mint real identity tokens from the live dev issuer (OpenBao/Vault OIDC identity tokens).

What infra/config/vault/identity.sh sets up: identity <service>.<tenant> logs in through
its AppRole with a fresh single-use secret_id (issued with the admin/root token, so no
static secret exists anywhere) and reads `identity/oidc/token/soma-<service>`. The key,
the AppRole mount and the identities are the catalog's identity.dev, which identity.sh
reads too (through the generated identity.env). Test/dev use only.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import httpx

from conformance import tls
from conformance.catalog import load as load_catalog

_DEV = load_catalog().dev_issuer
DEV_SERVICES = _DEV.services
DEV_TENANTS = _DEV.tenants
# the suite's own identity and its deliberately unacceptable token roles (identity.sh)
CONFORMANCE_IDENTITY = _DEV.conformance
APPROLE_PATH = _DEV.approle_path
SIGNING_KEY = _DEV.signing_key
TIMEOUT = httpx.Timeout(5.0, connect=3.0)


class IssuerError(Exception):
    """The dev issuer refused or failed a request; names the URL and the cause."""


@dataclass
class DevIssuer:
    """Admin-side client of the dev issuer: mint tokens for dev identities, rotate keys."""

    base_url: str  # host-reachable Vault address, e.g. http://127.0.0.1:8200
    admin_token: str

    def _call(self, method: str, path: str, token: str | None = None,
              body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.base_url.rstrip('/')}/v1/{path}"
        headers = {"X-Vault-Token": token if token is not None else self.admin_token}
        try:
            resp = httpx.request(method, url, headers=headers, json=body, timeout=TIMEOUT, verify=tls.verify(url))
        except httpx.HTTPError as exc:
            raise IssuerError(f"{method} {url}: {type(exc).__name__}: {exc}") from None
        if resp.status_code == 204:
            return {}
        if resp.status_code != 200:
            raise IssuerError(f"{method} {url}: HTTP {resp.status_code}: {resp.text[:200]}")
        try:
            data: dict[str, Any] = resp.json()
        except ValueError:
            raise IssuerError(f"{method} {url}: non-JSON answer {resp.text[:80]!r}") from None
        return data

    def mint(self, service: str, tenant: str, role: str | None = None) -> str:
        """A fresh signed JWT for dev identity <service>.<tenant> (role: soma-<service>)."""
        name = f"{service}.{tenant}"
        role_id = self._call("GET", f"auth/{APPROLE_PATH}/role/{name}/role-id")["data"]["role_id"]
        secret = self._call("POST", f"auth/{APPROLE_PATH}/role/{name}/secret-id", body={})
        login = self._call("POST", f"auth/{APPROLE_PATH}/login",
                           body={"role_id": role_id, "secret_id": secret["data"]["secret_id"]})
        client_token = str(login["auth"]["client_token"])
        try:
            token = self._call("GET", f"identity/oidc/token/{role or 'soma-' + service}", token=client_token)
        finally:
            with contextlib.suppress(IssuerError):  # the login token has served its purpose
                self._call("POST", "auth/token/revoke-self", token=client_token, body={})
        return str(token["data"]["token"])

    def key(self, name: str = SIGNING_KEY) -> dict[str, Any]:
        """The named signing key's settings (rotation period, verification TTL, ...)."""
        return dict(self._call("GET", f"identity/oidc/key/{name}")["data"])

    def rotate(self, name: str = SIGNING_KEY) -> None:
        """Rotate the named key. Old public keys stay published for the verification TTL."""
        self._call("POST", f"identity/oidc/key/{name}/rotate", body={})
