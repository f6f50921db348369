"""Live progress: one terminal line per contract area as soon as the area has finished.

A long nightly run should show what holds so far, not only a wall of dots.
"""

from __future__ import annotations

import sys

import pytest

from conformance.report.model import Run


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
