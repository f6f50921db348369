"""The command line: `run` hands pytest every argument, `stability` refuses to report on
runs that never ran, `contracts` lists what each contract promises."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import catalog, cli
from conformance.cli import runs
from conformance.errors import USAGE_EXIT, UsageError

CLI_TIMEOUT_S = 120


def soma(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conformance.cli", *args], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, cwd=cwd, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path(cli.__file__).parents[2])})


@pytest.mark.parametrize(
    ("argv", "own", "passed"),
    [
        (["run", "--co", "-q"], ["run"], ["--co", "-q"]),
        (["run", "--", "--target=external", "--endpoints=e.yaml", "-x"], ["run"],
         ["--target=external", "--endpoints=e.yaml", "-x"]),
        (["run", "-q", "--", "-k", "redis"], ["run"], ["-q", "-k", "redis"]),
        (["run", "--help"], ["run"], ["--help"]),
        (["stability", "--runs", "3", "--", "--target=compose", "-x"], ["stability", "--runs", "3"],
         ["--target=compose", "-x"]),
        (["nightly", "--target", "kind"], ["nightly", "--target", "kind"], []),
        (["contracts", "--format", "json"], ["contracts", "--format", "json"], None),
    ],
)
def test_split_passthrough(argv: list[str], own: list[str], passed: list[str] | None) -> None:
    assert cli.split_passthrough(argv) == (own, passed)


def test_run_passes_collect_only_through(tmp_path: Path) -> None:
    """`run --co -q` was an argparse error; now pytest collects and lists the contract tests."""
    proc = soma("run", "--co", "-q", "-p", "no:cacheprovider", "--contract=readiness.redis", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "test_readiness.py::test_redis_ping" in proc.stdout and "1/" in proc.stdout, proc.stdout


def test_run_keeps_options_after_dashdash(tmp_path: Path) -> None:
    """`run -- --target=external` used to reach pytest as a file name `--target=external`."""
    proc = soma("run", "--", "--target=external", "--co", "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert proc.returncode == 4, (proc.stdout[-1000:], proc.stderr[-1000:])
    assert "--target=external needs --endpoints FILE" in proc.stderr


def test_stability_fails_on_a_usage_error(tmp_path: Path) -> None:
    """Every run exiting 4 used to end in `flaky tests: 0`, exit 0."""
    proc = soma("stability", "--runs", "3", "--", "--target=nonsense", cwd=tmp_path)
    assert proc.returncode == 4, (proc.stdout, proc.stderr)
    assert "flaky tests" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "usage error" in lines[0] and "invalid choice 'nonsense'" in lines[0], lines
    assert "run 1 of pytest --target=nonsense" in lines[0]


def test_stability_refuses_unknown_own_options(tmp_path: Path) -> None:
    proc = soma("stability", "--runs", "2", "--target=compose", cwd=tmp_path)
    assert proc.returncode == 2 and "unrecognized arguments: --target=compose" in proc.stderr


def test_contracts_lists_id_service_and_title(tmp_path: Path) -> None:
    cat = catalog.load()
    text = soma("contracts", cwd=tmp_path).stdout
    for c in cat.contracts:
        line = next(line for line in text.splitlines() if line.startswith(c.id + " "))
        assert c.service in line.split() and line.endswith(c.title), line
    assert f"{len(cat.contracts)} contracts" in text

    doc = json.loads(soma("contracts", "--format", "json", cwd=tmp_path).stdout)
    assert [c["id"] for c in doc["contracts"]] == [c.id for c in cat.contracts]
    assert set(doc["contracts"][0]) == {"id", "area", "service", "title", "runbook"}

    md = soma("contracts", "--format", "markdown", cwd=tmp_path).stdout
    assert "| id | area | service | promise | runbook |" in md
    assert f"`{cat.contracts[0].id}`" in md


def test_usage_exit_is_pytests_and_every_entry_point_uses_it(tmp_path: Path) -> None:
    """errors.py promised exit 4 while `soma-conformance` returned 2 for the same error."""
    assert USAGE_EXIT == int(pytest.ExitCode.USAGE_ERROR) == 4
    proc = soma("endpoints", "validate", str(tmp_path / "absent.yaml"), cwd=tmp_path)
    assert proc.returncode == USAGE_EXIT, (proc.stdout, proc.stderr)
    bad = tmp_path / "conformance.json"
    bad.write_text('{"run_id": "x"}', encoding="utf-8")
    proc = soma("report", str(bad), cwd=tmp_path)
    assert proc.returncode == USAGE_EXIT, (proc.stdout, proc.stderr)
    assert len([ln for ln in proc.stderr.splitlines() if ln.strip()]) == 1, proc.stderr


def test_stability_without_the_harness_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed from the wheel there is no harness/: the command says where it lives, in
    one line (main prints it and exits 4; main is not called here: it resets SIGPIPE)."""
    monkeypatch.setitem(sys.modules, "harness", None)  # `import harness` now fails as if absent
    with pytest.raises(UsageError, match="comes with a checkout of soma-infra") as err:
        runs.stability(argparse.Namespace(runs=1, pytest_args=[]))
    assert "\n" not in str(err.value)
