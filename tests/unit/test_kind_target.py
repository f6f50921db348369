"""The kind target's command construction and output parsing (no cluster needed), and
its agreement with the Helm chart's names: Kubernetes access (conformance/kube) and the
evidence contracts read (targets/kind_evidence)."""

from __future__ import annotations

import base64
import json
import sys
import threading
from pathlib import Path

import pytest
import yaml

from conformance import catalog
from conformance.access import Endpoint
from conformance.errors import TargetError
from conformance.inside.checks import InsideCheck, InsideResult
from conformance.kube import forward, kubectl, pods
from conformance.targets import kind, kind_evidence
from conformance.targets.base import TargetOptions

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "infra" / "helm" / "soma-infra"


def test_kubectl_prefix() -> None:
    assert kubectl.kubectl("kind-soma", "soma-infra", "get", "pods") == [
        "kubectl", "--context", "kind-soma", "--namespace", "soma-infra", "get", "pods"]


def test_port_forward_random_local_port() -> None:
    cmd = forward.port_forward_cmd("kind-soma", "soma-infra", "postgres", 5432)
    assert cmd[-4:] == ["svc/postgres", ":5432", "--address", "127.0.0.1"]


def test_port_forward_kafka_on_its_advertised_host_port() -> None:
    cmd = forward.port_forward_cmd("kind-soma", "soma-infra", "kafka", 9092, 29092)
    assert "29092:29092" in cmd and ":9092" not in cmd


def test_ports_read_by_name_from_the_live_services() -> None:
    """The chart's Kafka Service carries the host listener as port `host` (dev overlay);
    the target reads the port there instead of keeping a copy of values-dev.yaml."""
    services = {"items": [
        {"metadata": {"name": "kafka"}, "spec": {"ports": [
            {"name": "kafka", "port": 9092}, {"name": "metrics", "port": 9404}, {"name": "host", "port": 29092}]}},
        {"metadata": {"name": "redis"}, "spec": {"ports": [{"name": "redis", "port": 6379}]}},
        {"metadata": {"name": "headless"}, "spec": {}},
    ]}
    assert kubectl.service_ports(services) == {"kafka": {"kafka": 9092, "metrics": 9404, "host": 29092},
                                            "redis": {"redis": 6379}, "headless": {}}
    assert kubectl.service_ports({"items": []}) == {}


def test_chart_names_the_kafka_host_listener_port_as_the_target_expects() -> None:
    template = (CHART / "templates" / "kafka.yaml").read_text(encoding="utf-8")
    assert f"{{name: {kind.HOST_LISTENER_PORT_NAME}, port: {{{{ $v.hostListener.port }}}}" in template
    dev = yaml.safe_load((CHART / "values-dev.yaml").read_text(encoding="utf-8"))
    assert dev["kafka"]["hostListener"]["enabled"] is True
    jaeger = (CHART / "templates" / "jaeger.yaml").read_text(encoding="utf-8")
    assert f"- {{name: {kind.JAEGER_QUERY_PORT_NAME}, port: " in jaeger


def test_parse_forward_line() -> None:
    assert forward.parse_forward_line("Forwarding from 127.0.0.1:43125 -> 5432") == 43125
    assert forward.parse_forward_line("Forwarding from [::1]:43125 -> 5432") is None
    assert forward.parse_forward_line("error: unable to forward") is None


def test_probe_pod_labels_and_restricted_context() -> None:
    pod = pods.probe_pod_overrides("p", "img", ["postgres", "redis"], "print(1)", "[]")
    labels = pod["metadata"]["labels"]
    assert labels["soma.io/client-postgres"] == "true" and labels["soma.io/client-redis"] == "true"
    assert not [k for k in labels if k.startswith("soma.io/client-") and k not in
                ("soma.io/client-postgres", "soma.io/client-redis")]
    spec = pod["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = spec["containers"][0]["securityContext"]
    assert sc == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                  "capabilities": {"drop": ["ALL"]}}
    assert spec["containers"][0]["resources"]["limits"]


def test_unlabelled_probe_pod_has_no_client_label() -> None:
    pod = pods.probe_pod_overrides("p", "img", [], "print(1)", "[]")
    assert not [k for k in pod["metadata"]["labels"] if k.startswith("soma.io/client-")]


