"""`pytest --target=testcontainers` from a clean state: the contracts pass against an
ephemeral copy of the stack, with xdist workers sharing one stack, and nothing of it --
container, network or volume -- is left behind.

"Left behind" is judged for this run's own compose project (read from the run's report),
not by comparing every soma-tc-* object before and after: other sessions on a shared
Docker daemon start and remove their own soma-tc-* stacks meanwhile, and counting theirs
made this test fail whenever a second stack ran beside it."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.suite_runner import run_suite


def leftovers(project: str) -> list[str]:
    """Containers, networks and volumes of one compose project."""
    out = []
    for kind in (["ps", "-a"], ["network", "ls"], ["volume", "ls"]):
        proc = subprocess.run(["docker", *kind, "--format", "{{.Names}}" if kind[0] == "ps" else "{{.Name}}"],
                              capture_output=True, text=True, check=True, timeout=30)
        out += [n for n in proc.stdout.splitlines() if n == project or n.startswith((f"{project}-", f"{project}_"))]
    return out


def run_project(report_dir: Path) -> str:
    """The compose project the run created, from its report's target line."""
    detail = json.loads((report_dir / "conformance.json").read_text(encoding="utf-8"))["target_detail"]
    found = re.search(r"project=(soma-tc-[0-9a-f]+)", str(detail))
    assert found, f"the report names no soma-tc project: {detail!r}"
    return found.group(1)


def test_testcontainers_target_passes_and_cleans_up(tmp_path: Path) -> None:
    run = run_suite(["--target=testcontainers", "-n", "2", "-m", "readiness or dns or sizing"], tmp_path)
    failed = {n: m for n, m in run.messages.items() if run.outcomes[n] in ("failed", "error")}
    assert run.returncode == 0 and not failed, f"{failed} {run.stdout[-3000:]}"
    passed = sum(1 for o in run.outcomes.values() if o == "passed")
    assert passed >= 15, f"only {passed} contracts passed"
    project = run_project(tmp_path / "reports")
    assert leftovers(project) == [], f"left behind: {leftovers(project)}"
    restarts = [line for line in run.stdout.splitlines() if "fell over during the run" in line]
    assert not restarts, f"containers of {project} restarted during the run: {restarts}"
    print(f"\ntestcontainers target: {passed} passed in {run.seconds:.1f}s, nothing of {project} left behind")
