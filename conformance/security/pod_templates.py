"""Pod templates as the Pods a controller would create from them.

PodSecurity admission judges Pods only: a Deployment whose template breaks `restricted` is
stored (with a warning) and then can never start a pod. Turning each template into the
Pod its controller would create lets a server-side dry-run give admission's verdict now,
both on the chart's rendered objects (tests/helm) and on a live namespace (the kind
target's security.podsecurity)."""

from __future__ import annotations

import copy
from typing import Any

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


def _template(obj: dict[str, Any]) -> dict[str, Any] | None:
    kind = obj["kind"]
    if kind in WORKLOAD_KINDS:
        return dict(obj["spec"]["template"])
    if kind == "CronJob":
        return dict(obj["spec"]["jobTemplate"]["spec"]["template"])
    if kind == "Pod":
        return {"metadata": obj["metadata"], "spec": obj["spec"]}
    return None


def pod_templates(objects: list[dict[str, Any]], namespace: str) -> list[tuple[str, dict[str, Any]]]:
    """(workload id "Kind/name", Pod object) for every object that carries a pod template."""
    pods: list[tuple[str, dict[str, Any]]] = []
    for obj in objects:
        template = _template(obj)
        if template is None:
            continue
        kind, name = obj["kind"], obj["metadata"]["name"]
        spec = copy.deepcopy(template["spec"])
        # a StatefulSet's pods get one PVC volume per volumeClaimTemplate (<claim>-<sts>-<ordinal>)
        for claim in obj["spec"].get("volumeClaimTemplates", []) if kind == "StatefulSet" else []:
            cname = claim["metadata"]["name"]
            spec.setdefault("volumes", []).append(
                {"name": cname, "persistentVolumeClaim": {"claimName": f"{cname}-{name}-0"}})
        meta = template.get("metadata") or {}
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"podcheck-{kind.lower()}-{name}"[:63].rstrip("-"),
                            "namespace": obj["metadata"].get("namespace", namespace),
                            "labels": meta.get("labels", {})},
               "spec": spec}
        pods.append((f"{kind}/{name}", pod))
    return pods
