"""The contract catalog (infra/contracts/catalog.yaml) as typed, validated data.

One source of truth: tests, the generated CONTRACTS.md and the CLI all read it here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from conformance.errors import UsageError
from conformance.resources import data_path

# The catalog lives with the infra it describes (so infra/ splits off whole); the wheel
# carries it as package data at the same relative path (pyproject.toml, force-include).
CATALOG_PATH = data_path("infra/contracts/catalog.yaml")
AREAS = ("readiness", "dns", "identity", "policy", "tenancy", "observability", "security", "sizing",
         "durability", "resilience")
# services.<name>.health kinds: `http` is judged by conformance/health.py from the
# declaration alone; the others are protocol checks with their own readiness tests
HEALTH_KINDS = ("http", "sql", "ping", "kafka-metadata")


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    protocol: str
    health: dict[str, Any]
    metrics_job: str
    required: bool
    dns_name: str

    @property
    def address(self) -> str:
        return f"{self.dns_name}:{self.port}"

    @property
    def host_port_var(self) -> str:
        """The compose variable that publishes it on the host (infra/env/.env.shared.example)."""
        return f"{self.name.upper()}_HOST_PORT"


DEFAULT_RUNBOOK_DOC = "docs/infra/runbook_shared_infra.md"
# the path OpenBao/Vault serves its identity tokens' issuer under (iss = <base> + this)
OPENBAO_ISSUER_PATH = "/v1/identity/oidc"


@dataclass(frozen=True)
class DevIssuer:
    """identity.dev: what the dev issuer is set up with (infra/config/vault/identity.sh)."""

    signing_key: str
    approle_path: str
    services: tuple[str, ...]
    tenants: tuple[str, ...]
    conformance: tuple[str, str]  # the suite's own identity: (service, tenant)


@dataclass(frozen=True)
class Contract:
    id: str
    area: str
    service: str
    title: str
    runbook: str | None = None  # heading anchor in the catalog's runbook_doc
    # what the contract changes on the target, if anything: such contracts (or their
    # state-changing part) run only with --allow-disruptive on read-only targets
    disruptive: str = ""


@dataclass(frozen=True)
class Catalog:
    version: int
    namespace: str
    dns_suffix: str
    services: dict[str, Service]
    identity: dict[str, Any]
    policy: dict[str, Any]
    sizing: dict[str, Any]
    security: dict[str, Any]
    contracts: tuple[Contract, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)
    runbook_doc: str = DEFAULT_RUNBOOK_DOC

    @property
    def dev_issuer(self) -> DevIssuer:
        """identity.dev, typed; a catalog without it is a one-line UsageError here."""
        return _dev_issuer(self.identity.get("dev"))

    def service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            raise KeyError(f"service {name!r} is not in the contract catalog") from None

    def contract(self, contract_id: str) -> Contract:
        for c in self.contracts:
            if c.id == contract_id:
                return c
        raise KeyError(f"contract {contract_id!r} is not in the contract catalog")

    def service_for_host(self, host: str, port: int) -> Service | None:
        """The catalog service published at host:port (a contract DNS name), if any."""
        for svc in self.services.values():
            if svc.dns_name == host and svc.port == port:
                return svc
        return None

    def split_url(self, url: str) -> tuple[Service, str]:
        """Split a catalog URL (e.g. the JWKS URL) into its service and path+query."""
        parts = urlsplit(url)
        svc = self.service_for_host(parts.hostname or "", parts.port or 80)
        if svc is None:
            raise KeyError(f"{url} does not point at a catalog service")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return svc, path


def _require(mapping: dict[str, Any], key: str, where: str) -> Any:
    if key not in mapping:
        raise UsageError(f"contract catalog: {where} lacks {key!r}")
    return mapping[key]


def _anchor(value: Any, where: str) -> str | None:
    """A runbook heading anchor: lower-case words joined by '-', without the leading '#'."""
    if value is None:
        return None
    text = str(value).removeprefix("#")
    if not text or text != text.lower() or " " in text:
        raise UsageError(f"contract catalog: {where} has invalid runbook anchor {value!r}")
    return text


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise UsageError(f"contract catalog: {where} must be a non-empty list of names")
    return tuple(value)


def _dev_issuer(value: Any) -> DevIssuer:
    where = "identity.dev"
    if not isinstance(value, dict):
        raise UsageError(f"contract catalog: {where} is missing (the dev issuer's key, AppRole mount and identities)")
    own = _require(value, "conformance", where)
    if not isinstance(own, dict):
        raise UsageError(f"contract catalog: {where}.conformance must be {{service, tenant}}")
    return DevIssuer(
        signing_key=str(_require(value, "signing_key", where)),
        approle_path=str(_require(value, "approle_path", where)),
        services=_names(_require(value, "services", where), f"{where}.services"),
        tenants=_names(_require(value, "tenants", where), f"{where}.tenants"),
        conformance=(str(_require(own, "service", f"{where}.conformance")),
                     str(_require(own, "tenant", f"{where}.conformance"))),
    )


def _health(value: Any, where: str) -> dict[str, Any]:
    """A service's readiness declaration, checked so a typo fails here, not as a probe."""
    if not isinstance(value, dict) or value.get("kind") not in HEALTH_KINDS:
        raise UsageError(f"contract catalog: {where} health needs a kind ({', '.join(HEALTH_KINDS)})")
    if value["kind"] == "http":
        if not str(value.get("path", "")).startswith("/"):
            raise UsageError(f"contract catalog: {where} http health needs a path starting with '/'")
        status = value.get("expect_status")
        if status is not None and not (isinstance(status, int) and 100 <= status < 600):
            raise UsageError(f"contract catalog: {where} has invalid expect_status {status!r}")
        if not isinstance(value.get("expect_json", {}), dict):
            raise UsageError(f"contract catalog: {where} expect_json must be a mapping")
    return dict(value)


