"""Durability contracts: nothing a service acknowledged is lost when it restarts.

For each stateful service: write a marker, restart the service every way the target
restarts things (compose and testcontainers: kill and recreate; Kubernetes: kill and pod
delete), wait until it answers its readiness probe again, and prove the marker is still
there. The last phase of a run (conformance/plugin/phases.py): no other contract sees a
restart. The time each service took to come back is a measurement of the report.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from conformance import health
from conformance.access import Credentials, Endpoint
from conformance.catalog import Catalog
from conformance.durability import markers
from conformance.durability.recovery import restart_and_recover
from conformance.identity.tokens import DevIssuer, IssuerError
from conformance.probes.clients import ContractFailure
from conformance.targets.base import Target

Get = Callable[[str], Endpoint]
Mint = Callable[[str, str], str]
SERVICES = ("postgres", "kafka", "redis", "etcd", "vault", "opa")
# what each contract restarts: OPA's decision for an old token depends on Vault's keys too
RESTARTED = {"opa": ("vault", "opa")}
# per service, one marker write, two restarts (Kafka: log recovery after a kill) and checks
TIMEOUT_S = 600


@dataclass(frozen=True)
class Stack:
    """What a durability contract reaches the target through."""

    target: Target
    catalog: Catalog
    endpoint: Get
    creds: Credentials

    def mint(self, service: str, tenant: str) -> str:
        """A token minted now, through Vault's endpoint as it is now (a Kubernetes target
        re-forwards a restarted service; the session's cached tokens may be near expiry)."""
        issuer = DevIssuer(self.endpoint("vault").url(), self.creds.vault_token)
        try:
            return issuer.mint(service, tenant)
        except IssuerError as exc:
            raise ContractFailure(f"vault at {issuer.base_url}: minting for {service}.{tenant}: {exc}") from None

    def ready(self, service: str) -> Callable[[], str]:
        """The service's readiness probe (the catalog's health), through its endpoint as it is now."""
        probe = self.catalog.service(service).health
        return lambda: health.ready(self.endpoint(service), probe, self.creds)

    def marker(self, service: str) -> markers.Marker:
        def ep() -> Endpoint:
            return self.endpoint(service)

        if service == "postgres":
            return markers.PostgresMarker(ep, self.creds)
        if service == "redis":
            return markers.RedisMarker(ep, self.creds)
        if service == "etcd":
            return markers.EtcdMarker(ep)
        if service == "kafka":
            return markers.KafkaMarker(ep)
        jwks = str(self.catalog.identity["jwks_url"])
        if service == "vault":
            return markers.VaultMarker(self.catalog, lambda: self.target.reachable_url(jwks), self.mint)
        return markers.OpaMarker(ep, self.catalog, self.mint)


@pytest.fixture
def stack(soma_target: Target, soma_catalog: Catalog, soma_endpoint: Get, soma_credentials: Credentials) -> Stack:
    return Stack(soma_target, soma_catalog, soma_endpoint, soma_credentials)


@pytest.mark.parametrize("service", [pytest.param(s, id=s, marks=pytest.mark.contract(f"durability.{s}"))
                                     for s in SERVICES])
@pytest.mark.timeout(TIMEOUT_S, func_only=True)  # waiting for the rest of the run is bounded apart
def test_acknowledged_state_survives_restarts(service: str, soma_last_phase: float, stack: Stack,
                                              record_property: Callable[[str, object], None]) -> None:
    restarts = stack.target.restarts()
    if restarts is None:
        pytest.skip(f"target {stack.target.name} cannot restart services: durability is judged where the "
                    "suite owns the stack (testcontainers, compose, kind)")
    stack.endpoint(service)  # a service the target does not deploy skips or fails here, as elsewhere
    marker = stack.marker(service)
    wrote = marker.write()
    held: list[str] = []
    try:
        for way in restarts.ways:
            time.sleep(marker.settle_s)
            took = [f"{svc} back in {restart_and_recover(restarts, svc, way, stack.ready(svc))[1]:.1f}s"
                    for svc in RESTARTED.get(service, (service,))]
            held.append(f"{way}: {', '.join(took)}, {marker.check()}")
    finally:
        with contextlib.suppress(ContractFailure):  # scratch data only: best effort
            marker.cleanup()
    waited = f" (after waiting {soma_last_phase:.0f}s for the other contracts)" if soma_last_phase >= 1 else ""
    record_property("measurement", f"durability.{service}{waited}: {wrote}; " + "; ".join(held))
