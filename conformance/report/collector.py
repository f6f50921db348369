"""Turn pytest's per-phase test reports into contract results and the run's tallies.

Fed on the controller only (with xdist, the controller receives every worker's reports),
so one process owns the files and the counts. Knows which tests were collected, so it can
tell which contracts are still pending and when an area has finished.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from conformance import catalog as catalog_mod
from conformance.report.model import MAX_DETAILS, CaseResult, ContractResult, Pending, worst

EVIDENCE_PROP = "soma_evidence"
CONTRACT_PROP = "contract"
MAX_MESSAGE = 500


@dataclass
class _Case:
    nodeid: str
    contract: str | None = None
    status: str | None = None
    message: str | None = None
    details: str | None = None
    duration_s: float = 0.0
    props: list[tuple[str, Any]] = field(default_factory=list)
    finished: bool = False


def _one_line(text: str) -> str:
    for raw in text.splitlines():
        line = raw.strip()
        if line:
            for prefix in ("Failed: ", "Skipped: "):
                line = line.removeprefix(prefix)
            return line[:MAX_MESSAGE]
    return ""


def message_of(report: pytest.TestReport) -> str | None:
    """The one-line cause: a skip reason, or the exception line of a failure."""
    longrepr = report.longrepr
    if longrepr is None:
        return None
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return _one_line(str(longrepr[2]))
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return _one_line(str(crash.message))
    return _one_line(report.longreprtext) or None


def evidence_of(props: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Merge soma_evidence entries and plain record_property values; lists accumulate."""
    out: dict[str, Any] = {}
    for item in props:
        name, value = item[0], item[1]
        if name == CONTRACT_PROP:
            continue
        entries = value.items() if name == EVIDENCE_PROP and isinstance(value, dict) else [(name, value)]
        for key, val in entries:
            if key in out and isinstance(out[key], list):
                out[key].extend(v for v in (val if isinstance(val, list) else [val]) if v not in out[key])
            else:
                out[key] = list(val) if isinstance(val, list) else val
    return out


@dataclass
class Tallies:
    """What the terminal summary lists: `record_property("measurement", text)` lines, each
    area's time (setup, call and teardown of its tests) and the contracts skipped as
    disruptive (the waived ones it lists from the waivers themselves)."""

    measurements: list[str] = field(default_factory=list)
    area_seconds: dict[str, float] = field(default_factory=dict)
    area_tests: dict[str, set[str]] = field(default_factory=dict)
    disruptive: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)

    def add(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.measurements.extend(str(v) for k, v in report.user_properties if k == "measurement")
        area = next((a for a in catalog_mod.AREAS if a in report.keywords), None)
        if area:
            self.area_seconds[area] = self.area_seconds.get(area, 0.0) + report.duration
            self.area_tests.setdefault(area, set()).add(report.nodeid)
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2])
            contract = next((str(v) for k, v in report.user_properties if k == CONTRACT_PROP), None)
            if contract and reason.removeprefix("Skipped: ").startswith("disruptive"):
                self.disruptive.add(contract)


