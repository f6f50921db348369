"""How targets restart a service (durability contracts): the commands each way runs, the
pods a Kubernetes restart waits for, and what a restart that never comes back says."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.catalog import load
from conformance.durability import recovery
from conformance.errors import TargetError
from conformance.kube import restarts as kube_restarts
from conformance.probes.clients import ContractFailure
from conformance.targets import docker_restarts
from conformance.targets.base import Target, TargetOptions
from conformance.targets.compose import ComposeTarget
from conformance.targets.external import ExternalTarget
from conformance.targets.kind import KindTarget


def test_docker_kill_then_start_and_recreate(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(docker_restarts, "run", lambda cmd, timeout, what: ran.append(cmd) or "")
    r = docker_restarts.DockerRestarts("p", lambda svc: [f"{svc}-id"], ["docker", "compose", "-p", "p"])
    assert r.ways == ("kill", "recreate")
    r.restart("redis", "kill")
    r.restart("redis", "recreate")
    assert ran == [["docker", "kill", "--signal", "KILL", "redis-id"], ["docker", "start", "redis-id"],
                   ["docker", "compose", "-p", "p", "up", "-d", "--no-deps", "--force-recreate", "redis"]]


def test_a_project_attached_by_labels_can_only_be_killed() -> None:
    r = docker_restarts.DockerRestarts("p", lambda svc: ["x"], None)
    assert r.ways == ("kill",)
    with pytest.raises(TargetError, match="cannot restart redis by 'recreate'"):
        r.restart("redis", "recreate")
    with pytest.raises(TargetError, match="no container of etcd"):
        docker_restarts.DockerRestarts("p", lambda svc: [], None).restart("etcd", "kill")


def test_only_targets_that_own_their_stack_restart() -> None:
    assert ExternalTarget.restarts is Target.restarts  # the base's: None, it only reads
    assert ComposeTarget.restarts is not Target.restarts
    assert KindTarget(load(), TargetOptions()).restarts().ways == ("kill", "pod delete")


def pod(name: str, uid: str, ready: bool, restarts: int, *, running: bool = True,
        deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": uid}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-07T00:00:00Z"
    state = {"running": {}} if running else {"waiting": {}}
    return {"metadata": meta, "spec": {"nodeName": "soma-control-plane"},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "containerStatuses": [{"containerID": f"containerd://{uid}-c", "restartCount": restarts,
                                              "state": state}]}}


def test_pod_states() -> None:
    states = kube_restarts.pod_states([pod("redis-0", "u1", True, 2), pod("old", "u0", True, 0, deleting=True),
                                       pod("redis-1", "u2", False, 0, running=False)])
    assert [(s.name, s.ready, s.restarts, s.containers) for s in states] == [
        ("redis-0", True, 2, ("u1-c",)), ("redis-1", False, 0, ())]
    assert kube_restarts.selector_arg({"spec": {"selector": {"b": "2", "a": "1"}}}) == "a=1,b=2"
    with pytest.raises(TargetError, match="no pod selector"):
        kube_restarts.selector_arg({"metadata": {"name": "x"}, "spec": {}})


class FakeCluster:
    """Answers `get service` and `get pods` from a script of pod lists."""

    where = "kind-soma/soma-infra"

    def __init__(self, pods: list[list[dict[str, Any]]]) -> None:
        self.pods = pods
        self.ran: list[tuple[str, ...]] = []

    def get(self, *args: str) -> dict[str, Any]:
        if args[0] == "service":
            return {"spec": {"selector": {"app.kubernetes.io/name": args[1]}}}
        return {"items": self.pods.pop(0) if len(self.pods) > 1 else self.pods[0]}

    def run(self, *args: str, timeout: float = 30) -> str:
        self.ran.append(args)
        return ""


class FakeForwards:
    def __init__(self) -> None:
        self.closed: list[str | None] = []

    def close(self, service: str | None = None) -> None:
        self.closed.append(service)


def test_pod_delete_waits_for_a_new_ready_pod_then_reforwards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube_restarts, "POLL_S", 0.0)
    cluster = FakeCluster([[pod("redis-0", "old", True, 0)], [pod("redis-0", "old", True, 0)],
                           [pod("redis-0", "new", False, 0)], [pod("redis-0", "new", True, 0)]])
    forwards = FakeForwards()
    r = kube_restarts.KubeRestarts(cluster, forwards)  # type: ignore[arg-type]
    assert "deleted" in r.restart("redis", "pod delete")
    assert cluster.ran[0][:2] == ("delete", "pod") and "redis-0" in cluster.ran[0]
    assert forwards.closed == ["redis"]


def test_kill_goes_through_the_nodes_cri_and_waits_for_the_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(kube_restarts, "run", lambda cmd, timeout, what: ran.append(cmd) or "")
    monkeypatch.setattr(kube_restarts, "POLL_S", 0.0)
    cluster = FakeCluster([[pod("etcd-0", "u", True, 0)], [pod("etcd-0", "u", True, 0)], [pod("etcd-0", "u", True, 1)]])
    r = kube_restarts.KubeRestarts(cluster, FakeForwards())  # type: ignore[arg-type]
    r.restart("etcd", "kill")
    assert ran == [["docker", "exec", "soma-control-plane", "crictl", "--timeout=60s", "stop", "--timeout=0", "u-c"]]


def test_a_pod_that_never_comes_back_is_a_target_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube_restarts, "BACK_TIMEOUT_S", 0.0)
    cluster = FakeCluster([[pod("etcd-0", "u", True, 0)]])
    r = kube_restarts.KubeRestarts(cluster, FakeForwards())  # type: ignore[arg-type]
    with pytest.raises(TargetError, match="pods of etcd Ready again after the pod delete"):
        r.restart("etcd", "pod delete")


class Flaky:
    ways = ("kill",)

    def __init__(self) -> None:
        self.reconnected: list[str] = []

    def restart(self, service: str, way: str) -> str:
        return f"{service} {way}"

    def reconnect(self, service: str) -> None:
        self.reconnected.append(service)


def test_recovery_times_the_wait_and_names_a_service_that_stays_down() -> None:
    answers = iter([ContractFailure("not yet"), None])

    def ready() -> None:
        answer = next(answers)
        if answer:
            raise answer

    flaky = Flaky()
    done, took = recovery.restart_and_recover(flaky, "redis", "kill", ready, timeout=5)
    assert done == "redis kill" and took >= 0
    assert flaky.reconnected == ["redis"]  # a failed try re-resolves the path (a moved primary)

    def never() -> None:
        raise ContractFailure("redis at 127.0.0.1:1: not reachable")

    with pytest.raises(ContractFailure, match=r"redis ready again after the kill: not reached within 0s"):
        recovery.restart_and_recover(Flaky(), "redis", "kill", never, timeout=0)
