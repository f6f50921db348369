"""Chart faults applied to the live Kind cluster: each must fail its contract there.

A chart-patch fault (fixtures/faults/<name>/fault.yaml) with a `live:` key is also a live
fault: its `add:`, `delete:` or `patch:` of `target` is done with kubectl on the running release,
the suite runs against the cluster with only the contracts the fault breaks, every one of
them must fail for the fault's reason (`live.reason` when the live message differs from
the posture one), and the object is put back exactly as it was (saved before, replaced
or re-created after; an added one deleted), then checked by a passing control run.

    make test-kind          (brings the cluster up; see mk/kind.mk)
    make test-kind-prod     (the prod overlay's faults on the 3-node cluster)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance import catalog
from conformance.waiting import wait_until
from harness.faults.engine import judge
from harness.faults.model import Fault, from_folders
from harness.faults.runner import run_suite

# the cluster of the overlay under test: dev (cluster soma) unless SOMA_KIND_OVERLAY=prod
# (the 3-node soma-prod of make kind-up OVERLAY=prod); each runs the faults of its overlay
OVERLAY = os.environ.get("SOMA_KIND_OVERLAY", "dev")
CONTEXT = "kind-soma" if OVERLAY == "dev" else f"kind-soma-{OVERLAY}"
NAMESPACE = "soma-infra"
KUBECTL_TIMEOUT_S = 120
ROLLOUT_TIMEOUT_S = 240
SUITE_TIMEOUT_S = 600
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
# fields the API server owns: dropped before the saved object is created/replaced again
SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation",
                 "selfLink")

LIVE_FAULTS = [f for f in from_folders(catalog.load())
               if f.kind == "chart-patch" and f.raw.get("live") and f.raw.get("overlay", "dev") == OVERLAY]


def kubectl(*args: str, stdin: str | None = None, timeout: float = KUBECTL_TIMEOUT_S) -> str:
    proc = subprocess.run(["kubectl", "--context", CONTEXT, "--namespace", NAMESPACE, *args],
                          input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {proc.stderr.strip()[-400:]}")
    return proc.stdout


def cluster_up() -> str | None:
    """None when the Kind cluster with the release answers, else why not."""
    if shutil.which("kubectl") is None:
        return "kubectl is not on PATH (make kind-up puts it in $SOMA_CACHE/bin)"
    proc = subprocess.run(["kubectl", "--context", CONTEXT, "get", "namespace", NAMESPACE],
                          capture_output=True, text=True, timeout=30, check=False)
    return None if proc.returncode == 0 else f"no Kind cluster with {NAMESPACE}: {proc.stderr.strip()[-200:]}"


def restorable(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as it can be created or replaced again: no status, no server-owned fields."""
    out = {k: v for k, v in obj.items() if k != "status"}
    out["metadata"] = {k: v for k, v in obj["metadata"].items() if k not in SERVER_FIELDS}
    out["metadata"].get("annotations", {}).pop("deployment.kubernetes.io/revision", None)
    return out


def added_manifest(fault: Fault) -> dict[str, Any] | None:
    """The object an `add:` fault puts into the release, else None."""
    add = fault.raw.get("add")
    if not add:
        return None
    assert fault.source is not None, f"{fault.name}: an add fault comes from a fault folder"
    doc: dict[str, Any] = yaml.safe_load((fault.source.parent / str(add)).read_text(encoding="utf-8"))
    return doc


def object_ref(fault: Fault) -> tuple[str, str]:
    added = added_manifest(fault)
    if added is not None:
        return str(added["kind"]), str(added["metadata"]["name"])
    target = fault.raw["target"]
    return str(target["kind"]), str(target["name"])


def live_options(fault: Fault) -> dict[str, Any]:
    live = fault.raw.get("live")
    return live if isinstance(live, dict) else {}


def rollout(kind: str, name: str) -> None:
    if kind in WORKLOADS:
        kubectl("rollout", "status", f"{kind.lower()}/{name}", f"--timeout={ROLLOUT_TIMEOUT_S}s",
                timeout=ROLLOUT_TIMEOUT_S + 30)


def live_fault(fault: Fault) -> Fault:
    """The fault as the live run judges it: the live reason where the live message differs."""
    reason = live_options(fault).get("reason")
    return replace(fault, reason=str(reason)) if reason else fault


@pytest.fixture
def applied(request: pytest.FixtureRequest) -> Iterator[Fault]:
    """Apply the fault's add/delete/patch to the live release; afterwards undo it exactly.
    `live: {rollout: false}`: the fault makes a workload whose pods admission refuses, so
    its rollout can never complete and is not awaited (the old pods keep serving)."""
    fault: Fault = request.param
    kind, name = object_ref(fault)
    added = added_manifest(fault)
    wait_rollout = live_options(fault).get("rollout", True)
    saved = None if added else restorable(json.loads(kubectl("get", kind, name, "-o", "json")))
    deleted = bool(fault.raw.get("delete"))
    try:
        if added is not None:
            kubectl("create", "-f", "-", stdin=json.dumps(added))
        elif deleted:
            kubectl("delete", kind, name, "--wait=true")
        else:
            kubectl("patch", kind, name, "--type=json", "-p", json.dumps(fault.raw["patch"]))
            if wait_rollout:
                rollout(kind, name)
        yield fault
    finally:
        if added is not None:
            kubectl("delete", kind, name, "--wait=true", "--ignore-not-found")
        elif deleted:
            kubectl("create", "-f", "-", stdin=json.dumps(saved))
        else:
            kubectl("replace", "-f", "-", stdin=json.dumps(saved))
            rollout(kind, name)
        if added is None:
            wait_until(lambda: kubectl("get", kind, name, "-o", "name").strip(), timeout=60,
                       what=f"{kind}/{name} restored", retry_on=(AssertionError,))


def suite_args(fault: Fault) -> list[str]:
    return ["--target=kind", f"--kube-context={CONTEXT}", f"--namespace={NAMESPACE}",
            *[f"--contract={c}" for c in fault.breaks]]


@pytest.mark.skipif(not LIVE_FAULTS, reason="no chart fault is marked live")
@pytest.mark.parametrize("applied", LIVE_FAULTS, ids=[f.name for f in LIVE_FAULTS], indirect=True)
def test_live_fault_fails_its_contract_then_restores(applied: Fault, tmp_path: Path) -> None:
    why_not = cluster_up()
    if why_not:
        pytest.fail(f"the Kind cluster is not up: {why_not}")
    fault = live_fault(applied)
    run = run_suite(suite_args(fault), tmp_path, timeout=SUITE_TIMEOUT_S)
    verdict = judge(fault, run)
    assert verdict.killed, f"{fault.name} survived on Kind: {verdict.details}"


@pytest.mark.skipif(not LIVE_FAULTS, reason="no chart fault is marked live")
def test_restored_cluster_passes_every_faulted_contract(tmp_path: Path) -> None:
    """The control: after every fault was undone, the same contracts pass, so a fault's
    failure above came from the fault, and no fault leaked into the cluster."""
    contracts = sorted({c for f in LIVE_FAULTS for c in f.breaks})
    run = run_suite(["--target=kind", f"--kube-context={CONTEXT}", f"--namespace={NAMESPACE}",
                     *[f"--contract={c}" for c in contracts]], tmp_path, timeout=SUITE_TIMEOUT_S)
    bad = {n: o for n, o in run.outcomes.items() if o not in ("passed", "skipped")}
    assert run.outcomes and not bad, (bad, run.stdout[-3000:])
