"""Setting the target up once per session, before the first test that uses it (bringing
up an ephemeral stack takes longer than one test's timeout), checking it first, and tearing
down what it created. A failed setup is recorded, not raised: each contract that needs the
target fails naming the cause."""

from __future__ import annotations

import pytest

from conformance import runmode
from conformance.errors import TargetError, UsageError
from conformance.plugin import handoff
from conformance.readiness_wait import wait_ready
from conformance.session import PREFLIGHT_DONE_KEY, SETUP_DONE_KEY, TARGET_ERROR_KEY, TARGET_KEY
from conformance.targets.base import Target


def try_setup(config: pytest.Config) -> None:
    """Set the target up once; a failure is recorded, not raised, so it fails the
    contracts that need the target (each naming the cause) rather than the session."""
    target = config.stash[TARGET_KEY]
    if not config.stash.get(SETUP_DONE_KEY, False):
        config.stash[SETUP_DONE_KEY] = True
        try:
            target.setup()
        except TargetError as exc:
            config.stash[TARGET_ERROR_KEY] = f"target {target.name}: {exc}"
            return
        wait = config.getoption("--wait-ready")
        if wait is not None and not handoff.is_worker(config):
            waited = wait_ready(target, runmode.parse_duration(str(wait)))
            print(f"\nsoma-conformance: --wait-ready: {waited}")


def setup_target(config: pytest.Config) -> Target:
    target = config.stash[TARGET_KEY]
    try_setup(config)
    error = config.stash.get(TARGET_ERROR_KEY, None)
    if error:
        pytest.fail(error, pytrace=False)
    return target


def preflight_for(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check the target before the first test when these items use it (serial runs whose
    arguments did not name the suite; xdist workers never: their controller decides)."""
    if (config.stash.get(PREFLIGHT_DONE_KEY, False) or handoff.is_worker(config)
            or config.option.collectonly):
        return
    config.stash[PREFLIGHT_DONE_KEY] = True
    names = [set(getattr(i, "fixturenames", ())) for i in items]
    if not any("soma_target" in n for n in names):
        return
    try:
        config.stash[TARGET_KEY].preflight(inside=any("soma_inside" in n for n in names))
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Set the target up before the first test (not inside it): bringing up an ephemeral
    stack takes longer than one test's timeout, and is bounded by the target itself.
    A failure is recorded and fails each contract with its cause, as under xdist."""
    config = session.config
    if session.items and not config.option.collectonly and not handoff.is_worker(config) \
            and any("soma_target" in getattr(i, "fixturenames", ()) for i in session.items):
        try_setup(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    target = config.stash.get(TARGET_KEY, None)
    if target is not None and not handoff.is_worker(config):
        try:
            target.teardown()
        except TargetError as exc:
            print(f"soma-conformance: teardown: {exc}")
