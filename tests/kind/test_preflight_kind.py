"""Preflight on the live Kind cluster: a target that is not there is one line naming the
cause and the fix, exit 4, within 10 s, and no contract runs (so none can pass on
nothing). The stopped node comes last: it is started again after, without waiting
(make kind-up starts a stopped node too; make test-kind deletes the cluster anyway).

    make test-kind          (brings the cluster up; see mk/kind.mk)
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kind.test_live_faults import CONTEXT, NAMESPACE, cluster_up, kubectl

PREFLIGHT_BOUND_S = 10.0
NODE = CONTEXT.removeprefix("kind-") + "-control-plane"


def suite(tmp_path: Path, *args: str) -> tuple[int, list[str], float]:
    """(exit status, the output's non-empty lines, seconds) of a suite run."""
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "conformance", "-q", "-p", "no:cacheprovider",
                           "--target=kind", f"--report-dir={tmp_path}", *args],
                          capture_output=True, text=True, timeout=120, check=False)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    return proc.returncode, lines, time.monotonic() - t0


def assert_one_line_usage_error(tmp_path: Path, *args: str, says: str) -> None:
    code, lines, took = suite(tmp_path, *args)
    assert code == 4, (code, lines[-10:])
    assert len(lines) == 1 and lines[0].startswith("ERROR: ") and says in lines[0], lines
    assert took < PREFLIGHT_BOUND_S, f"preflight took {took:.1f}s: {lines}"
    print(f"{' '.join(args)} -> exit 4 in {took:.1f}s: {lines[0]}")


@pytest.fixture(autouse=True)
def _cluster() -> None:
    why_not = cluster_up()
    if why_not:
        pytest.fail(f"the Kind cluster is not up: {why_not}")


def test_unknown_context(tmp_path: Path) -> None:
    assert_one_line_usage_error(tmp_path, "--kube-context=nope", says="kube context 'nope' does not exist")


def test_unknown_namespace(tmp_path: Path) -> None:
    assert_one_line_usage_error(tmp_path, f"--kube-context={CONTEXT}", "--namespace=nope",
                                says="namespace 'nope' does not exist")


@pytest.fixture
def empty_namespace() -> Iterator[str]:
    name = f"soma-empty-{int(time.time())}"
    kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def test_existing_but_empty_namespace(tmp_path: Path, empty_namespace: str) -> None:
    """The seeded fault of a namespace typo that happens to exist: no release, no contract."""
    assert_one_line_usage_error(tmp_path, f"--kube-context={CONTEXT}", f"--namespace={empty_namespace}",
                                says="holds no deployed Helm release")


def test_stopped_node_last(tmp_path: Path) -> None:
    """A Kind cluster whose node is stopped: its API server does not answer."""
    kubectl("get", "namespace", NAMESPACE)  # answers before the stop
    subprocess.run(["docker", "stop", NODE], capture_output=True, timeout=120, check=True)
    try:
        assert_one_line_usage_error(tmp_path, f"--kube-context={CONTEXT}",
                                    says=f"the API server of kube context '{CONTEXT}' does not answer")
    finally:
        subprocess.run(["docker", "start", NODE], capture_output=True, timeout=120, check=False)
