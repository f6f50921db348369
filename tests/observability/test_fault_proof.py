"""Seeded-fault proof of the observability contracts, on a throwaway compose project.

A full copy of the stack runs as project `soma-obsfault` (own network, volumes, free host
ports) with Prometheus at 5 s -- the on-demand variant, which is thereby tested live too.
Each fault from fixtures/faults/ is applied, the real contract is run through pytest in a
subprocess, and it must fail naming the job / dashboard and panel; then the fault is undone.
The shared stack is never touched. Everything is torn down (down -v) at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.targets.compose import default_env_files
from conformance.targets.testcontainers import free_port, port_vars
from conformance.waiting import WaitTimeout, wait_until

REPO = Path(__file__).resolve().parents[2]
PROJECT = "soma-obsfault"
COMPOSE = REPO / "infra/docker/shared-infra.compose.yaml"
FAST = REPO / "infra/docker/prometheus-5s.override.yaml"
FAULTS = REPO / "fixtures/faults"
CONTRACTS = ("conformance.contracts.test_observability", "conformance.contracts.test_sizing")
UP_TIMEOUT_S = 600
RUN_TIMEOUT_S = 180
STANDIN = f"{PROJECT}-grafana-standin"

pytestmark = pytest.mark.timeout(900)


@dataclass
class Stack:
    env_files: list[str]
    prom_port: int
    work: Path

    def compose(self, *args: str, files: tuple[Path, ...] = (FAST,), timeout: float = 120) -> str:
        cmd = ["docker", "compose", "-p", PROJECT]
        for env in self.env_files:
            cmd += ["--env-file", env]
        cmd += ["-f", str(COMPOSE)]
        for extra in files:
            cmd += ["-f", str(extra)]
        proc = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, check=False)
        assert proc.returncode == 0, f"docker compose {' '.join(args)}: {proc.stderr.strip()[-500:]}"
        return proc.stdout

    def api(self, path: str) -> Any:
        url = f"http://127.0.0.1:{self.prom_port}/api/v1/{path}"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.load(resp)["data"]

    def targets(self, job: str) -> list[dict[str, Any]]:
        return [t for t in self.api("targets?state=active")["activeTargets"] if t["labels"]["job"] == job]

    def wait_for(self, what: str, cond: Any, timeout_s: float) -> None:
        try:
            wait_until(cond, timeout=timeout_s, what=what, retry_on=(OSError,))
        except WaitTimeout as exc:
            pytest.fail(str(exc))

    def run_contract(self, keyword: str, env: dict[str, str] | None = None,
                     extra: tuple[str, ...] = ()) -> tuple[int, str]:
        """The real contract test, as a user runs it, against this project."""
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            *CONTRACTS,
            "--target=compose",
            "--project-name",
            PROJECT,
            "-q",
            "-rP",
            "-p",
            "no:cacheprovider",
            "-k",
            keyword,
            "--report-dir",
            str(self.work / "reports"),
            *extra,
        ]
        for env_file in self.env_files:
            cmd += ["--env-file", env_file]
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
            cwd=self.work,
            env={**os.environ, **(env or {})},
        )
        out = proc.stdout + proc.stderr
        print(f"--- contracts -k {keyword!r} (exit {proc.returncode})\n{out.strip()[-1500:]}")
        return proc.returncode, out


def fault(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((FAULTS / name / "fault.yaml").read_text(encoding="utf-8"))
    return doc


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if shutil.which("docker") is None:
        pytest.skip("docker is not installed")
    work = tmp_path_factory.mktemp("obsfault")
    ports = {var: free_port() for var in port_vars().values()}
    override = work / "obsfault.env"
    override.write_text(
        "".join(f"{k}={v}\n" for k, v in {"COMPOSE_PROJECT_NAME": PROJECT, **ports}.items()), encoding="utf-8"
    )
    subprocess.run(
        [
            "bash",
            str(REPO / "infra/scripts/prometheus-variant.sh"),
            "5s",
            "4s",
            str(REPO / "build/prometheus/prometheus.yml"),
        ],
        check=True,
        timeout=30,
    )
    st = Stack([*default_env_files(), str(override)], ports["PROMETHEUS_HOST_PORT"], work)
    try:
        st.compose("up", "-d", "--wait", timeout=UP_TIMEOUT_S)
        st.wait_for(
            "every target up at 5 s",
            lambda: all(t["health"] == "up" for t in st.api("targets?state=active")["activeTargets"]),
            60,
        )
        yield st
    finally:
        subprocess.run(["docker", "rm", "-f", STANDIN], capture_output=True, timeout=60, check=False)
        st.compose("down", "-v", "--remove-orphans", timeout=300)


def test_healthy_copy_passes_every_observability_contract(stack: Stack) -> None:
    # the copy runs at the on-demand 5 s and says so: every observability contract holds
    code, out = stack.run_contract("observability or scrape_interval", extra=("--scrape-interval=5s",))
    assert code == 0, out
    assert "targets up/expected 7/7" in out and "panels with data/total" in out
    assert "targets at 5s" in out, out


def test_5s_on_demand_is_live_and_the_interval_contract_sees_it(stack: Stack) -> None:
    live = yaml.safe_load(stack.api("status/config")["yaml"])
    assert live["global"]["scrape_interval"] == "5s"
    assert {t["scrapeInterval"] for t in stack.api("targets?state=active")["activeTargets"]} == {"5s"}
    # not asked for 5 s (the default is the contract's 15 s): both interval contracts fail
    code, out = stack.run_contract("scraped_at_contract_interval or prometheus_scrape_interval")
    assert code != 0 and "contract scrape interval is 15s, but job" in out and "every 5s" in out, out
    assert "global scrape_interval is 5s, asked for 15s" in out, out


def test_exporter_stopped_fails_targets_naming_the_job(stack: Stack) -> None:
    """Kept stopped, the exporter also makes SomaTargetDown fire after its `for: 1m`: that
    half is the mutation harness's fault alert-firing (the same stop, `make mutation`), so
    it is not waited for twice in CI."""
    spec = fault("exporter-stopped")
    job = spec["settle"]["prometheus_target"]["job"]
    stack.compose("stop", *spec["services"])
    try:
        stack.wait_for(
            f"job {job} down in Prometheus",
            lambda: any(t["health"] == "down" for t in stack.targets(job)),
            spec["settle"]["timeout_s"],
        )
        code, out = stack.run_contract("target_up")
        assert code != 0, out
        # names the job, its target and Prometheus' last error
        assert (
            spec["reason"] in out
            and "postgres-exporter.soma-infra.svc.cluster.local:9187/metrics is down: " in out
        ), out
        assert "targets up 6/7" in out, out
    finally:
        stack.compose("start", *spec["services"])
        stack.wait_for(
            f"job {job} up again", lambda: all(t["health"] == "up" for t in stack.targets(job)), 40
        )


def test_scrape_job_removed_fails_targets_naming_the_job(stack: Stack) -> None:
    spec = fault("prometheus-job-removed")
    conf = stack.work / "prometheus-fault"
    conf.mkdir(exist_ok=True)
    text = (REPO / "build/prometheus/prometheus.yml").read_text(encoding="utf-8")
    for old, new in spec["edits"]["prometheus.yml"]:
        assert old in text, f"fault edit no longer matches prometheus.yml: {old!r}"
        text = text.replace(old, new)
    (conf / "prometheus.yml").write_text(text, encoding="utf-8")
    mount = stack.work / "prometheus-fault.override.yaml"
    mount.write_text(
        yaml.safe_dump({"services": {"prometheus": {"volumes": [f"{conf}:/etc/prometheus-ondemand:ro"]}}}),
        encoding="utf-8",
    )
    # a second mount on the same path: the later file wins (compose merges by target)
    stack.compose("up", "-d", "--wait", "--no-deps", "prometheus", files=(FAST, mount))
    try:
        stack.wait_for("prometheus ready", lambda: stack.api("status/config") is not None, 60)
        code, out = stack.run_contract("target_up")
        assert code != 0 and spec["reason"] in out, out
    finally:
        stack.compose("up", "-d", "--wait", "--no-deps", "prometheus")
        stack.wait_for(
            "job postgres back", lambda: any(t["health"] == "up" for t in stack.targets("postgres")), 60
        )


def test_misspelled_metric_fails_dashboards_naming_dashboard_and_panel(stack: Stack) -> None:
    from conformance.catalog import load
    from harness.faults.engine import suite_env
    from harness.faults.model import parse_fault

    spec = fault("dashboard-misspelled-metric")
    env = suite_env(parse_fault(spec, FAULTS / "dashboard-misspelled-metric/fault.yaml", load()), stack.work)
    code, out = stack.run_contract("dashboards_show_data", env=env)
    assert code != 0 and spec["reason"] in out and "returned no series" in out, out
    code, out = stack.run_contract("dashboards_show_data")  # and the real dashboards pass
    assert code == 0, out


def test_optional_job_appears_when_its_service_is_deployed(stack: Stack) -> None:
    """DNS-SD for optional services: a stand-in HTTP server answering to Grafana's contract
    name (the offline stack cannot run Grafana) becomes an `up` target of job grafana."""
    metrics = stack.work / "standin"
    metrics.mkdir(exist_ok=True)
    (metrics / "metrics").write_text('grafana_build_info{version="stand-in"} 1\n', encoding="utf-8")
    metrics.chmod(0o755)
    (metrics / "metrics").chmod(0o644)
    assert stack.targets("grafana") == []  # not deployed: no target, nothing down
    subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--rm",
            "--name",
            STANDIN,
            "--network",
            PROJECT,
            "--network-alias",
            "grafana.soma-infra.svc.cluster.local",
            "--read-only",
            "-v",
            f"{metrics}:/srv:ro",
            "soma-infra/probe:local",
            "-m",
            "http.server",
            "3000",
            "--directory",
            "/srv",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    try:
        stack.wait_for(
            "job grafana discovered and up",
            lambda: any(
                t["health"] == "up" and t["labels"]["instance"] == "grafana.soma-infra.svc.cluster.local:3000"
                for t in stack.targets("grafana")
            ),
            75,
        )
    finally:
        subprocess.run(["docker", "rm", "-f", STANDIN], capture_output=True, timeout=60, check=False)
