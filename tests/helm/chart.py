"""Helpers for the chart checks: render overlays with helm, evaluate the posture policy
with OPA, apply chart faults. Tools come from the project's cache (infra/scripts)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from conformance.resources import cache_dir
from conformance.security.pod_templates import pod_templates as security_pod_templates

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "infra" / "helm" / "soma-infra"
CATALOG = ROOT / "infra" / "contracts" / "catalog.yaml"
POSTURE = ROOT / "policies" / "posture"
FAULTS = ROOT / "fixtures" / "faults"
OVERLAYS = ("dev", "staging", "prod")
RELEASE = "soma-infra"
NAMESPACE = "soma-infra"
CMD_TIMEOUT_S = 120


def cache_bin() -> Path:
    return cache_dir() / "bin"


def tool(name: str) -> Path:
    """A binary built by infra/scripts/go-tools.sh or kube-tools.sh; missing is an error."""
    path = cache_bin() / name
    if not path.is_file() or not os.access(path, os.X_OK):
        raise FileNotFoundError(
            f"{path} missing: run infra/scripts/go-tools.sh / kube-tools.sh (make test-helm does)")
    return path


def kube_version() -> str:
    for line in (ROOT / "infra" / "scripts" / "versions.env").read_text(encoding="utf-8").splitlines():
        if line.startswith("KUBE_VERSION="):
            return line.split("=", 1)[1].strip().lstrip("v")
    raise RuntimeError("KUBE_VERSION missing from infra/scripts/versions.env")


def run(cmd: list[str], *, timeout: float = CMD_TIMEOUT_S, check: bool = True,
        input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input_text, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd[:4])} ... exited {proc.returncode}:\n{proc.stderr}{proc.stdout}")
    return proc


def values_file(overlay: str) -> Path:
    return CHART / f"values-{overlay}.yaml"


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([str(tool("helm")), *args], check=check)


def template_args(overlay: str, *extra: str) -> list[str]:
    return ["template", RELEASE, str(CHART), "--kube-version", kube_version(),
            "-f", str(values_file(overlay)), *extra]


def render(overlay: str, *extra: str) -> list[dict[str, Any]]:
    """Every object `helm template` renders for an overlay (hooks and tests included)."""
    out = helm(*template_args(overlay, *extra)).stdout
    return [doc for doc in yaml.safe_load_all(out) if isinstance(doc, dict)]


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def values(overlay: str) -> dict[str, Any]:
    base = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    over = yaml.safe_load(values_file(overlay).read_text(encoding="utf-8")) or {}
    return deep_merge(base, over)


def catalog() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    return doc


def enabled_contract_services(overlay: str) -> dict[str, int]:
    """Catalog services (name -> contract port) that the overlay deploys."""
    vals = values(overlay)
    return {name: int(spec["port"]) for name, spec in catalog()["services"].items()
            if vals.get(name, {}).get("enabled", False)}


def posture_input(overlay: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    resilience = catalog().get("resilience", {})
    return {"overlay": overlay, "namespace": NAMESPACE,
            "catalog_services": enabled_contract_services(overlay), "objects": objects,
            "ha_overlays": list(resilience.get("ha_overlays", [])),
            "ha_min_replicas": dict(resilience.get("min_replicas", {}))}


def posture_deny(doc: dict[str, Any], tmp: Path) -> list[str]:
    """data.soma.posture.deny for one input document, evaluated by the OPA binary."""
    path = tmp / "posture-input.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    out = run([str(tool("opa")), "eval", "--fail-defined=false", "-f", "json",
               "-d", str(POSTURE / "posture.rego"), "-i", str(path), "data.soma.posture.deny"]).stdout
    result = json.loads(out)["result"][0]["expressions"][0]["value"]
    return sorted(str(m) for m in result)


def fault_flagged(fault: dict[str, Any], objects: list[dict[str, Any]], tmp: Path) -> tuple[bool, list[str]]:
    """Apply a chart-patch fault to an overlay's rendered objects; is it denied by the
    posture policies with the fault's expected message?"""
    overlay = str(fault.get("overlay", "dev"))
    deny = posture_deny(posture_input(overlay, apply_fault(fault, objects)), tmp)
    return any(fault["expect"]["posture"] in msg for msg in deny), deny


# ---- pod templates ------------------------------------------------------------------

def pod_templates(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(workload id, Pod object) for every pod template, as PodSecurity would see a Pod."""
    return security_pod_templates(objects, NAMESPACE)


# ---- chart faults (fixtures/faults/<name>/fault.yaml, kind: chart-patch) -------------

def chart_faults() -> list[dict[str, Any]]:
    faults = []
    for path in sorted(FAULTS.glob("*/fault.yaml")):
        text = path.read_text(encoding="utf-8")
        if "kind: chart-patch" not in text:  # compose faults may use compose-only YAML tags
            continue
        doc = yaml.safe_load(text)
        if isinstance(doc, dict) and doc.get("kind") == "chart-patch":
            doc["_dir"] = str(path.parent)
            faults.append(doc)
    return faults


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise ValueError(f"JSON pointer must start with '/': {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def json_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """The remove/add/replace subset of RFC 6902; a path that does not exist is an error."""
    out = copy.deepcopy(doc)
    for op in ops:
        parts = _pointer(str(op["path"]))
        parent, last = _walk(out, parts[:-1]), parts[-1]
        if op["op"] == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                del parent[last]
        elif op["op"] in ("add", "replace"):
            if isinstance(parent, list) and op["op"] == "add":
                parent.insert(int(last), op["value"])
            elif isinstance(parent, list):
                parent[int(last)] = op["value"]
            else:
                if op["op"] == "replace" and last not in parent:
                    raise KeyError(f"replace: {op['path']} does not exist")
                parent[last] = op["value"]
        else:
            raise ValueError(f"unsupported op {op['op']!r}")
    return out


def apply_fault(fault: dict[str, Any], objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rendered objects with the fault seeded (patched, deleted or added)."""
    target = fault.get("target") or {}
    hits = [i for i, o in enumerate(objects)
            if o["kind"] == target.get("kind") and o["metadata"]["name"] == target.get("name")]
    if fault.get("add"):
        manifest = Path(fault["_dir"]) / str(fault["add"])
        return [*objects, *[d for d in yaml.safe_load_all(manifest.read_text(encoding="utf-8")) if d]]
    if len(hits) != 1:
        raise AssertionError(f"fault {fault['name']}: target {target} matched {len(hits)} objects")
    out = list(objects)
    if fault.get("delete"):
        del out[hits[0]]
    else:
        out[hits[0]] = json_patch(out[hits[0]], fault["patch"])
    return out
