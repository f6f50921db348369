"""The chart against a real kube-apiserver (+ etcd) with PodSecurity admission: the
namespace from the chart's own Namespace object, every rendered object of every overlay
server-side applied and accepted, every pod template admitted as `restricted`, and bad
pods (privileged; the seeded runAsNonRoot fault) rejected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.targets.kind_evidence import parse_podsecurity_rejection
from tests.helm import chart
from tests.helm.apiserver import ControlPlane
from tests.helm.conftest import SUMMARY

VIOLATION = "violates PodSecurity"
WOULD_VIOLATE = "would violate PodSecurity"
PRIVILEGED_WORKLOAD = chart.FAULTS / "chart-privileged-pod" / "pod.yaml"


def privileged_pod() -> dict[str, Any]:
    """The Pod the privileged fault's Deployment makes (admission judges Pods)."""
    workload = yaml.safe_load(PRIVILEGED_WORKLOAD.read_text(encoding="utf-8"))
    ((_, pod),) = chart.pod_templates([workload])
    pod["metadata"]["name"] = "soma-privileged"
    return pod


def dump(objects: list[dict[str, Any]], path: Path) -> Path:
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False), encoding="utf-8")
    return path


def ssa(cp: ControlPlane, path: Path, *extra: str, check: bool = True) -> Any:
    return cp.kubectl("apply", "--server-side", "--field-manager=soma-check", "--force-conflicts",
                      "-o", "name", "-f", str(path), *extra, check=check)


def service_account(namespace: str) -> str:
    # the ServiceAccount controller is not running: create what it would (pods reference it)
    return f"apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: default, namespace: {namespace}}}\n"


