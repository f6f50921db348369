"""With one service stopped, exactly that service's contracts fail -- each naming it --
and the run still completes in bounded time."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conformance import catalog
from conformance.probes.clients import PROBE_DEADLINE_S
from conformance.targets.testcontainers import TestcontainersTarget
from tests.stack.conftest import restore, scrape_every_5s
from tests.suite_runner import run_suite

STOPPED = "redis"


def test_stopped_service_fails_only_its_own_contracts(fresh_stack: TestcontainersTarget, tmp_path: Path) -> None:
    compose = fresh_stack.compose_cmd()
    fast = scrape_every_5s(fresh_stack)
    subprocess.run([*compose, "stop", STOPPED], check=True, capture_output=True, timeout=120)
    try:
        # every contract runs (disruptive ones too); the property examples, whose count says
        # nothing about which service a failure names, are quick mode's 1/20 (saves minutes)
        args = ["--target=compose", f"--project-name={fresh_stack.project}", "--mode=quick", "--allow-disruptive",
                *fast]
        args += [f"--env-file={f}" for f in fresh_stack.env_files]
        run = run_suite(args, tmp_path)
    finally:
        restore(fresh_stack, STOPPED)  # healthy and quiet before any other test uses the stack
    failed = {name for name, outcome in run.outcomes.items() if outcome in ("failed", "error")}
    assert run.outcomes, f"no results: {run.stdout[-2000:]} {run.stderr[-2000:]}"
    assert failed, "stopping redis failed no contract at all"
    for name in failed:  # e.g. readiness/dns/sizing of redis, or a Redis dashboard without data
        assert STOPPED in run.messages[name].lower(), (
            f"{name} failed although only {STOPPED} is stopped, and does not name it: {run.messages[name]}")
    redis_tests = {n for n in run.outcomes if STOPPED in n.lower() and "exporter" not in n.lower()}
    assert redis_tests <= failed | {n for n, o in run.outcomes.items() if o == "skipped"}, (
        f"redis contracts that still passed: {sorted(redis_tests - failed)}")
    # the stopped service's own contracts fail within the probe deadline (two probes at
    # most); others that notice it (e.g. a dashboard without Redis data) are not bounded here
    cat = catalog.load()
    own = [n for n in failed if n in run.contracts and cat.contract(run.contracts[n]).service == STOPPED]
    assert own, f"no {STOPPED} contract failed: {sorted(failed)}"
    slowest = max(run.durations[n] for n in own)
    print(f"\nstopped {STOPPED}: {len(failed)} tests failed ({sorted(failed)}), {len(run.outcomes)} run, "
          f"slowest failure {slowest:.1f}s, {run.seconds:.1f}s wall")
    assert slowest <= 2 * PROBE_DEADLINE_S + 5, f"a failing contract took {slowest:.0f}s"
