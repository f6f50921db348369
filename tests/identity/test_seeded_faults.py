"""Seeded identity faults against the live stack: each must fail its matching contract,
for the right reason, and nothing else. Needs the compose stack (`make up`).

The faults are the ones under fixtures/faults/ that a harness applies: the HS256 validator
through SOMA_IDENTITY_VALIDATOR, the leaking JWKS through the same proxy the compose
override runs, here in-process in front of the real Vault (suite --target=external).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from conformance import catalog
from conformance.targets.base import TargetOptions
from conformance.targets.compose import ComposeTarget

ROOT = Path(__file__).resolve().parents[2]
FAULTS = ROOT / "fixtures" / "faults"


def run_identity(args: list[str], tmp: Path, env: dict[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """Run the identity contracts in a subprocess; test name -> (outcome, message)."""
    junit = tmp / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance", "-p", "no:cacheprovider", "-q",
           "-m", "identity", f"--junitxml={junit}", "--report-dir", str(tmp / "reports"), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp, check=False,
                          env={**os.environ, **(env or {})})
    assert junit.exists(), f"no junit: {proc.stdout[-1500:]} {proc.stderr[-1500:]}"
    out: dict[str, tuple[str, str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome, message = tag, node.get("message", "")
        out[str(case.get("name"))] = (outcome, message)
    return out


def assert_only(results: dict[str, tuple[str, str]], failing: dict[str, str]) -> None:
    """Exactly the tests in `failing` fail, each with its reason in the message."""
    assert results, "no identity contract ran"
    failed = {n for n, (o, _) in results.items() if o in ("failure", "error")}
    assert failed == set(failing), f"failed {sorted(failed)}, expected {sorted(failing)}: {results}"
    for name, reason in failing.items():
        assert reason in results[name][1], f"{name} failed for another reason: {results[name][1]}"


@pytest.fixture(scope="module")
def vault() -> tuple[str, int, str]:
    target = ComposeTarget(catalog.load(), TargetOptions())
    target.setup()
    ep = target.endpoint("vault")
    return ep.host, ep.port, target.credentials().vault_token


def _load_proxy() -> ModuleType:
    spec = importlib.util.spec_from_file_location("jwks_fault_proxy", FAULTS / "jwks-private-member/proxy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def leaking_endpoints(vault: tuple[str, int, str], tmp_path: Path) -> Iterator[Path]:
    host, port, token = vault
    server = _load_proxy().serve("127.0.0.1:0", f"http://{host}:{port}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = tmp_path / "endpoints.yaml"
    path.write_text(yaml.safe_dump({
        "name": "jwks-private-member",
        "services": {"vault": {"host": "127.0.0.1", "port": server.server_address[1]}},
        "credentials": {"vault": {"token": token}}}))
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()


def test_fault_definitions_name_identity_contracts() -> None:
    ids = {c.id for c in catalog.load().contracts}
    for name in ("jwks-private-member", "identity-validator-accepts-hs256"):
        doc = yaml.load((FAULTS / name / "fault.yaml").read_text(), Loader=_OverrideLoader)
        assert doc["name"] == name and set(doc["breaks"]) <= ids, doc


class _OverrideLoader(yaml.SafeLoader):
    pass


_OverrideLoader.add_constructor("!override", lambda loader, node: loader.construct_sequence(node))  # type: ignore[arg-type]


def test_jwks_with_private_member_fails_only_that_contract(leaking_endpoints: Path, tmp_path: Path) -> None:
    results = run_identity(["--target=external", f"--endpoints={leaking_endpoints}",
                            "-k", "not rotation"], tmp_path)
    assert_only(results, {"test_jwks_has_no_private_members": "publishes private key members"})
    print(f"\nfault jwks-private-member: {len(results)} identity tests, 1 failed as expected")


def test_validator_accepting_hs256_fails_matching_contracts(tmp_path: Path) -> None:
    doc = yaml.safe_load((FAULTS / "identity-validator-accepts-hs256/fault.yaml").read_text())
    results = run_identity(["--target=compose", "-k", "not rotation"], tmp_path, env=doc["env"])
    assert_only(results, {
        "test_validator_allows_only_asymmetric_algorithms": "HS256",
        "test_attack_is_rejected[hs256-public-key-as-secret]": "accepted",
    })
    print(f"\nfault identity-validator-accepts-hs256: {len(results)} identity tests, 2 failed as expected")
