"""Bad input to the suite is a one-line usage error, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suite_runner import run_suite


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--target=nonsense"], "--target: invalid choice 'nonsense'"),
        (["--target=external", "--endpoints=missing.yaml"], "--endpoints missing.yaml: file not found"),
        (["--target=external"], "--target=external needs --endpoints FILE"),
        (["--scrape-interval=7s"], "--scrape-interval: '7s' is neither the contract interval nor the on-demand one"),
    ],
)
def test_one_line_usage_error(tmp_path: Path, args: list[str], expected: str) -> None:
    run = run_suite(args, tmp_path, timeout=60)
    assert run.returncode == 4, (run.returncode, run.stdout, run.stderr)
    lines = error_lines(run.stderr)
    assert len(lines) == 1, f"expected one line, got: {run.stderr!r}"
    assert expected in lines[0]
    assert "Traceback" not in run.stdout + run.stderr


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_missing_compose_project_is_a_usage_error(tmp_path: Path, workers: list[str]) -> None:
    """A project that does not run is a misconfiguration, not 45 broken contracts: one line
    naming the fix, exit 4 -- under xdist too (the controller checks before workers start;
    once this path made an INTERNALERROR, exit 3)."""
    args = ["--target=compose", "--project-name=soma-absent-for-test", "--contract=readiness.redis",
            "--contract=readiness.postgres", *workers]
    run = run_suite(args, tmp_path, timeout=120)
    assert run.returncode == 4, (run.returncode, run.stdout[-2000:], run.stderr[-2000:])
    assert "INTERNALERROR" not in run.stdout + run.stderr
    lines = error_lines(run.stderr)
    assert len(lines) == 1, run.stderr
    assert "compose project 'soma-absent-for-test' has no running containers" in lines[0]
    assert "--project-name=NAME" in lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--skip-contract=readiness.redsi"], "did you mean 'readiness.redis'?"),
        (["--wait-ready=soon"], "--wait-ready: 'soon' is not a duration"),
        (["--target=compose", "--project-name=soma-absent-for-test", "--contract=dns.redis",
          "--compose-file=/nonexistent/compose.yaml"], "compose file /nonexistent/compose.yaml not found"),
    ],
)
def test_suite_options_are_one_line_usage_errors(tmp_path: Path, args: list[str], expected: str) -> None:
    run = run_suite(args, tmp_path, timeout=60)
    assert run.returncode == 4, (run.returncode, run.stdout[-2000:], run.stderr[-2000:])
    lines = error_lines(run.stderr)
    assert len(lines) == 1 and expected in lines[0], run.stderr
