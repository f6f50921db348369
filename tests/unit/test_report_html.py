"""The HTML report reads right: failures grouped by root cause, each contract linked to its
runbook section, the trend near the top from the first render, honest counts, evidence
as text."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from conformance import catalog, runbook
from conformance.report import causes, html
from conformance.report.history import compare
from conformance.report.model import CaseResult, ContractResult, Run
from tests.unit.report_support import make_run, synthetic_cmd, synthetic_env

RUN_TIMEOUT_S = 120
OPA_DOWN = "opa at 127.0.0.1:8181: not reachable: ConnectionRefusedError: [Errno 111] Connection refused"
# the shapes one unreachable service takes in real runs (see a run against closed ports)
OPA_SHAPES = [OPA_DOWN, f"conformance.probes.clients.ContractFailure: {OPA_DOWN}",
              "opa at http://127.0.0.1:8181/v1/data/soma/allow: ConnectError: [Errno 111] Connection refused",
              "opa at 127.0.0.1:8181: decision: ConnectTimeout: timed out"]


def _contract(cid: str, status: str, message: str | None = None) -> ContractResult:
    c = catalog.load().contract(cid)
    return ContractResult(id=c.id, area=c.area, service=c.service, title=c.title, status=status,
                          duration_s=0.1, message=message, details=message,
                          evidence={"endpoints": [f"{c.service} at 127.0.0.1:8181"]},
                          tests=[CaseResult(f"contracts/test_x.py::test_{c.id}", status, 0.1, message)])


def _opa_down_run() -> Run:
    run = make_run({})
    opa = [c.id for c in catalog.load().contracts if c.service == "opa"]
    assert len(opa) >= 9  # nine of them fail below
    run.contracts = [_contract(cid, "failed" if i % 2 else "error", OPA_SHAPES[i % len(OPA_SHAPES)])
                     for i, cid in enumerate(opa[:9])]
    run.contracts.append(_contract("readiness.vault", "failed",
                                   "vault at 127.0.0.1:8200: sys/health answered HTTP 503: 'sealed'"))
    run.contracts.append(_contract("readiness.redis", "passed"))
    run.contracts.append(_contract("dns.redis", "skipped", "an external target has no in-network probe"))
    return run


def test_failures_are_grouped_by_root_cause() -> None:
    """9 contracts failing because OPA is down are one card, not nine."""
    run = _opa_down_run()
    groups = causes.group(run.failures())
    assert [(g.title, len(g.contracts)) for g in groups] == [
        ("opa unreachable at 127.0.0.1:8181", 9), ("vault at 127.0.0.1:8200: sys/health answered HTTP 503", 1)]
    page = html.render(run)
    assert page.count('<div class="fail"') == 2
    assert "opa unreachable at 127.0.0.1:8181 → 9 contracts" in page
    assert "Failures: 10 contracts, 2 root causes" in page
    assert "FAILED: 10 of 11 contracts that ran are broken (2 root causes); 1 skipped, not verified." in page


def test_messages_without_an_endpoint_are_their_own_cause() -> None:
    same = "target compose: compose project 'x' has no containers: start it with `make up`"
    run = make_run({})
    run.contracts = [_contract("readiness.redis", "error", same), _contract("readiness.postgres", "error", same),
                     _contract("readiness.kafka", "failed", None)]
    groups = causes.group(run.failures())
    assert [(g.service, g.title, len(g.contracts)) for g in groups] == [
        ("", same, 2), ("kafka", "kafka: failed without a message", 1)]


def test_each_contract_links_to_its_runbook_section() -> None:
    run = _opa_down_run()
    page = html.render(run)
    for c in run.contracts:
        anchor = catalog.load().contract(c.id).runbook
        section = runbook.section_for(c.id)
        assert anchor and section is not None
        assert f'href="#rb-{anchor}"' in page, c.id
        assert f'id="rb-{anchor}"' in page, c.id  # the link lands on the embedded section
    # the failure card says what to do, with the section's own words
    opa_card = page.split('<div class="fail"')[1]
    assert "What to do: OPA and the policy bundle" in opa_card and "make bundle" in opa_card


def test_counts_are_honest_about_skips() -> None:
    """The green banner used to say 'every contract that ran holds (5)' with 2 of 5 skipped."""
    run = make_run({"readiness.redis": "passed", "readiness.postgres": "passed", "sizing.redis.eviction": "passed",
                    "dns.redis": "skipped", "dns.kafka": "skipped"})
    page = html.render(run)
    text = re.sub(r"<[^>]+>", "", page)
    assert "PASSED: all 3 contracts that ran hold; 2 skipped, not verified." in text
    assert "5 contracts: 3 ran (3 passed, 0 failed, 0 error), 2 skipped" in text
    assert "Not verified: 2 skipped" in text
    nothing = html.render(make_run({"dns.redis": "skipped"}))
    assert "NOTHING VERIFIED: all 1 contracts were skipped." in nothing and "banner ok" not in nothing


def test_trend_is_near_the_top() -> None:
    earlier = [make_run({"readiness.redis": s}, day=i) for i, s in enumerate(["passed", "failed", "passed"])]
    run = _opa_down_run()
    run.started_at = "2026-11-09T03:00:00.000Z"
    page = html.render(run, compare(run, earlier))
    assert page.index('id="trend"') < page.index('id="failures"') < page.index('id="by-area"')
    assert page.index('id="trend"') < page.index('id="contracts"') < page.index('id="metadata"')
    assert "<svg" in page.split('id="trend"')[1].split("<h2")[0]


def test_evidence_renders_as_text_not_json() -> None:
    run = _opa_down_run()
    run.contracts[0].evidence = {"endpoints": ["opa at 127.0.0.1:8181", "vault at 127.0.0.1:8200"],
                                 "decision": {"allow": False, "reasons": ["malformed_input"]}}
    page = html.render(run)
    assert "<dd>opa at 127.0.0.1:8181\nvault at 127.0.0.1:8200</dd>" in page
    assert "[&quot;" not in page and "&quot;opa at" not in page
    assert "<dt>decision</dt><dd>allow: False\nreasons: malformed_input</dd>" in page


def test_first_render_of_a_plain_run_already_shows_the_trend(tmp_path: Path) -> None:
    """Without nightly, history used to appear only after `report --write --history`."""
    out = tmp_path / "out"
    for n in (1, 2):
        proc = subprocess.run(synthetic_cmd(tmp_path, out), env=synthetic_env(0), capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S, check=False)
        assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
        page = (out / "report.html").read_text(encoding="utf-8")
        assert 'id="trend"' in page and "<svg" in page
        assert f"pass rate of the last {n} run{'s' if n > 1 else ''} of environment" in page
    assert len(list((out / "history").glob("*.json"))) == 2
