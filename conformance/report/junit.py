"""JUnit XML: one <testsuite> per contract area, one <testcase> per contract.

Written from the model rather than by pytest's junitxml so the case names are contract
ids (stable across refactors of test functions) and evidence rides along as properties.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from conformance.report.model import ContractResult, Run

# characters XML 1.0 forbids (control characters other than tab/newline/return)
_BAD = {c: None for c in range(32) if c not in (9, 10, 13)}


def _clean(text: str | None) -> str:
    return (text or "").translate(_BAD)


def _case(parent: ET.Element, c: ContractResult) -> None:
    case = ET.SubElement(parent, "testcase", name=c.id, classname=f"{c.area}.{c.service}",
                         time=f"{c.duration_s:.3f}")
    props = ET.SubElement(case, "properties")
    for name, value in (("contract", c.id), ("area", c.area), ("service", c.service), ("title", c.title)):
        ET.SubElement(props, "property", name=name, value=_clean(value))
    for key, value in c.evidence.items():
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        ET.SubElement(props, "property", name=f"evidence.{key}", value=_clean(text))
    if c.status in ("failed", "error"):
        tag = "failure" if c.status == "failed" else "error"
        el = ET.SubElement(case, tag, message=_clean(c.message), type=c.status)
        el.text = _clean(c.details or c.message)
    elif c.status == "skipped":
        ET.SubElement(case, "skipped", message=_clean(c.message))
    out = ET.SubElement(case, "system-out")
    out.text = _clean("\n".join(f"{t.nodeid}: {t.status}" for t in c.tests))


def render(run: Run) -> str:
    root = ET.Element("testsuites", name="soma-conformance", time=f"{run.duration_s or 0:.3f}")
    areas: dict[str, list[ContractResult]] = {}
    for c in run.contracts:
        areas.setdefault(c.area, []).append(c)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for area, contracts in areas.items():
        counts = {
            "tests": len(contracts),
            "failures": sum(c.status == "failed" for c in contracts),
            "errors": sum(c.status == "error" for c in contracts),
            "skipped": sum(c.status == "skipped" for c in contracts),
        }
        for k, v in counts.items():
            totals[k] += v
        attrs = {"name": area, "timestamp": run.started_at,
                 "time": f"{sum(c.duration_s for c in contracts):.3f}",
                 **{k: str(v) for k, v in counts.items()}}
        suite = ET.SubElement(root, "testsuite", attrs)
        props = ET.SubElement(suite, "properties")
        for name, value in (("run_id", run.run_id), ("target", run.target),
                            ("environment", run.environment or ""), ("status", run.status),
                            ("git_revision", run.infra.get("git_revision") or "")):
            ET.SubElement(props, "property", name=name, value=_clean(str(value)))
        for c in contracts:
            _case(suite, c)
    if run.other_tests:
        suite = ET.SubElement(root, "testsuite", name="other-tests", tests=str(len(run.other_tests)),
                              failures=str(sum(t.status == "failed" for t in run.other_tests)),
                              errors=str(sum(t.status == "error" for t in run.other_tests)),
                              skipped=str(sum(t.status == "skipped" for t in run.other_tests)))
        for t in run.other_tests:
            case = ET.SubElement(suite, "testcase", name=t.nodeid, classname="other",
                                 time=f"{t.duration_s:.3f}")
            if t.status in ("failed", "error"):
                ET.SubElement(case, "failure" if t.status == "failed" else "error",
                              message=_clean(t.message))
            elif t.status == "skipped":
                ET.SubElement(case, "skipped", message=_clean(t.message))
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
