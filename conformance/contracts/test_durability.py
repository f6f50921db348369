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

import pytest

from conformance.access import Endpoint
from conformance.contracts.conftest import Stack
from conformance.durability import markers
from conformance.durability.recovery import restart_and_recover
from conformance.probes.clients import ContractFailure

SERVICES = ("postgres", "kafka", "redis", "etcd", "vault", "opa")
# what each contract restarts: OPA's decision for an old token depends on Vault's keys too
RESTARTED = {"opa": ("vault", "opa")}
# per service, one marker write, two restarts (Kafka: log recovery after a kill) and checks
TIMEOUT_S = 600


def marker_of(stack: Stack, service: str) -> markers.Marker:
    """What the service acknowledged, as a marker to write and check."""
    def ep() -> Endpoint:
        return stack.endpoint(service)

    if service == "postgres":
        return markers.PostgresMarker(ep, stack.creds)
    if service == "redis":
        return markers.RedisMarker(ep, stack.creds)
    if service == "etcd":
        return markers.EtcdMarker(ep)
    if service == "kafka":
        return markers.KafkaMarker(ep)
    if service == "vault":
        return markers.VaultMarker(stack.catalog, stack.jwks_url, stack.mint)
    return markers.OpaMarker(ep, stack.catalog, stack.mint)


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
    marker = marker_of(stack, service)
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
