"""helm lint / template / package for every overlay, and what the rendered chart must
promise: catalog Services and ports, NOTES from the catalog, sizing, dev-only secrets."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.endpoints import expand, validate
from tests.helm import chart
from tests.helm.conftest import SUMMARY

QTY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti)?$")
UNITS = {None: 1.0, "m": 0.001, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}


def quantity(value: Any) -> float:
    match = QTY.match(str(value))
    assert match, f"not a quantity: {value!r}"
    return float(match.group(1)) * UNITS[match.group(2)]


@pytest.mark.parametrize("overlay", chart.OVERLAYS)
def test_helm_lint(overlay: str) -> None:
    proc = chart.helm("lint", "--strict", str(chart.CHART), "--kube-version", chart.kube_version(),
                      "-f", str(chart.values_file(overlay)))
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("overlay", chart.OVERLAYS)
def test_template_renders(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    kinds: dict[str, int] = {}
    for obj in rendered[overlay]:
        kinds[obj["kind"]] = kinds.get(obj["kind"], 0) + 1
    SUMMARY.append(f"helm template {overlay}: {len(rendered[overlay])} objects "
                   + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())))
    assert kinds.get("Namespace") == 1 and kinds.get("NetworkPolicy", 0) > 0


@pytest.mark.parametrize("overlay", chart.OVERLAYS)
def test_services_match_catalog(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Every enabled catalog service has a Service of that name in soma-infra at its port."""
    services = {o["metadata"]["name"]: o for o in rendered[overlay] if o["kind"] == "Service"}
    for name, port in chart.enabled_contract_services(overlay).items():
        assert name in services, f"{overlay}: Service {name} missing"
        svc = services[name]
        assert svc["metadata"]["namespace"] == chart.catalog()["namespace"]
        assert port in [p["port"] for p in svc["spec"]["ports"]], f"{overlay}: {name} lacks port {port}"
    disabled = set(chart.catalog()["services"]) - set(chart.enabled_contract_services(overlay))
    assert not disabled & set(services), f"{overlay}: disabled services rendered: {disabled & set(services)}"


