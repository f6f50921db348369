"""Restarting a service of a Kubernetes namespace the two ways the platform does: a kill
(SIGKILL of its containers through the node's CRI; the kubelet starts them again in the
same pod: a crash or an OOM kill) and a pod delete (a new pod on the same PersistentVolume
claims: an eviction, a rescheduling). The pods are those the service's own selector
picks, read from the live Service; the kind nodes are containers of the local Docker
Engine, so `docker exec <node> crictl` reaches their CRI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.errors import TargetError
from conformance.kube.forward import PortForwards
from conformance.kube.kubectl import Kubectl
from conformance.process import run
from conformance.waiting import WaitTimeout, wait_until

KILL = "kill"
POD_DELETE = "pod delete"
BACK_TIMEOUT_S = 300.0
CRI_TIMEOUT_S = 60
POLL_S = 1.0


@dataclass(frozen=True)
class PodState:
    name: str
    uid: str
    node: str
    ready: bool
    restarts: int
    containers: tuple[str, ...]  # CRI container ids of the running containers


def pod_states(pods: list[dict[str, Any]]) -> list[PodState]:
    """The pods' names, uids, nodes, readiness, total restarts and running container ids
    (`kubectl get pods -o json` items; pods being deleted are left out)."""
    states = []
    for pod in pods:
        meta, status = pod.get("metadata", {}), pod.get("status", {})
        if meta.get("deletionTimestamp"):
            continue
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        statuses = status.get("containerStatuses") or []
        ids = tuple(str(c["containerID"]).split("://", 1)[-1] for c in statuses
                    if c.get("containerID") and "running" in (c.get("state") or {}))
        node = str(pod.get("spec", {}).get("nodeName", ""))
        states.append(PodState(str(meta.get("name")), str(meta.get("uid")), node, ready,
                               sum(int(c.get("restartCount", 0)) for c in statuses), ids))
    return states


def labels_arg(labels: dict[str, Any]) -> str:
    """`-l` argument matching every one of `labels`."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def selector_arg(service: dict[str, Any]) -> str:
    """`-l` argument of a Service's own pod selector (a Service without one selects nothing)."""
    selector = service.get("spec", {}).get("selector") or {}
    if not selector:
        raise TargetError(f"Service {service.get('metadata', {}).get('name')} has no pod selector")
    return labels_arg(selector)


class KubeRestarts:
    """Restarts of the pods behind one namespace's Services."""

    ways = (KILL, POD_DELETE)

    def __init__(self, cluster: Kubectl, forwards: PortForwards) -> None:
        self.cluster = cluster
        self.forwards = forwards

    def pods(self, service: str) -> list[PodState]:
        selector = selector_arg(self.cluster.get("service", service))
        return pod_states(self.cluster.get("pods", "-l", selector).get("items", []))

    def restart(self, service: str, way: str) -> str:
        before = self.pods(service)
        if not before:
            raise TargetError(f"{self.cluster.where}: no pod behind Service {service} to restart")
        if way == KILL:
            for pod in before:
                for cid in pod.containers:
                    # --timeout=0 of `stop`: SIGKILL at once; crictl's own --timeout: how long it
                    # waits for the runtime to confirm (its 2 s default is short on a busy node)
                    run(["docker", "exec", pod.node, "crictl", f"--timeout={CRI_TIMEOUT_S}s", "stop", "--timeout=0",
                         cid], CRI_TIMEOUT_S + 10, f"crictl stop of {pod.name} on kind node {pod.node}")
            done = f"{service}: SIGKILL of {sum(len(p.containers) for p in before)} container(s), restarted by kubelet"
        elif way == POD_DELETE:
            self.cluster.run("delete", "pod", "--wait=true", "--timeout=120s", *[p.name for p in before], timeout=150)
            done = f"{service}: pod(s) {', '.join(p.name for p in before)} deleted, recreated by their controller"
        else:
            raise TargetError(f"{self.cluster.where}: cannot restart {service} by {way!r} "
                              f"(ways: {', '.join(self.ways)})")
        self._await_back(service, before, way)
        self.reconnect(service)  # kubectl forwarded to a pod that is gone or restarted
        return done

    def reconnect(self, service: str) -> None:
        """kubectl forwards to the one pod it resolved the Service to when it opened."""
        self.forwards.close(service)

    def _await_back(self, service: str, before: list[PodState], way: str) -> None:
        """As many Ready pods as before, each a new pod (delete) or restarted (kill)."""
        old = {p.uid: p.restarts for p in before}

        def back() -> bool:
            now = self.pods(service)
            if len(now) != len(before) or not all(p.ready for p in now):
                return False
            if way == POD_DELETE:
                return not any(p.uid in old for p in now)
            return all(p.restarts > old.get(p.uid, -1) for p in now)

        try:
            wait_until(back, timeout=BACK_TIMEOUT_S, interval=POLL_S, retry_on=(TargetError,),
                       what=f"{self.cluster.where}: the pods of {service} Ready again after the {way}")
        except WaitTimeout as exc:
            raise TargetError(str(exc)) from None
