"""The conformance report: JUnit XML, a schema-versioned JSON document, a self-contained
HTML page, a Markdown summary and Prometheus metrics for every run, plus history.

`register(config)` is the one call the suite's pytest plugin makes to turn it on; the
plugin's pytest_runtest_call also records endpoints as evidence (hooks.record_endpoints).
"""

from __future__ import annotations

import os

import pytest

from conformance.report.hooks import EvidencePlugin, ReportPlugin
from conformance.session import report_dir


def register(config: pytest.Config) -> None:
    """Evidence capture in every process; the writer only where reports are written
    (not on xdist workers), into --report-dir (default reports/)."""
    pm = config.pluginmanager
    if pm.has_plugin("soma-report-evidence"):
        return
    pm.register(EvidencePlugin(), "soma-report-evidence")
    if hasattr(config, "workerinput"):
        return
    explicit = bool(config.getoption("--report-dir", None) or os.environ.get("SOMA_REPORT_DIR"))
    pm.register(ReportPlugin(config, report_dir(config), explicit), "soma-report")
