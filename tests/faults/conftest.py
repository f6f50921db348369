"""The kill rate, counted from the fault tests' own reports: the harness may run on several
xdist workers (one isolated stack each), and only the controller sees every outcome."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.faults import test_kill_rate as kill_rate

    # a fault test's node id names its function: read from the module, not spelled again here
    fault_tests = tuple(f"::{fn.__name__}[" for fn in (kill_rate.test_fault_is_detected,
                                                       kill_rate.test_chart_fault_is_detected))
    outcomes: dict[str, str] = {}
    for key in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(key, []):
            nodeid = str(getattr(report, "nodeid", ""))
            if any(part in nodeid for part in fault_tests) and (key == "error" or report.when == "call"):
                outcomes[nodeid] = key
    if not outcomes:
        return
    detected = sum(1 for outcome in outcomes.values() if outcome == "passed")
    seeded = len(kill_rate.STACK_FAULTS) + len(kill_rate.CHART_FAULTS)
    terminalreporter.write_line(f"seeded faults: {seeded}; ran: {len(outcomes)}; detected: {detected}; "
                                f"kill rate: {100.0 * detected / max(1, len(outcomes)):.1f}%")
    survived = sorted(n.split("[", 1)[1].rstrip("]") for n, o in outcomes.items() if o != "passed")
    if survived:
        terminalreporter.write_line(f"survived or broken: {', '.join(survived)}")
    if len(outcomes) < seeded:
        terminalreporter.write_line(f"a partial run: {seeded - len(outcomes)} faults did not run")
    uncovered, not_deployed = kill_rate.coverage()
    terminalreporter.write_line(f"contracts without a seeded fault: {uncovered or 'none'}")
    terminalreporter.write_line(f"not exercisable offline (service not deployed): {not_deployed}")