def parse(raw: dict[str, Any]) -> Catalog:
    """Validate and type a catalog document; every mistake is a one-line UsageError."""
    if not isinstance(raw, dict):
        raise UsageError("contract catalog: top level must be a mapping")
    suffix = str(_require(raw, "dns_suffix", "catalog"))
    services: dict[str, Service] = {}
    for name, spec in dict(_require(raw, "services", "catalog")).items():
        where = f"service {name}"
        port = _require(spec, "port", where)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise UsageError(f"contract catalog: {where} has invalid port {port!r}")
        services[name] = Service(
            name=name,
            port=port,
            protocol=str(_require(spec, "protocol", where)),
            health=_health(_require(spec, "health", where), where),
            metrics_job=str(spec.get("metrics_job", name)),
            required=bool(spec.get("required", True)),
            dns_name=f"{name}.{suffix}",
        )
    contracts: list[Contract] = []
    seen: set[str] = set()
    for item in _require(raw, "contracts", "catalog"):
        c = Contract(
            id=str(_require(item, "id", "contract")),
            area=str(_require(item, "area", f"contract {item.get('id')}")),
            service=str(_require(item, "service", f"contract {item.get('id')}")),
            title=str(_require(item, "title", f"contract {item.get('id')}")),
            runbook=_anchor(item.get("runbook"), f"contract {item.get('id')}"),
            disruptive=str(item.get("disruptive") or ""),
        )
        if c.id in seen:
            raise UsageError(f"contract catalog: duplicate contract id {c.id!r}")
        if c.area not in AREAS:
            raise UsageError(f"contract catalog: contract {c.id} has unknown area {c.area!r}")
        if c.service not in services and c.service != "stack":
            raise UsageError(f"contract catalog: contract {c.id} names unknown service {c.service!r}")
        seen.add(c.id)
        contracts.append(c)
    identity = dict(raw.get("identity", {}))
    if "dev" in identity:
        _dev_issuer(identity["dev"])  # a malformed one fails at load, not mid-run
    return Catalog(
        version=int(_require(raw, "version", "catalog")),
        namespace=str(_require(raw, "namespace", "catalog")),
        dns_suffix=suffix,
        services=services,
        identity=identity,
        policy=dict(raw.get("policy", {})),
        sizing=dict(raw.get("sizing", {})),
        security=dict(raw.get("security", {})),
        contracts=tuple(contracts),
        raw=raw,
        runbook_doc=str(raw.get("runbook_doc") or DEFAULT_RUNBOOK_DOC),
    )


@functools.cache
def load(path: Path = CATALOG_PATH) -> Catalog:
    """The catalog shipped with the suite (cached: it is read-only data)."""
    with path.open(encoding="utf-8") as fh:
        return parse(yaml.safe_load(fh))


def asked_scrape_interval(catalog: Catalog, asked: str | None) -> str:
    """The Prometheus scrape interval a target was deployed with: the contract interval by
    default, or the catalog's on-demand one; anything else is a one-line UsageError."""
    prom = catalog.sizing["prometheus"]
    allowed = [str(prom["scrape_interval"]), str(prom["scrape_interval_on_demand"])]
    if asked in (None, ""):
        return allowed[0]
    if asked not in allowed:
        raise UsageError(f"--scrape-interval: {asked!r} is neither the contract interval nor the "
                         f"on-demand one (choose from {', '.join(allowed)})")
    return str(asked)
