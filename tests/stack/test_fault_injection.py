"""Fault injection during a run: Kafka is paused (it accepts connections and never
answers, the nastiest failure) once the run is under way. Only contracts whose failure
names Kafka may fail, the run completes in bounded time, and the report is complete."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

from conformance.targets.testcontainers import TestcontainersTarget
from conformance.waiting import WaitTimeout, wait_until
from tests.stack.conftest import restore, scrape_every_5s

PAUSED = "kafka"


def results(report: Path) -> dict[str, dict[str, object]]:
    try:
        doc = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(c["id"]): c for c in doc.get("contracts", [])}


def test_service_paused_mid_run(fresh_stack: TestcontainersTarget, tmp_path: Path) -> None:
    compose = fresh_stack.compose_cmd()
    reports = tmp_path / "reports"
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance", "-p", "no:cacheprovider", "-q",
           "--target=compose", f"--project-name={fresh_stack.project}", "--report-dir", str(reports),
           "-m", "not identity and not policy and not tenancy", *scrape_every_5s(fresh_stack)]
    cmd += [f"--env-file={f}" for f in fresh_stack.env_files]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    paused = False
    try:
        # mid-run: as soon as the DNS area has results, Kafka stops answering
        def dns_done_or_run_ended() -> str | None:
            if proc.poll() is not None:
                return "ended"
            done = results(reports / "conformance.json")
            return "dns done" if done.get("dns.kafka", {}).get("status") == "passed" else None

        seen = None
        with contextlib.suppress(WaitTimeout):  # not paused: the assertions below say so
            seen = wait_until(dns_done_or_run_ended, timeout=120, interval=0.2,
                              what="dns.kafka passed in the running suite's report")
        if seen == "dns done":
            subprocess.run([*compose, "pause", PAUSED], check=True, capture_output=True, timeout=60)
            paused = True
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        if paused:
            restore(fresh_stack, PAUSED)
    seconds = time.monotonic() - t0
    assert paused, f"the run ended before {PAUSED} could be paused: {out[-1500:]}"
    doc = json.loads((reports / "conformance.json").read_text(encoding="utf-8"))
    assert doc["status"] == "complete", doc["status"]
    got = {str(c["id"]): c for c in doc["contracts"]}
    failed = {cid: str(c.get("message") or "") for cid, c in got.items() if c["status"] in ("failed", "error")}
    assert "readiness.kafka" in failed, f"readiness.kafka did not fail with Kafka paused: {got.get('readiness.kafka')}"
    for cid, message in failed.items():
        assert PAUSED in message.lower(), f"{cid} failed without naming {PAUSED}: {message}"
    for name in ("report.html", "summary.md", "junit.xml"):
        assert (reports / name).exists(), f"{name} not written"
    print(f"\n{PAUSED} paused mid-run: {len(failed)} contracts failed ({sorted(failed)}), "
          f"{len(got)} reported, {seconds:.1f}s wall")
    assert seconds < 240, f"run took {seconds:.0f}s with {PAUSED} paused"
