"""Bad input to the suite is a one-line usage error, never a traceback."""

from __future__ import annotations

import os
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


DAEMON_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"


def fake_docker_env(tmp_path: Path, daemon_down: bool = False) -> dict[str, str]:
    """A `docker` CLI on PATH that knows no containers (or no daemon): these tests check the
    suite's own error path, so they must not depend on whether this machine runs Docker yet
    (on a new machine the unit step runs before Docker is installed)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    body = f"echo '{DAEMON_DOWN}' >&2; exit 1" if daemon_down else "exit 0"
    script = bin_dir / "docker"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}


ABSENT_PROJECT = ["--target=compose", "--project-name=soma-absent-for-test", "--contract=readiness.redis",
                  "--contract=readiness.postgres"]


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_missing_compose_project_is_a_usage_error(tmp_path: Path, workers: list[str]) -> None:
    """A project that does not run is a misconfiguration, not 45 broken contracts: one line
    naming the fix, exit 4 -- under xdist too (the controller checks before workers start;
    once this path made an INTERNALERROR, exit 3)."""
    run = run_suite([*ABSENT_PROJECT, *workers], tmp_path, timeout=120, env=fake_docker_env(tmp_path))
    assert run.returncode == 4, (run.returncode, run.stdout[-2000:], run.stderr[-2000:])
    assert "INTERNALERROR" not in run.stdout + run.stderr
    lines = error_lines(run.stderr)
    assert len(lines) == 1, run.stderr
    assert "compose project 'soma-absent-for-test' has no running containers" in lines[0]
    assert "--project-name=NAME" in lines[0]


def test_unreachable_docker_daemon_is_one_line_naming_the_cause(tmp_path: Path) -> None:
    """No daemon is not a missing project: the one line carries Docker's own words."""
    run = run_suite(ABSENT_PROJECT, tmp_path, timeout=120, env=fake_docker_env(tmp_path, daemon_down=True))
    assert run.returncode == 4, (run.returncode, run.stdout[-2000:], run.stderr[-2000:])
    lines = error_lines(run.stderr)
    assert len(lines) == 1, run.stderr
    assert "compose project 'soma-absent-for-test'" in lines[0] and "Cannot connect to the Docker daemon" in lines[0]


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
