"""The xdist handoff: the controller creates what must exist once (an ephemeral stack) and
hands each worker the state to attach to it, or the reason its setup failed, so every
contract fails with that reason; and where the last phase's barrier is (phases.py)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.plugin import phases
from conformance.session import SETUP_DONE_KEY, TARGET_ERROR_KEY, TARGET_KEY, is_active

ACTIVE = "soma_active"
TARGET_STATE = "soma_target_state"
TARGET_ERROR = "soma_target_error"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    return (not is_worker(config)
            and bool(getattr(config.option, "numprocesses", None))
            and getattr(config.option, "dist", "no") != "no")


def worker_of_active_run(config: pytest.Config) -> bool:
    """A worker whose controller runs the suite (it activates whatever its arguments say)."""
    return bool(getattr(config, "workerinput", {}).get(ACTIVE))


def handed_state(config: pytest.Config) -> dict[str, Any] | None:
    """A worker: the state its controller's target handed over to attach to."""
    state: dict[str, Any] | None = getattr(config, "workerinput", {}).get(TARGET_STATE)
    return state


def take_handed_error(config: pytest.Config) -> None:
    """A worker: the controller's setup failed; the target counts as set up, with that error."""
    error = getattr(config, "workerinput", {}).get(TARGET_ERROR)
    if error:
        config.stash[SETUP_DONE_KEY] = True
        config.stash[TARGET_ERROR_KEY] = str(error)


def pytest_configure_node(node: Any) -> None:  # xdist hook, controller side
    if not is_active(node.config):
        return
    node.workerinput[ACTIVE] = True
    phases.hand_to_worker(node.config, node.workerinput)
    target = node.config.stash.get(TARGET_KEY, None)
    error = node.config.stash.get(TARGET_ERROR_KEY, None)
    if error:
        node.workerinput[TARGET_ERROR] = error
    elif target is not None:
        node.workerinput[TARGET_STATE] = target.attach_state()
