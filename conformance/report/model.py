"""The run result as plain data: what every writer renders and what history compares.

Kept free of pytest so the CLI can rebuild any artefact from a saved JSON document
(for example after a killed run) and history can load documents from older runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SCHEMA_ID = "urn:soma:conformance:result:v1"
SCHEMA_VERSION = 1
STATUSES = ("passed", "failed", "error", "skipped")
# worst first: a contract asserted by several tests takes its worst test's status
_RANK = {"error": 0, "failed": 1, "passed": 2, "skipped": 3}
MAX_DETAILS = 4000


def is_failure(status: str) -> bool:
    return status in ("failed", "error")


def worst(statuses: Iterable[str]) -> str:
    """Failures dominate; otherwise one pass makes the contract pass; all skipped = skipped."""
    return min(statuses, key=lambda s: _RANK.get(s, 99), default="skipped")


def jsonable(value: Any) -> Any:
    """Evidence comes from tests: keep JSON types, stringify anything else."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return str(value)


@dataclass
class CaseResult:
    """One pytest test (a contract may be asserted by several)."""

    nodeid: str
    status: str
    duration_s: float = 0.0
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"nodeid": self.nodeid, "status": self.status,
                "duration_s": round(self.duration_s, 4), "message": self.message}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CaseResult:
        return cls(d["nodeid"], d["status"], float(d.get("duration_s") or 0.0), d.get("message"))


@dataclass
class ContractResult:
    """One catalog contract in one run."""

    id: str
    area: str
    service: str
    title: str
    status: str
    duration_s: float = 0.0
    message: str | None = None
    details: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    tests: list[CaseResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "area": self.area, "service": self.service, "title": self.title,
            "status": self.status, "duration_s": round(self.duration_s, 4),
            "message": self.message, "details": self.details,
            "evidence": jsonable(self.evidence), "tests": [t.to_dict() for t in self.tests],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContractResult:
        return cls(
            id=d["id"], area=d["area"], service=d["service"], title=d.get("title", ""),
            status=d["status"], duration_s=float(d.get("duration_s") or 0.0),
            message=d.get("message"), details=d.get("details"),
            evidence=dict(d.get("evidence") or {}),
            tests=[CaseResult.from_dict(t) for t in d.get("tests", [])],
        )


@dataclass
class Pending:
    """A collected contract whose tests have not all reported yet."""

    id: str
    area: str
    service: str
    nodeids: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "area": self.area, "service": self.service, "nodeids": self.nodeids}


@dataclass
class Run:
    """The whole result document (schema v1)."""

    run_id: str
    target: str
    started_at: str
    status: str = "incomplete"  # "complete" only once the session finished normally
    end_reason: str = "running"  # running | finished | interrupted | killed-or-crashed
    exit_status: int | None = None
    updated_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    target_detail: str | None = None
    # the environment's name (endpoints `name:`, compose project, kube context): history,
    # flaky detection and metrics never mix two environments. None: unknown (older documents)
    environment: str | None = None
    # what the target's preflight found: release, chart version, overlay, deployed services
    preflight: dict[str, str] = field(default_factory=dict)
    suite: dict[str, Any] = field(default_factory=dict)
    infra: dict[str, Any] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    contracts: list[ContractResult] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    other_tests: list[CaseResult] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def environment_key(self) -> tuple[str, str | None]:
        """What history compares runs by: same target type and same environment name."""
        return (self.target, self.environment)

    @property
    def environment_label(self) -> str:
        """The environment for people: its name, else the target type (older documents)."""
        return self.environment or f"{self.target} (environment unknown)"

    def summary(self) -> dict[str, Any]:
        counts = {s: 0 for s in STATUSES}
        for c in self.contracts:
            counts[c.status] = counts.get(c.status, 0) + 1
        judged = counts["passed"] + counts["failed"] + counts["error"]
        return {
            "total": len(self.contracts), **counts, "pending": len(self.pending),
            "other_tests": len(self.other_tests),
            "pass_rate": round(counts["passed"] / judged, 4) if judged else None,
        }

    def by(self, key: str) -> dict[str, dict[str, int]]:
        """Counts per area or per service, in first-seen order."""
        out: dict[str, dict[str, int]] = {}
        for c in self.contracts:
            row = out.setdefault(getattr(c, key), {s: 0 for s in STATUSES})
            row[c.status] = row.get(c.status, 0) + 1
        for p in self.pending:
            out.setdefault(getattr(p, key), {s: 0 for s in STATUSES}).setdefault("pending", 0)
            out[getattr(p, key)]["pending"] += 1
        return out

    def failures(self) -> list[ContractResult]:
        return [c for c in self.contracts if is_failure(c.status)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "$schema": SCHEMA_ID, "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id, "status": self.status, "end_reason": self.end_reason,
            "exit_status": self.exit_status, "target": self.target,
            "target_detail": self.target_detail, "environment": self.environment,
            "preflight": self.preflight, "started_at": self.started_at,
            "updated_at": self.updated_at, "finished_at": self.finished_at,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "suite": self.suite, "infra": self.infra, "host": self.host, "command": self.command,
            "summary": self.summary(),
            "contracts": [c.to_dict() for c in self.contracts],
            "pending": [p.to_dict() for p in self.pending],
            "other_tests": [t.to_dict() for t in self.other_tests],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Run:
        return cls(
            run_id=d["run_id"], target=d["target"], started_at=d["started_at"],
            status=d["status"], end_reason=d.get("end_reason", "running"),
            exit_status=d.get("exit_status"), updated_at=d.get("updated_at"),
            finished_at=d.get("finished_at"), duration_s=d.get("duration_s"),
            target_detail=d.get("target_detail"), environment=d.get("environment"),
            preflight={str(k): str(v) for k, v in dict(d.get("preflight") or {}).items()},
            suite=dict(d.get("suite") or {}),
            infra=dict(d.get("infra") or {}), host=dict(d.get("host") or {}),
            command=list(d.get("command") or []),
            contracts=[ContractResult.from_dict(c) for c in d.get("contracts", [])],
            pending=[Pending(p["id"], p["area"], p["service"], list(p.get("nodeids", [])))
                     for p in d.get("pending", [])],
            other_tests=[CaseResult.from_dict(t) for t in d.get("other_tests", [])],
        )