def test_probe_run_cmd_is_bounded() -> None:
    cmd = pods.probe_run_cmd("kind-soma", "soma-infra", "p", "img", {"a": 1})
    assert "--rm" in cmd and "--pod-running-timeout=60s" in cmd
    assert json.loads(cmd[-1].split("=", 1)[1]) == {"a": 1}


def test_decode_secret() -> None:
    doc = {"data": {"POSTGRES_USER": base64.b64encode(b"soma").decode()}}
    assert kubectl.decode_secret(doc) == {"POSTGRES_USER": "soma"}


def test_credentials_secret_matches_chart() -> None:
    template = (CHART / "templates" / "secret-dev.yaml").read_text(encoding="utf-8")
    assert f"name: {kind.CREDENTIALS_SECRET}" in template
    for key in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "REDIS_PASSWORD",
                "VAULT_DEV_ROOT_TOKEN"):
        assert key in template


def test_privileged_pod_is_privileged() -> None:
    pod = kind_evidence.privileged_pod("x", "img")
    c = pod["spec"]["containers"][0]
    assert c["securityContext"]["privileged"] is True and pod["spec"]["hostNetwork"] is True


def test_dry_run_create_cmd() -> None:
    cmd = kind_evidence.dry_run_create_cmd("kind-soma", "soma-infra")
    assert cmd[-6:] == ["create", "--dry-run=server", "-o", "name", "-f", "-"]


def test_parse_podsecurity_rejection() -> None:
    # the message shape of kube-apiserver 1.33 (seen in tests/helm against a real one)
    stderr = ('Error from server (Forbidden): error when creating "STDIN": pods "x" is forbidden: '
              'violates PodSecurity "restricted:latest": host namespaces (hostNetwork=true), '
              'privileged (container "privileged" must not set securityContext.privileged=true)')
    verdict = kind_evidence.parse_podsecurity_rejection(stderr)
    assert verdict is not None and verdict.startswith("restricted:latest: host namespaces")
    assert kind_evidence.parse_podsecurity_rejection('pods "x" is forbidden: exceeded quota') is None


def test_security_contracts_in_catalog() -> None:
    cat = catalog.load()
    ids = {c.id: c for c in cat.contracts}
    assert ids["security.networkpolicy"].area == "security"
    assert ids["security.podsecurity"].area == "security"


def _pod(name: str, phase: str, ready: str, waiting: str = "") -> dict[str, object]:
    status: dict[str, object] = {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]}
    if waiting:
        status["containerStatuses"] = [{"state": {"waiting": {"reason": waiting}}}]
    return {"metadata": {"name": name}, "status": status}


def test_unready_pods_flags_a_pod_that_should_serve() -> None:
    pods = {"items": [_pod("postgres-0", "Running", "True"),
                      _pod("vault-bootstrap-x", "Succeeded", "False"),
                      _pod("opa-1", "Running", "False"),
                      _pod("kafka-0", "Pending", "False", waiting="ErrImageNeverPull")]}
    assert kind_evidence.unready_pods(pods) == ["opa-1: not Ready (phase Running)",
                                       "kafka-0: not Ready (ErrImageNeverPull)"]
    assert kind_evidence.unready_pods({"items": [_pod("postgres-0", "Running", "True")]}) == []


def test_unroutable_services_needs_a_ready_endpoint() -> None:
    services = {"items": [{"metadata": {"name": n}, "spec": {"selector": {"app": n}}}
                          for n in ("postgres", "redis", "opa")]
                + [{"metadata": {"name": "manual"}, "spec": {}}]}

    def slice_(svc: str, *ready: bool) -> dict[str, object]:
        return {"metadata": {"labels": {"kubernetes.io/service-name": svc}},
                "endpoints": [{"conditions": {"ready": r}} for r in ready]}

    slices = {"items": [slice_("postgres", True), slice_("redis", False), slice_("redis", False, True),
                        slice_("opa", False)]}
    assert kind_evidence.unroutable_services(services, slices) == ["opa: no ready endpoint"]


