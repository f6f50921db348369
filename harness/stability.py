"""Stability: run the suite N times against one healthy target and report every test
whose outcome differs between runs. A flaky contract is a bug to fix, never to retry.
`soma-conformance stability` parses the arguments and hands them to main()."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from harness.faults.runner import SuiteRun, run_suite


def flaky(runs: list[SuiteRun]) -> dict[str, list[str]]:
    """Test name -> its outcome per run, for tests whose outcome is not always the same
    (a test missing from a run counts as 'missing')."""
    names = sorted({n for r in runs for n in r.outcomes})
    out: dict[str, list[str]] = {}
    for name in names:
        seen = [r.outcomes.get(name, "missing") for r in runs]
        if len(set(seen)) > 1:
            out[name] = seen
    return out


# pytest exit codes after which outcomes mean nothing: interrupted, internal error, usage
# error, no tests collected. Comparing such runs would report "flaky tests: 0" and pass.
NOT_A_RUN = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests collected"}


def unusable(run: SuiteRun) -> str | None:
    """Why this run cannot be compared with others (None: it can)."""
    if run.returncode in NOT_A_RUN:
        return f"exit {run.returncode}, {NOT_A_RUN[run.returncode]}"
    if not run.outcomes:
        return f"exit {run.returncode}, no test results"
    return None


def _last_line(run: SuiteRun) -> str:
    for text in (run.stderr, run.stdout):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return "no output"


def main(ns: argparse.Namespace) -> int:
    args = list(getattr(ns, "pytest_args", None) or []) or ["--target=compose"]
    runs: list[SuiteRun] = []
    with tempfile.TemporaryDirectory(prefix="soma-stability-") as tmp:
        for i in range(ns.runs):
            work = Path(tmp) / f"run-{i + 1:02d}"
            work.mkdir()
            run = run_suite(args, work, timeout=1800)
            why = unusable(run)
            if why is not None:
                print(f"stability: error: run {i + 1} of pytest {' '.join(args)} is not comparable "
                      f"({why}): {_last_line(run)}", file=sys.stderr)
                return run.returncode or 4
            runs.append(run)
            counts = {o: sum(1 for v in run.outcomes.values() if v == o) for o in ("passed", "failed", "skipped")}
            print(f"run {i + 1}/{ns.runs}: {len(run.outcomes)} tests, {counts['passed']} passed, "
                  f"{counts['failed']} failed, {counts['skipped']} skipped, {run.seconds:.0f}s", flush=True)
    bad = flaky(runs)
    per_run = sorted({len(r.outcomes) for r in runs})
    print(f"stability: {len(runs)} runs, tests per run {per_run}, flaky tests: {len(bad)}")
    for name, seen in bad.items():
        print(f"  FLAKY {name}: {' '.join(seen)}")
    failing = sorted({n for r in runs for n, o in r.outcomes.items() if o == "failed"})
    for name in failing:
        if name not in bad:
            print(f"  FAILING every run: {name}")
    return 1 if bad or failing else 0