@pytest.fixture(scope="module")
def cluster(rendered: dict[str, list[dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[ControlPlane]:
    with ControlPlane() as cp:
        SUMMARY.append(f"kube-apiserver {chart.kube_version()} + etcd on loopback: ready in "
                       f"{cp.started_in_s:.1f}s")
        tmp = tmp_path_factory.mktemp("ns")
        ns = [o for o in rendered["dev"] if o["kind"] == "Namespace"]
        assert len(ns) == 1
        out = ssa(cp, dump(ns, tmp / "namespace.yaml")).stdout
        assert "namespace/soma-infra" in out
        cp.kubectl("apply", "-f", "-", input_text=service_account(chart.NAMESPACE))
        yield cp


def test_namespace_labels_from_chart(cluster: ControlPlane) -> None:
    labels = yaml.safe_load(cluster.kubectl("get", "namespace", chart.NAMESPACE, "-o", "yaml").stdout
                            )["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    SUMMARY.append("namespace soma-infra created from the chart's Namespace: "
                   f"enforce={labels['pod-security.kubernetes.io/enforce']}")


@pytest.mark.parametrize("overlay", chart.OVERLAYS)
def test_overlay_accepted_and_pods_restricted(
        overlay: str, cluster: ControlPlane, rendered: dict[str, list[dict[str, Any]]], tmp_path: Path,
) -> None:
    objects = [o for o in rendered[overlay] if o["kind"] != "Namespace"]
    path = dump(objects, tmp_path / f"{overlay}.yaml")
    proc = ssa(cluster, path)
    applied = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(applied) == len(objects), f"{overlay}: applied {len(applied)} of {len(objects)}"
    assert WOULD_VIOLATE not in proc.stderr, proc.stderr
    # every pod template, as the Pod a controller would create: PodSecurity admission decides
    pods = chart.pod_templates(rendered[overlay])
    pod_proc = ssa(cluster, dump([p for _, p in pods], tmp_path / f"{overlay}-pods.yaml"), "--dry-run=server")
    admitted = [line for line in pod_proc.stdout.splitlines() if line.strip()]
    assert len(admitted) == len(pods)
    kinds: dict[str, int] = {}
    for o in objects:
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    SUMMARY.append(f"apiserver {overlay}: {len(applied)} objects server-side applied and accepted "
                   f"({', '.join(f'{k}={v}' for k, v in sorted(kinds.items()))}); "
                   f"{len(admitted)}/{len(pods)} pods admitted as restricted: "
                   + ", ".join(name for name, _ in pods))
    # clean up for the next overlay (immutable StatefulSet fields differ between overlays)
    cluster.kubectl("delete", "-f", str(path), "--wait=true", "--timeout=60s", "--ignore-not-found")


def test_privileged_pod_rejected(cluster: ControlPlane, tmp_path: Path) -> None:
    proc = cluster.kubectl("create", "-f", str(dump([privileged_pod()], tmp_path / "pod.yaml")), check=False)
    assert proc.returncode != 0, "privileged pod was admitted into soma-infra"
    assert VIOLATION in proc.stderr and "privileged" in proc.stderr, proc.stderr
    verdict = parse_podsecurity_rejection(proc.stderr)
    assert verdict and verdict.startswith("restricted:"), proc.stderr
    SUMMARY.append(f"privileged pod in soma-infra: REJECTED by PodSecurity {verdict[:200]}")


def test_privileged_pod_admitted_without_the_label(cluster: ControlPlane, tmp_path: Path) -> None:
    """Control: the same pod in an unlabelled namespace is accepted (allow-privileged is
    on), so the rejection above is the namespace label's PodSecurity at work."""
    cluster.kubectl("create", "namespace", "soma-control", check=False)
    cluster.kubectl("apply", "-f", "-", input_text=service_account("soma-control"))
    pod = privileged_pod()
    pod["metadata"]["namespace"] = "soma-control"
    proc = cluster.kubectl("create", "--dry-run=server", "-f", str(dump([pod], tmp_path / "pod.yaml")))
    assert "soma-privileged" in proc.stdout


FAULTS = [f for f in chart.chart_faults() if "apiserver" in f.get("expect", {})]


@pytest.mark.parametrize("fault", FAULTS, ids=[f["name"] for f in FAULTS])
def test_fault_on_apiserver(fault: dict[str, Any], cluster: ControlPlane,
                            rendered: dict[str, list[dict[str, Any]]], tmp_path: Path) -> None:
    overlay = str(fault.get("overlay", "dev"))
    good = rendered[overlay]
    bad = chart.apply_fault(fault, good)
    changed = [o for o in bad if o not in good] or [o for o in good if o not in bad]
    pods = chart.pod_templates([o for o in bad if o in changed])
    expect = fault["expect"]["apiserver"]
    if expect == "rejected":
        assert pods, f"{fault['name']}: no pod template to check"
        proc = ssa(cluster, dump([p for _, p in pods], tmp_path / "pods.yaml"), "--dry-run=server",
                   check=False)
        assert proc.returncode != 0 and VIOLATION in proc.stderr, proc.stderr or proc.stdout
        SUMMARY.append(f"fault {fault['name']}: pod REJECTED by PodSecurity restricted")
    else:
        objects = [o for o in bad if o["kind"] != "Namespace"]
        proc = ssa(cluster, dump(objects, tmp_path / "bad.yaml"), "--dry-run=server")
        assert proc.returncode == 0
        SUMMARY.append(f"fault {fault['name']}: accepted by the API server "
                       "(only the posture policy catches it)")


def test_workload_with_bad_template_warns(cluster: ControlPlane, rendered: dict[str, list[dict[str, Any]]],
                                          tmp_path: Path) -> None:
    """The warn=restricted label makes the API server warn on a bad workload template, so
    the 'no warning' assertion on every overlay above can fail."""
    fault = next(f for f in chart.chart_faults() if f["name"] == "chart-pod-without-run-as-non-root")
    bad = [o for o in chart.apply_fault(fault, rendered["dev"]) if o["kind"] == "Deployment"
           and o["metadata"]["name"] == "opa"]
    proc = ssa(cluster, dump(bad, tmp_path / "opa.yaml"), "--dry-run=server")
    assert WOULD_VIOLATE in proc.stderr and "runAsNonRoot" in proc.stderr


def test_helm_install_against_apiserver(cluster: ControlPlane) -> None:
    """A real `helm install` (the documented path: the chart creates its Namespace, the
    release record lives in `default`) against the API server; hooks are skipped since no
    Job controller runs here. NOTES list the catalog's contracts."""
    ns = "soma-helm"  # soma-infra already exists, created without Helm ownership above
    proc = chart.run([str(chart.tool("helm")), "install", chart.RELEASE, str(chart.CHART),
                      "--kubeconfig", str(cluster.kubeconfig), "--namespace", "default", "--no-hooks",
                      "--timeout", "120s", "-f", str(chart.values_file("dev")),
                      "--set", f"namespace.name={ns}"],
                     timeout=180)
    assert "STATUS: deployed" in proc.stdout
    notes = proc.stdout.split("NOTES:", 1)[1]
    cat = chart.catalog()
    listed = [f"{n}.{cat['dns_suffix']}:{p}" for n, p in chart.enabled_contract_services("dev").items()]
    for contract in listed:
        assert contract in notes, contract
    assert cat["identity"]["jwks_url"] in notes and cat["policy"]["decision_path"] in notes
    ns_doc = yaml.safe_load(cluster.kubectl("get", "namespace", ns, "-o", "yaml").stdout)
    labels = ns_doc["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    objects = [line for line in cluster.kubectl("get", "all,configmap,secret,networkpolicy", "-n", ns,
                                                "-o", "name").stdout.splitlines() if line.strip()]
    SUMMARY.append(f"helm install (dev, --no-hooks) against the API server: deployed, {len(objects)} objects "
                   f"in {ns}; NOTES list {len(listed)} contract DNS names, JWKS and decision path")


def test_invalid_object_refused(cluster: ControlPlane, rendered: dict[str, list[dict[str, Any]]],
                                tmp_path: Path) -> None:
    """The 'all accepted' assertion can fail: a rendered Service with an out-of-range port
    is refused by the API server's validation."""
    svc = next(o for o in rendered["dev"] if o["kind"] == "Service" and o["metadata"]["name"] == "postgres")
    bad = chart.json_patch(svc, [{"op": "replace", "path": "/spec/ports/0/port", "value": 70000}])
    proc = ssa(cluster, dump([bad], tmp_path / "svc.yaml"), "--dry-run=server", check=False)
    assert proc.returncode != 0 and "spec.ports[0].port" in proc.stderr, proc.stderr
