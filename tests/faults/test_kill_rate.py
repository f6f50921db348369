"""The mutation harness: every seeded fault is applied to an isolated copy of the stack,
the contracts it targets are run, and each must fail for the expected reason; the
stack is restored after each. Each xdist worker gets a stack of its own (the engine
fixture); the kill rate is printed from every worker's reports (conftest.py), and a
catalog contract that no fault exercises fails the run."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import catalog
from conformance.targets.base import TargetOptions
from conformance.targets.testcontainers import TestcontainersTarget
from harness.faults.engine import FaultEngine
from harness.faults.model import STACK_KINDS, Fault, from_folders, generated

CATALOG = catalog.load()
# the offline stack deploys every required service; optional ones (Grafana, OpenFGA) not
OFFLINE_DEPLOYED = {s.name for s in CATALOG.services.values() if s.required}
STACK_FAULTS = [f for f in generated(CATALOG, OFFLINE_DEPLOYED) + from_folders(CATALOG)
                if f.kind in STACK_KINDS]


@pytest.fixture(scope="module")
def engine() -> Iterator[FaultEngine]:
    target = TestcontainersTarget(CATALOG, TargetOptions())
    target.setup()
    try:
        with tempfile.TemporaryDirectory(prefix="soma-faults-") as work:
            Path(work).chmod(0o755)
            yield FaultEngine(target, Path(work))
    finally:
        target.teardown()


CHART_FAULTS = [f for f in from_folders(CATALOG) if f.kind == "chart-patch"]


@pytest.mark.parametrize("fault", CHART_FAULTS, ids=[f.name for f in CHART_FAULTS])
def test_chart_fault_is_detected(fault: Fault, tmp_path: Path) -> None:
    """Chart faults patch rendered manifests; the posture policies must deny them."""
    from tests.helm import chart

    doc = {**fault.raw, "_dir": str(fault.source.parent) if fault.source else "."}
    objects = chart.render(str(doc.get("overlay", "dev")))
    flagged, deny = chart.fault_flagged(doc, objects, tmp_path)
    assert flagged, f"{fault.name} not flagged by the posture policies: {deny}"


@pytest.mark.parametrize("fault", STACK_FAULTS, ids=[f.name for f in STACK_FAULTS])
def test_fault_is_detected(engine: FaultEngine, fault: Fault) -> None:
    verdict = engine.run(fault)
    assert verdict.killed, f"{fault.name} ({fault.description}) survived: " + "; ".join(verdict.details)


def coverage() -> tuple[list[str], list[str]]:
    """(contracts no fault breaks, contracts of services the offline stack cannot deploy)."""
    not_deployed = {c.id for c in CATALOG.contracts if c.service not in OFFLINE_DEPLOYED
                    and c.service in CATALOG.services}
    static = [f for f in from_folders(CATALOG) if f.kind == "static"]
    covered = {cid for f in STACK_FAULTS + CHART_FAULTS + static for cid in f.breaks}
    return sorted({c.id for c in CATALOG.contracts} - covered - not_deployed), sorted(not_deployed)


def test_every_contract_has_a_seeded_fault() -> None:
    """Every catalog contract is broken by some fault, except those of services the offline
    stack cannot deploy (listed in the summary, not hidden)."""
    uncovered, _ = coverage()
    assert not uncovered, f"contracts without a seeded fault: {uncovered}"
