"""kubectl against one namespace of one kube context: every call bounded, every failure a
TargetError naming the context; JSON output parsed by pure functions (unit-tested)."""

from __future__ import annotations

import base64
import json
from typing import Any

from conformance.process import run


def kubectl(context: str, namespace: str, *args: str) -> list[str]:
    return ["kubectl", "--context", context, "--namespace", namespace, *args]


def service_ports(services: dict[str, Any]) -> dict[str, dict[str, int]]:
    """service -> {port name: port}, from `kubectl get services -o json`: the chart names
    every port, so the target reads a port by its name (Kafka's host listener `host`,
    Jaeger's `query`) instead of keeping a copy of the chart's values."""
    return {str(svc["metadata"]["name"]): {str(port["name"]): int(port["port"])
                                          for port in svc.get("spec", {}).get("ports") or [] if port.get("name")}
            for svc in services.get("items", [])}


def decode_secret(doc: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in doc.get("data", {}).items()}


class Kubectl:
    """One namespace of one kube context."""

    def __init__(self, context: str, namespace: str) -> None:
        self.context = context
        self.namespace = namespace

    @property
    def where(self) -> str:
        return f"{self.context}/{self.namespace}"

    def command(self, *args: str, namespace: str | None = None) -> list[str]:
        return kubectl(self.context, namespace or self.namespace, *args)

    def run(self, *args: str, timeout: float = 30) -> str:
        return run(self.command(*args), timeout, f"kubectl ({self.where})")

    def get(self, *args: str) -> dict[str, Any]:
        """`kubectl get ... -o json`, parsed."""
        doc: dict[str, Any] = json.loads(self.run("get", *args, "-o", "json"))
        return doc

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Live objects of one kind in the namespace (`kubectl get KIND -o json`)."""
        return list(self.get(kind).get("items", []))

    def secret(self, name: str) -> dict[str, str]:
        return decode_secret(self.get("secret", name))
