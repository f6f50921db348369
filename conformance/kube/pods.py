"""Short-lived probe pods: the inside probe run from a pod of the namespace,
restricted-compliant (PodSecurity admits it) and labelled as a client of the services it
may reach (the chart's NetworkPolicies let it in)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from conformance.inside.checks import PROBE_SCRIPT, InsideCheck, InsideResult, decode_results, encode_checks
from conformance.kube.kubectl import Kubectl, kubectl
from conformance.process import run

# every probe and load pod carries this label (a drain leaves them: kube/disruptions.py)
PROBE_LABEL, PROBE_NAME = "app.kubernetes.io/name", "soma-conformance-probe"
# every probe pod waits this long after it starts (probe_pod_overrides)
POLICY_SETTLE_S = 10


def probe_pod_overrides(pod: str, image: str, services: list[str], script: str,
                        checks: str, *, settle_s: int = 0) -> dict[str, Any]:
    """Pod spec for the inside probe: restricted-compliant, labelled as a client of each of
    `services` (soma.io/client-<svc>: "true", what the chart's NetworkPolicies let in).
    settle_s: seconds the pod waits before probing, so the CNI has programmed the policies
    for its new IP. kube-router does it after it sees the pod, both ways: until then a
    deny is not yet applied to it, and its IP is not yet in the allowed-client sets of
    the services (a live run had postgres and kafka, probed first, refuse a labelled pod)."""
    labels = {PROBE_LABEL: PROBE_NAME}
    labels.update({f"soma.io/client-{s}": "true" for s in services})
    return {
        "apiVersion": "v1",
        "metadata": {"name": pod, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65534,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "probe",
                "image": image,
                "command": (["sh", "-c", f'sleep {settle_s}; exec python3 -c "$0" "$1"', script, checks]
                            if settle_s else ["python3", "-c", script, checks]),
                "securityContext": {"allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}},
                "resources": {"limits": {"cpu": "100m", "memory": "64Mi"},
                              "requests": {"cpu": "10m", "memory": "32Mi"}},
            }],
        },
    }


def probe_run_cmd(context: str, namespace: str, pod: str, image: str, overrides: dict[str, Any]) -> list[str]:
    return kubectl(context, namespace, "run", pod, "--rm", "--attach", "--quiet",
                   "--restart=Never", f"--image={image}", "--pod-running-timeout=60s",
                   f"--overrides={json.dumps(overrides)}")


def run_probe(cluster: Kubectl, image: str, checks: list[InsideCheck], labelled: list[str], *,
              settle_s: int = 0, namespace: str | None = None) -> list[InsideResult]:
    """Run the inside probe in a pod (of `namespace`, default the cluster's) that carries the
    client labels of `labelled`; the pod is removed when it ends."""
    pod = f"soma-probe-{secrets.token_hex(3)}"
    where = namespace or cluster.namespace
    script = PROBE_SCRIPT.read_text(encoding="utf-8")
    overrides = probe_pod_overrides(pod, image, labelled, script, encode_checks(checks), settle_s=settle_s)
    out = run(probe_run_cmd(cluster.context, where, pod, image, overrides), 120, f"inside probe pod in {where}")
    return decode_results(out, checks)
