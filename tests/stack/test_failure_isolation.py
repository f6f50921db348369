"""With one service stopped, exactly that service's contracts fail -- each naming it --
and the run still completes in bounded time."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conformance.targets.testcontainers import TestcontainersTarget
from tests.suite_runner import run_suite

STOPPED = "redis"


def test_stopped_service_fails_only_its_own_contracts(fresh_stack: TestcontainersTarget, tmp_path: Path) -> None:
    compose = fresh_stack.compose_cmd()
    subprocess.run([*compose, "stop", STOPPED], check=True, capture_output=True, timeout=120)
    try:
        args = ["--target=compose", f"--project-name={fresh_stack.project}"]
        args += [f"--env-file={f}" for f in fresh_stack.env_files]
        run = run_suite(args, tmp_path)
    finally:
        # back to healthy before any other test uses the stack
        subprocess.run([*compose, "up", "-d", "--wait", STOPPED], check=True, capture_output=True, timeout=120)
    failed = {name for name, outcome in run.outcomes.items() if outcome in ("failed", "error")}
    assert run.outcomes, f"no results: {run.stdout[-2000:]} {run.stderr[-2000:]}"
    assert failed, "stopping redis failed no contract at all"
    for name in failed:
        assert STOPPED in name.lower(), f"{name} failed although only {STOPPED} is stopped: {run.messages[name]}"
        assert STOPPED in run.messages[name].lower(), f"{name}: message does not name {STOPPED}: {run.messages[name]}"
    redis_tests = {n for n in run.outcomes if STOPPED in n.lower() and "exporter" not in n.lower()}
    assert redis_tests <= failed | {n for n, o in run.outcomes.items() if o == "skipped"}, (
        f"redis contracts that still passed: {sorted(redis_tests - failed)}")
    print(f"\nstopped {STOPPED}: {len(failed)} contracts failed, {len(run.outcomes)} run, "
          f"{run.seconds:.1f}s wall")
    assert run.seconds < 120, f"run took {run.seconds:.0f}s with one service down"
