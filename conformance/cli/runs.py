"""`soma-conformance run` and `stability`: the commands that run the suite itself."""

from __future__ import annotations

import argparse

from conformance.errors import UsageError


def run_args(p: argparse.ArgumentParser) -> None:
    p.description = ("run the suite: every argument goes to pytest unchanged "
                     "(e.g. `run --co -q`, `run -- --target=external --endpoints=FILE`)")


def run(ns: argparse.Namespace) -> int:
    import pytest

    return int(pytest.main(["--pyargs", "conformance", *ns.pytest_args]))


def stability_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=20, help="consecutive runs (default 20)")
    p.epilog = "pytest arguments for each run go after --, e.g. -- --target=compose (the default)"


def stability(ns: argparse.Namespace) -> int:
    """Runs from this repo's harness: a checkout has it, the installed suite does not."""
    try:
        from harness import stability as runner
    except ModuleNotFoundError as exc:
        if exc.name not in ("harness", "harness.stability"):
            raise
        raise UsageError("stability: the stability runner comes with a checkout of soma-infra "
                         "(harness/stability.py, `make stability`), not with the installed suite") from None
    return runner.main(ns)
