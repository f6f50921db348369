"""Tracing is one setting on both paths (issue 15): the chart's tracing.otlpEndpoint and
compose's SOMA_OTLP_ENDPOINT give OPA and etcd the same environment (OPA's config file reads
it; etcd its ETCD_* flags); empty means off, and the chart then renders no tracing env for
etcd, an empty tracing type for OPA (its "off") and no tracing NetworkPolicy."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helm import chart

ENDPOINT = "jaeger.soma-infra.svc.cluster.local:4317"
SERVICES = ("opa", "etcd")


def workload(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [obj] = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["name"] == name]
    return obj


def helm_env(objects: list[dict[str, Any]], name: str) -> dict[str, str]:
    container = workload(objects, name)["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: str(e.get("value", "")) for e in container.get("env") or []
            if e["name"].startswith(("SOMA_O", "ETCD_"))}


def compose_env(endpoint: str) -> dict[str, dict[str, str]]:
    env = {**os.environ, "SOMA_OTLP_ENDPOINT": endpoint}
    cmd = ["docker", "compose", "--env-file", str(chart.ROOT / "infra/env/.env.shared.example"),
           "-f", str(chart.ROOT / "infra/docker/shared-infra.compose.yaml"), "config", "--format", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=True).stdout
    services = json.loads(out)["services"]
    # compose keeps empty variables; the chart leaves them out: compare what is set
    return {svc: {k: str(v) for k, v in (services[svc].get("environment") or {}).items()
                  if k.startswith(("SOMA_O", "ETCD_")) and (v or svc == "opa")} for svc in SERVICES}


@pytest.mark.parametrize("endpoint", ["", ENDPOINT], ids=["off", "on"])
def test_one_setting_same_env_on_both_paths(endpoint: str) -> None:
    objects = chart.render("dev", "--set", f"tracing.otlpEndpoint={endpoint}")
    want = compose_env(endpoint)
    for svc in SERVICES:
        assert helm_env(objects, svc) == want[svc], svc
    if endpoint:
        assert want["opa"]["SOMA_OPA_TRACING_TYPE"] == "grpc"
        assert want["etcd"]["ETCD_DISTRIBUTED_TRACING_ADDRESS"] == endpoint
    else:
        assert want["opa"] == {"SOMA_OTLP_ENDPOINT": "", "SOMA_OPA_TRACING_TYPE": ""} and want["etcd"] == {}


def test_tracing_egress_only_when_on(rendered: dict[str, list[dict[str, Any]]]) -> None:
    def policy(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "tracing-egress"]

    for overlay in chart.OVERLAYS:
        assert policy(rendered[overlay]) == [], f"{overlay}: tracing is off by default"
    on = chart.render("dev", "--set", f"tracing.otlpEndpoint={ENDPOINT}")
    [pol] = policy(on)
    assert pol["spec"]["podSelector"]["matchLabels"] == {"soma.io/otlp-exporter": "true"}
    assert pol["spec"]["egress"] == [{"ports": [{"protocol": "TCP", "port": 4317}]}]
    for svc in SERVICES:
        labels = workload(on, svc)["spec"]["template"]["metadata"]["labels"]
        assert labels.get("soma.io/otlp-exporter") == "true", svc


def test_endpoint_with_a_scheme_is_refused() -> None:
    proc = chart.helm(*chart.template_args("dev", "--set", "tracing.otlpEndpoint=http://jaeger:4317"), check=False)
    assert proc.returncode != 0 and "otlpEndpoint" in proc.stderr, proc.stderr


def test_optional_jaeger_is_restricted_and_reachable_only_as_declared(tmp_path: Path) -> None:
    """tracing.jaeger.enabled renders Jaeger within the same posture as every other pod
    (posture policies: 0 violations) and a policy admitting only exporters and clients."""
    objects = chart.render("dev", "--set", "tracing.jaeger.enabled=true", "--set", f"tracing.otlpEndpoint={ENDPOINT}")
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {("Service", "jaeger"), ("Deployment", "jaeger"), ("NetworkPolicy", "allow-jaeger")} <= names
    [svc] = [o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "jaeger"]
    assert f"{svc['metadata']['name']}.{chart.NAMESPACE}.svc.cluster.local:4317" == ENDPOINT
    assert chart.posture_deny(chart.posture_input("dev", objects), tmp_path) == []
    assert ("Deployment", "jaeger") not in {(o["kind"], o["metadata"]["name"]) for o in chart.render("dev")}
