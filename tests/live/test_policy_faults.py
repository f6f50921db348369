"""Seeded policy faults, proven against the running compose stack without disturbing it.

Each fixtures/faults/policy-* fault is built into a bundle exactly as the fault harness
does it, served by a spare OPA container on the stack's network (so it reaches the real
JWKS) at a free loopback port, and the suite runs against it with --target=external:
every contract the fault targets must fail for the fault's reason. A control run with the
repo's own bundle on the same kind of spare OPA must pass them all.

    make test-policy-faults      (needs the compose stack up)
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from conformance import catalog
from conformance.docker_engine import container_state
from conformance.errors import TargetError
from conformance.policy.bundle import opa_build
from conformance.resources import REPO_ROOT
from conformance.targets import docker_project
from conformance.targets.base import TargetOptions
from conformance.targets.compose import ComposeTarget
from conformance.waiting import WaitTimeout, wait_until
from harness.faults.engine import _opa_bundle, judge
from harness.faults.model import Fault, from_folders
from harness.faults.runner import SuiteRun, run_suite

CATALOG = catalog.load()
POLICY_FAULTS = [f for f in from_folders(CATALOG) if f.kind == "opa-bundle"]
POLICY_CONTRACTS = [c.id for c in CATALOG.contracts if c.area in ("policy", "tenancy")]


@pytest.fixture(scope="module")
def stack() -> ComposeTarget:
    target = ComposeTarget(CATALOG, TargetOptions())
    try:
        target.setup()
        target.endpoint("vault")
    except TargetError as exc:
        pytest.skip(f"the compose stack is not running: {exc}")
    return target


def _docker(*args: str, timeout: float = 60) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}: {proc.stderr.strip()[-300:]}")
    return proc.stdout.strip()


def _opa_container(stack: ComposeTarget) -> str:
    running = docker_project.container_ids(str(stack.project), "opa", running_only=True)
    if not running:
        raise RuntimeError(f"compose project {stack.project}: no running opa container")
    return running[0]


@pytest.fixture()
def spare_opa(stack: ComposeTarget, tmp_path: Path) -> Iterator[Callable[[Path], Path]]:
    """spare_opa(bundle) -> endpoints file of a throwaway OPA serving that bundle."""
    names: list[str] = []
    live = _opa_container(stack)
    state = container_state(live, f"docker inspect of the live OPA {live}")
    image, network = state.image, state.networks[0]

    def start(bundle: Path) -> Path:
        name = f"soma-policy-fault-{len(names)}-{int(time.time())}"
        names.append(name)
        bundle.chmod(0o644)
        _docker("run", "-d", "--rm", "--name", name, "--network", network, "-p", "127.0.0.1::8181",
                "-v", f"{bundle}:/bundle/soma.tar.gz:ro", image, "run", "--server",
                "--addr=0.0.0.0:8181", "--log-level=error", "--bundle", "/bundle/soma.tar.gz")
        port = int(_docker("port", name, "8181/tcp").splitlines()[0].rsplit(":", 1)[1])
        try:
            wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/health?bundles", timeout=2).status_code == 200,
                       timeout=30, interval=0.5, retry_on=(httpx.HTTPError,), what=f"spare OPA {name} healthy")
        except WaitTimeout:
            raise RuntimeError(f"spare OPA {name} never became healthy") from None
        vault = stack.endpoint("vault")
        doc = {"name": f"spare-opa-{name}",
               "services": {"opa": {"host": "127.0.0.1", "port": port},
                            "vault": {"host": vault.host, "port": vault.port}},
               "credentials": {"vault": {"token": stack.credentials().vault_token}}}
        path = tmp_path / f"{name}.endpoints.yaml"
        path.write_text(yaml.safe_dump(doc))
        return path

    yield start
    for name in names:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)


def _suite(endpoints: Path, contracts: list[str], tmp: Path) -> SuiteRun:
    args = ["--target=external", f"--endpoints={endpoints}", *[f"--contract={c}" for c in contracts]]
    return run_suite(args, tmp, timeout=900)


def test_control_repo_bundle_passes_every_policy_contract(spare_opa: Callable[[Path], Path],
                                                          tmp_path: Path) -> None:
    """Without a fault, the same spare-OPA setup passes: failures below are the faults' doing."""
    out = tmp_path / "repo.tar.gz"
    src = REPO_ROOT / "policies/bundle"
    opa_build(src, out)
    run = _suite(spare_opa(out), POLICY_CONTRACTS, tmp_path)
    bad = {n: (o, run.messages[n][:200]) for n, o in run.outcomes.items() if o != "passed"}
    print(f"\ncontrol: {len(run.outcomes)} policy/tenancy tests passed against the repo bundle "
          f"in {run.seconds:.0f}s")
    assert run.outcomes and not bad, f"control run failed: {bad or run.stderr[-500:]}"


@pytest.mark.parametrize("fault", POLICY_FAULTS, ids=[f.name for f in POLICY_FAULTS])
def test_policy_fault_is_detected(fault: Fault, spare_opa: Callable[[Path], Path], tmp_path: Path) -> None:
    with tempfile.TemporaryDirectory(prefix=f"{fault.name}-", dir=tmp_path) as work:
        bundle = _opa_bundle(fault, Path(work))
        run = _suite(spare_opa(bundle), list(fault.breaks), tmp_path)
    verdict = judge(fault, run)
    print(f"\n{fault.name}: {'KILLED' if verdict.killed else 'SURVIVED'} in {run.seconds:.0f}s")
    for line in verdict.details:
        print(f"  {line[:220]}")
    assert verdict.killed, f"{fault.name} survived: " + "; ".join(verdict.details)
