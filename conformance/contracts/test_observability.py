"""Observability contracts (seed manual, section 6): every component scraped and up, alert
rules loaded and quiet, dashboards that show real data, Grafana where it is deployed.

Each test prints its numbers (visible with -rP) and records them as user properties
(`observability.*`, in the JUnit XML) so the report can show them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.access import Endpoint
from conformance.catalog import Catalog
from conformance.errors import TargetError
from conformance.observability import checks, grafana, tracing
from conformance.observability.promapi import Prometheus
from conformance.probes.clients import ContractFailure
from conformance.resources import data_path
from conformance.targets.base import Target

Get = Callable[[str], Endpoint]
Record = Callable[[str, object], None]


def settings(catalog: Catalog) -> dict[str, Any]:
    """The catalog's `observability` section."""
    return dict(catalog.raw.get("observability") or {})


def report(record_property: Record, name: str, summary: checks.Summary) -> None:
    print(f"observability: {name} {summary.ratio()}" + "".join(f"; {n}" for n in summary.notes))
    record_property(f"observability.{name.replace(' ', '_')}", summary.ratio())


@pytest.fixture(scope="module")
def prometheus(soma_endpoint: Get) -> Prometheus:
    return Prometheus(soma_endpoint("prometheus"))


@pytest.mark.contract("observability.prometheus.targets")
def test_every_deployed_service_has_a_target_up(prometheus: Prometheus, soma_catalog: Catalog,
                                               soma_target: Target, record_property: Record) -> None:
    deployed = [name for name in soma_catalog.services if soma_target.judged(name)]
    summary = checks.targets_up(prometheus, checks.expected_jobs(soma_catalog, deployed))
    report(record_property, "targets up/expected", summary)


@pytest.mark.contract("observability.prometheus.scrape_intervals")
def test_every_target_scraped_at_contract_interval(prometheus: Prometheus, soma_scrape_interval: str,
                                                   soma_catalog: Catalog, soma_target: Target,
                                                   record_property: Record) -> None:
    # the global setting itself is sizing.prometheus.scrape_interval; this one catches
    # a job that overrides it (at the interval the target was asked for: 15s, or 5s on demand)
    deployed = [name for name in soma_catalog.services if soma_target.judged(name)]
    summary = checks.scrape_intervals(prometheus, soma_scrape_interval, checks.expected_jobs(soma_catalog, deployed))
    report(record_property, f"targets at {soma_scrape_interval}", summary)


@pytest.mark.contract("observability.prometheus.rules")
def test_alert_rules_loaded(prometheus: Prometheus, soma_catalog: Catalog, soma_target: Target,
                            soma_scrape_interval: str, record_property: Record) -> None:
    rules_dir = data_path(str(settings(soma_catalog)["rules_dir"]))
    expected = checks.repo_alert_names(rules_dir)
    if not expected:
        raise ContractFailure(f"no alerting rules found under {rules_dir}")
    jobs = {soma_catalog.service(s).metrics_job for s in soma_catalog.services if soma_target.judged(s)}
    summary = checks.rules_loaded(prometheus, expected, jobs, checks.interval_seconds(soma_scrape_interval))
    report(record_property, "rules loaded/expected", summary)


@pytest.mark.contract("observability.prometheus.alerts_quiet")
def test_no_alert_firing(prometheus: Prometheus, record_property: Record) -> None:
    summary = checks.no_alerts_firing(prometheus)
    summary.ok = summary.total  # none firing (else it raised)
    report(record_property, "rules not firing/loaded", summary)


@pytest.mark.contract("observability.dashboards.data")
@pytest.mark.timeout(int(checks.WARM_UP_CAP_S) + 120)  # may wait for a young Prometheus
def test_dashboards_show_data(prometheus: Prometheus, soma_catalog: Catalog, soma_scrape_interval: str,
                              record_property: Record) -> None:
    folder = dashboards_dir(soma_catalog)
    interval = checks.interval_seconds(soma_scrape_interval)
    external = frozenset(str(u) for u in settings(soma_catalog).get("dashboards_fed_externally") or [])
    summary = checks.dashboards_show_data(prometheus, folder, interval, external)
    report(record_property, "panels with data/total", summary)


def dashboards_dir(catalog: Catalog) -> Path:
    """The provisioned dashboards; SOMA_DASHBOARDS_DIR (absolute, or relative to the repo
    root) points the contract at another copy: the seeded fault
    fixtures/faults/dashboard-misspelled-metric uses it."""
    override = os.environ.get("SOMA_DASHBOARDS_DIR")
    if override:
        return Path(override) if Path(override).is_absolute() else data_path(override)
    return data_path(str(settings(catalog)["dashboards_dir"]))


@pytest.mark.contract("observability.grafana.datasource")
def test_grafana_datasource_answers(soma_endpoint: Get, soma_catalog: Catalog) -> None:
    ep = soma_endpoint("grafana")
    result = grafana.datasource_healthy(ep, str(settings(soma_catalog)["grafana_datasource_uid"]))
    print(f"observability: grafana datasource {result}")


@pytest.mark.contract("observability.grafana.dashboards")
def test_grafana_has_baseline_dashboards(soma_endpoint: Get, soma_catalog: Catalog) -> None:
    ep = soma_endpoint("grafana")
    uids = [str(u) for u in settings(soma_catalog)["baseline_dashboards"]]
    missing = grafana.missing_dashboards(ep, uids)
    if missing:
        raise ContractFailure(f"{ep}: baseline dashboards missing: {', '.join(missing)}")
    print(f"observability: grafana baseline dashboards {len(uids)}/{len(uids)}")


@pytest.mark.contract("observability.tracing.decision_span")
def test_policy_decision_traced_to_jaeger(soma_target: Target, soma_endpoint: Get, soma_catalog: Catalog,
                                          record_property: Record) -> None:
    """With tracing on, a decision the suite makes (under a trace id of its own) shows up as
    an OPA span in the target's Jaeger; with tracing off this says so and skips."""
    try:
        setting = soma_target.tracing()
    except TargetError as exc:  # e.g. no port `query` on the jaeger Service, a failed port-forward
        raise ContractFailure(str(exc)) from None
    if not setting.otlp_endpoint or setting.jaeger_query is None:
        pytest.skip(setting.reason)
    opa = soma_endpoint("opa")
    path = str(soma_catalog.policy["decision_path"])
    trace_id = tracing.decide_traced(opa, path, {"input": {"request": {"operation": "tracing-contract"}}})
    found = tracing.find_trace(setting.jaeger_query, trace_id, "opa")
    print(f"observability: decision trace {trace_id} in Jaeger via {setting.otlp_endpoint}: "
          + ", ".join(found.spans))
    record_property("observability.tracing_spans", len(found.spans))

