"""What the kind target shows contracts about its namespace (the KubernetesAccess they
read): workload readiness, PodSecurity verdicts of a server-side dry-run, NetworkPolicy
probed from an app namespace (pods with one client label or none, and a canary), and the
image IDs the pods run. Kubernetes access itself is conformance/kube."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from conformance.errors import TargetError
from conformance.inside.checks import InsideCheck, InsideResult
from conformance.kube.kubectl import Kubectl, kubectl
from conformance.kube.pods import POLICY_SETTLE_S, probe_pod_overrides, run_probe
from conformance.process import completed, run
from conformance.targets.base import AppReach

PODSECURITY_REJECTED = re.compile(r'violates PodSecurity "(?P<level>[a-z]+):(?P<version>[^"]+)": (?P<why>.+)')
# the canary of the default-deny check: a pod that no allow policy selects, listening on a
# port no contract uses; only the namespace's default-deny keeps other pods away from it
CANARY_PORT = 18080
CANARY_LABELS = {"app.kubernetes.io/name": "soma-conformance-canary"}
# Helm's mark on every object a release rendered (and adopted)
HELM_RELEASE_ANNOTATION = "meta.helm.sh/release-name"




def canary_pod(pod: str, image: str) -> dict[str, Any]:
    """A restricted-compliant HTTP listener that no NetworkPolicy of the chart admits."""
    spec = probe_pod_overrides(pod, image, [], "", "")
    spec["kind"] = "Pod"
    spec["metadata"]["labels"] = dict(CANARY_LABELS)
    container = spec["spec"]["containers"][0]
    container["name"] = "canary"
    container["command"] = ["python3", "-m", "http.server", str(CANARY_PORT), "--bind", "0.0.0.0",
                            "--directory", "/"]
    container["readinessProbe"] = {"tcpSocket": {"port": CANARY_PORT}, "periodSeconds": 1}
    return spec


def privileged_pod(name: str, image: str) -> dict[str, Any]:
    """A pod that PodSecurity `restricted` (and `baseline`) must refuse."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "soma-conformance-privileged"}},
        "spec": {"restartPolicy": "Never", "hostNetwork": True,
                 "containers": [{"name": "privileged", "image": image, "command": ["true"],
                                 "securityContext": {"privileged": True, "runAsUser": 0}}]},
    }


def dry_run_create_cmd(context: str, namespace: str) -> list[str]:
    """Server-side dry-run create from stdin: admission (PodSecurity) decides, nothing is stored."""
    return kubectl(context, namespace, "create", "--dry-run=server", "-o", "name", "-f", "-")


def parse_podsecurity_rejection(stderr: str) -> str | None:
    """'restricted:latest: privileged (...)' if the API server refused a pod for PodSecurity."""
    match = PODSECURITY_REJECTED.search(stderr)
    if not match:
        return None
    return f"{match.group('level')}:{match.group('version')}: {match.group('why').strip()}"


def unready_pods(pods: dict[str, Any]) -> list[str]:
    """'name: why' for every pod (of a `kubectl get pods -o json` list) that should serve but
    is not Ready; pods of finished Jobs (Succeeded) are not expected to be Ready."""
    bad = []
    for pod in pods.get("items", []):
        status = pod.get("status", {})
        if status.get("phase") == "Succeeded":
            continue
        ready = {c.get("type"): c.get("status") for c in status.get("conditions", [])}.get("Ready")
        if ready != "True":
            waiting = [str(cs.get("state", {}).get("waiting", {}).get("reason", ""))
                       for cs in status.get("containerStatuses", []) if "waiting" in cs.get("state", {})]
            why = ", ".join(w for w in waiting if w) or f"phase {status.get('phase', '?')}"
            bad.append(f"{pod['metadata']['name']}: not Ready ({why})")
    return bad


def unroutable_services(services: dict[str, Any], slices: dict[str, Any]) -> list[str]:
    """'name: why' for every Service with a selector that has no ready endpoint: a client
    resolving its name would get nowhere."""
    ready: dict[str, int] = {}
    for sl in slices.get("items", []):
        owner = sl.get("metadata", {}).get("labels", {}).get("kubernetes.io/service-name", "")
        n = sum(1 for ep in sl.get("endpoints") or [] if ep.get("conditions", {}).get("ready", False))
        ready[owner] = ready.get(owner, 0) + n
    bad = []
    for svc in services.get("items", []):
        name = svc["metadata"]["name"]
        if not svc.get("spec", {}).get("selector"):
            continue  # no selector: endpoints are managed by hand, nothing to route to
        if ready.get(name, 0) == 0:
            bad.append(f"{name}: no ready endpoint")
    return bad


