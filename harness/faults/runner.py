"""Run the contract suite in a subprocess and read its JUnit XML: the fault harness and
the tests of the suite's behaviour observe it from outside, exactly as a user or CI
would. Each result carries the catalog contract id (JUnit property `contract`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SuiteRun:
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    outcomes: dict[str, str] = field(default_factory=dict)   # test name -> passed/failed/skipped/error
    messages: dict[str, str] = field(default_factory=dict)   # test name -> failure message
    contracts: dict[str, str] = field(default_factory=dict)  # test name -> contract id
    durations: dict[str, float] = field(default_factory=dict)  # test name -> seconds


def run_suite(args: list[str], tmp: Path, timeout: float = 600,
              env: dict[str, str] | None = None) -> SuiteRun:
    junit = tmp / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance", "-p", "no:cacheprovider",
           "-q", f"--junitxml={junit}", "-o", "junit_family=xunit1",
           f"--report-dir={tmp / 'reports'}", *args]
    t0 = time.monotonic()
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp,
                          check=False, env=full_env)
    run = SuiteRun(proc.returncode, time.monotonic() - t0, proc.stdout, proc.stderr)
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = f"{case.get('classname')}::{case.get('name')}"
            outcome, message = "passed", ""
            for tag in ("failure", "error", "skipped"):
                node = case.find(tag)
                if node is not None:
                    outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                    # the attribute is cut short on a long failure: the element text is whole,
                    # so a fault's reason is found even behind collateral failures listed first
                    message = "\n".join(t for t in (node.get("message", ""), node.text or "") if t)
            run.outcomes[name] = outcome
            run.messages[name] = message
            run.durations[name] = float(case.get("time") or 0.0)
            for prop in case.iter("property"):
                if prop.get("name") == "contract":
                    run.contracts[name] = str(prop.get("value"))
    return run
