"""No module of the shipped package grows past 400 lines: past that, one file is doing
several jobs (issue 33 split the plugin, the kind target and the policy contracts)."""

from __future__ import annotations

from conformance.resources import PACKAGE_DIR

MAX_LINES = 400


def test_no_module_over_the_limit() -> None:
    sizes = {str(p.relative_to(PACKAGE_DIR.parent)): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE_DIR.rglob("*.py") if "_data" not in p.parts}
    assert not {path: n for path, n in sizes.items() if n > MAX_LINES}
