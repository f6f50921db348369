"""What a seeded fault is, where faults come from, and how each is described.

Two sources: fault folders `fixtures/faults/<name>/fault.yaml` (one hand-written fault
each), and families generated from the catalog (for every deployed required service:
stop it -> its readiness contract; drop its network alias -> its DNS contract).

fault.yaml:
    name: redis-appendfsync-always
    description: Redis fsyncs on every write instead of every second
    breaks: [sizing.redis.persistence]   # contracts that must fail
    reason: appendfsync                  # text each failure message must contain
    kind: compose-override               # stop | compose-override | exec | opa-bundle |
                                         # prometheus-config | suite-env | static
    services: [redis]                    # services the fault touches (restored after)
    override: {services: {redis: {...}}} # compose-override: merged with -f
    command: [...]                       # exec: run in services[0]
    files: {rel/path: replacement}       # opa-bundle / prometheus-config overlays
    edits: {rel/path: [[old, new], ...]} # text edits on the overlay copy (old must exist)
    env: {NAME: value}                   # suite-env: environment of the suite run
    folder: infra/config/...             # suite-env: a repo folder to copy with the edits
                                         # made; "{folder}" in env values names the copy
    wait: healthy                        # healthy | running (after applying)
    settle: {prometheus_target: {job, health}, timeout_s}  # wait until Prometheus sees it
    build: {tag, dockerfile, args}       # build a derived image first (context: the fault
                                         # folder; tag must start with soma-fault/; args may
                                         # name {image} = services[0]'s image, {postgres_password},
                                         # {redis_password}, {vault_token}); removed after restore
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance.catalog import Catalog
from conformance.errors import UsageError
from conformance.resources import data_path


class OverrideList(list[Any]):
    """A list compose must *replace* rather than merge (the Compose `!override` tag)."""


class FaultLoader(yaml.SafeLoader):
    """Reads fault.yaml, keeping Compose's `!override` tag."""


class FaultDumper(yaml.SafeDumper):
    """Writes compose overrides, emitting `!override` for OverrideList."""


FaultLoader.add_constructor(
    "!override", lambda loader, node: OverrideList(loader.construct_sequence(node)))  # type: ignore[arg-type]
FaultDumper.add_representer(
    OverrideList, lambda dumper, data: dumper.represent_sequence("!override", list(data)))

# chart-patch faults change rendered Helm manifests; the chart checks run them
KINDS = ("stop", "compose-override", "exec", "opa-bundle", "prometheus-config", "suite-env",
         "static", "chart-patch")
# derived images a fault builds live under their own name, never a shared image's tag
FAULT_IMAGE_PREFIX = "soma-fault/"
STACK_KINDS = ("stop", "compose-override", "exec", "opa-bundle", "prometheus-config", "suite-env")
# the folder each editing kind copies and edits (suite-env: the fault's own `folder`)
EDITED_FOLDERS = {"opa-bundle": "policies/bundle", "prometheus-config": "infra/config/prometheus"}
FOLDER_REF = "{folder}"


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    breaks: tuple[str, ...]
    reason: str
    kind: str
    services: tuple[str, ...] = ()
    override: dict[str, Any] | None = None
    command: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    edits: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    folder: str = ""
    wait: str = "healthy"
    settle: dict[str, Any] = field(default_factory=dict)
    build: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def parse_fault(doc: dict[str, Any], source: Path | None, catalog: Catalog) -> Fault:
    where = f"fault {source}" if source else "fault"
    for key in ("name", "description", "breaks", "reason", "kind"):
        if key not in doc:
            raise UsageError(f"{where}: lacks {key!r}")
    if doc["kind"] not in KINDS:
        raise UsageError(f"{where}: unknown kind {doc['kind']!r} (one of {', '.join(KINDS)})")
    known = {c.id for c in catalog.contracts}
    for cid in doc["breaks"]:
        if cid not in known:
            raise UsageError(f"{where}: breaks unknown contract {cid!r}")
    build = dict(doc.get("build", {}))
    if build and not str(build.get("tag", "")).startswith(FAULT_IMAGE_PREFIX):
        raise UsageError(f"{where}: build.tag must start with {FAULT_IMAGE_PREFIX!r} (never a shared image tag)")
    folder = str(doc.get("folder") or "")
    if folder and doc["kind"] != "suite-env":
        raise UsageError(f"{where}: folder is for suite-env faults (the others know theirs)")
    if doc["kind"] == "suite-env" and (doc.get("edits") or doc.get("files")) and not folder:
        raise UsageError(f"{where}: a suite-env fault with edits or files names the folder they edit")
    if folder and not any(FOLDER_REF in str(v) for v in dict(doc.get("env", {})).values()):
        raise UsageError(f"{where}: no env value names the edited copy ({FOLDER_REF})")
    base = source.parent if source else Path(".")
    files = {rel: str((base / path).resolve()) for rel, path in dict(doc.get("files", {})).items()}
    return Fault(
        name=str(doc["name"]), description=str(doc["description"]),
        breaks=tuple(str(c) for c in doc["breaks"]), reason=str(doc["reason"]),
        kind=str(doc["kind"]), services=tuple(doc.get("services", ())),
        override=doc.get("override"), command=tuple(doc.get("command", ())),
        files=files,
        edits={str(k): [(str(a), str(b)) for a, b in v] for k, v in dict(doc.get("edits", {})).items()},
        env={str(k): str(v) for k, v in dict(doc.get("env", {})).items()}, folder=folder,
        wait=str(doc.get("wait", "healthy")), settle=dict(doc.get("settle", {})),
        build=build, source=source, raw=dict(doc),
    )


def edited_folder(fault: Fault) -> Path | None:
    """The folder the fault's files and edits apply to (a copy of it), if any."""
    rel = fault.folder or EDITED_FOLDERS.get(fault.kind)
    return data_path(rel) if rel else None


def generated(catalog: Catalog, deployed: set[str]) -> list[Fault]:
    """Per-service families, so every readiness and DNS contract has its fault."""
    faults: list[Fault] = []
    for svc in catalog.services.values():
        if not svc.required or svc.name not in deployed:
            continue
        faults.append(Fault(
            name=f"stop-{svc.name}", kind="stop", services=(svc.name,),
            description=f"{svc.name} is stopped", breaks=(f"readiness.{svc.name}",),
            reason=f"{svc.name} at"))
        faults.append(Fault(
            name=f"alias-removed-{svc.name}", kind="compose-override", services=(svc.name,),
            description=f"{svc.name} no longer answers to {svc.dns_name}",
            breaks=(f"dns.{svc.name}",), reason="does not resolve",
            override={"services": {svc.name: {"networks": {"soma-infra": {
                "aliases": OverrideList([f"{svc.name}-renamed.{catalog.dns_suffix}"])}}}}}))
    return faults


def from_folders(catalog: Catalog, root: Path | None = None) -> list[Fault]:
    root = root or data_path("fixtures/faults")
    faults = []
    for path in sorted(root.glob("*/fault.yaml")):
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=FaultLoader)
        faults.append(parse_fault(doc, path, catalog))
    return faults
