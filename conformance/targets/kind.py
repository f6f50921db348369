"""Target `kind`: the Helm release in namespace soma-infra of a Kind cluster.

Endpoints come from `kubectl port-forward svc/<name>` (one per service, local port
chosen by kubectl); in-network probes run in a short-lived pod that carries every
`soma.io/client-<svc>` label, so the chart's NetworkPolicies let it in, and a
`restricted` security context, so PodSecurity admits it.

Names match the Helm chart infra/helm/soma-infra: Services named as in the catalog, the
dev-only Secret `soma-infra-dev-credentials`, and Kafka's host listener: the dev overlay
advertises `127.0.0.1:<port>` to clients outside the cluster and publishes that port on the
Service as the port named `host`, so Kafka is forwarded on that same local port (a client
reconnects to the advertised address). The port is read from the live Service, not restated.

The security contracts use `reach_each` and `reach_with_canary` (probe pods with one client
label or none: NetworkPolicy) and `podsecurity_dry_run` (a server-side dry-run create:
PodSecurity).

The readiness contract `readiness.kubernetes` reads pods and EndpointSlices
(`unready_pods`, `unroutable_services`: pure functions, unit-tested).

Command construction and output parsing are unit-tested; the live runs are recorded in
docs/infra/INSTALL_KIND.md (an offline Kind cluster, `make kind-up`).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import selectors
import subprocess
import tempfile
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from conformance.access import Credentials, Endpoint
from conformance.errors import TargetError
from conformance.inside.checks import PROBE_SCRIPT, InsideCheck, InsideResult, decode_results, encode_checks
from conformance.process import completed, run
from conformance.targets.base import KubernetesAccess, Target, Tracing
from conformance.waiting import WaitTimeout, wait_until

FORWARD_RE = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")
CREDENTIALS_SECRET = "soma-infra-dev-credentials"
PORT_FORWARD_TIMEOUT_S = 15.0
FORWARD_READ_S = 0.5  # each look for kubectl's output waits this long at most
FORWARD_SAID_LINES = 5  # kubectl's last lines other than "Handling connection", per forward
# the Service port the chart names for a listener advertised as 127.0.0.1:<port>
# (templates/kafka.yaml, values kafka.hostListener); forwarded as <port>:<port>
HOST_LISTENER_PORT_NAME = "host"
# every probe pod waits this long after it starts (probe_pod_overrides)
POLICY_SETTLE_S = 10
# the jaeger Service's port for its query API (templates/jaeger.yaml)
JAEGER_QUERY_PORT_NAME = "query"
PODSECURITY_REJECTED = re.compile(r'violates PodSecurity "(?P<level>[a-z]+):(?P<version>[^"]+)": (?P<why>.+)')


def kubectl(context: str, namespace: str, *args: str) -> list[str]:
    return ["kubectl", "--context", context, "--namespace", namespace, *args]


def service_ports(services: dict[str, Any]) -> dict[str, dict[str, int]]:
    """service -> {port name: port}, from `kubectl get services -o json`: the chart names
    every port, so the target reads a port by its name (Kafka's host listener `host`,
    Jaeger's `query`) instead of keeping a copy of the chart's values."""
    return {str(svc["metadata"]["name"]): {str(port["name"]): int(port["port"])
                                          for port in svc.get("spec", {}).get("ports") or [] if port.get("name")}
            for svc in services.get("items", [])}


def opa_otlp_endpoint(deployments: list[dict[str, Any]]) -> str:
    """SOMA_OTLP_ENDPOINT of the opa Deployment's containers: what the chart hands OPA from
    values tracing.otlpEndpoint ("" = tracing off, as in compose)."""
    for dep in deployments:
        if dep.get("metadata", {}).get("name") != "opa":
            continue
        for container in dep.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            for env in container.get("env") or []:
                if env.get("name") == "SOMA_OTLP_ENDPOINT":
                    return str(env.get("value") or "")
    return ""


def port_forward_cmd(context: str, namespace: str, service: str, port: int,
                     host_listener: int | None = None) -> list[str]:
    """Forward a random local port to the contract port, or, for a service that advertises a
    host listener (Kafka), that listener's port on the same local port."""
    spec = f"{host_listener}:{host_listener}" if host_listener else f":{port}"
    return kubectl(context, namespace, "port-forward", f"svc/{service}", spec, "--address", "127.0.0.1")


def drain(out: IO[str], said: deque[str]) -> None:
    """Read kubectl's output to its end, keeping its last other lines in `said` (errors such
    as "error creating forwarding stream ... Timeout occurred"). kubectl port-forward writes
    "Handling connection for PORT" for every connection it accepts, before it serves it:
    with nobody reading, the pipe fills after about 2,000 connections and each later one
    hangs until the client's read timeout."""
    for line in out:
        if not line.startswith("Handling connection for "):
            said.append(line.strip())


def parse_forward_line(line: str) -> int | None:
    """Local port from kubectl's 'Forwarding from 127.0.0.1:PORT -> REMOTE' line."""
    match = FORWARD_RE.search(line)
    return int(match.group(1)) if match else None


def probe_pod_overrides(pod: str, image: str, services: list[str], script: str,
                        checks: str, *, settle_s: int = 0) -> dict[str, Any]:
    """Pod spec for the inside probe: restricted-compliant, labelled as a client of each of
    `services` (soma.io/client-<svc>: "true", what the chart's NetworkPolicies let in).
    settle_s: seconds the pod waits before probing, so the CNI has programmed the policies
    for its new IP. kube-router does it after it sees the pod, both ways: until then a
    deny is not yet applied to it, and its IP is not yet in the allowed-client sets of
    the services (a live run had postgres and kafka, probed first, refuse a labelled pod)."""
    labels = {"app.kubernetes.io/name": "soma-conformance-probe"}
    labels.update({f"soma.io/client-{s}": "true" for s in services})
    return {
        "apiVersion": "v1",
        "metadata": {"name": pod, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65534,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "probe",
                "image": image,
                "command": (["sh", "-c", f'sleep {settle_s}; exec python3 -c "$0" "$1"', script, checks]
                            if settle_s else ["python3", "-c", script, checks]),
                "securityContext": {"allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}},
                "resources": {"limits": {"cpu": "100m", "memory": "64Mi"},
                              "requests": {"cpu": "10m", "memory": "32Mi"}},
            }],
        },
    }