def test_openfga_optional_and_off(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for overlay in chart.OVERLAYS:
        assert not [o for o in rendered[overlay] if o["metadata"]["name"] == "openfga"]
    on = chart.render("dev", "--set", "openfga.enabled=true")
    svc = [o for o in on if o["kind"] == "Service" and o["metadata"]["name"] == "openfga"]
    assert svc and svc[0]["spec"]["ports"][0]["port"] == chart.catalog()["services"]["openfga"]["port"]


def test_exporters_as_in_compose(rendered: dict[str, list[dict[str, Any]]]) -> None:
    names = {o["metadata"]["name"] for o in rendered["dev"] if o["kind"] == "Deployment"}
    assert {"postgres-exporter", "redis-exporter"} <= names


def test_dev_secret_only_in_dev(rendered: dict[str, list[dict[str, Any]]]) -> None:
    def secrets(overlay: str) -> set[str]:
        return {o["metadata"]["name"] for o in rendered[overlay] if o["kind"] == "Secret"}
    assert "soma-infra-dev-credentials" in secrets("dev")
    dev = next(o for o in rendered["dev"] if o["kind"] == "Secret")
    assert set(dev["stringData"]) == {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "REDIS_PASSWORD",
                                      "VAULT_DEV_ROOT_TOKEN", "VAULT_SEAL_KEY"}
    for overlay in ("staging", "prod"):
        assert "soma-infra-dev-credentials" not in secrets(overlay)


def _resources(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            for c in obj["spec"]["template"]["spec"]["containers"]:
                out[f"{obj['metadata']['name']}/{c['name']}"] = c["resources"]
    return out


def test_prod_larger_than_dev(rendered: dict[str, list[dict[str, Any]]]) -> None:
    dev, prod = _resources(rendered["dev"]), _resources(rendered["prod"])
    assert dev.keys() == prod.keys()
    larger = 0
    for name, res in dev.items():
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                assert quantity(prod[name][kind][r]) >= quantity(res[kind][r]), f"{name} {kind}.{r}"
                larger += quantity(prod[name][kind][r]) > quantity(res[kind][r])
    assert larger >= len(dev), "prod should be larger than dev, not only equal"


def test_dev_sizing_follows_seed(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Seed sizing (Kind): Postgres 500m / 1-2 GiB, Kafka 1 CPU / 2-4 GiB, Redis 200-300m /
    512 MiB, OPA 100-200m / 256-512 MiB, Prometheus 500m-1 / 2-4 GiB."""
    res = _resources(rendered["dev"])
    gib = 2.0**30
    seed = {"postgres/postgres": (0.5, 1 * gib, 2 * gib), "kafka/kafka": (1.0, 2 * gib, 4 * gib),
            "redis/redis": (0.3, 0.5 * gib, 0.5 * gib), "opa/opa": (0.2, 0.25 * gib, 0.5 * gib),
            "prometheus/prometheus": (1.0, 2 * gib, 4 * gib)}
    for name, (cpu_max, mem_min, mem_max) in seed.items():
        assert quantity(res[name]["limits"]["cpu"]) <= cpu_max, name
        assert mem_min <= quantity(res[name]["limits"]["memory"]) <= mem_max, name
        assert quantity(res[name]["requests"]["memory"]) <= quantity(res[name]["limits"]["memory"])


def test_pvcs_for_stateful_services(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for overlay in chart.OVERLAYS:
        sts = {o["metadata"]["name"]: o for o in rendered[overlay] if o["kind"] == "StatefulSet"}
        for name in ("postgres", "kafka", "redis", "etcd", "prometheus", "vault"):
            claims = sts[name]["spec"]["volumeClaimTemplates"]
            assert claims and claims[0]["spec"]["resources"]["requests"]["storage"]


def test_config_files_come_from_repo(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """ConfigMaps carry the repo's own files byte for byte (synced, not hand-copied)."""
    cms = {o["metadata"]["name"]: o for o in rendered["dev"] if o["kind"] == "ConfigMap"}
    config = chart.ROOT / "infra" / "config"
    assert cms["prometheus-config"]["data"]["prometheus.yml"] == \
        (config / "prometheus" / "prometheus.yml").read_text(encoding="utf-8").rstrip("\n")
    for rule in (config / "prometheus" / "rules").glob("*.yml"):
        assert f"rules__{rule.name}" in cms["prometheus-config"]["data"]
    assert cms["opa-config"]["data"]["opa.yaml"] == (config / "opa" / "opa.yaml").read_text(
        encoding="utf-8").rstrip("\n")
    assert cms["kafka-jmx-exporter"]["data"]["jmx-exporter.yml"] == (
        config / "kafka" / "jmx-exporter.yml").read_text(encoding="utf-8").rstrip("\n")
    for script in (config / "vault").iterdir():
        assert cms["vault-config"]["data"][script.name] == script.read_text(encoding="utf-8").rstrip("\n")
    import base64
    bundle = (chart.ROOT / "build" / "opa" / "soma.tar.gz").read_bytes()
    assert base64.b64decode(cms["opa-bundle"]["binaryData"]["soma.tar.gz"]) == bundle


def test_helm_test_hook_runs_suite(rendered: dict[str, list[dict[str, Any]]]) -> None:
    jobs = [o for o in rendered["dev"] if o["kind"] == "Job"
            and o["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
    assert len(jobs) == 1
    spec = jobs[0]["spec"]["template"]["spec"]
    assert "--target=external" in spec["containers"][0]["args"][0]
    labels = jobs[0]["spec"]["template"]["metadata"]["labels"]
    for name in chart.catalog()["services"]:
        assert labels[f"soma.io/client-{name}"] == "true"


@pytest.mark.parametrize("overlay", chart.OVERLAYS)
def test_vault_durable_self_healing_and_truthful(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Issue 31: no overlay runs a dev server. Vault is a StatefulSet on a PVC running
    server.hcl (Raft, static seal), its seal key and admin token from the credentials
    Secret; readiness is health.sh (mints and verifies a token); the keeper container
    re-applies the bootstrap (no one-shot Job that a rescheduled pod would outlive)."""
    objs = rendered[overlay]
    secret = "soma-infra-dev-credentials" if overlay == "dev" else "soma-infra-credentials"
    sts = next(o for o in objs if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "vault")
    assert not [o for o in objs if o["kind"] == "Job" and "vault" in o["metadata"]["name"]]
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    pod = sts["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    server, keeper = containers["vault"], containers["bootstrap"]
    if overlay == "dev":
        assert server["args"] == ["server", "-config=/openbao/config/server.hcl",
                                  "-config=/openbao/config/telemetry.hcl"]
    else:  # a Raft cluster: the start script picks server.hcl or server-join.hcl (test_ha.py)
        assert server["command"] == ["/bin/sh", "/openbao/config/cluster-start.sh"] and "args" not in server
    assert not [a for c in pod["containers"] for a in c.get("args", []) + c.get("command", []) if a.startswith("-dev")]
    env = {e["name"]: e for e in server["env"]}
    assert env["VAULT_SEAL_KEY"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "VAULT_SEAL_KEY"}
    assert env["BAO_DEV_ROOT_TOKEN_ID"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "VAULT_DEV_ROOT_TOKEN"}
    assert env["BAO_RAFT_NODE_ID"]["value"] == "$(POD_NAME)"
    assert {"name": "data", "mountPath": "/openbao/file"} in server["volumeMounts"]
    assert server["readinessProbe"]["exec"]["command"] == ["/bin/sh", "/openbao/config/health.sh"]
    # liveness must not kill a server that is sealed, uninitialised or still bootstrapping
    live = server["livenessProbe"]["httpGet"]["path"]
    assert "sealedcode=204" in live and "uninitcode=204" in live
    assert keeper["command"] == ["/bin/sh", "/openbao/config/keeper.sh"]
    assert pod["securityContext"]["fsGroup"] == 1000
    config = (chart.ROOT / "infra" / "config" / "vault" / "server.hcl").read_text(encoding="utf-8")
    assert 'storage "raft"' in config and 'seal "static"' in config and "env://VAULT_SEAL_KEY" in config


@pytest.mark.parametrize(("flag", "setting", "error"), [
    ("--set", "namespace.podSecurity.enforce=baseline", "/namespace/podSecurity/enforce"),
    ("--set", "postgres.runAsUser=0", "/postgres/runAsUser"),
    ("--set", "networkPolicy.dns.podLabels=null", "podLabels"),
    ("--set-string", "kafka.retentionMs=604800000", "max_log_retention_ms"),
    ("--set", "credentials.dev.POSTGRES_PASSWORD=", "credentials.dev.POSTGRES_PASSWORD is required"),
    ("--set", "credentials.dev.VAULT_SEAL_KEY=not-32-bytes", "/credentials/dev/VAULT_SEAL_KEY"),
])
def test_chart_refuses_insecure_or_off_contract_values(flag: str, setting: str, error: str) -> None:
    """values.schema.json and the templates refuse settings that break the posture/contracts."""
    proc = chart.helm(*chart.template_args("dev", flag, setting), check=False)
    assert proc.returncode != 0
    assert error in proc.stderr


def test_missing_synced_files_fail_loudly(tmp_path: Path) -> None:
    """Without infra/scripts/helm-files.sh the chart fails, it does not render empty configs."""
    import shutil
    copy = tmp_path / "soma-infra"
    shutil.copytree(chart.CHART, copy, ignore=shutil.ignore_patterns("files"))
    proc = chart.run([str(chart.tool("helm")), "template", "x", str(copy),
                      "--kube-version", chart.kube_version(),
                      "-f", str(chart.values_file("dev"))], check=False)
    assert proc.returncode != 0 and "helm-files.sh" in proc.stderr


def test_helm_package(tmp_path: Path) -> None:
    proc = chart.helm("package", str(chart.CHART), "-d", str(tmp_path))
    pkg = next(tmp_path.glob("soma-infra-*.tgz"))
    with tarfile.open(pkg) as tar:
        names = tar.getnames()
    for needed in ("soma-infra/files/catalog.yaml", "soma-infra/files/opa/soma.tar.gz",
                   "soma-infra/values.schema.json", "soma-infra/templates/NOTES.txt",
                   "soma-infra/values-prod.yaml"):
        assert needed in names, needed
    SUMMARY.append(f"helm package: {pkg.name} ({pkg.stat().st_size} bytes, {len(names)} files) "
                   f"{proc.stdout.strip()[:0]}")


def _scrape_targets() -> list[tuple[str, int]]:
    """(service, port) of every scrape target in infra/config/prometheus/prometheus.yml."""
    import yaml
    prom = yaml.safe_load((chart.ROOT / "infra/config/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    suffix = "." + chart.catalog()["dns_suffix"]
    out = []
    for job in prom["scrape_configs"]:
        for sc in job.get("static_configs", []):
            for t in sc["targets"]:
                host, port = t.rsplit(":", 1)
                out.append((host.removesuffix(suffix), int(port)))
        for sd in job.get("dns_sd_configs", []):
            out.extend((n.removesuffix(suffix), int(sd["port"])) for n in sd["names"])
    return out


@pytest.mark.parametrize("overlay", chart.OVERLAYS)
def test_every_scrape_target_is_exposed_and_allowed(overlay: str,
                                                    rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Prometheus (shared config) can reach every target it scrapes: the Service exposes the
    port and a NetworkPolicy lets the scraper in on it."""
    objs = rendered[overlay]
    services = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Service"}
    policies = {o["metadata"]["name"]: o for o in objs if o["kind"] == "NetworkPolicy"}
    targets = _scrape_targets()
    assert targets
    for svc, port in targets:
        if svc not in services:  # optional service not deployed (DNS SD finds nothing)
            assert svc in ("grafana", "openfga"), f"{overlay}: scrape target {svc} has no Service"
            continue
        assert port in [p["port"] for p in services[svc]["spec"]["ports"]], f"{svc}:{port} not exposed"
        np = policies.get(f"allow-scrape-{svc}")
        assert np, f"{overlay}: no allow-scrape-{svc} NetworkPolicy"
        ports = [p["port"] for rule in np["spec"]["ingress"] for p in rule["ports"]]
        assert port in ports, f"{overlay}: allow-scrape-{svc} does not open {port}"


def test_kind_config() -> None:
    """infra/kind/soma-kind.yaml: cluster soma (context kind-soma), one laptop node, the node
    image's default CNI kept (bridge + kube-router as the NetworkPolicy firewall, not kindnet,
    whose nft-queue engine fails open on kernels without CONFIG_NFT_QUEUE), etcd/CoreDNS
    imageTags = the versions the offline node image builds, cgroup v1 allowed."""
    import yaml
    text = (chart.ROOT / "infra/kind/soma-kind.yaml").read_text(encoding="utf-8")
    cfg = yaml.safe_load(text)
    assert cfg["kind"] == "Cluster" and cfg["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert cfg["name"] == "soma"
    assert cfg.get("networking", {}).get("disableDefaultCNI", False) is False
    assert cfg["networking"]["kubeProxyMode"] == "iptables"  # no IPVS on our kernels
    assert [n["role"] for n in cfg["nodes"]] == ["control-plane"]
    versions = dict(line.split("=", 1) for line in (chart.ROOT / "infra/scripts/versions.env").read_text(
        encoding="utf-8").splitlines() if "=" in line and not line.startswith("#"))
    patches = [yaml.safe_load(p) for p in cfg["kubeadmConfigPatches"]]
    cluster_cfg = next(p for p in patches if p["kind"] == "ClusterConfiguration")
    assert cluster_cfg["etcd"]["local"]["imageTag"] == versions["ETCD_VERSION"].lstrip("v") + "-0"
    assert cluster_cfg["dns"]["imageTag"] == versions["COREDNS_VERSION"]
    kubelet_cfg = next(p for p in patches if p["kind"] == "KubeletConfiguration")
    assert kubelet_cfg["failCgroupV1"] is False
    cni = list(yaml.safe_load_all((chart.ROOT / "infra/kind/node/manifests/default-cni.yaml").read_text(
        encoding="utf-8")))
    router = next(d for d in cni if d["kind"] == "DaemonSet")
    args = router["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--run-firewall=true" in args and "--run-service-proxy=false" in args
    assert "--enable-overlay=false" in args
    assert not any("kindnet" in str(d) for d in cni)
    # multi-node pod networking: the router routes each node's podCIDR, and writes that
    # podCIDR into a CNI conf with no fixed subnet; no masquerade between pods (a
    # podSelector allow must see the client pod's own IP, not its node's)
    assert "--run-router=true" in args and "--enable-cni=true" in args
    conf = json.loads(next(d for d in cni if d["kind"] == "ConfigMap")["data"]["cni-conf.json"])
    bridge = next(p for p in conf["plugins"] if p["type"] == "bridge")
    assert bridge["ipMasq"] is False and bridge["ipam"] == {"type": "host-local"}


def test_kind_prod_config_is_the_dev_one_with_three_nodes() -> None:
    """infra/kind/soma-kind-prod.yaml (make kind-up OVERLAY=prod): cluster soma-prod with
    three nodes; everything else as the dev cluster's config, so both run the same image."""
    import yaml
    dev = yaml.safe_load((chart.ROOT / "infra/kind/soma-kind.yaml").read_text(encoding="utf-8"))
    prod = yaml.safe_load((chart.ROOT / "infra/kind/soma-kind-prod.yaml").read_text(encoding="utf-8"))
    assert prod["name"] == "soma-prod"
    assert [n["role"] for n in prod["nodes"]] == ["control-plane", "worker", "worker"]
    assert {k: v for k, v in prod.items() if k not in ("name", "nodes")} == \
        {k: v for k, v in dev.items() if k not in ("name", "nodes")}


@pytest.mark.parametrize("overlay", chart.OVERLAYS)
def test_helm_test_job_takes_credentials_from_the_secret_not_a_file(
        rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    """The `helm test` Job's endpoints file holds only ${VAR} references for credentials,
    which the suite expands from env vars set by secretKeyRef: nothing secret is written to
    a file, and a password with a quote or a colon cannot break the YAML."""
    [job] = [o for o in rendered[overlay] if o["kind"] == "Job" and o["metadata"]["name"].endswith("-conformance")]
    [container] = job["spec"]["template"]["spec"]["containers"]
    script = container["args"][0]
    assert "echo" not in script and "PASSWORD" not in script and "--endpoints=/tmp/endpoints.yaml" in script
    assert "envFrom" not in container, "only the keys the suite needs, each by secretKeyRef"
    env = {e["name"]: e for e in container["env"]}
    secret = "soma-infra-dev-credentials" if overlay == "dev" else "soma-infra-credentials"
    refs = {name: e["valueFrom"]["secretKeyRef"] for name, e in env.items() if "valueFrom" in e}
    enabled = chart.enabled_contract_services(overlay)
    needed = {"postgres": ["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"], "redis": ["REDIS_PASSWORD"],
              "vault": ["VAULT_DEV_ROOT_TOKEN"]}
    assert {"postgres", "redis", "vault"} <= set(enabled)
    assert refs == {k: {"name": secret, "key": k} for svc in needed if svc in enabled for k in needed[svc]}
    doc = yaml.safe_load(env["SOMA_ENDPOINTS"]["value"])
    assert doc["credentials"]["postgres"]["password"] == "${POSTGRES_PASSWORD}"
    hostile = {k: 'p"a\'s: s{' + k for k in refs}
    expanded = validate(expand(doc, "endpoints", env=hostile), "endpoints", set(chart.catalog()["services"]))
    assert expanded["credentials"]["postgres"]["password"] == hostile["POSTGRES_PASSWORD"]
    assert expanded["services"]["postgres"] == {"host": f"postgres.{chart.NAMESPACE}.svc.cluster.local",
                                                "port": enabled["postgres"]}
