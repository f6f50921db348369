"""Removing members of a replicated service while load runs (the resilience contracts):
the pods of a service's workload (its StatefulSet or Deployment, named as the service),
deleting one, draining and uncordoning a node, and a load pod that runs from inside the
cluster through the disruption (conformance/inside/load.py), so what is measured is
what an app sees through the Service's name."""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance.errors import TargetError
from conformance.inside.checks import LOAD_SCRIPT, json_lines
from conformance.kube.forward import PortForwards
from conformance.kube.kubectl import Kubectl
from conformance.kube.pods import POLICY_SETTLE_S, PROBE_LABEL, PROBE_NAME, probe_pod_overrides, probe_run_cmd
from conformance.kube.release import RELEASE_LABELS, deployed_release
from conformance.kube.restarts import labels_arg, pod_states, selector_arg
from conformance.process import run
from conformance.waiting import WaitTimeout, wait_until

WORKLOAD_KINDS = ("statefulset", "deployment")
DRAIN_TIMEOUT_S = 300


@dataclass(frozen=True)
class Member:
    """One pod of a service's workload."""

    name: str
    node: str
    ready: bool


@dataclass(frozen=True)
class LoadRun:
    """A load pod's attempts ({"n", "t", "ok", "detail"}), its summary, and when (on the
    load's clock) the disruption started and what it was."""

    events: list[dict[str, Any]]
    summary: dict[str, Any]
    disrupted_at: float
    disruption: str


class KubeDisruptions:
    """Disruptions of one namespace's replicated services."""

    def __init__(self, cluster: Kubectl, probe_image: str, forwards: PortForwards) -> None:
        self.cluster = cluster
        self.probe_image = probe_image
        self.forwards = forwards

    def overlay(self) -> str:
        """The overlay the namespace's release was installed with (its values `overlay`)."""
        secrets = self.cluster.get("secrets", "-l", RELEASE_LABELS).get("items", [])
        release = deployed_release(secrets)
        return release.overlay if release else "default"

    def budgets(self) -> list[dict[str, Any]]:
        """The namespace's PodDisruptionBudgets."""
        return self.cluster.objects("poddisruptionbudgets")

    def reconnect(self, service: str) -> None:
        """Drop the suite's forward to the service: kubectl forwards to one pod, which may be
        the one removed; the next use forwards to the Service's pod of now."""
        self.forwards.close(service)

    def serving(self, service: str) -> list[str]:
        """The pods the Service itself selects now (Postgres's: only the primary)."""
        pods = self.cluster.get("pods", "-l", selector_arg(self.cluster.get("service", service)))
        return [p.name for p in pod_states(pods.get("items", [])) if p.ready]

    def workload(self, service: str) -> dict[str, Any] | None:
        for kind in WORKLOAD_KINDS:
            doc = self.cluster.get(kind).get("items", [])
            found = next((w for w in doc if w["metadata"]["name"] == service), None)
            if found is not None:
                return dict(found)
        return None

    def replicas(self, service: str) -> int:
        """The replica count the service's workload asks for (0: no workload of that name)."""
        found = self.workload(service)
        return int(found.get("spec", {}).get("replicas", 1)) if found else 0

    def members(self, service: str) -> list[Member]:
        found = self.workload(service)
        if found is None:
            raise TargetError(f"{self.cluster.where}: no StatefulSet or Deployment named {service}")
        pods = self.cluster.get("pods", "-l", labels_arg(found["spec"]["selector"].get("matchLabels") or {}))
        return [Member(p.name, p.node, p.ready) for p in pod_states(pods.get("items", []))]

    def remove(self, member: str) -> str:
        """Delete one pod (its controller makes a new one); returns what was done."""
        self.cluster.run("delete", "pod", member, "--wait=false", timeout=60)
        return f"pod {member} deleted"

    def drain(self, node: str) -> str:
        """Cordon and drain a node through the eviction API, so PodDisruptionBudgets decide.
        The suite's own probe and load pods (bare pods, which drain refuses to delete) stay:
        the load measures the drain, wherever it was scheduled."""
        run(["kubectl", "--context", self.cluster.context, "drain", node, "--ignore-daemonsets",
             "--delete-emptydir-data", f"--pod-selector={PROBE_LABEL}!={PROBE_NAME}",
             f"--timeout={DRAIN_TIMEOUT_S}s"], DRAIN_TIMEOUT_S + 30,
            f"kubectl drain {node}")
        return f"node {node} drained"

    def await_ready(self, seconds: float) -> None:
        """Every pod of the namespace Ready again (finished Jobs' pods aside), bounded."""
        def ready() -> bool:
            pods = self.cluster.get("pods").get("items", [])
            running = [p for p in pods if p.get("status", {}).get("phase") != "Succeeded"]
            return bool(running) and all(s.ready for s in pod_states(running))

        try:
            wait_until(ready, timeout=seconds, interval=2.0, retry_on=(TargetError,),
                       what=f"every pod of {self.cluster.where} Ready again")
        except WaitTimeout as exc:
            raise TargetError(str(exc)) from None

    def uncordon(self, node: str) -> None:
        run(["kubectl", "--context", self.cluster.context, "uncordon", node], 60, f"kubectl uncordon {node}")

    def load_during(self, spec: dict[str, Any], clients: list[str], disrupt: Callable[[], str], *,
                    warmup_s: float = 3.0) -> LoadRun:
        """Run the load script in a pod labelled as a client of `clients`; `warmup_s` of load
        after it is ready, call `disrupt` (its answer names the disruption), and read the
        attempts until the pod ends (bounded by the spec's duration). A thread reads the
        pod's output all along: unread, the pipe would fill and stall the load itself."""
        pod = f"soma-load-{secrets.token_hex(3)}"
        overrides = probe_pod_overrides(pod, self.probe_image, clients, LOAD_SCRIPT.read_text(encoding="utf-8"),
                                        json.dumps(spec), settle_s=POLICY_SETTLE_S)
        bound = POLICY_SETTLE_S + float(spec["seconds"]) + float(spec.get("settle", 0)) + 120
        proc = subprocess.Popen(probe_run_cmd(self.cluster.context, self.cluster.namespace, pod, self.probe_image,
                                              overrides), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []
        ready, ended = threading.Event(), threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if '"ready"' in line:
                    ready.set()
            ended.set()

        reader = threading.Thread(target=read, name=f"load {pod}", daemon=True)
        reader.start()
        try:
            if not ready.wait(bound) or (ended.is_set() and not ready.is_set()):
                raise TargetError(f"load pod {pod} did not start: {' | '.join(lines[-3:])[-300:]}")
            ready_at = time.monotonic()
            time.sleep(warmup_s)
            disrupted_at = time.monotonic() - ready_at
            what = disrupt()
            if not ended.wait(bound):
                raise TargetError(f"load pod {pod}: no end within {bound:.0f}s")
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            reader.join(timeout=5)
        parsed = json_lines("".join(lines))
        summary = next((d["summary"] for d in parsed if "summary" in d), None)
        if summary is None:
            raise TargetError(f"load pod {pod} ended without its summary: {' | '.join(lines[-3:])[-300:]}")
        return LoadRun([d for d in parsed if "ok" in d], summary, disrupted_at, what)
