"""The resilience contracts' verdicts before any load: an HA overlay that runs fewer members
than the catalog promises fails (a seeded fault: OPA scaled to 1); elsewhere one replica
skips; a drain's preconditions name a workload without a budget or with its members on
one node. A fake Disruptions hands each the cluster's answers."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import catalog
from conformance.contracts import test_resilience as contract
from conformance.kube.disruptions import Member
from conformance.probes.clients import ContractFailure


class FakeKube:
    def __init__(self, overlay: str, replicas: dict[str, int], budgets: list[dict[str, Any]] | None = None,
                 nodes: dict[str, list[str]] | None = None) -> None:
        self._overlay, self._replicas = overlay, replicas
        self._budgets = budgets or []
        self._nodes = nodes or {}

    def overlay(self) -> str:
        return self._overlay

    def replicas(self, service: str) -> int:
        return self._replicas.get(service, 0)

    def workload(self, service: str) -> dict[str, Any] | None:
        if service not in self._replicas:
            return None
        return {"spec": {"replicas": self._replicas[service],
                         "template": {"metadata": {"labels": {"app.kubernetes.io/name": service}}}}}

    def budgets(self) -> list[dict[str, Any]]:
        return self._budgets

    def members(self, service: str) -> list[Member]:
        return [Member(f"{service}-{i}", node, True) for i, node in enumerate(self._nodes.get(service, []))]


class FakeTarget:
    name = "kind"

    def __init__(self, kube: FakeKube) -> None:
        self.catalog = catalog.load()
        self._kube = kube

    def disruptions(self) -> FakeKube:
        return self._kube


def pdb(service: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": service},
            "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": service}}, **spec}}


def test_the_prod_overlay_with_one_opa_fails() -> None:
    target = FakeTarget(FakeKube("prod", {"opa": 1}))
    with pytest.raises(ContractFailure, match=r"opa runs 1 replica.*overlay prod promises at least 2"):
        contract.replicated(target, "opa")  # type: ignore[arg-type]


def test_the_dev_overlay_with_one_replica_skips() -> None:
    with pytest.raises(pytest.skip.Exception, match=r"runs 1 replica.*overlay dev: nothing to fail over to"):
        contract.replicated(FakeTarget(FakeKube("dev", {"opa": 1})), "opa")  # type: ignore[arg-type]


def test_two_replicas_are_judged() -> None:
    kube = FakeKube("prod", {"opa": 2})
    assert contract.replicated(FakeTarget(kube), "opa") is kube  # type: ignore[arg-type]


def test_budgets() -> None:
    kube = FakeKube("prod", {"kafka": 3})
    assert contract.budget_problems("kafka", kube) == ["kafka: no PodDisruptionBudget selects its 3 members"]  # type: ignore[arg-type]
    ok = FakeKube("prod", {"kafka": 3}, [pdb("kafka", maxUnavailable=1)])
    assert contract.budget_problems("kafka", ok) == []  # type: ignore[arg-type]
    loose = FakeKube("prod", {"kafka": 3}, [pdb("kafka", maxUnavailable=2)])
    assert "lets more than one member go" in contract.budget_problems("kafka", loose)[0]  # type: ignore[arg-type]


def test_a_drain_refuses_a_quorum_on_one_node() -> None:
    kube = FakeKube("prod", {"opa": 2, "etcd": 3}, [pdb("opa", maxUnavailable=1), pdb("etcd", maxUnavailable=1)],
                    {"opa": ["a", "b"], "etcd": ["a", "a", "a"]})
    with pytest.raises(ContractFailure, match="etcd: 3 members on 1 node"):
        contract.test_node_drain_holds_the_budgets(0.0, contract_stack(kube), lambda *_: None)


def contract_stack(kube: FakeKube) -> Any:
    from conformance.contracts.conftest import Stack

    return Stack(FakeTarget(kube), catalog.load(), lambda _: None, None)  # type: ignore[arg-type]
