"""Every seeded fault is well formed and still bites: fault.yaml parses against the
catalog, and every text edit finds its text in the folder it edits (a stale edit would
make the fault a silent no-op). The folder rules of suite-env faults are enforced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance import catalog
from conformance.errors import UsageError
from harness.faults.engine import suite_env
from harness.faults.model import Fault, edited_folder, from_folders, parse_fault

CATALOG = catalog.load()
FAULTS = from_folders(CATALOG)
EDITING = [f for f in FAULTS if f.edits]


def test_fault_names_are_their_folders_and_unique() -> None:
    assert FAULTS, "no seeded faults found"
    assert all(f.source is not None and f.source.parent.name == f.name for f in FAULTS)
    assert len({f.name for f in FAULTS}) == len(FAULTS)


@pytest.mark.parametrize("fault", EDITING, ids=[f.name for f in EDITING])
def test_every_edit_finds_its_text(fault: Fault) -> None:
    src = edited_folder(fault)
    assert src is not None and src.is_dir(), f"{fault.name}: no folder to edit"
    for rel, edits in fault.edits.items():
        text = (src / rel).read_text(encoding="utf-8")
        for old, new in edits:
            assert old in text, f"{fault.name}: {src / rel} no longer contains {old!r}"
            assert old != new


def test_suite_env_folder_is_an_edited_copy(tmp_path: Path) -> None:
    fault = next(f for f in FAULTS if f.folder)
    env = suite_env(fault, tmp_path)
    copied = [Path(v) for v in env.values() if v.startswith(str(tmp_path))]
    assert copied and all(p.is_dir() for p in copied)
    assert "{folder}" not in "".join(env.values())


BASE = {"name": "x", "description": "d", "breaks": ["observability.dashboards.data"], "reason": "r"}


@pytest.mark.parametrize(("doc", "message"), [
    ({**BASE, "kind": "exec", "folder": "infra/config/grafana/dashboards"}, "folder is for suite-env"),
    ({**BASE, "kind": "suite-env", "edits": {"a.json": [["x", "y"]]}, "env": {"V": "w"}}, "names the folder they edit"),
    ({**BASE, "kind": "suite-env", "folder": "infra/config/grafana/dashboards",
      "edits": {"a.json": [["x", "y"]]}, "env": {"V": "w"}}, "no env value names the edited copy"),
])
def test_malformed_folder_is_a_usage_error(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_fault(doc, None, CATALOG)


def test_stale_edit_fails_loudly(tmp_path: Path) -> None:
    doc = {**BASE, "kind": "suite-env", "folder": "infra/config/grafana/dashboards",
           "edits": {"soma-redis.json": [["no_such_metric_anywhere", "y"]]}, "env": {"V": "{folder}"}}
    with pytest.raises(RuntimeError, match="no longer contains 'no_such_metric_anywhere'"):
        suite_env(parse_fault(doc, None, CATALOG), tmp_path)
