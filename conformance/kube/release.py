"""Is the stack there? The kind target's preflight: the kube context exists, its API
answers, the namespace exists and holds a deployed Helm release of the chart; and what
that release is (name, chart version, overlay, the catalog services it deploys).

Helm keeps each release revision in a Secret of type helm.sh/release.v1 in the release's
namespace: its `release` member is the gzipped JSON of the release, base64-encoded once
by Helm and once more by the Secret's data. Reading it needs no helm binary, only the
same kubectl every other call uses; each call is bounded so the whole check takes a few
seconds even when the API server is gone.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from typing import Any

from conformance.errors import TargetError, UsageError
from conformance.kube.kubectl import Kubectl
from conformance.process import completed

REQUEST_TIMEOUT = "3s"  # kubectl --request-timeout of each preflight call
CALL_TIMEOUT_S = 5.0  # and the process around it
RELEASE_LABELS = "owner=helm,status=deployed"


@dataclass(frozen=True)
class Release:
    """The deployed Helm release of a namespace."""

    name: str
    revision: int
    chart: str
    chart_version: str
    values: dict[str, Any]

    @property
    def overlay(self) -> str:
        """The overlay the release was installed with (values `overlay`, set by each
        values-<overlay>.yaml), or "default" when none was given."""
        return str(self.values.get("overlay") or "default")


def decode_release(secret: dict[str, Any]) -> Release:
    """A Release from a helm.sh/release.v1 Secret (`kubectl get secret -o json`)."""
    raw = base64.b64decode(base64.b64decode(secret["data"]["release"]))
    doc = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    meta = doc.get("chart", {}).get("metadata", {})
    return Release(name=str(doc.get("name")), revision=int(doc.get("version", 0)),
                   chart=str(meta.get("name")), chart_version=str(meta.get("version")),
                   values=dict(doc.get("config") or {}))


def deployed_release(secrets: list[dict[str, Any]]) -> Release | None:
    """The newest deployed release among the namespace's release Secrets (None: none)."""
    found = []
    for secret in secrets:
        if secret.get("type") != "helm.sh/release.v1":
            continue
        try:
            found.append(decode_release(secret))
        except (KeyError, ValueError, OSError, TypeError):
            continue  # not readable as a release: not evidence of one
    return max(found, key=lambda r: r.revision, default=None)


def _call(cluster: Kubectl, args: list[str], *, namespaced: bool = True) -> tuple[int, str, str]:
    base = cluster.command(*args) if namespaced else ["kubectl", "--context", cluster.context, *args]
    try:
        proc = completed([*base, f"--request-timeout={REQUEST_TIMEOUT}"], CALL_TIMEOUT_S, f"kubectl ({cluster.where})")
    except TargetError as exc:
        raise UsageError(f"kube context {cluster.context!r}: {exc}") from None
    return proc.returncode, proc.stdout, " ".join(proc.stderr.split())


def preflight(cluster: Kubectl) -> Release:
    """Raise a one-line UsageError naming the cause and the fix, else the deployed release."""
    ctx, ns = cluster.context, cluster.namespace
    code, out, err = _call(cluster, ["config", "get-contexts", ctx, "-o", "name"], namespaced=False)
    if code != 0 or out.strip() != ctx:
        raise UsageError(f"kube context {ctx!r} does not exist (`kubectl config get-contexts` lists them; "
                         "`make kind-up` creates kind-soma): pass --kube-context=NAME")
    code, out, err = _call(cluster, ["get", "--raw", "/readyz"], namespaced=False)
    if code != 0:
        raise UsageError(f"the API server of kube context {ctx!r} does not answer ({err[:160] or f'exit {code}'}): "
                         "is the cluster running? (`kind get clusters`; `make kind-up` starts a stopped node)")
    code, out, err = _call(cluster, ["get", "namespace", ns, "-o", "name"], namespaced=False)
    if code != 0:
        raise UsageError(f"namespace {ns!r} does not exist in kube context {ctx!r}: pass --namespace=NAME "
                         "(the chart installs soma-infra)")
    code, out, err = _call(cluster, ["get", "secrets", "-l", RELEASE_LABELS, "-o", "json"])
    if code != 0:
        raise UsageError(f"cannot read the Helm release of {ctx}/{ns}: {err[:160]}")
    release = deployed_release(json.loads(out or "{}").get("items", []))
    if release is None:
        raise UsageError(f"namespace {ns!r} of {ctx!r} holds no deployed Helm release: install the chart "
                         "(`make kind-up`), or pass the --namespace of the release")
    return release
