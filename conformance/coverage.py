"""No contract passes on nothing. A contract that judges a set (pods, Services, running
containers, the images they run) first checks that the set holds every catalog service
the target is judged for: a missing member fails, naming it, and an empty set is never a
pass. What "judged" means is Target.judged: deployed, or required by the catalog."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def missing(expected: Iterable[str], present: Iterable[str], what: str) -> list[str]:
    """One problem per expected service absent from `present`; one for an empty set."""
    got = set(present)
    if not got:
        return [f"no {what} at all: nothing to judge"]
    return [f"{service}: no {what}" for service in sorted(set(expected)) if service not in got]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pods_by_service(services: list[dict[str, Any]], pods: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Service name -> the pods its own selector picks (`kubectl get ... -o json` items):
    which pods are which service's is read from the cluster, not from the chart's labels."""
    out: dict[str, list[str]] = {}
    for svc in services:
        selector = svc.get("spec", {}).get("selector") or {}
        chosen = [str(p["metadata"]["name"]) for p in pods
                  if selects(selector, p.get("metadata", {}).get("labels") or {})]
        if chosen:
            out[str(svc["metadata"]["name"])] = chosen
    return out
