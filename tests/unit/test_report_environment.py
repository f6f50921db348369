"""Environment identity: runs are keyed by the environment's name (endpoints `name:`,
compose project, kube context), shown in every format, and never merged across
environments by history, flaky detection or metrics."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from conformance import catalog
from conformance.report import html, junit, markdown, metrics
from conformance.report.history import compare, load_history
from conformance.report.json_writer import validation_errors
from conformance.report.model import Run
from conformance.targets.base import TargetOptions
from conformance.targets.compose import ComposeTarget
from conformance.targets.external import ExternalTarget
from conformance.targets.kind import KindTarget
from conformance.targets.testcontainers import TestcontainersTarget
from tests.unit.report_support import make_run, synthetic_cmd, synthetic_env, write_history

P, F = "passed", "failed"
RUN_TIMEOUT_S = 120


def _alternating() -> list[Run]:
    """staging always fails readiness.redis, prod always passes it; runs interleave daily."""
    return [make_run({"readiness.redis": F if day % 2 == 0 else P}, day=day, run_id=f"run-{day}",
                     environment="staging" if day % 2 == 0 else "prod") for day in range(6)]


def test_history_never_merges_two_environments() -> None:
    """Keyed on the target type alone, staging and prod interleaved made a contract 'flaky'."""
    runs = _alternating()
    prod = compare(runs[-1], runs[:-1], window=5)
    assert prod.environment == "prod" and len(prod.runs) == 3
    assert {c.id: c.category for c in prod.changes} == {"readiness.redis": "passing"}
    staging = compare(runs[-2], runs[:-2], window=5)
    assert {c.id: c.category for c in staging.changes} == {"readiness.redis": "still_failing"}
    assert all(ch.window == ["F", "F", "F"] for ch in staging.changes)


def test_history_dir_with_two_environments(tmp_path: Path) -> None:
    runs = _alternating()
    write_history(tmp_path, runs)
    history = load_history(tmp_path, window=5)
    assert history is not None and history.environment == "prod"
    assert history.of("flaky") == [] and [r.run_id for r in history.runs] == ["run-1", "run-3", "run-5"]


def test_documents_without_environment_form_their_own_group() -> None:
    """Older documents (no environment) are not compared with named environments."""
    old = make_run({"readiness.redis": F}, day=0, environment=None)
    new = make_run({"readiness.redis": P}, day=1, environment="soma-infra")
    assert validation_errors(json.loads(old.to_json())) == []
    assert "environment" not in {k for k, v in json.loads(old.to_json()).items() if v is not None}
    assert [c.category for c in compare(new, [old]).changes] == ["passing"]
    assert Run.from_dict(json.loads(new.to_json())).environment == "soma-infra"


def test_every_format_names_the_environment() -> None:
    run = make_run({"readiness.redis": P, "readiness.postgres": F}, environment="staging-eu")
    doc = json.loads(run.to_json())
    assert doc["environment"] == "staging-eu" and validation_errors(doc) == []
    page = html.render(run)
    assert "staging-eu" in page.split("</h1>")[1].split("</div>")[0]  # in the header line
    assert "<th>environment</th><td>staging-eu</td>" in page
    assert markdown.render(run).startswith("## Soma conformance: staging-eu (compose)")
    suites = ET.fromstring(junit.render(run).split("\n", 1)[1]).findall("testsuite")
    assert suites and all(
        {p.get("name"): p.get("value") for p in s.iter("property")}.get("environment") == "staging-eu"
        for s in suites)
    samples = [line for line in metrics.render(run).splitlines() if not line.startswith("#")]
    assert samples and all('environment="staging-eu"' in line for line in samples)


def test_targets_name_their_environment(tmp_path: Path) -> None:
    cat = catalog.load()
    named = tmp_path / "staging.yaml"
    named.write_text("name: staging-eu\nservices: {redis: {host: 10.0.0.1, port: 6379}}\n", encoding="utf-8")
    unnamed = tmp_path / "prod.yaml"
    unnamed.write_text("services: {redis: {host: 10.0.0.2, port: 6379}}\n", encoding="utf-8")
    assert ExternalTarget(cat, TargetOptions(endpoints_file=str(named))).environment == "staging-eu"
    assert ExternalTarget(cat, TargetOptions(endpoints_file=str(unnamed))).environment == "external:prod"
    assert ComposeTarget(cat, TargetOptions(project_name="team-a")).environment == "team-a"
    assert KindTarget(cat, TargetOptions(kube_context="kind-soma")).environment == "kind-soma"
    assert KindTarget(cat, TargetOptions(kube_context="prod-eu", namespace="infra")).environment == "prod-eu/infra"
    one_off = TestcontainersTarget(cat, TargetOptions())
    one_off.project = "soma-tc-0123abcd"  # what setup() would name it
    assert one_off.environment == "testcontainers"


def test_a_real_run_records_the_environment(tmp_path: Path) -> None:
    """The plugin writes the target's environment into the JSON and the metrics."""
    endpoints = tmp_path / "env.yaml"
    endpoints.write_text("name: staging-eu\nservices: {redis: {host: 127.0.0.1, port: 1}}\n", encoding="utf-8")
    out = tmp_path / "out"
    cmd = synthetic_cmd(tmp_path, out, "--target=external", f"--endpoints={endpoints}")
    proc = subprocess.run(cmd, env=synthetic_env(0), capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          check=False)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = json.loads((out / "conformance.json").read_text(encoding="utf-8"))
    assert doc["environment"] == "staging-eu" and validation_errors(doc) == []
    assert 'environment="staging-eu"' in (out / "conformance.prom").read_text(encoding="utf-8")
