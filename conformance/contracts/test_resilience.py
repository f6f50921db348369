"""Resilience contracts: a replicated service keeps serving, and loses nothing it
acknowledged, while one of its members is removed under steady load.

OPA, etcd and Vault are loaded from a pod inside the cluster through the Service's name
(conformance/inside/load.py), so the outage measured is the one an app sees; Kafka and
Postgres from the suite through the target's endpoints, reconnecting as a client does.
The member removed is the one that matters most: etcd's leader, the active OpenBao node,
the broker leading the scratch topic's partition, the Postgres primary. The last phase of
a run (after every other contract). The outage and the count lost go to the report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conformance.catalog import Catalog
from conformance.contracts.conftest import Stack
from conformance.durability import markers
from conformance.policy.cases import golden, golden_case
from conformance.probes.clients import ContractFailure
from conformance.resilience import leaders
from conformance.resilience.client_load import run_through
from conformance.resilience.timeline import Outage, outage
from conformance.targets.base import Disruptions, Target

Record = Callable[[str, object], None]
TIMEOUT_S = 600
DRAIN_BACK_S = 600  # after uncordon: evicted members rescheduled and Ready again


def bounds(catalog: Catalog) -> dict[str, Any]:
    return dict(catalog.raw.get("resilience") or {})


def replicated(target: Target, service: str) -> Disruptions:
    """The target's disruptions for a service it runs more than one replica of; skips
    (naming the count) otherwise: there is nothing to fail over to."""
    found = target.disruptions()
    if found is None:
        pytest.skip(f"target {target.name} runs one replica of each service: resilience is judged on a "
                    "Kubernetes target with replicas (the prod overlay, make kind-up OVERLAY=prod)")
    count = found.replicas(service)
    if count < 2:
        pytest.skip(f"{service} runs {count} replica(s) here: nothing to fail over to (the prod overlay runs more)")
    return found


def in_cluster_url(catalog: Catalog, service: str, path: str) -> str:
    svc = catalog.service(service)
    return f"http://{svc.dns_name}:{svc.port}{path}"


def allowed_input(stack: Stack) -> dict[str, Any]:
    """The golden table's allowed request, with a token minted now."""
    _, picks = golden()
    return golden_case(picks["allow"]).body(stack.mint)


def judged(record: Record, contract: str, seen: Outage, what: str) -> None:
    record("measurement", f"{contract}: {what}; {seen.line()}")


@pytest.mark.contract("resilience.opa")
@pytest.mark.timeout(TIMEOUT_S, func_only=True)
def test_opa_replica_loss_fails_no_decision(soma_last_phase: float, stack: Stack, record_property: Record) -> None:
    kube = replicated(stack.target, "opa")
    soma_catalog = stack.catalog
    spec = {"kind": "http", "url": in_cluster_url(soma_catalog, "opa", str(soma_catalog.policy["decision_path"])),
            "body": allowed_input(stack), "expect_true": True, "seconds": bounds(soma_catalog)["load_seconds"],
            "interval": 0.05}
    victim = kube.members("opa")[0].name
    run = kube.load_during(spec, ["opa"], lambda: kube.remove(victim))
    seen = outage(run.events, run.disrupted_at)
    judged(record_property, "resilience.opa", seen, run.disruption)
    allowed = int(bounds(soma_catalog)["opa_failed_decisions"])
    if seen.attempts == 0 or seen.failed > allowed:
        raise ContractFailure(f"{seen.failed} of {seen.attempts} decisions failed while {run.disruption} "
                              f"(allowed: {allowed}); first: {seen.first_failure}")


@pytest.mark.contract("resilience.etcd")
@pytest.mark.timeout(TIMEOUT_S, func_only=True)
def test_etcd_leader_loss_keeps_every_put(soma_last_phase: float, stack: Stack, record_property: Record) -> None:
    kube = replicated(stack.target, "etcd")
    soma_catalog = stack.catalog
    limit = float(bounds(soma_catalog)["etcd_write_gap_s"])
    spec = {"kind": "etcd", "url": in_cluster_url(soma_catalog, "etcd", ""), "prefix": markers.scratch_name() + "/",
            "seconds": bounds(soma_catalog)["load_seconds"], "interval": 0.1, "settle": 2}
    victim = leaders.etcd_leader(stack.endpoint("etcd"))
    run = kube.load_during(spec, ["etcd"], lambda: kube.remove(victim))
    seen = outage(run.events, run.disrupted_at)
    lost = list(run.summary.get("lost") or [])
    judged(record_property, "resilience.etcd", seen, f"{run.disruption} (the leader); {len(lost)} acknowledged "
                                                    f"puts lost")
    if seen.attempts == 0 or lost:
        raise ContractFailure(f"{len(lost)} of {run.summary.get('acked')} acknowledged puts were lost while "
                              f"{run.disruption}: {lost[:5]}")
    if seen.longest_gap_s > limit:
        raise ContractFailure(f"writes stopped for {seen.longest_gap_s:.1f}s while {run.disruption} "
                              f"(bound {limit:g}s); first failure: {seen.first_failure}")


