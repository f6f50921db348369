"""Find the suite's data files both in a repo checkout and in an installed wheel.

In the repo, fixtures/ and policies/ sit beside the package; the wheel carries copies
under conformance/_data/ (see pyproject.toml), so vendoring teams get the same data.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent


def data_path(relative: str) -> Path:
    """Path of a top-level data file or folder such as 'fixtures/...' or 'policies/...'."""
    in_repo = REPO_ROOT / relative
    if in_repo.exists():
        return in_repo
    return PACKAGE_DIR / "_data" / relative


def repo_file(relative: str) -> Path | None:
    """A file that only exists in a checkout (compose file, env files); None elsewhere."""
    path = REPO_ROOT / relative
    return path if path.exists() else None


def cache_dir() -> Path:
    """The project's build cache: SOMA_CACHE, as the Makefile and infra/scripts read it."""
    return Path(os.environ.get("SOMA_CACHE") or Path.home() / ".cache" / "soma-infra")


def opa_binary() -> Path | None:
    """The opa binary: on PATH, else the one infra/scripts/go-tools.sh builds into the
    cache; None when there is neither (the wheel ships none)."""
    found = shutil.which("opa")
    if found:
        return Path(found)
    cached = cache_dir() / "bin" / "opa"
    return cached if cached.is_file() else None
