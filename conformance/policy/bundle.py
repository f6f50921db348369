"""An OPA bundle from the shipped policy sources, for the testcontainers target run from
the wheel (the repo builds it with `opa build`, infra/scripts/opa-bundle.sh; the wheel has
no opa binary). Same files, same revision (conformance/policy/revision.py): the bundle
format is a tar.gz of the .rego and data.json files plus a .manifest. Without opa it cannot
apply `opa build -O=1` (opa_build does): same decisions, a little more work per decision."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

from conformance import catalog as catalog_mod
from conformance.policy.revision import revision
from conformance.resources import opa_binary


def optimize_args() -> list[str]:
    """`opa build -O=1` with the catalog's decision and debug paths as entrypoints, as
    infra/scripts/opa-bundle.sh builds the bundle every target serves (a unit test keeps
    the two equal): those rules are partially evaluated against the bundle's data."""
    policy = catalog_mod.load().policy
    paths = (policy["decision_path"], policy["debug_path"])
    return ["-O=1", *(arg for p in paths for arg in ("-e", p.removeprefix("/v1/data/")))]


def build(src: Path, out: Path) -> str:
    """Write src (tests excluded) as a bundle to out; returns the revision."""
    rev = revision(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(src.rglob("*")):
            if not path.is_file() or path.name.endswith("_test.rego") or path.name.startswith("."):
                continue
            _add(tar, "/" + path.relative_to(src).as_posix(), path.read_bytes())
        manifest = {"revision": rev, "roots": [""], "rego_version": 1}
        _add(tar, "/.manifest", json.dumps(manifest).encode())
    return rev


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def opa_build(src: Path, out: Path, timeout: float = 120) -> None:
    """`opa build` src (tests excluded, same revision) into out, world-readable for the
    container that mounts it; where there is no opa binary, say how to get one."""
    opa = opa_binary()
    if opa is None:
        raise FileNotFoundError("no opa binary on PATH or in the cache ($SOMA_CACHE/bin): "
                                "infra/scripts/go-tools.sh opa builds it (make bundle does)")
    subprocess.run([str(opa), "build", "--bundle", str(src), "--ignore", "*_test.rego",
                    "--revision", revision(src), *optimize_args(), "-o", str(out)],
                   check=True, capture_output=True, timeout=timeout)
    out.chmod(0o644)
