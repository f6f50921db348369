"""The HA topology of the staging and prod overlays (issue 32): replica counts from values,
Kafka as a KRaft quorum with per-broker names, etcd members, OPA twice, Postgres under
Patroni behind the same Service, OpenBao as a Raft cluster of three; PDBs, anti-affinity
and peer NetworkPolicies; what the schema and templates refuse; and the dev overlay left
as it was."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm import chart
from tests.helm.conftest import SUMMARY

HA = ("staging", "prod")
HEADLESS = "svc.cluster.local"


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def container(workload: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in workload["spec"]["template"]["spec"]["containers"]
                                   if c["name"] == name]
    assert len(found) == 1, name
    return found[0]


def env(workload: dict[str, Any], name: str) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(workload, name).get("env", [])}


def patroni_config(objects: list[dict[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(find(objects, "ConfigMap", "postgres-patroni")["data"]["patroni.yml"])
    return doc


@pytest.mark.parametrize("overlay", HA)
def test_ha_replica_counts(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    objs = rendered[overlay]
    counts = {name: find(objs, kind, name)["spec"]["replicas"] for kind, name in
              (("StatefulSet", "kafka"), ("StatefulSet", "etcd"), ("StatefulSet", "postgres"),
               ("Deployment", "opa"), ("StatefulSet", "vault"), ("StatefulSet", "redis"),
               ("StatefulSet", "prometheus"))}
    assert counts == {"kafka": 3, "etcd": 3, "postgres": 2, "opa": 2, "vault": 3, "redis": 1, "prometheus": 1}
    SUMMARY.append(f"HA {overlay}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


@pytest.mark.parametrize("overlay", HA)
def test_every_replicated_workload_has_a_pdb_and_one_member_per_node(
        overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    objs = rendered[overlay]
    pdbs = {o["metadata"]["name"]: o for o in objs if o["kind"] == "PodDisruptionBudget"}
    replicated = [o for o in objs if o["kind"] in ("Deployment", "StatefulSet") and o["spec"].get("replicas", 1) > 1]
    assert {o["metadata"]["name"] for o in replicated} == {"kafka", "etcd", "postgres", "opa", "vault"} == set(pdbs)
    for obj in replicated:
        labels = obj["spec"]["template"]["metadata"]["labels"]
        pdb = pdbs[obj["metadata"]["name"]]["spec"]
        assert pdb["maxUnavailable"] == 1 and pdb["selector"]["matchLabels"].items() <= labels.items()
        [term] = obj["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"].items() <= labels.items()


def test_kafka_cluster(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Three KRaft nodes: voters by pod name on kafka-headless, advertised per pod, RF 3,
    min ISR 2 (transaction log too), unclean election off; the contract Service stays."""
    objs = rendered["prod"]
    sts = find(objs, "StatefulSet", "kafka")
    e = env(sts, "kafka")
    voters = [f"{i}@kafka-{i}.kafka-headless.soma-infra.{HEADLESS}:9093" for i in range(3)]
    assert e["KAFKA_CONTROLLER_QUORUM_VOTERS"] == ",".join(voters)
    assert e["KAFKA_NODE_ID"] == "@ORDINAL@"
    assert e["KAFKA_LISTENERS"] == "INTERNAL://:9092,CONTROLLER://:9093"
    assert e["KAFKA_ADVERTISED_LISTENERS"] == f"INTERNAL://$(POD_NAME).kafka-headless.soma-infra.{HEADLESS}:9092"
    assert e["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert [k for k in container(sts, "kafka")["env"]].index(
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}) == 0
    for key, want in (("DEFAULT_REPLICATION_FACTOR", "3"), ("OFFSETS_TOPIC_REPLICATION_FACTOR", "3"),
                      ("TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "3"), ("MIN_INSYNC_REPLICAS", "2"),
                      ("TRANSACTION_STATE_LOG_MIN_ISR", "2"), ("UNCLEAN_LEADER_ELECTION_ENABLE", "false")):
        assert e[f"KAFKA_{key}"] == want, key
    assert sts["spec"]["serviceName"] == "kafka-headless" and sts["spec"]["podManagementPolicy"] == "Parallel"
    headless = find(objs, "Service", "kafka-headless")["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert {p["name"]: p["port"] for p in headless["ports"]} == {"kafka": 9092, "controller": 9093}
    bootstrap = find(objs, "Service", "kafka")["spec"]
    assert "clusterIP" not in bootstrap and {p["name"] for p in bootstrap["ports"]} == {"kafka", "metrics"}


def test_kafka_cluster_host_listener_has_a_port_per_broker() -> None:
    """Broker <i> listens and advertises 127.0.0.1:<port + i>; every pod names all of them
    host-<i> (one template), the Service none (port-forward goes to each pod)."""
    objs = chart.render("prod", "--set", "kafka.hostListener.enabled=true")
    sts = find(objs, "StatefulSet", "kafka")
    ports = {p["name"]: p["containerPort"] for p in container(sts, "kafka")["ports"]}
    assert {k: v for k, v in ports.items() if k.startswith("host")} == {"host-0": 29092, "host-1": 29093,
                                                                       "host-2": 29094}
    e = env(sts, "kafka")
    assert e["KAFKA_LISTENERS"].endswith(",EXTERNAL://:@ORDINAL+29092@")
    assert e["KAFKA_ADVERTISED_LISTENERS"].endswith(",EXTERNAL://127.0.0.1:@ORDINAL+29092@")
    assert "host" not in {p["name"] for p in find(objs, "Service", "kafka")["spec"]["ports"]}


def test_dev_kafka_etcd_opa_postgres_stay_single(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objs = rendered["dev"]
    kafka = find(objs, "StatefulSet", "kafka")
    e = env(kafka, "kafka")
    assert e["KAFKA_NODE_ID"] == "1" and e["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@localhost:9093"
    assert e["KAFKA_ADVERTISED_LISTENERS"] == f"INTERNAL://kafka.soma-infra.{HEADLESS}:9092,EXTERNAL://127.0.0.1:29092"
    assert "KAFKA_MIN_INSYNC_REPLICAS" not in e and "POD_NAME" not in e
    assert {p["name"]: p["port"] for p in find(objs, "Service", "kafka")["spec"]["ports"]}["host"] == 29092
    for kind, name in (("StatefulSet", "kafka"), ("StatefulSet", "etcd"), ("StatefulSet", "postgres"),
                       ("Deployment", "opa"), ("StatefulSet", "vault")):
        obj = find(objs, kind, name)
        assert obj["spec"]["replicas"] == 1 and "affinity" not in obj["spec"]["template"]["spec"]
        assert "podManagementPolicy" not in obj["spec"]
    assert container(find(objs, "StatefulSet", "postgres"), "postgres")["image"] == "soma-infra/postgres:local"
    assert not [o for o in objs if o["kind"] in ("PodDisruptionBudget", "Role", "RoleBinding", "ServiceAccount")]
    assert not [o for o in objs if o["metadata"]["name"].endswith(("-headless", "-peers"))]
    assert "role" not in find(objs, "Service", "postgres")["spec"]["selector"]


def test_run_sh_per_pod_values() -> None:
    """run.sh (the Kafka image's entrypoint, shared with compose) turns @ORDINAL@ and
    @ORDINAL+<base>@ into the pod's ordinal and base + ordinal; other values pass as they are."""
    script = (chart.ROOT / "infra/docker/images/kafka/run.sh").read_text(encoding="utf-8")
    match = re.search(r"^per_pod\(\) \{\n.*?^\}\n", script, re.S | re.M)
    assert match, "per_pod() not found in run.sh"
    probe = match.group(0) + 'for v in "$@"; do per_pod "$v"; echo; done\n'

    def run(hostname: str, *values: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", probe, "probe", *values], env={"HOSTNAME": hostname},
                              capture_output=True, text=True, timeout=10, check=False)

    done = run("kafka-2", "@ORDINAL@", "INTERNAL://:9092,EXTERNAL://:@ORDINAL+29092@", "1@localhost:9093")
    assert done.stdout.splitlines() == ["2", "INTERNAL://:9092,EXTERNAL://:29094", "1@localhost:9093"]
    assert run("kafka", "1").stdout == "1\n"  # compose: no ordinal needed, none read
    bad = run("kafka", "@ORDINAL@")
    assert bad.returncode != 0 and "needs a hostname" in bad.stderr


def test_etcd_cluster(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objs = rendered["prod"]
    sts = find(objs, "StatefulSet", "etcd")
    args = container(sts, "etcd")["args"]
    members = ",".join(f"etcd-{i}=http://etcd-{i}.etcd-headless.soma-infra.{HEADLESS}:2380" for i in range(3))
    assert f"--initial-cluster={members}" in args
    assert "--name=$(POD_NAME)" in args and "--listen-peer-urls=http://0.0.0.0:2380" in args
    assert f"--initial-advertise-peer-urls=http://$(POD_NAME).etcd-headless.soma-infra.{HEADLESS}:2380" in args
    assert "--initial-cluster-state=new" in args
    assert sts["spec"]["podManagementPolicy"] == "Parallel" and sts["spec"]["serviceName"] == "etcd-headless"
    assert find(objs, "Service", "etcd-headless")["spec"]["publishNotReadyAddresses"] is True


def test_opa_replicas_roll_one_at_a_time_and_need_a_bundle(rendered: dict[str, list[dict[str, Any]]]) -> None:
    opa = find(rendered["prod"], "Deployment", "opa")
    assert opa["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    probe = " ".join(container(opa, "opa")["readinessProbe"]["exec"]["command"])
    assert "/v1/data/system/bundles" in probe and "revision" in probe


@pytest.mark.parametrize("overlay", HA)
def test_postgres_patroni(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The Service postgres selects only Patroni's leader; Patroni finds its members by the
    chart's labels; args become its parameters; credentials come from the Secret only."""
    objs = rendered[overlay]
    svc = find(objs, "Service", "postgres")["spec"]
    sts = find(objs, "StatefulSet", "postgres")
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert svc["selector"] == {"app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "soma-infra",
                               "role": "master"}
    assert sts["spec"]["template"]["metadata"]["annotations"]["soma.io/runtime-labels"] == "role"
    cfg = patroni_config(objs)
    k8s = cfg["kubernetes"]
    assert k8s["use_endpoints"] is False and k8s["role_label"] == "role"
    assert {**k8s["labels"], k8s["scope_label"]: cfg["scope"]}.items() <= labels.items()
    args = chart.values(overlay)["postgres"]["args"]
    want = dict(a.split("=", 1) for a in args[2::2])
    assert want.items() <= cfg["postgresql"]["parameters"].items()
    assert want.items() <= cfg["bootstrap"]["dcs"]["postgresql"]["parameters"].items()
    dcs = cfg["bootstrap"]["dcs"]
    assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"] and dcs["synchronous_mode"] is True
    assert "scram-sha-256" in cfg["postgresql"]["pg_hba"][-1] and "trust" not in " ".join(
        r for r in cfg["postgresql"]["pg_hba"] if r.startswith("host"))
    assert "password" not in str(cfg).lower().replace("password_encryption", "")
    e = env(sts, "postgres")
    secret = "soma-infra-credentials"
    assert e["PATRONI_REPLICATION_PASSWORD"] == {"secretKeyRef": {"name": secret,
                                                                  "key": "POSTGRES_REPLICATION_PASSWORD"}}
    assert e["PATRONI_SUPERUSER_PASSWORD"] == {"secretKeyRef": {"name": secret, "key": "POSTGRES_PASSWORD"}}
    spec = sts["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False and spec["serviceAccountName"] == "postgres"
    assert container(sts, "postgres")["image"] == "soma-infra/postgres-ha:local"


def test_patroni_rbac_is_namespaced_and_narrow(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objs = rendered["prod"]
    role = find(objs, "Role", "postgres-patroni")
    assert {r["resources"][0]: set(r["verbs"]) for r in role["rules"]} == {
        "configmaps": {"create", "get", "list", "patch", "update", "watch"},
        "pods": {"get", "list", "patch", "update", "watch"}}
    binding = find(objs, "RoleBinding", "postgres-patroni")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "postgres", "namespace": "soma-infra"}]
    assert not [o for o in objs if o["kind"].startswith("Cluster")]


def test_peer_network_policies(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objs = rendered["prod"]
    for name, ports in (("kafka", {9092, 9093}), ("etcd", {2380}), ("postgres", {5432, 8008}),
                        ("vault", {8200, 8201})):
        np = find(objs, "NetworkPolicy", f"{name}-peers")["spec"]
        sel = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "soma-infra"}
        assert np["podSelector"]["matchLabels"] == sel
        assert [p["podSelector"]["matchLabels"] for p in np["ingress"][0]["from"]] == [sel]
        assert [p["podSelector"]["matchLabels"] for p in np["egress"][0]["to"]] == [sel]
        assert {p["port"] for p in np["ingress"][0]["ports"]} == ports == {p["port"] for p in np["egress"][0]["ports"]}
    api = find(objs, "NetworkPolicy", "postgres-kube-api-egress")["spec"]
    assert {p["port"] for p in api["egress"][0]["ports"]} == {443, 6443}
    narrowed = chart.render("prod", "--set-json", 'networkPolicy.kubeApiServer.cidrs=["172.18.0.0/16"]')
    rule = find(narrowed, "NetworkPolicy", "postgres-kube-api-egress")["spec"]["egress"][0]
    assert rule["to"] == [{"ipBlock": {"cidr": "172.18.0.0/16"}}]


def test_dev_secret_carries_the_replication_password_only_with_ha() -> None:
    objs = chart.render("dev", "--set", "postgres.ha.enabled=true", "--set", "postgres.replicas=2",
                        "--set", "credentials.dev.POSTGRES_REPLICATION_PASSWORD=r")
    assert find(objs, "Secret", "soma-infra-dev-credentials")["stringData"]["POSTGRES_REPLICATION_PASSWORD"] == "r"
    proc = chart.helm(*chart.template_args("dev", "--set", "postgres.ha.enabled=true"), check=False)
    assert proc.returncode != 0 and "credentials.dev.POSTGRES_REPLICATION_PASSWORD is required" in proc.stderr


@pytest.mark.parametrize(("settings", "error"), [
    (["kafka.replicas=2"], "/kafka/replicas"),
    (["etcd.replicas=4"], "/etcd/replicas"),
    (["vault.replicas=2"], "/vault/replicas"),
    (["vault.replicas=0"], "/vault/replicas"),
    (["kafka.replicas=0"], "/kafka/replicas"),
    (["opa.replicas=0"], "/opa/replicas"),
    (["postgres.ha.enabled=false"], "/postgres/replicas"),
    (["kafka.replicas=3", "kafka.minInsyncReplicas=4"], "/kafka/minInsyncReplicas"),
    (["postgres.ha.enabled=true", "postgres.ha.ttl=10", "postgres.ha.retryTimeout=5"], "must not exceed ttl"),
    (["postgres.ha.enabled=true", "postgres.args={postgres,--port=5433}"], "postgres.args"),
])
def test_refused_topologies(settings: list[str], error: str) -> None:
    """Quorums are 1 or odd >= 3; no Postgres standby without Patroni; Patroni's timing
    keeps a healthy leader's lock; its parameters come only as -c pairs."""
    extra = [a for s in settings for a in ("--set", s)]
    proc = chart.helm(*chart.template_args("prod", *extra), check=False)
    assert proc.returncode != 0 and error in proc.stderr, proc.stderr


def test_chart_faults_as_values() -> None:
    """Each HA chart fault that names `values:` is also that values setting: rendered from
    those values, every field its patch changes has the patched value (so the patch's
    indexes still point where the chart puts the setting)."""
    checked = []
    for fault in chart.chart_faults():
        if not fault.get("values"):
            continue
        overlay = str(fault.get("overlay", "dev"))
        sets = [a for k, v in fault["values"].items() for a in ("--set", f"{k}={v}")]
        kind, name = fault["target"]["kind"], fault["target"]["name"]
        by_values = find(chart.render(overlay, *sets), kind, name)
        by_patch = find(chart.apply_fault(fault, chart.render(overlay)), kind, name)
        for op in fault["patch"]:
            parts = op["path"].strip("/").split("/")
            assert chart._walk(by_values, parts) == chart._walk(by_patch, parts) == op["value"], \
                (fault["name"], op["path"])
        checked.append(fault["name"])
    assert len(checked) >= 3
    SUMMARY.append(f"chart faults as values: {', '.join(checked)}")


# ---- OpenBao as a Raft cluster ------------------------------------------------------------

VAULT_CONFIG = chart.ROOT / "infra" / "config" / "vault"
VAULT_MEMBERS = [f"http://vault-{i}.vault-internal.soma-infra.{HEADLESS}:8200" for i in range(3)]


def vault_files(objects: list[dict[str, Any]]) -> dict[str, str]:
    data: dict[str, str] = find(objects, "ConfigMap", "vault-config")["data"]
    return data


def hcl_code(text: str) -> list[str]:
    """The lines of an HCL file that are not comments or blank."""
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("overlay", HA)
def test_vault_cluster(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Three servers started together (after a full stop none can be active, nor Ready,
    before a majority is up), found on vault-internal, each with the member list; every
    server reads cluster.hcl: a retry_join per member, standbys forwarding every request,
    server.hcl's storage path, a Raft timing that rides out contended CPUs; the probes are
    those of the single server."""
    objs = rendered[overlay]
    sts = find(objs, "StatefulSet", "vault")
    assert sts["spec"]["podManagementPolicy"] == "Parallel" and sts["spec"]["serviceName"] == "vault-internal"
    e = env(sts, "vault")
    assert e["SOMA_VAULT_MEMBERS"] == " ".join(VAULT_MEMBERS)
    assert e["BAO_API_ADDR"] == f"http://$(POD_NAME).vault-internal.soma-infra.{HEADLESS}:8200"
    assert container(sts, "vault")["env"][0]["name"] == "POD_NAME"
    assert container(sts, "vault")["readinessProbe"]["exec"]["command"] == ["/bin/sh", "/openbao/config/health.sh"]
    assert container(sts, "vault")["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    internal = find(objs, "Service", "vault-internal")["spec"]
    assert internal["clusterIP"] == "None" and internal["publishNotReadyAddresses"] is True
    assert "publishNotReadyAddresses" not in find(objs, "Service", "vault")["spec"]
    files = vault_files(objs)
    cluster = files["cluster.hcl"]
    assert re.findall(r'leader_api_addr\s*=\s*"([^"]+)"', cluster) == VAULT_MEMBERS
    assert re.search(r"(?m)^disable_standby_reads\s*=\s*true$", cluster)
    server = (VAULT_CONFIG / "server.hcl").read_text(encoding="utf-8")
    want = re.search(r"(?m)^\s*path\s*=\s*(\S+)$", server)
    got = re.search(r"(?m)^\s*path\s*=\s*(\S+)$", cluster)
    assert want and got and want.group(1) == got.group(1)
    assert re.search(r"(?m)^\s*performance_multiplier\s*=\s*3$", cluster)
    assert sts["spec"]["template"]["metadata"]["annotations"]["checksum/cluster"]


def test_vault_join_config_is_server_hcl_without_self_initialisation(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    """server-join.hcl is server.hcl less its `initialize` stanza, nothing else: the servers
    that must join never found a cluster of their own."""
    server = (VAULT_CONFIG / "server.hcl").read_text(encoding="utf-8")
    join = vault_files(rendered["prod"])["server-join.hcl"]
    match = re.search(r'(?ms)^initialize "[^"]*" \{\n.*?^\}\n', server)
    assert match, "server.hcl has no initialize stanza"
    assert "initialize" not in "\n".join(hcl_code(join))
    assert hcl_code(join) == hcl_code(server.replace(match.group(0), ""))
    assert 'seal "static"' in join and 'storage "raft"' in join


def test_dev_vault_is_the_single_server(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The dev overlay (and compose, which runs server.hcl itself) keeps one self-initialising
    server: no cluster config, no start script, no budget, no peers policy."""
    objs = rendered["dev"]
    sts = find(objs, "StatefulSet", "vault")
    assert container(sts, "vault")["args"] == ["server", "-config=/openbao/config/server.hcl",
                                               "-config=/openbao/config/telemetry.hcl"]
    assert "command" not in container(sts, "vault") and "SOMA_VAULT_MEMBERS" not in env(sts, "vault")
    assert "lifecycle" not in container(sts, "vault") and "podManagementPolicy" not in sts["spec"]
    assert not {"cluster.hcl", "server-join.hcl"} & set(vault_files(objs))
    assert "checksum/cluster" not in sts["spec"]["template"]["metadata"]["annotations"]
    assert not [o for o in objs if o["metadata"]["name"] in ("vault-peers",) or
                (o["kind"] == "PodDisruptionBudget" and o["metadata"]["name"] == "vault")]


def fake_tools(tmp_path: Path, wget: str) -> dict[str, str]:
    """PATH with a `bao` that prints its arguments and a `wget` running the given sh body."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "bao").write_text('#!/bin/sh\necho "bao $*"\n', encoding="utf-8")
    (bin_dir / "wget").write_text(f"#!/bin/sh\n{wget}\n", encoding="utf-8")
    for tool_file in bin_dir.iterdir():
        tool_file.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin"}


def start_server(tmp_path: Path, pod: str, wget: str, wait_s: str = "4") -> subprocess.CompletedProcess[str]:
    env_vars = {**fake_tools(tmp_path, wget), "POD_NAME": pod, "SOMA_VAULT_MEMBERS": " ".join(VAULT_MEMBERS),
                "SOMA_VAULT_PEER_WAIT": wait_s, "SOMA_VAULT_CONFIG_DIR": "/c"}
    return subprocess.run(["sh", str(VAULT_CONFIG / "cluster-start.sh")], env=env_vars, capture_output=True,
                          text=True, timeout=30, check=False)


JOIN = "bao server -config=/c/server-join.hcl -config=/c/cluster.hcl -config=/c/telemetry.hcl\n"
FOUND = "bao server -config=/c/server.hcl -config=/c/cluster.hcl -config=/c/telemetry.hcl\n"


@pytest.mark.parametrize(("pod", "wget", "started"), [
    # the others never self-initialise, whatever their peers say
    ("vault-1", 'echo \'{"initialized":false}\'', JOIN),
    ("vault-2", "exit 4", JOIN),
    # vault-0: a fresh install (every peer uninitialised) founds the cluster ...
    ("vault-0", 'echo \'{"initialized":false,"sealed":true}\'', FOUND),
    # ... but joins when one peer holds an initialised cluster (its volume lost, say)
    ("vault-0", 'case "$*" in *vault-2.*) echo \'{"initialized":true}\' ;; *) exit 4 ;; esac', JOIN),
    # ... and with no peer answering it waits, then starts with server.hcl
    ("vault-0", "exit 4", FOUND),
])
def test_vault_cluster_start_picks_one_founder(tmp_path: Path, pod: str, wget: str, started: str) -> None:
    proc = start_server(tmp_path, pod, wget, wait_s="1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == started, (proc.stdout, proc.stderr)
    if pod == "vault-0" and wget == "exit 4":
        assert "no answer within 1s" in proc.stderr


def test_vault_cluster_start_asks_only_its_peers(tmp_path: Path) -> None:
    log = tmp_path / "asked"
    proc = start_server(tmp_path, "vault-0", f'echo "$*" >>{log}; echo \'{{"initialized":false}}\'')
    assert proc.stdout == FOUND
    asked = log.read_text(encoding="utf-8")
    assert "vault-0." not in asked and "vault-1." in asked and "vault-2." in asked
    assert "standbyok=true&sealedcode=200&uninitcode=200" in asked


def run_keeper(tmp_path: Path, leader: str, health_rc: int) -> tuple[bool, bool, str]:
    """keeper.sh for ~2 s beside a fake server (sys/leader answer, health.sh exit status):
    (bootstrap applied, done file present, its log)."""
    work = tmp_path / "keeper"
    work.mkdir()
    (work / "keeper.sh").write_text((VAULT_CONFIG / "keeper.sh").read_text(encoding="utf-8"), encoding="utf-8")
    (work / "health.sh").write_text(f'echo "vault health: rc {health_rc}"; exit {health_rc}\n', encoding="utf-8")
    applied = work / "applied"
    (work / "bootstrap.sh").write_text(f": >>{applied}\n", encoding="utf-8")
    env_vars = {**fake_tools(tmp_path, f"echo '{leader}'"), "BAO_ADDR": "http://x", "BAO_TOKEN": "t",
                "SOMA_KEEPER_INTERVAL": "0.2", "SOMA_KEEPER_DONE": str(work / "done"),
                "SOMA_KEEPER_ALIVE": str(work / "alive")}
    proc = subprocess.Popen(["sh", str(work / "keeper.sh")], env=env_vars, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    done = (work / "done").exists()
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    return applied.exists(), done, err


ACTIVE = '{"ha_enabled":true,"is_self":true,"active_time":"2026-01-01T00:00:00Z"}'
STANDBY = '{"ha_enabled":true,"is_self":false,"leader_address":"http://vault-0.vault-internal:8200"}'


@pytest.mark.parametrize(("leader", "health_rc", "applies", "ready"), [
    (ACTIVE, 0, True, True),     # the active server (or the single one): applied once, Ready
    (ACTIVE, 2, True, False),    # a piece missing, beside the active server: applied
    (STANDBY, 0, False, True),   # a standby's keeper never applies; Ready while minting works
    (STANDBY, 2, False, False),  # ... and leaves a missing piece to the active server's keeper
])
def test_only_the_active_servers_keeper_applies(tmp_path: Path, leader: str, health_rc: int,
                                                applies: bool, ready: bool) -> None:
    applied, done, log = run_keeper(tmp_path, leader, health_rc)
    assert (applied, done) == (applies, ready), log
    assert ("standby: " in log) == (leader == STANDBY)