class KindEvidence:
    """The KubernetesAccess of the kind target: the namespace's objects, admission verdicts
    and probe pods. `inside_checks` turns service names into the target's DNS/port checks."""

    def __init__(self, cluster: Kubectl, probe_image: str,
                 inside_checks: Callable[[list[str]], list[InsideCheck]]) -> None:
        self.cluster = cluster
        self.probe_image = probe_image
        self.inside_checks = inside_checks

    @property
    def namespace(self) -> str:
        return self.cluster.namespace

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Live objects of one kind in the namespace: the runtime security contracts read pod
        spec/status and Services from here."""
        return self.cluster.objects(kind)

    def workload_state(self) -> tuple[list[str], list[str]]:
        """(pods not Ready, Services without a ready endpoint) in the namespace."""
        pods = self.cluster.get("pods")
        services = self.cluster.get("services")
        slices = self.cluster.get("endpointslices.discovery.k8s.io")
        return unready_pods(pods), unroutable_services(services, slices)

    def podsecurity_dry_run(self, pod: dict[str, Any]) -> tuple[bool, str]:
        """(admitted, detail) for a server-side dry-run create of `pod` in the namespace."""
        proc = completed(dry_run_create_cmd(self.cluster.context, self.namespace), 60,
                         f"kubectl create --dry-run=server ({self.cluster.where})", stdin=json.dumps(pod))
        if proc.returncode == 0:
            return True, proc.stdout.strip()
        reason = parse_podsecurity_rejection(proc.stderr)
        if reason is None:
            raise TargetError(f"kubectl create --dry-run=server failed without a PodSecurity verdict: "
                              f"{proc.stderr.strip()[:300]}")
        return False, reason

    def reach_from_app_namespace(self, services: list[str]) -> AppReach:
        """NetworkPolicy, probed from where apps run: a scratch namespace this run creates,
        with no NetworkPolicy of its own (so only the services' ingress rules decide). From
        it, one pod with no client label and one pod per service carrying only that
        service's label each probe every service; a pod there also probes a canary in the
        namespace that no allow policy selects (only default-deny keeps it out of reach).
        Every pod starts side by side (each is a start-up plus the CNI's settle time); a pod
        that could not run is its TargetError, failing only its own service's check."""
        context, namespace = self.cluster.context, self.namespace
        suffix = secrets.token_hex(3)
        app, canary = f"soma-app-{suffix}", f"soma-canary-{suffix}"
        checks = self.inside_checks(services)

        def probe(labels: list[str]) -> list[InsideResult] | TargetError:
            try:
                return run_probe(self.cluster, self.probe_image, checks, labels, settle_s=POLICY_SETTLE_S,
                                 namespace=app)
            except TargetError as exc:
                return exc

        try:
            with ThreadPoolExecutor(max_workers=len(services) + 3) as pool:
                canary_ip = pool.submit(self._start_canary, canary)  # beside the namespace's creation
                run(["kubectl", "--context", context, "create", "namespace", app], 60, f"app namespace {app}")
                unlabelled = pool.submit(probe, [])
                labelled = {svc: pool.submit(probe, [svc]) for svc in services}
                canary_result = run_probe(self.cluster, self.probe_image,
                                          [InsideCheck("canary", canary_ip.result(), CANARY_PORT, "http", "/")], [],
                                          settle_s=POLICY_SETTLE_S, namespace=app)[0]
                got_unlabelled = unlabelled.result()
                if isinstance(got_unlabelled, TargetError):
                    raise got_unlabelled
                return AppReach(app, {r.service: r for r in got_unlabelled}, canary_result,
                                {svc: f.result() for svc, f in labelled.items()}, self.foreign_policies())
        finally:
            for cmd in (kubectl(context, namespace, "delete", "pod", canary, "--wait=false", "--ignore-not-found"),
                        ["kubectl", "--context", context, "delete", "namespace", app, "--wait=false",
                         "--ignore-not-found"]):
                subprocess.run(cmd, capture_output=True, timeout=30, check=False)

    def _start_canary(self, pod: str) -> str:
        """The canary of reach_from_app_namespace, started in the namespace: its pod IP once
        it is Ready (probed only then: a canary not yet listening would look refused)."""
        context, namespace = self.cluster.context, self.namespace
        with tempfile.TemporaryDirectory(prefix="soma-canary-") as tmp:
            manifest = Path(tmp) / "canary.json"
            manifest.write_text(json.dumps(canary_pod(pod, self.probe_image)), encoding="utf-8")
            run(kubectl(context, namespace, "create", "-f", str(manifest)), 60, f"canary pod in {namespace}")
        run(kubectl(context, namespace, "wait", "--for=condition=Ready", f"pod/{pod}", "--timeout=90s"), 100,
            f"canary pod {pod} Ready")
        ip = self.cluster.run("get", "pod", pod, "-o", "jsonpath={.status.podIP}").strip()
        if not ip:
            raise TargetError(f"canary pod {pod} has no IP")
        return ip

    def foreign_policies(self) -> list[str]:
        """NetworkPolicies of the namespace that no Helm release rendered (an operator's
        `kubectl apply`): evidence, named in the contract's message."""
        return sorted(str(np["metadata"]["name"]) for np in self.objects("networkpolicies")
                      if not (np["metadata"].get("annotations") or {}).get(HELM_RELEASE_ANNOTATION))

    def running_images(self) -> dict[str, list[str]]:
        """The local Docker Engine's image IDs of what every pod runs: kind nodes are
        containers of this engine, `kind load` copies the engine's images into their
        containerd, and the node's CRI reports each image's ID (its config digest, the same
        ID Docker gives it), so the scan reads exactly the bytes the pods run."""
        by_image: dict[str, list[str]] = {}
        refs: dict[tuple[str, str], list[str]] = {}
        for pod in self.objects("pods"):
            if pod.get("status", {}).get("phase") != "Running":
                continue
            node = str(pod.get("spec", {}).get("nodeName", ""))
            for c in pod.get("spec", {}).get("containers", []):
                refs.setdefault((node, str(c["image"])), []).append(f"{pod['metadata']['name']}/{c['name']}")
        for (node, ref), users in sorted(refs.items()):
            out = run(["docker", "exec", node, "crictl", "inspecti", "-o", "json", ref], 60,
                      f"image {ref} on kind node {node}")
            image_id = str(json.loads(out).get("status", {}).get("id", ""))
            if not image_id:
                raise TargetError(f"kind node {node} reports no ID for image {ref}")
            by_image.setdefault(image_id, []).extend(users)
        return by_image
