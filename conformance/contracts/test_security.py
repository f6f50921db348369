"""Security contracts of the Kubernetes path (seed: NetworkPolicies default-deny with
labelled allows; PodSecurity restricted). They need a real cluster that enforces both:
the kind target (a Kind cluster with the soma-infra chart). Every other target has no
NetworkPolicy or PodSecurity to check, so these skip there with that reason.

Written for a real Kind cluster and unit-tested (tests/unit/test_kind_target.py); the
chart's objects were checked against a real kube-apiserver (tests/helm), but these live
contracts have not been run against a Kind cluster yet."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from conformance.probes.clients import ContractFailure
from conformance.targets.base import Target
from conformance.targets.kind import KindTarget, privileged_pod

SKIP_REASON = ("security contracts need a Kubernetes target with NetworkPolicy and PodSecurity "
               "(--target=kind); target {name!r} has neither")


def kind_target(target: Target) -> KindTarget:
    if not isinstance(target, KindTarget):
        pytest.skip(SKIP_REASON.format(name=target.name))
    return target


@pytest.mark.contract("security.networkpolicy")
def test_postgres_only_reachable_with_client_label(soma_target: Target,
                                                   soma_evidence: Callable[..., None]) -> None:
    target = kind_target(soma_target)
    without = target.client_reach("postgres", labelled=False)
    with_label = target.client_reach("postgres", labelled=True)
    soma_evidence(probed="postgres from a pod in soma-infra, without and with soma.io/client-postgres",
                  answer=f"without: {without.detail}; with: {with_label.detail}")
    if not with_label.ok:
        raise ContractFailure(f"a pod labelled soma.io/client-postgres=true cannot reach postgres: "
                              f"{with_label.detail}")
    if without.ok:
        raise ContractFailure("a pod without soma.io/client-postgres reached postgres: "
                              "NetworkPolicies are not enforced (default-deny missing, or the CNI "
                              "does not enforce them)")


@pytest.mark.contract("security.podsecurity")
def test_privileged_pod_refused(soma_target: Target, soma_evidence: Callable[..., None]) -> None:
    target = kind_target(soma_target)
    pod = privileged_pod(f"soma-privileged-{secrets.token_hex(3)}", target.options.probe_image)
    admitted, detail = target.podsecurity_dry_run(pod)
    soma_evidence(probed=f"server-side dry-run create of a privileged pod in {target.namespace}",
                  answer=detail)
    if admitted:
        raise ContractFailure(f"a privileged pod was admitted into {target.namespace}: namespace not "
                              "labelled pod-security.kubernetes.io/enforce=restricted")
    if not detail.startswith("restricted:"):
        raise ContractFailure(f"refused, but not by PodSecurity restricted: {detail}")
