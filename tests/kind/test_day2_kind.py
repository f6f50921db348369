"""Day 2 on the live Kind cluster: a changed policy bundle rolled out with `helm upgrade`
(through the chart's ConfigMap) is what OPA serves, and rolling the repo's bundle back in
makes policy.bundle_revision pass again.

The changed policy is the repo's policies/bundle with one comment line added: its revision
(the sha256 of its sources) differs, its decisions do not. It is built as the repo's bundle
is (`opa build` with that revision) into a copy of the chart, and released by `kind-cluster.sh release` with the same
values as `make kind-up`; the chart's checksum annotation rolls the OPA pod.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

from conformance.policy import bundle
from conformance.policy.revision import revision
from harness.faults.runner import SuiteRun, run_suite
from tests.kind.test_live_faults import CONTEXT, NAMESPACE, SUITE_TIMEOUT_S, cluster_up

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "infra" / "helm" / "soma-infra"
CHART_BUNDLE = Path("files") / "opa" / "soma.tar.gz"
RELEASE_TIMEOUT_S = 900


def script(name: str, *args: str) -> str:
    proc = subprocess.run(["bash", str(ROOT / "infra" / "scripts" / name), *args], capture_output=True,
                          text=True, timeout=RELEASE_TIMEOUT_S, check=False)
    assert proc.returncode == 0, f"{name} {' '.join(args)}: {proc.stderr.strip()[-600:]}"
    return proc.stdout


def changed_chart(tmp: Path) -> tuple[Path, str]:
    """A copy of the chart whose bundle is the repo's policy plus one comment; its revision."""
    src = tmp / "policy"
    shutil.copytree(ROOT / "policies" / "bundle", src)
    rego = min(p for p in src.rglob("*.rego") if not p.name.endswith("_test.rego"))
    rego.write_text(rego.read_text(encoding="utf-8") + f"\n# day-2 rollout check {secrets.token_hex(4)}\n",
                    encoding="utf-8")
    chart = tmp / "chart"
    shutil.copytree(CHART, chart)
    return chart, bundle.build(src, chart / CHART_BUNDLE)


def bundle_revision(tmp: Path) -> SuiteRun:
    return run_suite(["--target=kind", f"--kube-context={CONTEXT}", f"--namespace={NAMESPACE}",
                      "--contract=policy.bundle_revision"], tmp, timeout=SUITE_TIMEOUT_S)


def test_helm_upgrade_serves_a_changed_bundle_then_the_repos_again(tmp_path: Path) -> None:
    why_not = cluster_up()
    assert why_not is None, f"the Kind cluster is not up: {why_not}"
    assert (CHART / CHART_BUNDLE).is_file(), f"{CHART / CHART_BUNDLE} missing: make kind-up syncs the chart's files"
    chart, changed = changed_chart(tmp_path)
    repo = revision(ROOT / "policies" / "bundle")
    assert changed != repo
    (tmp_path / "drifted").mkdir()
    (tmp_path / "restored").mkdir()
    try:
        script("kind-cluster.sh", "release", str(chart))
        drifted = bundle_revision(tmp_path / "drifted")
    finally:
        script("kind-cluster.sh", "release", str(CHART))
    restored = bundle_revision(tmp_path / "restored")

    said = "\n".join(drifted.messages.values())
    assert drifted.outcomes and set(drifted.outcomes.values()) == {"failed"}, (drifted.outcomes, drifted.stdout[-2000:])
    assert f"={changed}" in said and repo in said, f"OPA should serve {changed} (repo {repo}): {said[-800:]}"
    assert restored.outcomes and set(restored.outcomes.values()) == {"passed"}, \
        (restored.outcomes, restored.stdout[-2000:])
