"""Target `kind`: the Helm release in namespace soma-infra of a Kind cluster.

Endpoints come from `kubectl port-forward svc/<name>` (one per service, local port
chosen by kubectl); in-network probes run in a short-lived pod that carries every
`soma.io/client-<svc>` label, so the chart's NetworkPolicies let it in, and a
`restricted` security context, so PodSecurity admits it (conformance/kube).

Names match the Helm chart infra/helm/soma-infra: Services named as in the catalog, the
dev-only Secret `soma-infra-dev-credentials`, and Kafka's host listener: the dev overlay
advertises `127.0.0.1:<port>` to clients outside the cluster and publishes that port on the
Service as the port named `host`, so Kafka is forwarded on that same local port (a client
reconnects to the advertised address). The port is read from the live Service, not restated.

What the security and readiness contracts read of the namespace (NetworkPolicy probes, the
canary, PodSecurity dry-runs, workload state, image IDs) is kind_evidence.KindEvidence.

Command construction and output parsing are unit-tested; the live runs are recorded in
docs/infra/INSTALL_KIND.md (an offline Kind cluster, `make kind-up`).
"""

from __future__ import annotations

from typing import Any

from conformance.access import Credentials, Endpoint
from conformance.errors import TargetError, UsageError
from conformance.inside.checks import InsideCheck, InsideResult
from conformance.kube import release as kube_release
from conformance.kube.disruptions import KubeDisruptions
from conformance.kube.forward import PortForwards
from conformance.kube.kubectl import Kubectl, service_ports
from conformance.kube.pods import POLICY_SETTLE_S, run_probe
from conformance.kube.restarts import KubeRestarts, pod_states, selector_arg
from conformance.targets.base import KubernetesAccess, Target, Tracing
from conformance.targets.kind_evidence import KindEvidence

CREDENTIALS_SECRET = "soma-infra-dev-credentials"
# the Service port the chart names for a listener advertised as 127.0.0.1:<port>
# (templates/kafka.yaml, values kafka.hostListener); forwarded as <port>:<port>
HOST_LISTENER_PORT_NAME = "host"
# the jaeger Service's port for its query API (templates/jaeger.yaml)
JAEGER_QUERY_PORT_NAME = "query"


def credentials_secret(statefulsets: list[dict[str, Any]]) -> str:
    """The Secret the release takes its credentials from (the dev one, or the operator's
    existingSecret in staging/prod): read from the live postgres workload's env."""
    for sts in statefulsets:
        if sts.get("metadata", {}).get("name") != "postgres":
            continue
        for container in sts.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            for env in container.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef") or {}
                if env.get("name") == "POSTGRES_USER" and ref.get("name"):
                    return str(ref["name"])
    return CREDENTIALS_SECRET


def host_port_of(pod: dict[str, Any]) -> int | None:
    """A broker pod's own host port: container port host-<its ordinal> (templates/kafka.yaml)."""
    ordinal = str(pod.get("metadata", {}).get("name", "")).rsplit("-", 1)[-1]
    for container in pod.get("spec", {}).get("containers", []):
        for port in container.get("ports") or []:
            if port.get("name") == f"{HOST_LISTENER_PORT_NAME}-{ordinal}":
                return int(port["containerPort"])
    return None


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


