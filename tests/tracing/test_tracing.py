"""The tracing contract proven live (issue 15), on a compose project of its own with only
OPA and the optional Jaeger (profile `tracing`): with SOMA_OTLP_ENDPOINT pointing at Jaeger
the contract passes (a decision the suite makes shows up as an OPA span in Jaeger's query
API); with the seeded fault otlp-wrong-endpoint it fails for the fault's reason; with the
setting empty it skips and says tracing is off. Never touches the lead's stack."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conformance.targets.compose import default_env_files
from conformance.targets.testcontainers import free_port, port_vars

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "infra/docker/shared-infra.compose.yaml"
RIGHT = "jaeger.soma-infra.svc.cluster.local:4317"
CONTRACT = "observability.tracing.decision_span"
FAULT = yaml.safe_load((REPO / "fixtures/faults/otlp-wrong-endpoint/fault.yaml").read_text(encoding="utf-8"))


def image_present(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True, timeout=30,
                          check=False).returncode == 0


class Project:
    def __init__(self, work: Path) -> None:
        self.name = f"soma-tc-trace-{secrets.token_hex(4)}"
        self.work = work
        self.ports = {var: free_port() for var in (*port_vars().values(), "JAEGER_HOST_PORT")}

    def env_file(self, endpoint: str) -> Path:
        path = self.work / f"tracing-{endpoint.replace(':', '_') or 'off'}.env"
        lines = {"COMPOSE_PROJECT_NAME": self.name, "COMPOSE_PROFILES": "tracing",
                 "SOMA_OTLP_ENDPOINT": endpoint, **self.ports}
        path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()), encoding="utf-8")
        return path

    def env_files(self, endpoint: str) -> list[str]:
        return [*default_env_files(), str(self.env_file(endpoint))]

    def compose(self, endpoint: str, *args: str, timeout: float = 300) -> None:
        cmd = ["docker", "compose", "--project-name", self.name]
        for name in self.env_files(endpoint):
            cmd += ["--env-file", name]
        proc = subprocess.run([*cmd, "-f", str(COMPOSE_FILE), *args], capture_output=True, text=True,
                              timeout=timeout, check=False)
        assert proc.returncode == 0, f"compose {' '.join(args)}: {proc.stderr.strip()[-600:]}"

    def contract(self, endpoint: str) -> tuple[int, str]:
        """The real contract, as a user runs it, against this project with that setting."""
        cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance.contracts.test_observability",
               "--target=compose", "--project-name", self.name, f"--contract={CONTRACT}",
               "-q", "-rAs", "-p", "no:cacheprovider", "--report-dir", str(self.work / "reports")]
        for name in self.env_files(endpoint):
            cmd += ["--env-file", name]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=REPO, check=False)
        return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    for tag in ("soma-infra/jaeger:local", "soma-infra/opa:local"):
        if not image_present(tag):
            pytest.fail(f"{tag} is missing: infra/scripts/build-images.sh jaeger opa (make test-observability does)")
    p = Project(tmp_path_factory.mktemp("tracing"))
    try:
        p.compose(RIGHT, "up", "-d", "--wait", "opa", "jaeger")
        yield p
    finally:
        subprocess.run(["docker", "compose", "--project-name", p.name, "-f", str(COMPOSE_FILE), "down", "-v",
                        "--remove-orphans"], capture_output=True, timeout=300, check=False)


def test_decision_span_reaches_jaeger(project: Project) -> None:
    code, out = project.contract(RIGHT)
    assert code == 0 and "1 passed" in out, out
    assert "observability: decision trace" in out and "opa: " in out, out
    print("\n" + next(line for line in out.splitlines() if "decision trace" in line))


def test_wrong_otlp_endpoint_fails_the_contract(project: Project) -> None:
    wrong = str(FAULT["env"]["SOMA_OTLP_ENDPOINT"])
    project.compose(wrong, "up", "-d", "--wait", "--no-deps", "opa")
    try:
        code, out = project.contract(wrong)
        assert code == 1 and "1 failed" in out, out
        assert str(FAULT["reason"]) in out, out
    finally:
        project.compose(RIGHT, "up", "-d", "--wait", "--no-deps", "opa")


def test_tracing_off_skips_saying_why(project: Project) -> None:
    project.compose("", "up", "-d", "--wait", "--no-deps", "opa")
    try:
        code, out = project.contract("")
        assert code == 0 and "1 skipped" in out, out
        assert "tracing is off: SOMA_OTLP_ENDPOINT is empty" in out, out
    finally:
        project.compose(RIGHT, "up", "-d", "--wait", "--no-deps", "opa")
