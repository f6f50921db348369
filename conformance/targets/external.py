"""Target `external`: anything already running (staging, prod, a colleague's laptop),
described by an endpoints file (schema: conformance/schema/endpoints.v1.schema.json;
guide and full example: docs/infra/SUITE.md; `soma-conformance endpoints init` writes one).

    name: staging
    services:
      postgres: {host: pg.staging.internal, port: 5432, sslmode: verify-full, ca_file: /etc/ssl/ca.pem}
      vault: {host: vault.staging.internal, port: 8200, scheme: https, ca_file: /etc/ssl/ca.pem}
      grafana: {deployed: false}       # optional services may be absent
    credentials:
      postgres: {user: soma_conformance, password: "${PG_PASSWORD}", database: soma}
      vault: {token: "${SOMA_VAULT_TOKEN}"}   # a token with the soma-conformance policy

The run is read-only unless --allow-disruptive: contracts that change state skip, named.
There is no in-network probe for an external target, so the DNS/ports contracts skip
with that reason (run the suite in-cluster, e.g. `helm test`, to check them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from conformance import endpoints as endpoints_mod
from conformance import tls
from conformance.access import Credentials, Endpoint
from conformance.errors import TargetError
from conformance.inside.checks import InsideCheck, InsideResult
from conformance.targets.base import Target

MAX_FILE_BYTES = endpoints_mod.MAX_FILE_BYTES
PROTOCOL_OPTIONS = ("sslmode", "security_protocol", "sasl_mechanism")


def load_endpoints(path_text: str | None, known_services: set[str]) -> dict[str, Any]:
    """Read, expand (${ENV}) and validate an endpoints file; UsageError with one line per mistake."""
    return endpoints_mod.load(path_text, known_services)


class ExternalTarget(Target):
    name = "external"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.doc = load_endpoints(self.options.endpoints_file, set(self.catalog.services))
        self.label = str(self.doc.get("name", "external"))
        self._approle_token: str | None = None

    @property
    def environment(self) -> str:
        """The endpoints file's `name:`; without one, the file's stem (external:staging)."""
        name = self.doc.get("name")
        return str(name) if name else f"external:{Path(str(self.options.endpoints_file)).stem}"

    def setup(self) -> None:
        """Nothing to bring up: an external target is already running."""

    def _spec(self, service: str) -> dict[str, Any] | None:
        spec = self.doc["services"].get(service)
        if spec is None or spec.get("deployed", True) is False:
            return None
        return dict(spec)

    def deployed(self, service: str) -> bool:
        return self._spec(service) is not None

    def not_deployed_reason(self, service: str) -> str:
        return f"{service} is not deployed on external target {self.label} (endpoints file)"

    def endpoint(self, service: str) -> Endpoint:
        spec = self._spec(service)
        if spec is None:
            raise TargetError(f"{service}: no endpoint in {self.options.endpoints_file}")
        scheme = str(spec.get("scheme", "http"))
        options = {k: str(spec[k]) for k in PROTOCOL_OPTIONS if k in spec}
        uses_tls = scheme == "https" or bool(spec.get("tls")) or "SSL" in options.get("security_protocol", "")
        if service == "kafka" and options.get("security_protocol", "").startswith("SASL"):
            sasl = self.doc.get("credentials", {}).get("kafka", {})
            options |= {"sasl_username": str(sasl.get("username", "")),
                        "sasl_password": str(sasl.get("password", ""))}
        ca_file = str(spec["ca_file"]) if spec.get("ca_file") else None
        if service == "etcd" and spec.get("tls"):
            scheme = "https"  # one port: gRPC and the HTTP gateway share its TLS
        host, port = str(spec["host"]), int(spec["port"])
        if scheme == "https":
            tls.register(host, port, ca_file)
        return Endpoint(service, host, port, scheme=scheme, tls=uses_tls, ca_file=ca_file,
                        options=tuple(sorted(options.items())))

    def credentials(self) -> Credentials:
        c = self.doc.get("credentials", {})
        pg, redis, vault = c.get("postgres", {}), c.get("redis", {}), c.get("vault", {})
        return Credentials(
            postgres_user=str(pg.get("user", "postgres")),
            postgres_password=str(pg.get("password", "")),
            postgres_db=str(pg.get("database", "postgres")),
            redis_password=str(redis.get("password", "")),
            redis_username=str(redis.get("username", "")),
            vault_token=self._vault_token(vault),
        )

    def _vault_token(self, vault: dict[str, Any]) -> str:
        """The token from the file, or one from an AppRole login (role_id + secret_id)."""
        if vault.get("token") or not vault.get("role_id"):
            return str(vault.get("token", ""))
        if self._approle_token is None:
            ep = self.endpoint("vault")
            url = ep.url(f"/v1/auth/{vault.get('approle_path', 'approle')}/login")
            try:
                resp = httpx.post(url, json={"role_id": vault["role_id"], "secret_id": vault.get("secret_id", "")},
                                  timeout=httpx.Timeout(5.0, connect=3.0), verify=tls.verify(url))
                resp.raise_for_status()
                self._approle_token = str(resp.json()["auth"]["client_token"])
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                raise TargetError(f"vault AppRole login at {url}: {type(exc).__name__}: {exc}") from None
        return self._approle_token

    def inside_unsupported_reason(self) -> str | None:
        return ("an external target has no in-network probe; run the suite inside the "
                "cluster (helm test) to check DNS names")

    def run_inside(self, checks: list[InsideCheck]) -> list[InsideResult]:
        return [InsideResult(c.service, False, self.inside_unsupported_reason() or "") for c in checks]

    def describe(self) -> str:
        eps = ", ".join(f"{s}={self._spec(s)['host']}:{self._spec(s)['port']}"  # type: ignore[index]
                        for s in self.catalog.services if self._spec(s) is not None)
        return f"target: external {self.label} ({eps})"
