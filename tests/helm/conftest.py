"""Fixtures for the chart checks (make test-helm): rendered overlays, a summary printed
at the end of the run (objects applied, pods admitted as restricted, faults flagged)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helm import chart

SUMMARY: list[str] = []


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """overlay -> every object `helm template` renders (hooks and tests included)."""
    return {overlay: chart.render(overlay) for overlay in chart.OVERLAYS}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SUMMARY:
        terminalreporter.section("soma-infra chart checks")
        for line in SUMMARY:
            terminalreporter.write_line(line)
