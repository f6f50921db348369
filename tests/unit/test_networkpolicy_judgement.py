"""security.networkpolicy's verdict on what the app-namespace probes saw (the live probes
run in tests/kind): each operator mistake of issue 35 fails it, naming the policy that no
release rendered; the healthy picture passes."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.contracts import test_security as contract
from conformance.errors import TargetError
from conformance.inside.checks import InsideResult
from conformance.probes.clients import ContractFailure
from conformance.targets.base import AppReach

SERVICES = ["kafka", "postgres", "redis"]


class FakeTarget:
    name = "kind"

    def kubernetes(self) -> Any:
        return self

    namespace = "soma-infra"

    def judged(self, service: str) -> bool:
        return True


def healthy(**changes: Any) -> AppReach:
    """Every service refuses the unlabelled pod and answers only its own client's pod."""
    labelled: dict[str, list[InsideResult] | TargetError] = {
        svc: [InsideResult(s, s == svc, "answered" if s == svc else "refused") for s in SERVICES] for svc in SERVICES}
    fields: dict[str, Any] = {"namespace": "soma-app-1",
                              "unlabelled": {s: InsideResult(s, False, "refused") for s in SERVICES},
                              "canary": InsideResult("canary", False, "refused"), "labelled": labelled,
                              "foreign_policies": []}
    fields.update(changes)
    return AppReach(**fields)


def judge(reach: AppReach, service: str = "postgres") -> None:
    contract.test_only_client_labelled_pods_reach(service, FakeTarget(), reach,  # type: ignore[arg-type]
                                                  lambda **_: None)


def test_the_healthy_picture_passes() -> None:
    for svc in SERVICES:
        judge(healthy(), svc)
    contract.test_default_deny_isolates_unlisted_pods(FakeTarget(), healthy(),  # type: ignore[arg-type]
                                                      lambda **_: None)


def test_an_allow_all_ingress_for_one_service_fails_naming_the_foreign_policy() -> None:
    """`ingress: [{}]` on postgres (or a client allow whose podSelector is empty): an
    unlabelled pod of an app namespace gets in."""
    unlabelled = {s: InsideResult(s, s == "postgres", "x") for s in SERVICES}
    with pytest.raises(ContractFailure, match=r"without soma.io/client-postgres reached postgres.*"
                                              r"not rendered by the release: allow-all-postgres"):
        judge(healthy(unlabelled=unlabelled, foreign_policies=["allow-all-postgres"]))


def test_a_label_that_opens_a_second_service_fails() -> None:
    labelled = healthy().labelled
    labelled["redis"] = [InsideResult(s, s in ("redis", "postgres"), "x") for s in SERVICES]
    with pytest.raises(ContractFailure, match=r"only soma\.io/client-redis also reached postgres"):
        judge(healthy(labelled=labelled), "redis")


def test_a_refused_client_and_a_pod_that_could_not_run_fail() -> None:
    labelled = healthy().labelled
    labelled["postgres"] = [InsideResult(s, False, "refused") for s in SERVICES]
    with pytest.raises(ContractFailure, match=r"labelled soma\.io/client-postgres=true in an app namespace cannot"):
        judge(healthy(labelled=labelled))
    labelled["postgres"] = TargetError("inside probe pod: timed out")
    with pytest.raises(TargetError, match="timed out"):
        judge(healthy(labelled=labelled))


def test_a_reachable_canary_is_a_missing_default_deny() -> None:
    with pytest.raises(ContractFailure, match="default-deny missing"):
        contract.test_default_deny_isolates_unlisted_pods(
            FakeTarget(), healthy(canary=InsideResult("canary", True, "200")), lambda **_: None)  # type: ignore[arg-type]


def test_no_probe_of_a_service_is_never_a_pass() -> None:
    with pytest.raises(ContractFailure, match="the unlabelled probe did not check it"):
        judge(healthy(unlabelled={}))
    with pytest.raises(ContractFailure, match=r"no pod labelled soma\.io/client-postgres probed it"):
        judge(healthy(labelled={}))
