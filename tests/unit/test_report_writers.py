"""The artefacts rendered from a synthetic run: schema, JUnit, HTML, Markdown, metrics."""

from __future__ import annotations

import json
import re
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from conformance.cli import main
from conformance.report import artefacts, html, junit, markdown, metrics
from conformance.report.history import compare
from conformance.report.json_writer import load_run, schema, validation_errors
from tests.unit.report_support import make_run

STATUSES = {"readiness.redis": "passed", "readiness.postgres": "failed", "dns.redis": "skipped",
            "sizing.redis.eviction": "error"}
METRIC_LINE = re.compile(r'^[a-z_:][a-z0-9_:]*(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+$')


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema())


def test_documents_validate_and_round_trip() -> None:
    run = make_run(STATUSES)
    doc = run.to_dict()
    assert validation_errors(doc) == []
    assert doc["summary"] == {"total": 4, "passed": 1, "failed": 1, "error": 1, "skipped": 1, "pending": 0,
                              "other_tests": 0, "pass_rate": pytest.approx(1 / 3, abs=1e-4)}
    partial = make_run(STATUSES, complete=False).to_dict()
    assert validation_errors(partial) == [] and partial["status"] == "incomplete"
    assert type(run).from_dict(json.loads(run.to_json())).to_dict() == doc


@pytest.mark.parametrize(("path", "value"), [
    (("status",), "done"), (("contracts", 0, "status"), "ok"), (("started_at",), "yesterday"),
    (("summary", "passed"), -1), (("schema_version",), 2),
])
def test_schema_rejects_bad_documents(path: tuple[Any, ...], value: Any) -> None:
    doc = make_run(STATUSES).to_dict()
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert validation_errors(doc)


def test_junit_has_one_suite_per_area_and_a_case_per_contract() -> None:
    root = ET.fromstring(junit.render(make_run(STATUSES)))
    assert root.tag == "testsuites" and root.get("tests") == "4"
    assert (root.get("failures"), root.get("errors"), root.get("skipped")) == ("1", "1", "1")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"readiness", "dns", "sizing"}
    failed = next(c for c in root.iter("testcase") if c.get("name") == "readiness.postgres")
    failure = failed.find("failure")
    assert failure is not None and "failed on day 0" in (failure.get("message") or "")
    props = {p.get("name"): p.get("value") for p in failed.iter("property")}
    assert props["area"] == "readiness" and "127.0.0.1" in (props["evidence.endpoints"] or "")


def test_junit_survives_control_characters() -> None:
    run = make_run({"readiness.redis": "failed"})
    run.contracts[0].message = "bad\x00byte\x1b[31m"
    ET.fromstring(junit.render(run))


def test_html_is_self_contained_and_shows_everything() -> None:
    runs = [make_run({"readiness.redis": s}, day=i) for i, s in enumerate(["passed", "failed", "passed"])]
    run = make_run(STATUSES, day=5)
    page = html.render(run, compare(run, runs, window=5))
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # no external asset of any kind: the only URL is the SVG namespace
    urls = set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    for text in ("By area", "By service", "Failures: 2 contracts", "readiness.postgres", "failed on day 5",
                 "127.0.0.1:6379", "Run metadata", "0123456789abcdef", "Trend", "Since earlier runs", "<svg"):
        assert text in page, text


def test_html_marks_an_incomplete_run() -> None:
    page = html.render(make_run(STATUSES, complete=False))
    assert "INCOMPLETE" in page


def test_markdown_summary() -> None:
    text = markdown.render(make_run(STATUSES))
    assert "3 of 4 contracts ran: **1 passed**, **1 failed**, 1 error; 1 skipped, not verified" in text
    assert "### Failures: 2 contracts, 2 root causes" in text
    assert "| readiness | 1 | 1 | 0 | 0 |" in text and "`readiness.postgres`" in text


def test_metrics_are_prometheus_text() -> None:
    text = metrics.render(make_run(STATUSES))
    families: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line.startswith("# "):
            kind, name = line.split()[1:3]
            families.setdefault(name, set()).add(kind)
            continue
        assert METRIC_LINE.match(line), line
        assert line.split("{")[0].split()[0] in families
    assert all(kinds == {"HELP", "TYPE"} for kinds in families.values())
    assert 'soma_conformance_contract_passed{target="compose",environment="soma-infra",' \
           'contract="readiness.postgres",area="readiness",service="postgres"} 0' in text
    assert 'soma_conformance_run_duration_seconds{target="compose",environment="soma-infra"} 12.5' in text
    assert "soma_conformance_run_timestamp_seconds" in text and "soma_conformance_run_complete" in text
    # a skipped contract is not reported as passed or failed
    assert 'contract="dns.redis"' not in text.split("# HELP soma_conformance_contract_status")[0]


def test_rerender_from_json_and_textfile(tmp_path: Path) -> None:
    run = make_run(STATUSES, complete=False)
    written = artefacts.write_all(run, tmp_path / "run")
    assert sorted(p.name for p in written) == sorted(artefacts.ALL_NAMES)
    (tmp_path / "run" / "report.html").unlink()
    rc = main(["report", str(tmp_path / "run"), "--write", "--textfile-dir", str(tmp_path / "textfile")])
    assert rc == 0 and (tmp_path / "run" / "report.html").exists()
    assert "soma_conformance_run_complete" in (tmp_path / "textfile" / "soma_conformance.prom").read_text()
    assert load_run(tmp_path / "run").run_id == run.run_id


class _Gateway(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append(("PUT", self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_push_to_a_pushgateway_on_loopback() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        metrics.push(make_run(STATUSES), f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    method, path, body = _Gateway.seen[-1]
    assert (method, path) == ("PUT", "/metrics/job/soma_conformance/target/compose/environment/soma-infra")
    assert b"soma_conformance_contract_passed" in body


def test_push_group_names_the_environment_safely() -> None:
    assert metrics._group_label("environment", "staging-eu") == "environment/staging-eu"
    assert metrics._group_label("environment", "kind-soma/infra") == "environment@base64/a2luZC1zb21hL2luZnJh"
