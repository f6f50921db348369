"""Run metadata: ids, timestamps and which suite and infra revision produced a result."""

from __future__ import annotations

import os
import platform
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

from conformance import __version__
from conformance import catalog as catalog_mod
from conformance.resources import REPO_ROOT

GIT_TIMEOUT_S = 5
FOLDER_FORMAT = "%Y-%m-%dT%H-%MZ"  # a nightly report folder, e.g. 2026-11-28T03-00Z


def now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """UTC, second precision plus millis, 'Z' suffix (the schema's timestamp format)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_run_id(ts: datetime) -> str:
    """Sortable and unique even for two runs started in the same second."""
    return ts.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def infra_revision() -> dict[str, Any]:
    """The infra checkout's commit (SOMA_INFRA_REVISION wins: CI may know it better)."""
    env = os.environ.get("SOMA_INFRA_REVISION")
    if env:
        return {"git_revision": env, "git_dirty": None}
    if not (REPO_ROOT / ".git").exists():
        return {"git_revision": None, "git_dirty": None}
    rev = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if rev else None
    return {"git_revision": rev, "git_dirty": None if status is None else bool(status)}


def suite_info() -> dict[str, Any]:
    try:
        catalog_version: int | None = catalog_mod.load().version
    except Exception:  # noqa: BLE001 -- a broken catalog fails the run elsewhere, not the report
        catalog_version = None
    return {"name": "soma-conformance", "version": __version__, "catalog_version": catalog_version}


def host_info(workers: int) -> dict[str, Any]:
    import pytest

    return {"hostname": platform.node(), "python": sys.version.split()[0],
            "pytest": pytest.__version__, "workers": workers}
