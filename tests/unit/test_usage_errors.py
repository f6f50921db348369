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
    ],
)
def test_one_line_usage_error(tmp_path: Path, args: list[str], expected: str) -> None:
    run = run_suite(args, tmp_path, timeout=60)
    assert run.returncode == 4, (run.returncode, run.stdout, run.stderr)
    lines = error_lines(run.stderr)
    assert len(lines) == 1, f"expected one line, got: {run.stderr!r}"
    assert expected in lines[0]
    assert "Traceback" not in run.stdout + run.stderr
