"""No contract passes on nothing: each contract that judges a set (pods, Services, running
containers, images) fails when the set is empty or lacks a catalog service the target is
judged for, naming it. A fake target hands each one empty or partial evidence."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import catalog, coverage
from conformance.access import Credentials
from conformance.contracts import test_readiness, test_security_live
from conformance.docker_engine import RunningContainer
from conformance.probes.clients import ContractFailure


def noop(**_: Any) -> None:
    """soma_evidence / record_property stand-in."""


class FakeKube:
    namespace = "soma-infra"

    def __init__(self, objects: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self._objects = objects or {}

    def objects(self, kind: str) -> list[dict[str, Any]]:
        return self._objects.get(kind, [])

    def workload_state(self) -> tuple[list[str], list[str]]:
        return [], []  # nothing unready, nothing unroutable: the vacuous picture


class FakeTarget:
    name = "fake"
    environment = "fake"

    def __init__(self, kube: FakeKube | None = None, project: str | None = None,
                 images: dict[str, list[str]] | None = None) -> None:
        self.catalog = catalog.load()
        self._kube, self._project, self._images = kube, project, images

    def judged(self, service: str) -> bool:
        return self.catalog.service(service).required

    def kubernetes(self) -> FakeKube | None:
        return self._kube

    def docker_project(self) -> str | None:
        return self._project

    def running_images(self) -> dict[str, list[str]] | None:
        return self._images


def service(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"type": "ClusterIP", "selector": {"app": name}}}


def pod(name: str, app: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app": app}}, "spec": {"containers": []}, "status": {}}


def test_coverage_names_each_missing_member_and_refuses_an_empty_set() -> None:
    assert coverage.missing(["a", "b"], [], "pod") == ["no pod at all: nothing to judge"]
    assert coverage.missing(["a", "b"], ["a", "x"], "pod") == ["b: no pod"]
    assert coverage.missing(["a"], ["a"], "pod") == []
    assert coverage.pods_by_service([service("a"), service("b")], [pod("a-0", "a"), pod("c-0", "c")]) == {"a": ["a-0"]}


def test_readiness_kubernetes_fails_on_an_empty_namespace() -> None:
    with pytest.raises(ContractFailure, match="no Service in namespace soma-infra at all"):
        test_readiness.test_pods_ready_services_routable(FakeTarget(FakeKube()), noop)  # type: ignore[arg-type]


def test_readiness_kubernetes_names_a_deleted_service() -> None:
    judged = [s for s, spec in catalog.load().services.items() if spec.required]
    objects = {"services": [service(s) for s in judged if s != "redis"],
               "pods": [pod(f"{s}-0", s) for s in judged]}
    with pytest.raises(ContractFailure, match=r"^redis: no Service in namespace soma-infra$"):
        test_readiness.test_pods_ready_services_routable(FakeTarget(FakeKube(objects)), noop)  # type: ignore[arg-type]


@pytest.mark.parametrize("contract", [test_security_live.test_containers_hardened])
def test_hardening_fails_without_pods(contract: Any) -> None:
    with pytest.raises(ContractFailure, match="no pod in soma-infra at all"):
        contract(FakeTarget(FakeKube()), noop)


def test_exposure_fails_without_services() -> None:
    with pytest.raises(ContractFailure, match="no Service in soma-infra at all"):
        test_security_live.test_ports_not_exposed(FakeTarget(FakeKube()), catalog.load(), noop)  # type: ignore[arg-type]


def test_compose_contracts_name_a_service_without_a_running_container(monkeypatch: pytest.MonkeyPatch) -> None:
    only_redis = [RunningContainer("redis", "p-redis-1", {"HostConfig": {}, "NetworkSettings": {}}, (999,))]
    monkeypatch.setattr(test_security_live, "running_containers", lambda project: only_redis)
    target = FakeTarget(project="p")
    with pytest.raises(ContractFailure, match="postgres: no running container"):
        test_security_live.test_ports_not_exposed(target, catalog.load(), noop)  # type: ignore[arg-type]
    with pytest.raises(ContractFailure, match="postgres: no running container"):
        test_security_live.test_containers_hardened(target, noop)  # type: ignore[arg-type]


@pytest.mark.parametrize(("images", "message"), [
    ({}, "no image scanned at all"),
    ({"sha256:a": ["redis"]}, "postgres: no image scanned"),
])
def test_image_secrets_fails_on_an_empty_or_partial_scan(images: dict[str, list[str]], message: str) -> None:
    target = FakeTarget(project="p", images=images)
    with pytest.raises(ContractFailure, match=message):
        test_security_live.test_images_carry_no_secret(target, Credentials(), catalog.load(),  # type: ignore[arg-type]
                                                       noop, noop)
