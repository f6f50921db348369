"""Security contracts of the Kubernetes path (seed: NetworkPolicies default-deny with
labelled allows; PodSecurity restricted). They need a real cluster that enforces both:
the kind target (a Kind cluster with the soma-infra chart). Every other target has no
NetworkPolicy or PodSecurity to check, so these skip there with that reason.

The NetworkPolicy contract probes from where apps run: a scratch app namespace the run
creates, with no NetworkPolicy of its own. From there one unlabelled pod probes every
deployed contract service (each must refuse it), and a pod per service carrying only
soma.io/client-<svc> probes them all (only <svc> may answer); a canary that no allow
policy selects proves the namespace's default-deny. The pods run side by side. Command
construction is unit-tested (tests/unit/test_kind_target.py); live faults are in
tests/kind/test_live_faults.py."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from conformance.catalog import load
from conformance.errors import TargetError
from conformance.probes.clients import ContractFailure
from conformance.security.pod_templates import pod_templates
from conformance.targets.base import AppReach, KubernetesAccess, Target
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


@pytest.fixture(scope="module")
def reach(soma_target: Target) -> AppReach:
    """Every probe pod of the contract, from one app namespace, started side by side."""
    kube = cluster(soma_target)
    deployed = [s for s in CONTRACT_SERVICES if soma_target.judged(s)]
    if not deployed:
        raise ContractFailure(f"no contract service is deployed in {kube.namespace}: nothing to probe")
    return kube.reach_from_app_namespace(deployed)


def policy_note(reach: AppReach) -> str:
    """The namespace's NetworkPolicies that no release rendered: evidence, not the verdict."""
    if not reach.foreign_policies:
        return ""
    return f" (NetworkPolicies not rendered by the release: {', '.join(reach.foreign_policies)})"


@pytest.mark.contract("security.networkpolicy")
def test_default_deny_isolates_unlisted_pods(soma_target: Target, reach: AppReach,
                                             soma_evidence: Callable[..., None]) -> None:
    """The contract services are shut by their own allow-lists too; only a pod that no
    allow policy selects shows whether the namespace's default-deny is there."""
    kube = cluster(soma_target)
    canary = reach.canary
    soma_evidence(probed=f"a canary pod in {kube.namespace} that no allow policy selects, from an "
                         f"unlabelled pod of app namespace {reach.namespace}", answer=canary.detail)
    if canary.ok:
        raise ContractFailure(f"a pod outside {kube.namespace} reached a pod there that no NetworkPolicy "
                              f"admits ({canary.detail}): default-deny missing{policy_note(reach)}")


@pytest.mark.contract("security.networkpolicy")
@pytest.mark.parametrize("service", CONTRACT_SERVICES)
def test_only_client_labelled_pods_reach(service: str, soma_target: Target, reach: AppReach,
                                         soma_evidence: Callable[..., None]) -> None:
    """From an app namespace: without a client label, refused; with only
    soma.io/client-<svc>, <svc> answers and no other service does."""
    cluster(soma_target)
    if not soma_target.judged(service):
        pytest.skip(soma_target.not_deployed_reason(service))
    label = f"soma.io/client-{service}"
    without = reach.unlabelled.get(service)
    if without is None:
        raise ContractFailure(f"{service}: the unlabelled probe did not check it")
    seen = reach.labelled.get(service)
    if seen is None:
        raise ContractFailure(f"{service}: no pod labelled {label} probed it")
    if isinstance(seen, TargetError):
        raise seen
    by_service = {r.service: r for r in seen}
    with_label = by_service[service]
    others = sorted(s for s, r in by_service.items() if s != service and r.ok)
    soma_evidence(probed=f"every service from app namespace {reach.namespace}: a pod without any client "
                         f"label, and a pod with only {label}",
                  answer=f"{service} without: {without.detail}; with: {with_label.detail}; "
                         f"other services reached with only {label}: {', '.join(others) or 'none'}")
    if not with_label.ok:
        raise ContractFailure(f"a pod labelled {label}=true in an app namespace cannot reach {service}: "
                              f"{with_label.detail}{policy_note(reach)}")
    if without.ok:
        raise ContractFailure(f"a pod of an app namespace without {label} reached {service}: an allow wider "
                              f"than its client label, default-deny missing, or a CNI that does not enforce "
                              f"NetworkPolicies{policy_note(reach)}")
    if others:
        raise ContractFailure(f"a pod with only {label} also reached {', '.join(others)}: an allow opens "
                              f"more than its own service{policy_note(reach)}")


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
