"""The bundle revision has two implementations of one algorithm: the shell script the
infra builds the bundle with (infra/scripts/policy-revision.sh, so infra/ needs no Python
package) and the suite's conformance.policy.revision, which recomputes it to prove the
live OPA serves the repo's policy. They must agree on every tree, or the bundle_revision
contract would fail a correct stack (or pass a drifted one)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conformance.policy.revision import revision

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "infra" / "scripts" / "policy-revision.sh"


def shell_revision(src: Path) -> str:
    """The revision as opa-bundle.sh computes it."""
    out = subprocess.run(["bash", str(SCRIPT), str(src)], capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def test_repo_bundle_agrees() -> None:
    src = ROOT / "policies" / "bundle"
    assert shell_revision(src) == revision(src)


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


# Each tree probes one way the two could drift apart: component-wise path order ("a/b"
# before "a-c", which plain string order reverses), excluded tests and dot-files (a dot
# folder's files still count), bytes that are not text, empty files, non-ASCII names.
TREES = {
    "order": {"a/b.rego": b"package a\n", "a-c.rego": b"package c\n", "a.rego": b"x", "B/z.json": b"{}"},
    "excluded": {"p.rego": b"package p\n", "p_test.rego": b"package p_test\n", ".manifest": b"{}",
                 "sub/.hidden": b"h", ".dir/kept.json": b"[]"},
    "bytes": {"bin.dat": b"\x00\x01\xff\n\x00", "empty.json": b"", "nolf.rego": b"package n"},
    "names": {"d\u00e9j\u00e0/v.rego": b"package v\n", "d e/space name.json": b"1", "z/y/x/deep.rego": b"package d\n"},
}


@pytest.mark.parametrize("name", sorted(TREES))
def test_trees_agree(tmp_path: Path, name: str) -> None:
    src = _tree(tmp_path / name, TREES[name])
    assert shell_revision(src) == revision(src)


def test_revision_sees_content_and_names(tmp_path: Path) -> None:
    """The agreement above would hold for a constant: both must change with the sources."""
    src = _tree(tmp_path / "b", {"p.rego": b"package p\n"})
    before = shell_revision(src)
    (src / "p.rego").write_bytes(b"package q\n")
    after_content = shell_revision(src)
    (src / "p.rego").rename(src / "r.rego")
    after_name = shell_revision(src)
    assert len({before, after_content, after_name}) == 3
    assert after_name == revision(src)
