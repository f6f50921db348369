"""Compare a run with earlier runs: newly failing, fixed, still failing, flaky.

Rules (exact, and unit-tested on synthetic histories). Per contract, a run's outcome is
P (passed), F (failed or error) or none (skipped, pending, absent). The window is the
current run plus the N-1 runs before it of the same environment (same target type and
same environment name: staging and prod never mix). Categories, first match wins:

  flaky          the outcomes in the window change at least twice (P F P, F P F, ...)
  still_failing  F now, and F in the latest earlier run that has an outcome
  newly_failing  F now, and P (or no outcome at all) before
  fixed          P now, and F before
  passing        P now, and P (or nothing) before
Contracts with no outcome now are not classified.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.report.json_writer import RESULT_NAME, validation_errors
from conformance.report.model import Run, is_failure

DEFAULT_WINDOW = 5
CHART_RUNS = 30
CATEGORIES = ("newly_failing", "fixed", "still_failing", "flaky", "passing")


def outcome(run: Run, contract_id: str) -> str | None:
    for c in run.contracts:
        if c.id == contract_id:
            if c.status == "passed":
                return "P"
            return "F" if is_failure(c.status) else None
    return None


@dataclass
class Change:
    id: str
    area: str
    service: str
    category: str
    current: str
    previous: str | None
    window: list[str | None]  # oldest -> newest, one entry per run in the window
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "area": self.area, "service": self.service, "category": self.category,
                "current": self.current, "previous": self.previous, "window": self.window,
                "message": self.message}


@dataclass
class RunPoint:
    run_id: str
    started_at: str
    status: str
    pass_rate: float | None
    passed: int
    failed: int
    total: int

    @classmethod
    def of(cls, run: Run) -> RunPoint:
        s = run.summary()
        return cls(run.run_id, run.started_at, run.status, s["pass_rate"], s["passed"],
                   s["failed"] + s["error"], s["total"])


@dataclass
class History:
    current: str
    target: str
    window: int
    environment: str | None
    runs: list[RunPoint]  # oldest -> newest, current last
    changes: list[Change] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)

    def of(self, category: str) -> list[Change]:
        return [c for c in self.changes if c.category == category]

    def to_dict(self) -> dict[str, Any]:
        return {"current": self.current, "target": self.target, "environment": self.environment,
                "window": self.window,
                "runs": [vars(r) for r in self.runs],
                **{cat: [c.to_dict() for c in self.of(cat)] for cat in CATEGORIES},
                "skipped_files": self.skipped_files}


def classify_one(window: list[str | None], previous: str | None) -> str | None:
    """The category of one contract; window[-1] is the current outcome."""
    current = window[-1]
    if current is None:
        return None
    seen = [o for o in window if o is not None]
    flips = sum(1 for a, b in itertools.pairwise(seen) if a != b)
    if flips >= 2:
        return "flaky"
    if current == "F":
        return "still_failing" if previous == "F" else "newly_failing"
    return "fixed" if previous == "F" else "passing"


def compare(current: Run, earlier: list[Run], window: int = DEFAULT_WINDOW) -> History:
    """`earlier`: runs before `current` (any order; runs of other environments -- another
    target type or another environment name -- are ignored)."""
    runs = sorted((r for r in earlier if r.environment_key == current.environment_key
                   and r.run_id != current.run_id and r.started_at <= current.started_at),
                  key=lambda r: (r.started_at, r.run_id))
    in_window = [*runs[-(window - 1):], current] if window > 1 else [current]
    history = History(current.run_id, current.target, window, current.environment,
                      [RunPoint.of(r) for r in [*runs[-(CHART_RUNS - 1):], current]])
    for c in current.contracts:
        outcomes = [outcome(r, c.id) for r in in_window]
        previous = next((o for o in (outcome(r, c.id) for r in reversed(runs)) if o is not None), None)
        category = classify_one(outcomes, previous)
        if category is not None:
            history.changes.append(Change(c.id, c.area, c.service, category, outcomes[-1] or "",
                                          previous, outcomes, c.message))
    return history


def find_runs(root: Path) -> tuple[list[Run], list[str]]:
    """Every valid result document under root (root/*.json, root/*/conformance.json),
    once per run id; invalid files are listed, not fatal."""
    candidates = sorted({*root.glob("*.json"), *root.glob(f"*/{RESULT_NAME}")})
    runs: dict[str, Run] = {}
    skipped: list[str] = []
    for path in candidates:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            skipped.append(str(path))
            continue
        if not isinstance(doc, dict) or "run_id" not in doc:
            continue  # some other JSON file (history.json, ...)
        if validation_errors(doc):
            skipped.append(str(path))
            continue
        run = Run.from_dict(doc)
        runs.setdefault(run.run_id, run)
    return sorted(runs.values(), key=lambda r: (r.started_at, r.run_id)), skipped


def load_history(root: Path, current: Run | None = None, window: int = DEFAULT_WINDOW) -> History | None:
    """History of `current` (default: the newest run under root); None without any run."""
    runs, skipped = find_runs(root)
    if current is None:
        if not runs:
            return None
        current = runs[-1]
    history = compare(current, runs, window)
    history.skipped_files = skipped
    return history


def render_text(history: History) -> str:
    lines = [f"history of run {history.current} (target {history.target}, environment "
             f"{history.environment or 'unknown'}): "
             f"{len(history.runs)} runs, flaky window {history.window}"]
    for cat in ("newly_failing", "fixed", "still_failing", "flaky"):
        items = history.of(cat)
        lines.append(f"  {cat.replace('_', ' ')}: {len(items)}")
        for ch in items:
            trail = "".join(o or "-" for o in ch.window)
            lines.append(f"    {ch.id:<40} {trail}  {ch.message or ''}".rstrip())
    for path in history.skipped_files:
        lines.append(f"  ignored (not a valid result document): {path}")
    return "\n".join(lines) + "\n"
