"""Fixtures for tests that run a real, isolated copy of the compose stack."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from conformance import catalog
from conformance.targets.base import TargetOptions
from conformance.targets.testcontainers import TestcontainersTarget


def up_wait(target: TestcontainersTarget, service: str, deadline: float) -> None:
    """`up -d --wait` until it succeeds or the deadline passes. Right after an unpause the
    container can still be marked unhealthy by checks that ran while it was frozen, and
    `--wait` fails at once on that; the next passing healthcheck clears it. A service that
    never comes back fails with compose's own last words."""
    last = ""
    while True:
        left = deadline - time.monotonic()
        proc = subprocess.run([*target.compose_cmd(), "up", "-d", "--wait", service], capture_output=True,
                              text=True, timeout=max(5.0, left), check=False)
        if proc.returncode == 0:
            return
        last = " ".join((proc.stderr or proc.stdout).split())[-300:]
        if time.monotonic() >= deadline:
            raise AssertionError(f"{service} did not come back: docker compose up --wait: {last}")
        time.sleep(3)


def restore(target: TestcontainersTarget, service: str, timeout: float = 240) -> None:
    """Bring a service back and wait until the stack is as healthy as before: the service
    healthy and Prometheus with no firing alert (an alert raised while it was down would
    otherwise leak into the next test)."""
    subprocess.run([*target.compose_cmd(), "unpause", service], capture_output=True, timeout=60, check=False)
    deadline = time.monotonic() + timeout
    up_wait(target, service, deadline)
    ep = target.endpoint("prometheus")
    while time.monotonic() < deadline:
        cid = target.container_ids(service)[0]
        health = subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}}", cid],
                                capture_output=True, text=True, timeout=30, check=False).stdout.strip()
        try:
            alerts = httpx.get(ep.url("/api/v1/alerts"), timeout=5).json()["data"]["alerts"]
        except (httpx.HTTPError, KeyError, ValueError):
            alerts = [{"state": "unknown"}]
        if health == "healthy" and not any(a.get("state") in ("firing", "unknown") for a in alerts):
            return
        time.sleep(3)
    raise AssertionError(f"{service} did not return to a quiet, healthy state within {timeout:.0f}s")


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
