"""The posture policy (policies/posture, Rego, evaluated by OPA) on every object of every
overlay, its own unit tests, and the seeded chart faults: each must be flagged."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helm import chart
from tests.helm.conftest import SUMMARY


def test_posture_policy_unit_tests() -> None:
    """opa test: a compliant release passes; privileged pod, missing NetworkPolicy, no
    limits, no runAsNonRoot (and more) are each flagged."""
    proc = chart.run([str(chart.tool("opa")), "test", str(chart.POSTURE), "-v"])
    passed = proc.stdout.count(": PASS")
    assert passed >= 10 and "FAIL" not in proc.stdout
    SUMMARY.append(f"posture policy unit tests (opa test): {passed} passed")


def test_posture_policy_fully_covered() -> None:
    """Every line of the posture policy runs in its unit tests (the bundle's exact gate)."""
    report = chart.run([str(chart.tool("opa")), "test", str(chart.POSTURE), "--coverage"]).stdout
    gate = chart.run([sys.executable, str(chart.ROOT / "infra/scripts/opa_coverage_gate.py"), str(chart.POSTURE)],
                     input_text=report)
    SUMMARY.append(f"posture policy coverage: {gate.stdout.strip()}")


@pytest.mark.parametrize("overlay", chart.OVERLAYS)
def test_overlay_is_compliant(overlay: str, rendered: dict[str, list[dict[str, Any]]],
                              tmp_path: Path) -> None:
    deny = chart.posture_deny(chart.posture_input(overlay, rendered[overlay]), tmp_path)
    assert deny == [], "\n".join(deny)
    pods = len(chart.pod_templates(rendered[overlay]))
    SUMMARY.append(f"posture {overlay}: {len(rendered[overlay])} objects, {pods} pod templates, 0 violations")


FAULTS = chart.chart_faults()


def test_chart_faults_are_seeded() -> None:
    names = {f["name"] for f in FAULTS}
    assert {"chart-pod-without-run-as-non-root", "chart-missing-default-deny",
            "chart-privileged-pod"} <= names


@pytest.mark.parametrize("fault", FAULTS, ids=[f["name"] for f in FAULTS])
def test_fault_flagged_by_posture(fault: dict[str, Any], rendered: dict[str, list[dict[str, Any]]],
                                  tmp_path: Path) -> None:
    flagged, deny = chart.fault_flagged(fault, rendered[str(fault.get("overlay", "dev"))], tmp_path)
    assert flagged, f"{fault['name']} not flagged; deny={deny}"
    SUMMARY.append(f"fault {fault['name']}: flagged by posture ({len(deny)} violation(s))")


def test_limits_removed_is_flagged(rendered: dict[str, list[dict[str, Any]]], tmp_path: Path) -> None:
    """No limits on a real chart object (not only in the Rego unit tests)."""
    fault = {"name": "no-limits", "target": {"kind": "StatefulSet", "name": "postgres"},
             "patch": [{"op": "remove", "path": "/spec/template/spec/containers/0/resources/limits"}]}
    bad = chart.apply_fault(fault, rendered["prod"])
    deny = chart.posture_deny(chart.posture_input("prod", bad), tmp_path)
    assert "StatefulSet/postgres: container postgres: resources.limits.memory missing" in deny