class KindTarget(Target):
    name = "kind"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cluster = Kubectl(self.options.kube_context, self.options.namespace)
        self.forwards = PortForwards(self.cluster)
        self.evidence = KindEvidence(self.cluster, self.options.probe_image, self.inside_checks)
        self._services: set[str] | None = None
        self._ports: dict[str, dict[str, int]] = {}

    def kubernetes(self) -> KubernetesAccess:
        """This target is a namespace of a Kubernetes cluster: its API is the one contracts read."""
        return self.evidence

    @property
    def environment(self) -> str:
        """The kube context (plus the namespace when it is not the chart's default)."""
        default = self.catalog.namespace
        ctx, ns = self.cluster.context, self.cluster.namespace
        return ctx if ns == default else f"{ctx}/{ns}"

    def preflight(self, inside: bool = True) -> None:
        """The context, its API, the namespace and a deployed release of the chart (one
        usage error otherwise); records the release and the catalog services it deploys."""
        release = kube_release.preflight(self.cluster)
        try:
            self.setup()
        except TargetError as exc:
            raise UsageError(str(exc)) from None
        deployed = [s for s in self.catalog.services if self.deployed(s)]
        self.found = {"context": self.cluster.context, "namespace": self.cluster.namespace,
                      "release": f"{release.name} (revision {release.revision})",
                      "chart": f"{release.chart} {release.chart_version}", "overlay": release.overlay,
                      "deployed services": ", ".join(deployed) or "none"}

    def setup(self) -> None:
        doc = self.cluster.get("services")
        self._services = {item["metadata"]["name"] for item in doc.get("items", [])}
        self._ports = service_ports(doc)

    def teardown(self) -> None:
        self.forwards.close()

    def deployed(self, service: str) -> bool:
        if self._services is None:
            self.setup()
        return service in (self._services or set())

    def endpoint(self, service: str) -> Endpoint:
        if self._services is None:
            self.setup()
        if service == "kafka" and self._ports.get("kafka") is not None and HOST_LISTENER_PORT_NAME not in \
                self._ports.get("kafka", {}):
            brokers = self._broker_forwards()
            if brokers:
                return Endpoint(service, "127.0.0.1", brokers[0])
        return self._forward(service, self.catalog.service(service).port)

    def _broker_forwards(self) -> list[int]:
        """Kafka with several brokers: each advertises 127.0.0.1:<its host port> (container
        port host-<ordinal>), so each is forwarded by pod on that same port (a client
        reconnects to the advertised address). Ready brokers first; [] when the brokers
        declare no host port (no host listener: the Service forward is all there is)."""
        ports: list[tuple[bool, int]] = []
        pods = self.cluster.get("pods", "-l", selector_arg(self.cluster.get("service", "kafka"))).get("items", [])
        ready = {p.uid for p in pod_states(pods) if p.ready}
        for pod in pods:
            port = host_port_of(pod)
            if port is None:
                continue
            name, uid = pod["metadata"]["name"], pod["metadata"].get("uid", "")
            try:
                ports.append((uid not in ready, self.forwards.pod_port(f"kafka/{name}", uid, name, port)))
            except TargetError:
                continue  # a broker that is not running now: its forward opens once it is back
        return [p for _, p in sorted(ports)]

    def tracing(self) -> Tracing:
        """SOMA_OTLP_ENDPOINT as the chart hands it to OPA (values tracing.otlpEndpoint); the
        query API of the `jaeger` Service where tracing.jaeger.enabled deploys it."""
        where = self.cluster.where
        otlp = opa_otlp_endpoint(self.cluster.objects("deployments"))
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
        if service not in self.forwards.forwards and self._services is None:
            self.setup()
        local = self.forwards.local_port(service, port, self._ports.get(service, {}).get(HOST_LISTENER_PORT_NAME))
        return Endpoint(service, "127.0.0.1", local)

    def credentials(self) -> Credentials:
        data = self.cluster.secret(credentials_secret(self.cluster.objects("statefulsets")))
        return Credentials(
            postgres_user=data.get("POSTGRES_USER", "postgres"),
            postgres_password=data.get("POSTGRES_PASSWORD", ""),
            postgres_db=data.get("POSTGRES_DB", "postgres"),
            redis_password=data.get("REDIS_PASSWORD", ""),
            vault_token=data.get("VAULT_DEV_ROOT_TOKEN", ""),
        )

    def run_inside(self, checks: list[InsideCheck]) -> list[InsideResult]:
        return run_probe(self.cluster, self.options.probe_image, checks, sorted(self.catalog.services),
                         settle_s=POLICY_SETTLE_S)

    def running_images(self) -> dict[str, list[str]]:
        return self.evidence.running_images()

    def disruptions(self) -> KubeDisruptions:
        """Pod delete, node drain and in-cluster load (the resilience contracts)."""
        return KubeDisruptions(self.cluster, self.options.probe_image, self.forwards)

    def restarts(self) -> KubeRestarts:
        """Kill (through the node's CRI) and pod delete, each re-forwarding the service after."""
        return KubeRestarts(self.cluster, self.forwards)
