"""Readiness contracts: the seed manual's checklist, one test per service.

Postgres, Redis and Kafka are protocol checks (SELECT 1, PING, metadata); every HTTP
service is judged by its `health` declaration in the catalog (conformance/health.py), so
the paths and expected answers are stated once, there.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance import coverage, health
from conformance.access import Credentials, Endpoint
from conformance.catalog import Catalog
from conformance.probes import clients
from conformance.probes.clients import ContractFailure
from conformance.targets.base import Target

Get = Callable[[str], Endpoint]
Gate = Callable[[str], None]


@pytest.mark.contract("readiness.postgres")
def test_postgres_select_1(soma_endpoint: Get, soma_credentials: Credentials) -> None:
    assert clients.postgres_select_1(soma_endpoint("postgres"), soma_credentials) == 1


@pytest.mark.contract("readiness.redis")
def test_redis_ping(soma_endpoint: Get, soma_credentials: Credentials) -> None:
    assert clients.redis_ping(soma_endpoint("redis"), soma_credentials)


@pytest.mark.contract("readiness.kafka")
def test_kafka_metadata_and_round_trip(soma_endpoint: Get, soma_disruptive: Gate) -> None:
    ep = soma_endpoint("kafka")
    meta = clients.kafka_metadata(ep)
    if not meta.get("brokers"):
        raise ContractFailure(f"{ep}: metadata lists no brokers: {meta}")
    if meta.get("controller_id") in (None, -1):
        raise ContractFailure(f"{ep}: metadata names no active controller: {meta}")
    roles = clients.kafka_broker_configs(ep, ["process.roles", "controller.quorum.voters",
                                              "zookeeper.connect"])
    if "controller" not in str(roles.get("process.roles") or "") and not roles.get("controller.quorum.voters"):
        raise ContractFailure(f"{ep}: no KRaft controller (process.roles={roles.get('process.roles')!r})")
    if roles.get("zookeeper.connect"):
        raise ContractFailure(f"{ep}: broker uses ZooKeeper ({roles['zookeeper.connect']}), not KRaft")
    soma_disruptive("readiness.kafka")  # read-only run: skips here, after the read-only part held
    clients.kafka_round_trip(ep)


@pytest.mark.contract("readiness.opa")
def test_opa_health_allow_and_deny(soma_endpoint: Get, soma_catalog: Catalog,
                                   soma_mint: Callable[[str, str], str]) -> None:
    from conformance.policy.probe import readiness_decisions

    ep = soma_endpoint("opa")
    health.check(ep, soma_catalog.service("opa").health)
    readiness_decisions(ep, soma_catalog, soma_mint)


@pytest.mark.contract("readiness.vault")
def test_vault_initialized_and_unsealed(soma_endpoint: Get, soma_catalog: Catalog) -> None:
    health.check(soma_endpoint("vault"), soma_catalog.service("vault").health)


@pytest.mark.contract("readiness.etcd")
def test_etcd_health_and_put_get(soma_endpoint: Get, soma_catalog: Catalog, soma_disruptive: Gate) -> None:
    ep = soma_endpoint("etcd")
    health.check(ep, soma_catalog.service("etcd").health)
    soma_disruptive("readiness.etcd")
    clients.etcd_put_get(ep)


@pytest.mark.contract("readiness.prometheus")
def test_prometheus_ready(soma_endpoint: Get, soma_catalog: Catalog) -> None:
    health.check(soma_endpoint("prometheus"), soma_catalog.service("prometheus").health)


@pytest.mark.contract("readiness.grafana")
def test_grafana_health(soma_endpoint: Get, soma_catalog: Catalog) -> None:
    health.check(soma_endpoint("grafana"), soma_catalog.service("grafana").health)


@pytest.mark.contract("readiness.kubernetes")
def test_pods_ready_services_routable(soma_target: Target, soma_evidence: Callable[..., None]) -> None:
    kube = soma_target.kubernetes()
    if kube is None:
        pytest.skip(f"pods and Services exist only on a Kubernetes target (--target=kind), "
                    f"not {soma_target.name!r}")
    unready, unroutable = kube.workload_state()
    judged = [s for s in soma_target.catalog.services if soma_target.judged(s)]
    services = kube.objects("services")
    names = {str(s["metadata"]["name"]) for s in services}
    absent = coverage.missing(judged, names, f"Service in namespace {kube.namespace}")
    absent += coverage.missing([s for s in judged if s in names],
                               coverage.pods_by_service(services, kube.objects("pods")), "pod")
    problems = absent + unready + unroutable
    soma_evidence(probed=f"Services, pods and EndpointSlices of namespace {kube.namespace}",
                  answer="; ".join(problems) or f"a Service and pods for each of {len(judged)} catalog services; "
                                                "every pod Ready, every Service has ready endpoints")
    if problems:
        raise ContractFailure("; ".join(problems))
