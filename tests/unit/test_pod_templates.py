"""pod_templates: the Pod each controller would create, as PodSecurity admission sees it."""

from __future__ import annotations

from typing import Any

from conformance.security.pod_templates import pod_templates


def workload(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": name}, "spec": spec}


POD_SPEC = {"containers": [{"name": "c", "image": "i", "securityContext": {"runAsNonRoot": True}}]}


def test_each_controller_kind_gives_its_template_as_a_pod() -> None:
    objects = [
        workload("Deployment", "opa", {"template": {"metadata": {"labels": {"a": "b"}}, "spec": POD_SPEC}}),
        workload("CronJob", "backup", {"jobTemplate": {"spec": {"template": {"spec": POD_SPEC}}}}),
        {"kind": "Service", "metadata": {"name": "opa"}, "spec": {}},
    ]
    pods = pod_templates(objects, "soma-infra")
    assert [w for w, _ in pods] == ["Deployment/opa", "CronJob/backup"]
    opa = pods[0][1]
    assert opa["kind"] == "Pod" and opa["metadata"]["namespace"] == "soma-infra"
    assert opa["metadata"]["labels"] == {"a": "b"} and opa["spec"] == POD_SPEC


def test_statefulset_claims_become_volumes_without_touching_the_object() -> None:
    sts = workload("StatefulSet", "postgres", {
        "template": {"spec": {"containers": [{"name": "pg", "image": "i"}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}}]})
    (_, pod), = pod_templates([sts], "ns")
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-postgres-0"}}]
    assert "volumes" not in sts["spec"]["template"]["spec"]
    assert pod["metadata"]["name"] == "podcheck-statefulset-postgres"
