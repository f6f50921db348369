"""Security contracts of the Kubernetes path (seed: NetworkPolicies default-deny with
labelled allows; PodSecurity restricted). They need a real cluster that enforces both:
the kind target (a Kind cluster with the soma-infra chart). Every other target has no
NetworkPolicy or PodSecurity to check, so these skip there with that reason.

The NetworkPolicy contract covers every deployed contract service: one unlabelled pod
probes them all (each must be refused), and a pod per service carrying only
soma.io/client-<svc> probes <svc> (it must get through; these pods run side by side).
Command construction is unit-tested (tests/unit/test_kind_target.py); live runs are
recorded in docs/infra/INSTALL_KIND.md."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from conformance.catalog import load
from conformance.errors import TargetError
from conformance.inside.checks import InsideResult
from conformance.probes.clients import ContractFailure
from conformance.security.pod_templates import pod_templates
from conformance.targets.base import KubernetesAccess, Target
from conformance.targets.kind_evidence import privileged_pod

# the controllers whose templates make the namespace's pods (ReplicaSets are left out: a
# Deployment's old ones keep earlier templates at zero replicas; Pods are admitted already)
LIVE_WORKLOADS = ("deployments", "statefulsets", "daemonsets", "jobs", "cronjobs")

SKIP_REASON = ("security contracts need a Kubernetes target with NetworkPolicy and PodSecurity "
               "(--target=kind); target {name!r} has neither")


def cluster(target: Target) -> KubernetesAccess:
    """The target's Kubernetes API; skips (naming the target) where there is none."""
    kube = target.kubernetes()
    if kube is None:
        pytest.skip(SKIP_REASON.format(name=target.name))
    return kube


CONTRACT_SERVICES = sorted(load().services)


@dataclass(frozen=True)
class Reach:
    """What the NetworkPolicy probes saw: each deployed service from a pod with no client
    label, a canary that no allow policy selects from outside the namespace, and each
    service from its own pod that carries only its client label."""

    unlabelled: dict[str, InsideResult]
    canary: InsideResult
    labelled: dict[str, InsideResult | TargetError]


@pytest.fixture(scope="module")
def reach(soma_target: Target) -> Reach:
    """Every probe pod of the contract, started side by side: each is a pod start-up plus
    the CNI's settle time, so one after another they would cost that many times over."""
    kube = cluster(soma_target)
    deployed = [s for s in CONTRACT_SERVICES if soma_target.judged(s)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        labelled = pool.submit(kube.reach_each, deployed)
        unlabelled, canary = kube.reach_with_canary(deployed)
        return Reach({r.service: r for r in unlabelled}, canary, labelled.result())


@pytest.mark.contract("security.networkpolicy")
def test_default_deny_isolates_unlisted_pods(soma_target: Target, reach: Reach,
                                             soma_evidence: Callable[..., None]) -> None:
    """The contract services are shut by their own allow-lists too; only a pod that no
    allow policy selects shows whether the namespace's default-deny is there."""
    kube = cluster(soma_target)
    canary = reach.canary
    soma_evidence(probed=f"a canary pod in {kube.namespace} that no allow policy selects, from an "
                         "unlabelled pod of a scratch namespace without policies", answer=canary.detail)
    if canary.ok:
        raise ContractFailure(f"a pod outside {kube.namespace} reached a pod there that no NetworkPolicy "
                              f"admits ({canary.detail}): default-deny missing")


@pytest.mark.contract("security.networkpolicy")
@pytest.mark.parametrize("service", CONTRACT_SERVICES)
def test_only_client_labelled_pods_reach(service: str, soma_target: Target, reach: Reach,
                                         soma_evidence: Callable[..., None]) -> None:
    kube = cluster(soma_target)
    if not soma_target.judged(service):
        pytest.skip(soma_target.not_deployed_reason(service))
    label = f"soma.io/client-{service}"
    without = reach.unlabelled.get(service)
    if without is None:
        raise ContractFailure(f"{service}: the unlabelled probe did not check it")
    with_label = reach.labelled[service]
    if isinstance(with_label, TargetError):
        raise with_label
    soma_evidence(probed=f"{service} from a pod in {kube.namespace}, without any client label "
                         f"and with only {label}",
                  answer=f"without: {without.detail}; with: {with_label.detail}")
    if not with_label.ok:
        raise ContractFailure(f"a pod labelled {label}=true cannot reach {service}: {with_label.detail}")
    if without.ok:
        raise ContractFailure(f"a pod without {label} reached {service}: NetworkPolicies are not "
                              "enforced (default-deny missing, or the CNI does not enforce them)")


@pytest.mark.contract("security.podsecurity")
def test_privileged_pod_refused(soma_target: Target, soma_evidence: Callable[..., None]) -> None:
    kube = cluster(soma_target)
    pod = privileged_pod(f"soma-privileged-{secrets.token_hex(3)}", soma_target.options.probe_image)
    admitted, detail = kube.podsecurity_dry_run(pod)
    soma_evidence(probed=f"server-side dry-run create of a privileged pod in {kube.namespace}",
                  answer=detail)
    if admitted:
        raise ContractFailure(f"a privileged pod was admitted into {kube.namespace}: namespace not "
                              "labelled pod-security.kubernetes.io/enforce=restricted")
    if not detail.startswith("restricted:"):
        raise ContractFailure(f"refused, but not by PodSecurity restricted: {detail}")


@pytest.mark.contract("security.podsecurity")
def test_workload_templates_admitted(soma_target: Target, soma_evidence: Callable[..., None]) -> None:
    """Read from what runs: the API server stores a workload whose template breaks
    `restricted` (it only warns), and that workload then never starts a pod; a dry-run of
    the Pod each template makes gives admission's verdict and names the workload."""
    kube = cluster(soma_target)
    objects = [obj for kind in LIVE_WORKLOADS for obj in kube.objects(kind)]
    checked: list[str] = []
    refused: list[str] = []
    for workload, pod in pod_templates(objects, kube.namespace):
        admitted, detail = kube.podsecurity_dry_run(pod)
        checked.append(workload)
        if not admitted:
            refused.append(f"{workload}: {detail}")
    soma_evidence(probed=f"server-side dry-run of the Pod each workload template in {kube.namespace} makes",
                  answer=f"{len(checked)} templates, {len(refused)} refused: {', '.join(checked)}")
    if not checked:
        raise ContractFailure(f"no workload found in {kube.namespace}: nothing runs there")
    if refused:
        raise ContractFailure("pod templates PodSecurity refuses (their pods can never start): "
                              + "; ".join(refused))
