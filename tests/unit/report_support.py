"""Helpers of the report tests: synthetic run documents and a synthetic suite that the
real plugin reports on in a subprocess (no stack needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conformance.report.model import CaseResult, ContractResult, Run
from conformance.waiting import WaitTimeout, wait_until

# catalog ids, so the real plugin maps them to areas and services
CONTRACTS = {
    "readiness.redis": ("readiness", "redis"),
    "readiness.postgres": ("readiness", "postgres"),
    "dns.redis": ("dns", "redis"),
    "sizing.redis.eviction": ("sizing", "redis"),
}


def make_run(statuses: dict[str, str], day: int = 0, run_id: str | None = None,
             target: str = "compose", complete: bool = True, *, environment: str | None = "soma-infra") -> Run:
    """A run started `day` days after 2026-11-01 03:00Z with the given contract statuses."""
    started = datetime(2026, 11, 1, 3, 0, tzinfo=UTC) + timedelta(days=day)
    stamp = started.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    contracts = []
    for cid, status in statuses.items():
        area, service = CONTRACTS.get(cid, (cid.split(".")[0], "redis"))
        msg = None if status == "passed" else f"{service} at 127.0.0.1:6379: {status} on day {day}"
        contracts.append(ContractResult(
            id=cid, area=area, service=service, title=f"title of {cid}", status=status, duration_s=0.5,
            message=msg, details=msg, evidence={"endpoints": [f"{service} at 127.0.0.1:6379"]},
            tests=[CaseResult(f"contracts/test_x.py::test_{cid}", status, 0.5, msg)]))
    return Run(run_id=run_id or f"run-{day:03d}", target=target, environment=environment, started_at=stamp,
               status="complete" if complete else "incomplete",
               end_reason="finished" if complete else "running",
               finished_at=stamp if complete else None, duration_s=12.5 if complete else None,
               suite={"name": "soma-conformance", "version": "0.1.0", "catalog_version": 1},
               infra={"git_revision": "0123456789abcdef", "git_dirty": False},
               host={"hostname": "test", "python": "3.11", "pytest": "9", "workers": 0},
               command=["--target=compose"], contracts=contracts)


def write_history(root: Path, runs: list[Run]) -> None:
    """Lay runs out as nightly does: root/<folder>/conformance.json."""
    for run in runs:
        folder = root / run.started_at[:16].replace(":", "-")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "conformance.json").write_text(run.to_json(), encoding="utf-8")


SYNTHETIC_SUITE = '''
import os, time
import pytest

SLOW = float(os.environ.get("SYNTH_SLOW_S", "0"))

@pytest.mark.contract("readiness.redis")
def test_fast_pass(soma_evidence):
    soma_evidence(endpoint="redis at 127.0.0.1:6379", answer="PONG")

@pytest.mark.contract("readiness.postgres")
def test_fast_fail(soma_evidence):
    soma_evidence(endpoint="postgres at 127.0.0.1:5432")
    pytest.fail("postgres at 127.0.0.1:5432: connection refused", pytrace=False)

@pytest.mark.contract("readiness.kafka")
def test_fast_skip():
    pytest.skip("kafka is not deployed on target synthetic")

def test_plain_helper():
    assert 1 + 1 == 2

@pytest.mark.contract("sizing.redis.eviction")
def test_slow_1(record_property):
    record_property("probed", "CONFIG GET maxmemory-policy")
    time.sleep(SLOW)

@pytest.mark.contract("sizing.redis.persistence")
def test_slow_2():
    time.sleep(SLOW)

@pytest.mark.contract("sizing.kafka.retention")
def test_slow_3():
    time.sleep(SLOW)
'''


def synthetic_cmd(tmp: Path, out: Path, *extra: str) -> list[str]:
    suite = tmp / "test_synthetic_suite.py"
    suite.write_text(SYNTHETIC_SUITE, encoding="utf-8")
    return [sys.executable, "-m", "pytest", str(suite), "--rootdir", str(tmp), "-p", "no:cacheprovider",
            "-p", "no:randomly", "--report-dir", str(out), "-q", *extra]


def synthetic_env(slow_s: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOMA_REPORT")}
    env["SYNTH_SLOW_S"] = str(slow_s)
    return env


def wait_for_results(path: Path, count: int, proc: subprocess.Popen[Any],
                     timeout: float = 90) -> dict[str, Any]:
    """Poll the incrementally written JSON until `count` contracts have a result."""

    def enough() -> dict[str, Any] | None:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended early (exit {proc.returncode})")
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return doc if len(doc.get("contracts", [])) >= count else None

    try:
        doc = wait_until(enough, timeout=timeout, interval=0.2, retry_on=(OSError, ValueError),
                         what=f"{count} contract results in {path}")
    except WaitTimeout:
        raise AssertionError(f"{path}: fewer than {count} results after {timeout}s") from None
    assert doc is not None  # wait_until returns only a truthy answer
    return doc
