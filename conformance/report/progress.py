"""What the terminal shows: one line per contract area as soon as the area has finished
(a long nightly run should show what holds so far, not only a wall of dots), and at the end
the measurements, the time per area and what was not judged.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from conformance.report.collector import Tallies
from conformance.report.model import Run
from conformance.waivers import Waiver


def _counts(counts: dict[str, int]) -> str:
    order = ("passed", "failed", "error", "skipped")
    parts = [f"{counts[s]} {s}" for s in order if counts.get(s)]
    return ", ".join(parts) or "nothing run"


def area_line(area: str, area_counts: dict[str, int], run: Run) -> str:
    summary = run.summary()
    done, total = summary["total"], summary["total"] + summary["pending"]
    so_far = {s: summary[s] for s in ("passed", "failed", "error", "skipped")}
    return (f"soma-conformance: area {area} done: {sum(area_counts.values())} contracts "
            f"({_counts(area_counts)}) | so far {done}/{total} contracts: {_counts(so_far)}")


def emit(config: pytest.Config, line: str) -> None:
    """Through the terminal reporter (it breaks the line of progress dots), else stderr."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        writer = getattr(reporter, "_tw", None)  # end a line of progress dots first
        if getattr(writer, "width_of_current_line", 0):
            reporter.write("\n")
        reporter.write_line(line)
    else:
        print(line, file=sys.stderr, flush=True)


def summary_sections(terminalreporter: Any, tallies: Tallies, waived: dict[str, Waiver]) -> None:
    """Print the measurements (attack cases, fuzz examples, latencies), where the time
    went per contract area, and which contracts were not judged because they are
    disruptive or waived."""
    if tallies.measurements:
        terminalreporter.section("soma-conformance measurements")
        for line in tallies.measurements:
            terminalreporter.write_line(line)
    if tallies.area_seconds:
        terminalreporter.section("soma-conformance time per area")
        for area, secs in sorted(tallies.area_seconds.items(), key=lambda kv: -kv[1]):
            terminalreporter.write_line(f"{area:<14} {secs:7.1f} s  ({len(tallies.area_tests[area])} tests)")
        terminalreporter.write_line(f"{'(session wall)':<14} {time.monotonic() - tallies.started:7.1f} s  "
                                    "(areas sum test durations: with -n, workers overlap)")
    disruptive = tallies.disruptive
    if disruptive or waived:
        terminalreporter.section("soma-conformance: not judged in this run")
        if disruptive:
            terminalreporter.write_line(
                f"disruptive (read-only run; --allow-disruptive runs them): {', '.join(sorted(disruptive))}")
        for cid, waiver in sorted(waived.items()):
            terminalreporter.write_line(f"waived {cid}: {waiver.skip_reason()}")
