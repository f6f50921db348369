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
from conformance.probes.kafka_scratch import ScratchTopic
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
    """The target's disruptions for a service it runs more than one replica of. An HA
    overlay (the catalog's resilience.ha_overlays, read from the release) that runs fewer
    members than resilience.min_replicas fails; elsewhere one replica skips, naming it:
    there is nothing to fail over to."""
    found = target.disruptions()
    if found is None:
        pytest.skip(f"target {target.name} runs one replica of each service: resilience is judged on a "
                    "Kubernetes target with replicas (the prod overlay, make kind-up OVERLAY=prod)")
    count = found.replicas(service)
    overlay = found.overlay()
    limits = bounds(target.catalog)
    want = int(limits.get("min_replicas", {}).get(service, 0)) if overlay in limits.get("ha_overlays", []) else 0
    if count < want:
        raise ContractFailure(f"{service} runs {count} replica(s), but overlay {overlay} promises at least {want} "
                              "(catalog resilience.min_replicas): a member's loss is an outage")
    if count < 2:
        pytest.skip(f"{service} runs {count} replica(s) in overlay {overlay}: nothing to fail over to "
                    "(the prod overlay runs more)")
    return found


def in_cluster_url(catalog: Catalog, service: str, path: str) -> str:
    svc = catalog.service(service)
    return f"http://{svc.dns_name}:{svc.port}{path}"


def budget_problems(service: str, kube: Disruptions) -> list[str]:
    """A replicated workload needs a PodDisruptionBudget over its pods that lets a drain
    take one member at a time (maxUnavailable 1, or minAvailable one short of all)."""
    workload = kube.workload(service) or {}
    labels = workload.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}
    replicas = int(workload.get("spec", {}).get("replicas", 1))
    for pdb in kube.budgets():
        spec = pdb.get("spec", {})
        wanted = (spec.get("selector") or {}).get("matchLabels") or {}
        if not wanted or any(labels.get(k) != v for k, v in wanted.items()):
            continue
        if str(spec.get("maxUnavailable", "")) == "1" or str(spec.get("minAvailable", "")) == str(replicas - 1):
            return []
        return [f"{service}: PodDisruptionBudget {pdb['metadata']['name']} lets more than one member go at once"]
    return [f"{service}: no PodDisruptionBudget selects its {replicas} members"]


def decisions(stack: Stack, seconds: float, interval: float) -> dict[str, Any]:
    """The load of allowed decisions on the contract path through OPA's Service name: the
    golden table's allowed request, with a token minted now; each must answer true."""
    _, picks = golden()
    path = str(stack.catalog.policy["decision_path"])
    return {"kind": "http", "url": in_cluster_url(stack.catalog, "opa", path),
            "body": golden_case(picks["allow"]).body(stack.mint), "expect_true": True,
            "seconds": seconds, "interval": interval}


def judged(record: Record, contract: str, seen: Outage, what: str) -> None:
    record("measurement", f"{contract}: {what}; {seen.line()}")


@pytest.mark.contract("resilience.opa")
@pytest.mark.timeout(TIMEOUT_S, func_only=True)
def test_opa_replica_loss_fails_no_decision(soma_last_phase: float, stack: Stack, record_property: Record) -> None:
    kube = replicated(stack.target, "opa")
    soma_catalog = stack.catalog
    spec = decisions(stack, float(bounds(soma_catalog)["load_seconds"]), interval=0.05)
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
    problems: list[str] = []
    for service in soma_catalog.services:
        if kube.replicas(service) > 1:
            members = kube.members(service)
            problems += budget_problems(service, kube)
            if len({m.node for m in members}) < len(members):
                problems.append(f"{service}: {len(members)} members on {len({m.node for m in members})} node(s): "
                                "one node's loss takes more than one")
            for member in members:
                nodes[member.node] = nodes.get(member.node, 0) + 1
    if problems:
        raise ContractFailure("a drain cannot keep every replicated service up: " + "; ".join(problems))
    node = max(sorted(nodes), key=lambda n: nodes[n])
    spec = decisions(stack, 2 * float(bounds(soma_catalog)["load_seconds"]), interval=0.1)
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


@pytest.mark.contract("resilience.kafka")
@pytest.mark.timeout(TIMEOUT_S, func_only=True)
def test_kafka_leader_loss_keeps_every_acknowledged_message(soma_last_phase: float, stack: Stack,
                                                            record_property: Record) -> None:
    """acks=all from the suite, one send at a time, while the broker leading the scratch
    topic's partition is deleted; every acknowledged message must be consumed after."""
    kube = replicated(stack.target, "kafka")
    limit = float(bounds(stack.catalog)["kafka_produce_gap_s"])
    log = ScratchTopic(lambda: stack.endpoint("kafka"))
    log.create()
    try:
        log.require_durable_acks()
        victim = f"kafka-{log.leader()}"
        producer = log.producer()
        acked: set[bytes] = set()

        def send(n: int) -> None:
            payload = str(n).encode()
            producer.send(log.topic, payload).get(timeout=5)
            acked.add(payload)

        def reconnect() -> None:
            kube.reconnect("kafka")
            stack.endpoint("kafka")  # forwards every broker that runs now

        try:
            run = run_through(send, lambda: kube.remove(victim), reconnect,
                              seconds=float(bounds(stack.catalog)["load_seconds"]), interval=0.2)
        finally:
            producer.close(timeout=2)
        stack.endpoint("kafka")
        consumed = log.consume_all()
    finally:
        log.delete()
    seen = outage(run.events, run.disrupted_at)
    lost = acked - consumed
    judged(record_property, "resilience.kafka", seen, f"{run.disruption} (the partition leader); {len(lost)} of "
                                                      f"{len(acked)} acknowledged messages lost")
    if lost:
        raise ContractFailure(f"{len(lost)} of {len(acked)} messages acknowledged with acks=all were lost after "
                              f"{run.disruption}")
    if not acked or seen.recovery_s > limit:
        raise ContractFailure(f"producing failed for {seen.recovery_s:.1f}s after {run.disruption} (bound {limit:g}s); "
                              f"first failure: {seen.first_failure}")
