"""The "Conformance" Grafana dashboard only queries metrics the report really writes."""

from __future__ import annotations

import json
import re

from conformance.report import metrics
from conformance.resources import REPO_ROOT
from tests.unit.report_support import make_run

DASHBOARD = REPO_ROOT / "infra" / "config" / "grafana" / "dashboards" / "conformance.json"


def test_dashboard_queries_exported_metrics() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert (board["uid"], board["title"]) == ("soma-conformance", "Conformance")
    text = metrics.render(make_run({"readiness.redis": "failed"}))
    exported = set(re.findall(r"^(soma_conformance_\w+)", text, re.MULTILINE))
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    variables = [v["definition"] for v in board["templating"]["list"]]
    used = {name for text in exprs + variables for name in re.findall(r"soma_conformance_\w+", text)}
    assert used and used <= exported, used - exported
    # one environment at a time: staging and prod never add up in a panel
    assert "environment" in [v["name"] for v in board["templating"]["list"]]
    assert all('environment=~"$environment"' in e for e in exprs), [e for e in exprs if "$environment" not in e]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert all(t["datasource"]["uid"] == "prometheus" for p in board["panels"] for t in p["targets"])