def test_networkpolicy_contract_covers_every_service() -> None:
    cat = catalog.load()
    contract = next(c for c in cat.contracts if c.id == "security.networkpolicy")
    assert contract.service == "stack" and "reaches no contract service" in contract.title
    assert "scratch app namespace" in contract.title  # where consumers run (issue 35)
    assert next(c for c in cat.contracts if c.id == "readiness.kubernetes").area == "readiness"


def test_security_probe_waits_for_the_policies() -> None:
    """kube-router filters a new pod only once it has seen it: the security probes wait."""
    plain = pods.probe_pod_overrides("p", "img", [], "print(1)", "[]")
    assert plain["spec"]["containers"][0]["command"] == ["python3", "-c", "print(1)", "[]"]
    settled = pods.probe_pod_overrides("p", "img", [], "print(1)", "[]", settle_s=pods.POLICY_SETTLE_S)
    cmd = settled["spec"]["containers"][0]["command"]
    assert cmd[:2] == ["sh", "-c"] and cmd[2].startswith(f"sleep {pods.POLICY_SETTLE_S};")
    assert cmd[3:] == ["print(1)", "[]"]


def test_canary_pod_is_restricted_and_selected_by_no_allow_policy() -> None:
    """The default-deny check only means something if no allow policy of the chart selects
    the canary: it carries no client, scraper or service label, and PodSecurity admits it."""
    pod = kind_evidence.canary_pod("soma-canary-x", "img")
    assert pod["kind"] == "Pod" and pod["metadata"]["labels"] == kind_evidence.CANARY_LABELS
    assert not [k for k in pod["metadata"]["labels"] if k.startswith("soma.io/")]
    spec = pod["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    container = spec["containers"][0]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert str(kind_evidence.CANARY_PORT) in container["command"]
    ports = {s.port for s in catalog.load().services.values()}
    assert kind_evidence.CANARY_PORT not in ports


def test_deployed_is_what_the_namespace_has_and_capabilities_say_kubernetes() -> None:
    """A required service missing from the namespace is not deployed (its contracts fail
    through `judged`, they do not skip); the kind target offers its Kubernetes API."""
    target = kind.KindTarget(catalog.load(), TargetOptions())
    target._services = {"redis"}
    assert target.deployed("redis") and not target.deployed("postgres")
    assert target.judged("postgres"), "a required service is judged even when it is missing"
    assert target.kubernetes() is target.evidence and target.docker_project() is None


def test_running_images_maps_each_pod_image_to_the_node_cri_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """The image-secrets scan on Kind reads the engine image whose ID the node's CRI reports
    for each running pod's image (not the tag, which could name another build)."""
    target = kind.KindTarget(catalog.load(), TargetOptions())
    pods = [
        {"metadata": {"name": "redis-0"}, "status": {"phase": "Running"},
         "spec": {"nodeName": "soma-control-plane",
                  "containers": [{"name": "redis", "image": "soma-infra/redis:local"}]}},
        {"metadata": {"name": "job-x"}, "status": {"phase": "Succeeded"},
         "spec": {"nodeName": "soma-control-plane", "containers": [{"name": "j", "image": "other:1"}]}},
    ]
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], timeout: float, what: str) -> str:
        calls.append(cmd)
        return json.dumps({"status": {"id": "sha256:abc"}})

    monkeypatch.setattr(target.evidence, "objects", lambda kind_name: pods)
    monkeypatch.setattr(kind_evidence, "run", fake_run)
    assert target.running_images() == {"sha256:abc": ["redis-0/redis"]}
    assert calls == [["docker", "exec", "soma-control-plane", "crictl", "inspecti", "-o", "json",
                      "soma-infra/redis:local"]]


