"""The kind target's preflight: a target that is not there is one usage error naming the
cause and the fix; a deployed release is read from Helm's own Secret (no helm binary)."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
from typing import Any

import pytest

from conformance.errors import UsageError
from conformance.kube import release
from conformance.kube.kubectl import Kubectl


def release_secret(name: str, revision: int, version: str, values: dict[str, Any]) -> dict[str, Any]:
    doc = {"name": name, "version": revision, "config": values,
           "chart": {"metadata": {"name": "soma-infra", "version": version}}}
    helm = base64.b64encode(gzip.compress(json.dumps(doc).encode()))  # what Helm stores
    return {"type": "helm.sh/release.v1", "data": {"release": base64.b64encode(helm).decode()}}


def test_the_newest_deployed_release_is_read_from_its_secret() -> None:
    got = release.deployed_release([release_secret("soma-infra", 1, "0.1.0", {}),
                                    release_secret("soma-infra", 3, "0.2.0", {"overlay": "prod"}),
                                    {"type": "Opaque", "data": {}},
                                    {"type": "helm.sh/release.v1", "data": {"release": "bm90IGEgcmVsZWFzZQ=="}}])
    assert got is not None
    assert (got.name, got.revision, got.chart_version, got.overlay) == ("soma-infra", 3, "0.2.0", "prod")
    assert release.deployed_release([]) is None
    assert release.decode_release(release_secret("r", 1, "1", {})).overlay == "default"


class FakeKubectl:
    """Answers the preflight's kubectl calls from a table: (returncode, stdout, stderr)."""

    def __init__(self, answers: dict[str, tuple[int, str, str]]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []

    def __call__(self, cmd: list[str], timeout: float, what: str, **_: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(cmd)
        assert any(a.startswith("--request-timeout=") for a in cmd), "every call is bounded"
        key = next(k for k in self.answers if k in " ".join(cmd))
        code, out, err = self.answers[key]
        return subprocess.CompletedProcess(cmd, code, out, err)


OK = {"get-contexts": (0, "kind-soma\n", ""), "/readyz": (0, "ok", ""),
      "get namespace": (0, "namespace/soma-infra\n", ""),
      "get secrets": (0, json.dumps({"items": [release_secret("soma-infra", 2, "0.3.0", {"overlay": "dev"})]}), "")}


def preflight(monkeypatch: pytest.MonkeyPatch, **changed: tuple[int, str, str]) -> release.Release:
    answers = dict(OK)
    answers.update({k.replace("_", " "): v for k, v in changed.items()})
    monkeypatch.setattr(release, "completed", FakeKubectl(answers))
    return release.preflight(Kubectl("kind-soma", "soma-infra"))


def test_a_deployed_release_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    got = preflight(monkeypatch)
    assert (got.chart_version, got.overlay) == ("0.3.0", "dev")


@pytest.mark.parametrize(("answer", "message"), [
    ({"get-contexts": (1, "", 'error: context "nope" not found')}, "kube context 'kind-soma' does not exist"),
    ({"/readyz": (1, "", "The connection to the server 127.0.0.1:40000 was refused")},
     "API server of kube context 'kind-soma' does not answer (The connection to the server 127.0.0.1:40000"),
    ({"get namespace": (1, "", 'namespaces "nope" not found')}, "namespace 'soma-infra' does not exist"),
    ({"get secrets": (0, '{"items": []}', "")}, "holds no deployed Helm release"),
])
def test_each_missing_piece_is_one_usage_error(monkeypatch: pytest.MonkeyPatch, answer: dict[str, Any],
                                               message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")) as err:
        preflight(monkeypatch, **{k.replace(" ", "_"): v for k, v in answer.items()})
    assert "\n" not in str(err.value)
