"""`pytest --target=testcontainers` from a clean state: the contracts pass against an
ephemeral copy of the stack, with xdist workers sharing one stack, and nothing of it --
container, network or volume -- is left behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.suite_runner import run_suite


def leftovers() -> list[str]:
    out = []
    for kind in (["ps", "-a"], ["network", "ls"], ["volume", "ls"]):
        proc = subprocess.run(["docker", *kind, "--format", "{{.Names}}" if kind[0] == "ps" else "{{.Name}}"],
                              capture_output=True, text=True, check=True, timeout=30)
        out += [line for line in proc.stdout.splitlines() if line.startswith("soma-tc-")]
    return out


def test_testcontainers_target_passes_and_cleans_up(tmp_path: Path) -> None:
    before = leftovers()
    run = run_suite(["--target=testcontainers", "-n", "2", "-m", "readiness or dns or sizing"], tmp_path)
    failed = {n: m for n, m in run.messages.items() if run.outcomes[n] in ("failed", "error")}
    assert run.returncode == 0 and not failed, f"{failed} {run.stdout[-3000:]}"
    passed = sum(1 for o in run.outcomes.values() if o == "passed")
    assert passed >= 15, f"only {passed} contracts passed"
    assert leftovers() == before, f"left behind: {sorted(set(leftovers()) - set(before))}"
    print(f"\ntestcontainers target: {passed} passed in {run.seconds:.1f}s, nothing left behind")
