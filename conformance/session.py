"""The state of one suite session that the plugin keeps and the reports read: the stash
keys and the few answers derived from options. Both `conformance.plugin` and
`conformance.report` import this module, so neither has to import the other back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conformance import waivers as waivers_mod
from conformance.runmode import RunMode
from conformance.targets.base import Target

TARGET_KEY = pytest.StashKey[Target]()
TARGET_ERROR_KEY = pytest.StashKey[str]()
SETUP_DONE_KEY = pytest.StashKey[bool]()
ACTIVE_KEY = pytest.StashKey[bool]()
PREFLIGHT_DONE_KEY = pytest.StashKey[bool]()
WAIVERS_KEY = pytest.StashKey[dict[str, waivers_mod.Waiver]]()
RUN_MODE_KEY = pytest.StashKey[RunMode]()


def is_active(config: pytest.Config) -> bool:
    """Whether the suite was turned on in this run (the plugin stays inert otherwise)."""
    return config.stash.get(ACTIVE_KEY, False)


def run_mode(config: pytest.Config) -> RunMode:
    """--mode and --allow-disruptive as the plugin decided them (full and writable until then)."""
    return config.stash.get(RUN_MODE_KEY, RunMode())


def target_name(config: pytest.Config) -> str:
    """--target, else the ini soma_target, else compose."""
    return str(config.getoption("--target") or config.getini("soma_target") or "compose")


def report_dir(config: pytest.Config) -> Path:
    """--report-dir, else $SOMA_REPORT_DIR, else reports/."""
    return Path(config.getoption("--report-dir") or os.environ.get("SOMA_REPORT_DIR") or "reports")


def set_up_target(config: pytest.Config) -> Target | None:
    """The target once its setup ran (never sets it up); None before that."""
    target = config.stash.get(TARGET_KEY, None)
    if target is None or not config.stash.get(SETUP_DONE_KEY, False):
        return None
    return target


def setup_error(config: pytest.Config) -> str | None:
    """Why the target's setup failed (names the target), or None."""
    return config.stash.get(TARGET_ERROR_KEY, None) or None