# the canary of the default-deny check: a pod that no allow policy selects, listening on a
# port no contract uses; only the namespace's default-deny keeps other pods away from it
CANARY_PORT = 18080
CANARY_LABELS = {"app.kubernetes.io/name": "soma-conformance-canary"}


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


def probe_run_cmd(context: str, namespace: str, pod: str, image: str, overrides: dict[str, Any]) -> list[str]:
    return kubectl(context, namespace, "run", pod, "--rm", "--attach", "--quiet",
                   "--restart=Never", f"--image={image}", "--pod-running-timeout=60s",
                   f"--overrides={json.dumps(overrides)}")


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


def decode_secret(doc: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in doc.get("data", {}).items()}


@dataclass
class Forward:
    """One `kubectl port-forward` and the thread that keeps reading its output."""

    proc: subprocess.Popen[str]
    port: int
    said: deque[str]
    reader: threading.Thread


class KindTarget(Target):
    name = "kind"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context = self.options.kube_context
        self.namespace = self.options.namespace
        self._forwards: dict[str, Forward] = {}
        self._services: set[str] | None = None
        self._ports: dict[str, dict[str, int]] = {}

    def kubernetes(self) -> KubernetesAccess:
        """This target is a namespace of a Kubernetes cluster: its API is the one contracts read."""
        return self

    @property
    def environment(self) -> str:
        """The kube context (plus the namespace when it is not the chart's default)."""
        default = self.catalog.namespace
        return self.context if self.namespace == default else f"{self.context}/{self.namespace}"

    def _kubectl(self, *args: str, timeout: float = 30) -> str:
        return run(kubectl(self.context, self.namespace, *args), timeout,
                   f"kubectl ({self.context}/{self.namespace})")

    def setup(self) -> None:
        doc = json.loads(self._kubectl("get", "services", "-o", "json"))
        self._services = {item["metadata"]["name"] for item in doc.get("items", [])}
        self._ports = service_ports(doc)

    def teardown(self) -> None:
        for fwd in self._forwards.values():
            fwd.proc.terminate()
        for service, fwd in sorted(self._forwards.items()):
            try:
                fwd.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                fwd.proc.kill()
            fwd.reader.join(timeout=1)
            for line in fwd.said:  # evidence for a call through it that timed out
                print(f"soma-conformance: kubectl port-forward of {service}: {line}")
        self._forwards.clear()

    def deployed(self, service: str) -> bool:
        if self._services is None:
            self.setup()
        return service in (self._services or set())

    def endpoint(self, service: str) -> Endpoint:
        return self._forward(service, self.catalog.service(service).port)

    def tracing(self) -> Tracing:
        """SOMA_OTLP_ENDPOINT as the chart hands it to OPA (values tracing.otlpEndpoint); the
        query API of the `jaeger` Service where tracing.jaeger.enabled deploys it."""
        where = f"{self.context}/{self.namespace}"
        otlp = opa_otlp_endpoint(self.objects("deployments"))
        if not otlp:
            return Tracing(reason=f"tracing is off: SOMA_OTLP_ENDPOINT is empty on the opa Deployment in {where} "
                                  "(values tracing.otlpEndpoint)")
        if not self.deployed("jaeger"):
            return Tracing(otlp, None, f"traces go to {otlp}; {where} deploys no Jaeger (values "
                                       "tracing.jaeger.enabled) whose query API could show them")
        query = self._ports.get("jaeger", {}).get(JAEGER_QUERY_PORT_NAME)
        if query is None:
            raise TargetError(f"the jaeger Service in {where} names no port {JAEGER_QUERY_PORT_NAME!r} "
                              "(templates/jaeger.yaml)")
        return Tracing(otlp, self._forward("jaeger", query), "")

    def _forward(self, service: str, port: int) -> Endpoint:
        """A local port forwarded to `port` of Service `service` (one kubectl per service)."""
        if service not in self._forwards:
            if self._services is None:
                self.setup()
            cmd = port_forward_cmd(self.context, self.namespace, service, port,
                                   self._ports.get(service, {}).get(HOST_LISTENER_PORT_NAME))
            proc = subprocess.Popen(cmd,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            local = self._await_forward(proc, service)
            assert proc.stdout is not None
            said: deque[str] = deque(maxlen=FORWARD_SAID_LINES)
            reader = threading.Thread(target=drain, args=(proc.stdout, said), name=f"port-forward {service}",
                                      daemon=True)
            reader.start()
            self._forwards[service] = Forward(proc, local, said, reader)
        return Endpoint(service, "127.0.0.1", self._forwards[service].port)

    def _await_forward(self, proc: subprocess.Popen[str], service: str) -> int:
        """The local port of kubectl's 'Forwarding from' line (select waits for output, so
        the poll itself does not sleep); kubectl ending first is the same failure."""
        out = proc.stdout
        assert out is not None
        sel = selectors.DefaultSelector()
        sel.register(out, selectors.EVENT_READ)

        def forwarded() -> int | None:
            if not sel.select(timeout=FORWARD_READ_S):
                return None
            line = out.readline()
            if not line:
                raise EOFError("kubectl port-forward ended")
            return parse_forward_line(line)

        try:
            port = wait_until(forwarded, timeout=PORT_FORWARD_TIMEOUT_S, interval=0.0,
                              what=f"kubectl port-forward of {service}")
        except (WaitTimeout, EOFError):
            proc.kill()
            raise TargetError(f"{service}: kubectl port-forward did not start within "
                              f"{PORT_FORWARD_TIMEOUT_S:.0f}s") from None
        finally:
            sel.close()
        assert port is not None  # wait_until returns only a truthy answer
        return port

    def credentials(self) -> Credentials:
        data = decode_secret(json.loads(self._kubectl("get", "secret", CREDENTIALS_SECRET, "-o", "json")))
        return Credentials(
            postgres_user=data.get("POSTGRES_USER", "postgres"),
            postgres_password=data.get("POSTGRES_PASSWORD", ""),
            postgres_db=data.get("POSTGRES_DB", "postgres"),
            redis_password=data.get("REDIS_PASSWORD", ""),
            vault_token=data.get("VAULT_DEV_ROOT_TOKEN", ""),
        )

    def run_inside(self, checks: list[InsideCheck]) -> list[InsideResult]:
        return self._run_probe(checks, sorted(self.catalog.services), POLICY_SETTLE_S)

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Live objects of one kind in the namespace (`kubectl get KIND -o json`): the
        runtime security contracts read pod spec/status and Services from here."""
        return list(json.loads(self._kubectl("get", kind, "-o", "json")).get("items", []))
    def reach(self, services: list[str], labels: list[str]) -> list[InsideResult]:
        """Probe every service of `services` from ONE pod carrying the client labels of
        `labels` only (one pod instead of one per service: pods are the slow part)."""
        return self._run_probe(self.inside_checks(services), labels, POLICY_SETTLE_S)

    def reach_each(self, services: list[str]) -> dict[str, InsideResult | TargetError]:
        """Each service probed from its own pod that carries only that service's client
        label. The pods run side by side: each waits POLICY_SETTLE_S for the CNI, so one
        after another they cost that wait once per service. A pod that could not run is
        its service's TargetError, so it fails that service's check alone."""
        def one(service: str) -> InsideResult | TargetError:
            try:
                return self.reach([service], [service])[0]
            except TargetError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
            return dict(zip(services, pool.map(one, services), strict=True))

    def reach_with_canary(self, services: list[str]) -> tuple[list[InsideResult], InsideResult]:
        """Probe `services` from a pod of the namespace with no client label, and a canary
        pod (one that no allow policy selects) from a pod of a scratch namespace that this
        run creates and deletes. Only the namespace's default-deny keeps the canary out of
        reach: the contract services are also shut by their own allow-lists, and every pod
        of the namespace has its egress narrowed to DNS by allow-dns-egress, so a probe
        from inside, or of a contract service, would not notice a missing default-deny.
        The unlabelled probe runs beside the canary's set-up: both are pod start-ups."""
        with ThreadPoolExecutor(max_workers=1) as pool:
            unlabelled = pool.submit(self._run_probe, self.inside_checks(services), [], POLICY_SETTLE_S)
            canary = self._canary_reach()
            return unlabelled.result(), canary

    def _canary_reach(self) -> InsideResult:
        """The canary of reach_with_canary, probed from a scratch namespace; both deleted after."""
        suffix = secrets.token_hex(3)
        pod, scratch = f"soma-canary-{suffix}", f"soma-canary-client-{suffix}"
        try:
            run(["kubectl", "--context", self.context, "create", "namespace", scratch], 60,
                f"scratch namespace {scratch}")
            with tempfile.TemporaryDirectory(prefix="soma-canary-") as tmp:
                manifest = Path(tmp) / "canary.json"
                manifest.write_text(json.dumps(canary_pod(pod, self.options.probe_image)), encoding="utf-8")
                run(kubectl(self.context, self.namespace, "create", "-f", str(manifest)), 60,
                    f"canary pod in {self.namespace}")
            run(kubectl(self.context, self.namespace, "wait", "--for=condition=Ready", f"pod/{pod}",
                        "--timeout=90s"), 100, f"canary pod {pod} Ready")
            ip = self._kubectl("get", "pod", pod, "-o", "jsonpath={.status.podIP}").strip()
            if not ip:
                raise TargetError(f"canary pod {pod} has no IP")
            canary = self._run_probe([InsideCheck("canary", ip, CANARY_PORT, "http", "/")], [],
                                     POLICY_SETTLE_S, namespace=scratch)[0]
        finally:
            for cmd in (kubectl(self.context, self.namespace, "delete", "pod", pod, "--wait=false",
                                "--ignore-not-found"),
                        ["kubectl", "--context", self.context, "delete", "namespace", scratch, "--wait=false",
                         "--ignore-not-found"]):
                subprocess.run(cmd, capture_output=True, timeout=30, check=False)
        return canary

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

    def workload_state(self) -> tuple[list[str], list[str]]:
        """(pods not Ready, Services without a ready endpoint) in the namespace."""
        pods = json.loads(self._kubectl("get", "pods", "-o", "json"))
        services = json.loads(self._kubectl("get", "services", "-o", "json"))
        slices = json.loads(self._kubectl("get", "endpointslices.discovery.k8s.io", "-o", "json"))
        return unready_pods(pods), unroutable_services(services, slices)

    def podsecurity_dry_run(self, pod: dict[str, Any]) -> tuple[bool, str]:
        """(admitted, detail) for a server-side dry-run create of `pod` in the namespace."""
        proc = completed(dry_run_create_cmd(self.context, self.namespace), 60,
                         f"kubectl create --dry-run=server ({self.context}/{self.namespace})",
                         stdin=json.dumps(pod))
        if proc.returncode == 0:
            return True, proc.stdout.strip()
        reason = parse_podsecurity_rejection(proc.stderr)
        if reason is None:
            raise TargetError(f"kubectl create --dry-run=server failed without a PodSecurity verdict: "
                              f"{proc.stderr.strip()[:300]}")
        return False, reason

    def _run_probe(self, checks: list[InsideCheck], labelled: list[str],
                   settle_s: int = 0, namespace: str | None = None) -> list[InsideResult]:
        pod = f"soma-probe-{secrets.token_hex(3)}"
        where = namespace or self.namespace
        script = PROBE_SCRIPT.read_text(encoding="utf-8")
        overrides = probe_pod_overrides(pod, self.options.probe_image, labelled, script,
                                        encode_checks(checks), settle_s=settle_s)
        out = run(probe_run_cmd(self.context, where, pod, self.options.probe_image, overrides),
                  120, f"inside probe pod in {where}")
        return decode_results(out, checks)
