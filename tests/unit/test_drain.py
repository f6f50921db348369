"""A drain evicts the cluster's pods, never the suite's own probe and load pods: those are
bare pods, which `kubectl drain` refuses to delete (a live run failed on one), and the load
pod is what measures the drain."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.kube import disruptions, pods
from conformance.kube.kubectl import Kubectl


def test_drain_leaves_the_suites_own_pods(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def run(cmd: list[str], *_: Any, **__: Any) -> str:
        calls.append(cmd)
        return ""

    monkeypatch.setattr(disruptions, "run", run)
    kube = disruptions.KubeDisruptions(Kubectl("kind-soma-prod", "soma-infra"), "probe:local", None)  # type: ignore[arg-type]
    assert kube.drain("soma-prod-worker") == "node soma-prod-worker drained"
    assert f"--pod-selector={pods.PROBE_LABEL}!={pods.PROBE_NAME}" in calls[0]
    spec: dict[str, Any] = pods.probe_pod_overrides("p", "probe:local", ["opa"], "", "{}")
    assert spec["metadata"]["labels"][pods.PROBE_LABEL] == pods.PROBE_NAME