class Collector:
    """Accumulates reports; `contracts()`, `pending()` and `others()` build the model."""

    def __init__(self, catalog: catalog_mod.Catalog) -> None:
        self.catalog = catalog
        self.cases: dict[str, _Case] = {}
        self.collected = False
        self._areas_done: set[str] = set()
        self.tallies = Tallies()

    def set_collected(self, mapping: dict[str, str | None]) -> None:
        """nodeid -> contract id (None for a test that is not a contract)."""
        for nodeid, contract in mapping.items():
            case = self.cases.setdefault(nodeid, _Case(nodeid))
            case.contract = case.contract or contract
        self.collected = True

    def record(self, report: pytest.TestReport) -> None:
        self.tallies.add(report)
        case = self.cases.setdefault(report.nodeid, _Case(report.nodeid))
        case.duration_s += float(report.duration or 0.0)
        case.props = [tuple(p) for p in report.user_properties]  # type: ignore[misc]
        for name, value in case.props:
            if name == CONTRACT_PROP:
                case.contract = str(value)
        wasxfail = getattr(report, "wasxfail", None)
        if report.when == "setup" and report.outcome != "passed":
            case.status = "error" if report.failed else "skipped"
            case.message = message_of(report)
        elif report.when == "call":
            case.status = "failed" if report.failed else report.outcome
            case.message = message_of(report)
            if wasxfail is not None and report.skipped:
                case.message = f"xfail: {wasxfail}" if wasxfail else "xfail"
        elif report.when == "teardown":
            case.finished = True
            if report.failed:
                teardown_msg = f"teardown: {message_of(report)}"
                case.message = f"{case.message}; {teardown_msg}" if case.message else teardown_msg
                case.status = "error" if case.status in (None, "passed") else case.status
        if report.failed:
            case.details = report.longreprtext[:MAX_DETAILS]

    def finalize(self) -> None:
        """Session end: a test that reported an outcome but no teardown (a crashed worker) is done."""
        for case in self.cases.values():
            if case.status is not None:
                case.finished = True

    # --- views ---------------------------------------------------------------------------
    def _by_contract(self) -> dict[str, list[_Case]]:
        out: dict[str, list[_Case]] = {}
        for case in self.cases.values():
            if case.contract:
                out.setdefault(case.contract, []).append(case)
        order = {c.id: i for i, c in enumerate(self.catalog.contracts)}
        return dict(sorted(out.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))

    def _meta(self, contract_id: str) -> tuple[str, str, str]:
        try:
            c = self.catalog.contract(contract_id)
        except KeyError:
            return "unknown", "unknown", ""
        return c.area, c.service, c.title

    @staticmethod
    def _done(case: _Case) -> bool:
        return case.status is not None and (case.finished or case.status != "passed")

    def contracts(self) -> list[ContractResult]:
        results = []
        for cid, cases in self._by_contract().items():
            if not all(self._done(c) for c in cases):
                continue
            area, service, title = self._meta(cid)
            status = worst(str(c.status) for c in cases)
            lead = next((c for c in cases if c.status == status), cases[0])
            evidence: dict[str, Any] = {}
            for c in cases:
                evidence.update(evidence_of(c.props))
            results.append(ContractResult(
                id=cid, area=area, service=service, title=title, status=status,
                duration_s=sum(c.duration_s for c in cases), message=lead.message,
                details=lead.details if status in ("failed", "error") else None, evidence=evidence,
                tests=[CaseResult(c.nodeid, str(c.status), c.duration_s, c.message) for c in cases],
            ))
        return results

    def pending(self) -> list[Pending]:
        out = []
        for cid, cases in self._by_contract().items():
            waiting = [c.nodeid for c in cases if not self._done(c)]
            if waiting:
                area, service, _ = self._meta(cid)
                out.append(Pending(cid, area, service, waiting))
        return out

    def others(self) -> list[CaseResult]:
        return [CaseResult(c.nodeid, str(c.status), c.duration_s, c.message)
                for c in self.cases.values() if not c.contract and self._done(c)]

    def newly_done_areas(self) -> list[tuple[str, dict[str, int]]]:
        """Areas whose every collected contract test has finished: (area, contract counts),
        each area reported once."""
        if not self.collected:
            return []
        areas: dict[str, dict[str, list[_Case]]] = {}
        for cid, cases in self._by_contract().items():
            areas.setdefault(self._meta(cid)[0], {})[cid] = cases
        out = []
        for area, contracts in areas.items():
            if area in self._areas_done or not all(c.finished for cs in contracts.values() for c in cs):
                continue
            self._areas_done.add(area)
            counts: dict[str, int] = {}
            for cases in contracts.values():
                status = worst(str(c.status) for c in cases)
                counts[status] = counts.get(status, 0) + 1
            out.append((area, counts))
        return out
