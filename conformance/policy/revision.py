"""The OPA bundle revision: a content hash of the policy sources.

infra/scripts/opa-bundle.sh stamps it into the bundle manifest, computed by
infra/scripts/policy-revision.sh (shell, so the infra needs no Python package); the policy
contracts recompute it here from the repo's policies/ and compare with what the live OPA
serves, so policy drift is caught. One algorithm in two languages: the unit tests
(tests/unit/test_policy_revision_shell.py) prove both give the same value.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path


def revision(bundle_dir: Path) -> str:
    """sha256 over (relative path, content) of every non-test file, in sorted order."""
    digest = hashlib.sha256()
    files = sorted(
        p for p in bundle_dir.rglob("*")
        if p.is_file() and not p.name.endswith("_test.rego") and not p.name.startswith(".")
    )
    for path in files:
        rel = path.relative_to(bundle_dir).as_posix()
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


if __name__ == "__main__":
    print(revision(Path(sys.argv[1])))