def test_app_namespace_reach_probes_every_service_from_each_pod_side_by_side(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """From one scratch app namespace: an unlabelled pod and one pod per service with only
    its label, each probing every service, all started before any ends, plus the canary;
    a pod that cannot run fails its own service only; the namespace is deleted after."""
    target = kind.KindTarget(catalog.load(), TargetOptions())
    services = ["kafka", "postgres", "redis"]
    target._services = set(services)  # as setup() read them from the live Services
    started = threading.Barrier(len(services) + 1, timeout=5)
    probes: list[tuple[tuple[str, ...], list[str], str | None]] = []
    commands: list[list[str]] = []

    def fake_probe(cluster: object, image: str, checks: list[InsideCheck], labels: list[str], *,
                   settle_s: int = 0, namespace: str | None = None) -> list[InsideResult]:
        probes.append((tuple(c.service for c in checks), labels, namespace))
        if checks[0].service != "canary":
            started.wait()  # breaks (and fails the test) unless every pod runs at once
        if labels == ["redis"]:
            raise TargetError("inside probe pod: timed out")
        return [InsideResult(c.service, c.service in labels, "answered" if c.service in labels else "refused")
                for c in checks]

    monkeypatch.setattr(kind_evidence, "run_probe", fake_probe)
    monkeypatch.setattr(kind_evidence, "run", lambda cmd, timeout, what: commands.append(cmd) or "")
    monkeypatch.setattr(target.evidence.cluster, "run", lambda *a, **k: "10.244.0.9")
    monkeypatch.setattr(kind_evidence.subprocess, "run", lambda cmd, **k: commands.append(cmd))
    monkeypatch.setattr(target.evidence, "objects", lambda kind_name: [
        {"metadata": {"name": "default-deny", "annotations": {"meta.helm.sh/release-name": "soma-infra"}}},
        {"metadata": {"name": "allow-all-postgres"}}])
    got = target.evidence.reach_from_app_namespace(services)
    app = got.namespace
    assert app.startswith("soma-app-") and all(ns == app for _, _, ns in probes)
    every = [labels for svcs, labels, _ in probes if set(svcs) == set(services)]
    assert sorted(every) == [[], ["kafka"], ["postgres"], ["redis"]]
    assert isinstance(got.labelled["redis"], TargetError)
    assert sorted(got.labelled["kafka"], key=lambda r: r.service) == [  # type: ignore[arg-type]
        InsideResult("kafka", True, "answered"), InsideResult("postgres", False, "refused"),
        InsideResult("redis", False, "refused")]
    assert not any(r.ok for r in got.unlabelled.values()) and not got.canary.ok
    assert got.foreign_policies == ["allow-all-postgres"]
    assert ["kubectl", "--context", "kind-soma", "create", "namespace", app] in commands
    assert any(cmd[-4:] == ["namespace", app, "--wait=false", "--ignore-not-found"] for cmd in commands)


def _opa_deployment(otlp: str) -> dict[str, object]:
    env = [{"name": "SOMA_OTLP_ENDPOINT", "value": otlp}, {"name": "SOMA_OPA_TRACING_TYPE", "value": ""}]
    return {"metadata": {"name": "opa"}, "spec": {"template": {"spec": {"containers": [{"name": "opa", "env": env}]}}}}


def test_opa_otlp_endpoint_is_read_from_the_opa_deployment_env() -> None:
    assert kind.opa_otlp_endpoint([{"metadata": {"name": "vault"}}, _opa_deployment("jaeger:4317")]) == "jaeger:4317"
    assert kind.opa_otlp_endpoint([_opa_deployment("")]) == ""
    assert kind.opa_otlp_endpoint([]) == ""


def test_tracing_reports_off_no_jaeger_or_the_forwarded_query_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """The skip of observability.tracing.decision_span names the release's setting, as on compose."""
    target = kind.KindTarget(catalog.load(), TargetOptions(kube_context="kind-soma", namespace="soma-infra"))
    deployments = [_opa_deployment("")]
    services = {"opa", "vault"}
    monkeypatch.setattr(target.cluster, "objects", lambda kind_: deployments if kind_ == "deployments" else [])
    monkeypatch.setattr(target, "deployed", lambda svc: svc in services)
    monkeypatch.setattr(target, "_forward", lambda svc, port: Endpoint(svc, "127.0.0.1", port + 1))
    off = target.tracing()
    assert (off.otlp_endpoint, off.jaeger_query) == ("", None)
    assert off.reason.startswith("tracing is off") and "kind-soma/soma-infra" in off.reason
    deployments[:] = [_opa_deployment("jaeger.soma-infra.svc.cluster.local:4317")]
    alone = target.tracing()
    assert alone.jaeger_query is None and "deploys no Jaeger" in alone.reason
    services.add("jaeger")
    with pytest.raises(TargetError, match="jaeger Service in kind-soma/soma-infra names no port 'query'"):
        target.tracing()
    target._ports = {"jaeger": {"otlp-grpc": 4317, kind.JAEGER_QUERY_PORT_NAME: 16686}}
    on = target.tracing()
    assert on.jaeger_query == Endpoint("jaeger", "127.0.0.1", 16687) and not on.reason


def test_forward_keeps_reading_kubectl_output_so_later_connections_are_served(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """kubectl port-forward writes a line per connection before serving it. A stand-in that
    writes 5,000 such lines (about 150 KB, more than a pipe holds) after its 'Forwarding from'
    line ends on its own only when the target keeps reading; unread, it blocks on the pipe
    as kubectl does (on a live cluster connection 2,177 hung). Its other lines are printed
    at teardown."""
    script = ("import sys\nprint('Forwarding from 127.0.0.1:41234 -> 8181', flush=True)\n"
              "for _ in range(5000):\n    print('Handling connection for 41234', flush=True)\n"
              "print('E1203 portforward.go:404] error creating forwarding stream: Timeout occurred')\n")
    monkeypatch.setattr(forward, "port_forward_cmd", lambda *a: [sys.executable, "-c", script])
    target = kind.KindTarget(catalog.load(), TargetOptions())
    target._services = {"opa"}
    assert target._forward("opa", 8181) == Endpoint("opa", "127.0.0.1", 41234)
    assert target.forwards.forwards["opa"].proc.wait(timeout=20) == 0
    target.teardown()
    assert ("kubectl port-forward of opa: E1203 portforward.go:404] error creating forwarding stream: "
            "Timeout occurred") in capsys.readouterr().out


def test_workload_state_and_credentials_read_the_namespace_through_kubectl(monkeypatch: pytest.MonkeyPatch) -> None:
    """The evidence and the target reach the cluster only through conformance/kube's kubectl."""
    docs = {"pods": {"items": [_pod("opa-1", "Running", "False")]},
            "services": {"items": [{"metadata": {"name": "opa"}, "spec": {"selector": {"app": "opa"}}}]},
            "endpointslices.discovery.k8s.io": {"items": []}, "statefulsets": {"items": []},
            "secret": {"data": {"POSTGRES_PASSWORD": base64.b64encode(b"pw").decode()}}}
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], timeout: float, what: str) -> str:
        calls.append(cmd)
        assert what == "kubectl (ctx/ns)"
        return json.dumps(docs[cmd[6]])

    monkeypatch.setattr(kubectl, "run", fake_run)
    target = kind.KindTarget(catalog.load(), TargetOptions(kube_context="ctx", namespace="ns"))
    assert target.kubernetes().workload_state() == (["opa-1: not Ready (phase Running)"], ["opa: no ready endpoint"])
    assert target.credentials().postgres_password == "pw"
    assert calls[0] == ["kubectl", "--context", "ctx", "--namespace", "ns", "get", "pods", "-o", "json"]
    assert calls[-1] == ["kubectl", "--context", "ctx", "--namespace", "ns", "get", "secret",
                         kind.CREDENTIALS_SECRET, "-o", "json"]


def test_credentials_come_from_the_secret_the_release_uses() -> None:
    """The dev overlay's Secret, or the operator's existingSecret of staging/prod, read from
    the live postgres workload (the keys are the same)."""
    def sts(secret: str) -> dict[str, object]:
        env = [{"name": "POSTGRES_USER", "valueFrom": {"secretKeyRef": {"name": secret, "key": "POSTGRES_USER"}}}]
        return {"metadata": {"name": "postgres"},
                "spec": {"template": {"spec": {"containers": [{"name": "patroni", "env": env}]}}}}

    assert kind.credentials_secret([sts("soma-infra-credentials")]) == "soma-infra-credentials"
    assert kind.credentials_secret([]) == kind.CREDENTIALS_SECRET


def test_each_broker_is_forwarded_on_its_own_host_port() -> None:
    pod = {"metadata": {"name": "kafka-2"},
           "spec": {"containers": [{"ports": [{"name": f"host-{i}", "containerPort": 29092 + i} for i in range(3)]}]}}
    assert kind.host_port_of(pod) == 29094
    assert kind.host_port_of({"metadata": {"name": "kafka-0"}, "spec": {"containers": [{"ports": []}]}}) is None
