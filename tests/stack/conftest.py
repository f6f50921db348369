"""Fixtures for tests that run a real, isolated copy of the compose stack."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance import catalog
from conformance.docker_engine import container_state
from conformance.errors import TargetError
from conformance.targets.base import TargetOptions
from conformance.targets.testcontainers import TestcontainersTarget
from conformance.waiting import WaitTimeout, wait_until

REPO = Path(__file__).resolve().parents[2]
# the 5 s on-demand variant (make prometheus-5s renders its config from the one source)
FAST_OVERRIDE = REPO / "infra/docker/prometheus-5s.override.yaml"
FAST_CONFIG = REPO / "build/prometheus/prometheus.yml"


def scrape_every_5s(target: TestcontainersTarget) -> list[str]:
    """Recreate the stack's Prometheus with the 5 s on-demand config, for a test whose subject
    is not the scrape interval: a fresh stack's contracts wait for scrapes (rule selectors up
    to three intervals, dashboards a rate window), and 5 s makes those waits a third. Returns
    the suite option that tells the contracts which interval to judge."""
    assert FAST_CONFIG.is_file(), f"{FAST_CONFIG} missing: `make prometheus-5s` renders it"
    proc = subprocess.run([*target.compose_cmd(), "-f", str(FAST_OVERRIDE), "up", "-d", "--wait", "--no-deps",
                           "prometheus"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"prometheus at 5 s: {proc.stderr.strip()[-500:]}"
    return ["--scrape-interval=5s"]


def up_wait(target: TestcontainersTarget, service: str, deadline: float) -> None:
    """`up -d --wait` until it succeeds or the deadline passes. Right after an unpause the
    container can still be marked unhealthy by checks that ran while it was frozen, and
    `--wait` fails at once on that; the next passing healthcheck clears it. A service that
    never comes back fails with compose's own last words."""
    last = ""

    def up() -> bool:
        nonlocal last
        proc = subprocess.run([*target.compose_cmd(), "up", "-d", "--wait", service], capture_output=True,
                              text=True, timeout=max(5.0, deadline - time.monotonic()), check=False)
        last = " ".join((proc.stderr or proc.stdout).split())[-300:]
        return proc.returncode == 0

    try:
        wait_until(up, timeout=max(0.0, deadline - time.monotonic()), interval=3,
                   what=f"docker compose up --wait {service}")
    except WaitTimeout:
        raise AssertionError(f"{service} did not come back: docker compose up --wait: {last}") from None


def restore(target: TestcontainersTarget, service: str, timeout: float = 240) -> None:
    """Bring a service back and wait until the stack is as healthy as before: the service
    healthy and Prometheus with no firing alert (an alert raised while it was down would
    otherwise leak into the next test)."""
    subprocess.run([*target.compose_cmd(), "unpause", service], capture_output=True, timeout=60, check=False)
    deadline = time.monotonic() + timeout
    up_wait(target, service, deadline)
    ep = target.endpoint("prometheus")

    def quiet_and_healthy() -> bool:
        cid = target.container_ids(service)[0]
        health = container_state(cid, f"docker inspect of {service}").health
        try:
            alerts = httpx.get(ep.url("/api/v1/alerts"), timeout=5).json()["data"]["alerts"]
        except (httpx.HTTPError, KeyError, ValueError):
            alerts = [{"state": "unknown"}]
        return health == "healthy" and not any(a.get("state") in ("firing", "unknown") for a in alerts)

    try:
        wait_until(quiet_and_healthy, timeout=max(0.0, deadline - time.monotonic()), interval=3,
                   retry_on=(TargetError,), what=f"{service} healthy and no alert firing")
    except WaitTimeout:
        raise AssertionError(f"{service} did not return to a quiet, healthy state within {timeout:.0f}s") from None


@pytest.fixture(scope="module")
def fresh_stack() -> Iterator[TestcontainersTarget]:
    """A stack of its own per test module (project soma-tc-*, free host ports), torn down with
    volumes: a test that breaks and restores a service never leaves traces for the next."""
    target = TestcontainersTarget(catalog.load(), TargetOptions())
    target.setup()
    try:
        yield target
    finally:
        target.teardown()
