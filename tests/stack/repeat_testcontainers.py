"""Run the testcontainers stack test again and again, the last runs with a second stack
running beside it (as on the day it failed), and print every run's outcome and time.

    python3 -m tests.stack.repeat_testcontainers [--runs 10] [--beside 3]

A measurement of the test's stability, not a test: `make repeat-testcontainers` prints it.
The second stack is an isolated testcontainers copy of the stack (its own project, free
host ports), started before and removed after each of those runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from conformance import catalog
from conformance.targets.base import TargetOptions
from conformance.targets.testcontainers import TestcontainersTarget

ROOT = Path(__file__).resolve().parents[2]
TEST = "tests/stack/test_testcontainers_target.py"
RUN_TIMEOUT_S = 900


class SecondStack(AbstractContextManager["SecondStack"]):
    """A whole second stack, up (every service healthy) for the duration of a run."""

    def __init__(self) -> None:
        self.target = TestcontainersTarget(catalog.load(), TargetOptions())

    def __enter__(self) -> SecondStack:
        self.target.preflight(inside=False)  # what the plugin checks first: bundle, images
        self.target.setup()
        return self

    def __exit__(self, *exc: object) -> None:
        self.target.teardown()


def one_run(index: int, beside: bool) -> bool:
    context: AbstractContextManager[object] = SecondStack() if beside else nullcontext()
    t0 = time.monotonic()
    with context:
        proc = subprocess.run([sys.executable, "-m", "pytest", TEST, "-q", "-p", "no:randomly", "-p",
                               "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S, check=False, env=os.environ.copy())
    ok = proc.returncode == 0
    print(f"run {index:2}: {'passed' if ok else 'FAILED'} in {time.monotonic() - t0:5.1f} s"
          f"{' (a second stack running beside it)' if beside else ''}", flush=True)
    if not ok:
        print("\n".join("    " + line for line in (proc.stdout + proc.stderr).splitlines()[-40:]), flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="repeat_testcontainers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--beside", type=int, default=3, help="how many of the runs (the last) get a second stack")
    args = parser.parse_args(argv)
    if not 0 <= args.beside <= args.runs:
        parser.error("--beside must be between 0 and --runs")
    failed = sum(not one_run(i, i > args.runs - args.beside) for i in range(1, args.runs + 1))
    print(f"{TEST}: {args.runs} consecutive runs, {failed} failed, {args.beside} with a second stack beside")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
