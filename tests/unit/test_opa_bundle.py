"""The bundle the wheel builds for testcontainers carries the same policy files and the
same revision as the repo's `opa build` (the policy.bundle_revision contract compares it)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from conformance import resources
from conformance.policy import bundle
from conformance.policy.revision import revision
from conformance.resources import data_path


def test_bundle_has_policies_data_and_revision(tmp_path: Path) -> None:
    src = data_path("policies/bundle")
    out = tmp_path / "soma.tar.gz"
    rev = bundle.build(src, out)
    assert rev == revision(src)
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("/.manifest").read())  # type: ignore[union-attr]
    assert manifest == {"revision": rev, "roots": [""], "rego_version": 1}
    assert {"/soma/main.rego", "/soma/config/data.json"} <= names
    assert not any(n.endswith("_test.rego") for n in names), "tests stay out of the bundle"


def test_opa_binary_from_path_else_the_cache_soma_cache_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One lookup for every caller: PATH first, then $SOMA_CACHE/bin (not a fixed home path)."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("SOMA_CACHE", str(tmp_path / "cache"))
    assert resources.opa_binary() is None
    with pytest.raises(FileNotFoundError, match="no opa binary"):
        bundle.opa_build(data_path("policies/bundle"), tmp_path / "out.tar.gz")
    cached = tmp_path / "cache" / "bin" / "opa"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\n")
    cached.chmod(0o755)
    assert resources.opa_binary() == cached
    on_path = empty / "opa"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    assert resources.opa_binary() == on_path


def test_shell_bundle_build_optimizes_the_same_entrypoints() -> None:
    """opa-bundle.sh (the bundle every target serves) and opa_build (fault copies) partially
    evaluate the same rules: the catalog's decision and debug paths."""
    script = (Path(__file__).resolve().parents[2] / "infra/scripts/opa-bundle.sh").read_text()
    assert bundle.optimize_args() == ["-O=1", "-e", "soma/allow", "-e", "soma/decision"]
    assert " ".join(bundle.optimize_args()) in " ".join(script.replace("\\\n", " ").split())
