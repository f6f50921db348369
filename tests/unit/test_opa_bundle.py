"""The bundle the wheel builds for testcontainers carries the same policy files and the
same revision as the repo's `opa build` (the policy.bundle_revision contract compares it)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from conformance import opa_bundle
from conformance.policy_revision import revision
from conformance.resources import data_path


def test_bundle_has_policies_data_and_revision(tmp_path: Path) -> None:
    src = data_path("policies/bundle")
    out = tmp_path / "soma.tar.gz"
    rev = opa_bundle.build(src, out)
    assert rev == revision(src)
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("/.manifest").read())  # type: ignore[union-attr]
    assert manifest == {"revision": rev, "roots": [""], "rego_version": 1}
    assert {"/soma/main.rego", "/soma/config/data.json"} <= names
    assert not any(n.endswith("_test.rego") for n in names), "tests stay out of the bundle"
