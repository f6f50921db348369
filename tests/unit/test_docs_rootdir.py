"""Documented commands give path options as `--opt=PATH`. pytest settles its rootdir before
the suite's plugin is loaded, so in `--endpoints PATH` it takes PATH for a test path: the
rootdir (and ini file) move to PATH's project and node ids point at files that do not exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conformance.resources import REPO_ROOT

PATH_OPTIONS = ("endpoints", "compose-file", "env-file", "report-dir", "project-name", "probe-image",
                "kube-context", "namespace", "contract")
SPACE_FORM = re.compile(r"--(" + "|".join(PATH_OPTIONS) + r")[ \t]+[\"']?[^\s\"'-]")
RUN_TIMEOUT_S = 120


def _documents() -> list[Path]:
    found = [REPO_ROOT / "README.md", REPO_ROOT / "Makefile", REPO_ROOT / "tox.ini"]
    found += sorted((REPO_ROOT / "docs").rglob("*.md")) + sorted((REPO_ROOT / "mk").glob("*.mk"))
    found += sorted((REPO_ROOT / "ci").glob("*.yml"))
    # the chart's `helm test` Job runs the suite too
    found += sorted((REPO_ROOT / "infra" / "helm").rglob("templates/**/*.yaml"))
    return [p for p in found if p.exists()]


def test_documented_suite_commands_use_the_equals_form() -> None:
    bad = []
    for doc in _documents():
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            suite_command = re.search(r"pytest|soma-conformance|conformance\.cli", line, re.IGNORECASE)
            if suite_command and "docker compose" not in line and SPACE_FORM.search(line):
                bad.append(f"{doc.relative_to(REPO_ROOT)}:{n}: {line.strip()}")
    assert not bad, "write --option=PATH (the space form moves pytest's rootdir):\n" + "\n".join(bad)


def _rootdir(tmp_path: Path, option: list[str]) -> str:
    other = tmp_path / "other"
    other.mkdir(exist_ok=True)
    (other / "pyproject.toml").write_text("[tool.pytest.ini_options]\n", encoding="utf-8")
    (other / "env.yaml").write_text("services: {redis: {host: 127.0.0.1, port: 1}}\n", encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "conformance", "--target=external", *option, "--co",
         "-p", "no:cacheprovider", "--contract=readiness.redis"], cwd=work, capture_output=True, text=True,
        timeout=RUN_TIMEOUT_S, check=False, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return next(line for line in proc.stdout.splitlines() if line.startswith("rootdir:"))


def test_the_space_form_really_moves_the_rootdir(tmp_path: Path) -> None:
    """Why the rule above exists (pytest behaviour, checked so the rule is dropped if it changes)."""
    assert _rootdir(tmp_path, ["--endpoints=../other/env.yaml"]) == f"rootdir: {tmp_path / 'work'}"
    assert _rootdir(tmp_path, ["--endpoints", "../other/env.yaml"]) == f"rootdir: {tmp_path / 'other'}"