@pytest.mark.contract("resilience.postgres")
@pytest.mark.timeout(TIMEOUT_S, func_only=True)
def test_postgres_primary_loss_keeps_every_commit(soma_last_phase: float, stack: Stack,
                                                  record_property: Record) -> None:
    kube = replicated(stack.target, "postgres")
    limit = float(bounds(stack.catalog)["postgres_write_gap_s"])
    table = markers.PostgresMarker(lambda: stack.endpoint("postgres"), stack.creds)
    table.write()  # the scratch table (and one row committed before the load)
    committed: set[int] = set()

    def commit(n: int) -> None:
        table.insert(str(n))
        committed.add(n)

    primary = kube.serving("postgres")
    if not primary:
        raise ContractFailure(f"Service postgres selects no Ready pod in {stack.target.environment}: no primary")
    try:
        run = run_through(commit, lambda: kube.remove(primary[0]), lambda: kube.reconnect("postgres"),
                          seconds=float(bounds(stack.catalog)["load_seconds"]), interval=0.2)
        present = {int(r) for r in table.rows() if r.isdigit()}
        table.check()
    finally:
        table.cleanup()
    seen = outage(run.events, run.disrupted_at)
    lost = sorted(committed - present)
    judged(record_property, "resilience.postgres", seen, f"{run.disruption} (the primary); "
                                                        f"{len(lost)} committed rows lost")
    if lost:
        raise ContractFailure(f"{len(lost)} of {len(committed)} committed rows are gone after {run.disruption}: "
                              f"{lost[:5]}")
    if seen.recovery_s > limit or not committed:
        raise ContractFailure(f"writes were refused for {seen.recovery_s:.1f}s after {run.disruption} "
                              f"(bound {limit:g}s); first failure: {seen.first_failure}")


@pytest.mark.contract("resilience.vault")
@pytest.mark.timeout(TIMEOUT_S, func_only=True)
def test_vault_active_loss_keeps_the_jwks(soma_last_phase: float, stack: Stack, record_property: Record) -> None:
    kube = replicated(stack.target, "vault")
    limit = float(bounds(stack.catalog)["vault_jwks_gap_s"])
    keys = markers.VaultMarker(stack.catalog, stack.jwks_url, stack.mint)
    keys.write()
    active = leaders.vault_active(stack.endpoint("vault"))
    spec = {"kind": "http", "url": str(stack.catalog.identity["jwks_url"]),
            "seconds": bounds(stack.catalog)["load_seconds"], "interval": 0.1}
    run = kube.load_during(spec, ["vault"], lambda: kube.remove(active))
    kube.reconnect("vault")
    seen = outage(run.events, run.disrupted_at)
    held = keys.check()
    judged(record_property, "resilience.vault", seen, f"{run.disruption} (the active node); {held}")
    if seen.attempts == 0 or seen.recovery_s > limit:
        raise ContractFailure(f"the JWKS did not answer for {seen.recovery_s:.1f}s after {run.disruption} "
                              f"(bound {limit:g}s); first failure: {seen.first_failure}")


@pytest.mark.contract("resilience.drain")
@pytest.mark.timeout(TIMEOUT_S, func_only=True)
def test_node_drain_holds_the_budgets(soma_last_phase: float, stack: Stack, record_property: Record) -> None:
    """Drain the node running the most replicated members, through the eviction API, while
    OPA decides from inside the cluster: the budgets must keep OPA serving throughout."""
    kube = replicated(stack.target, "opa")
    soma_catalog = stack.catalog
    nodes: dict[str, int] = {}
    for service in ("opa", "etcd", "kafka", "postgres", "vault"):
        if kube.replicas(service) > 1:
            for member in kube.members(service):
                nodes[member.node] = nodes.get(member.node, 0) + 1
    node = max(sorted(nodes), key=lambda n: nodes[n])
    spec = {"kind": "http", "url": in_cluster_url(soma_catalog, "opa", str(soma_catalog.policy["decision_path"])),
            "body": allowed_input(stack), "expect_true": True,
            "seconds": 2 * float(bounds(soma_catalog)["load_seconds"]), "interval": 0.1}
    try:
        run = kube.load_during(spec, ["opa"], lambda: kube.drain(node))
    finally:
        kube.uncordon(node)
    seen = outage(run.events, run.disrupted_at)
    judged(record_property, "resilience.drain", seen, f"{run.disruption} ({nodes[node]} replicated members on it)")
    if seen.attempts == 0 or seen.failed > int(bounds(soma_catalog)["opa_failed_decisions"]):
        raise ContractFailure(f"{seen.failed} of {seen.attempts} decisions failed while {run.disruption}: "
                              f"a budget did not hold; first: {seen.first_failure}")
    kube.await_ready(DRAIN_BACK_S)
