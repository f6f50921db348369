"""Offline checks of the observability assets and of the contracts' pure logic.

The live proof (every panel shows data, faults detected) is tests/observability; these
keep the files honest without a stack: one Prometheus config source, dashboards on the
provisioned datasource, a promtool test for every alert, and checks that can fail.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.access import Endpoint
from conformance.catalog import load
from conformance.observability import checks
from conformance.observability import dashboards as dash
from conformance.observability.promapi import Prometheus
from conformance.probes.clients import ContractFailure

REPO = Path(__file__).resolve().parents[2]
PROM = REPO / "infra/config/prometheus"
GRAFANA = REPO / "infra/config/grafana"
OBS = load().raw["observability"]
DASHBOARDS = dash.load(REPO / OBS["dashboards_dir"])


def yaml_file(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- Prometheus config ------------------------------------------------------------------


def test_every_catalog_service_has_its_scrape_job_on_contract_names() -> None:
    config = yaml_file(PROM / "prometheus.yml")
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    cat = load()
    assert {s.metrics_job for s in cat.services.values()} <= set(jobs)
    for job in jobs.values():
        names = [t for sc in job.get("static_configs", []) for t in sc["targets"]]
        names += [f"{n}:{sd['port']}" for sd in job.get("dns_sd_configs", []) for n in sd["names"]]
        assert names, job["job_name"]
        for name in names:
            assert name.split(":")[0].endswith("." + cat.dns_suffix), name
    assert config["global"]["scrape_interval"] == cat.sizing["prometheus"]["scrape_interval"]


def test_optional_services_are_discovered_not_static() -> None:
    """An undeployed optional service must not be a down target (DNS-SD yields none)."""
    jobs = {j["job_name"]: j for j in yaml_file(PROM / "prometheus.yml")["scrape_configs"]}
    for svc in load().services.values():
        job = jobs[svc.metrics_job]
        assert ("dns_sd_configs" in job) == (not svc.required), svc.name


def test_5s_variant_changes_only_the_global_interval(tmp_path: Path) -> None:
    out = tmp_path / "prometheus.yml"
    subprocess.run(
        ["bash", str(REPO / "infra/scripts/prometheus-variant.sh"), "5s", "4s", str(out)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    base, fast = yaml_file(PROM / "prometheus.yml"), yaml_file(out)
    assert fast["global"] == {**base["global"], "scrape_interval": "5s", "scrape_timeout": "4s"}
    assert {k: v for k, v in fast.items() if k != "global"} == {
        k: v for k, v in base.items() if k != "global"
    }


def test_variant_script_refuses_a_silent_no_op(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["bash", str(REPO / "infra/scripts/prometheus-variant.sh"), "5s", "", str(tmp_path / "p.yml")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode != 0


def test_5s_override_differs_from_base_only_in_config_file() -> None:
    base = yaml_file(REPO / "infra/docker/shared-infra.compose.yaml")["services"]["prometheus"]["command"]
    fast = yaml_file(REPO / "infra/docker/prometheus-5s.override.yaml")["services"]["prometheus"]["command"]

    def strip(cmd: list[str]) -> list[str]:
        return [a for a in cmd if not a.startswith("--config.file=")]

    assert strip(base) == strip(fast) and base != fast


# --- alert rules ------------------------------------------------------------------------


def alert_rules() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((PROM / "rules").glob("*.yml")):
        for group in yaml_file(path)["groups"]:
            out.update({r["alert"]: r for r in group["rules"] if "alert" in r})
    return out


def test_every_alert_has_severity_summary_and_a_promtool_test() -> None:
    tested = set()
    for path in (PROM / "tests").glob("*.test.yml"):
        for case in yaml_file(path)["tests"]:
            tested |= {t["alertname"] for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    for name, rule in alert_rules().items():
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["summary"], name
        assert name in tested, f"{name} has no promtool test where it fires"


def test_rule_selectors_keep_only_name_and_job() -> None:
    sel = checks.rule_selectors('rate(x_total{job="opa",code=~"5.."}[5m]) / y{job="opa"} + up')
    assert sel == [("opa", 'x_total{job="opa"}'), ("opa", 'y{job="opa"}')]
    # every component rule names its job, so the rules contract checks its metrics exist
    assert [n for n, r in alert_rules().items() if not checks.rule_selectors(r["expr"])] == ["SomaTargetDown"]


# --- Grafana provisioning and dashboards -------------------------------------------------


def test_datasource_is_the_contract_prometheus() -> None:
    ds = yaml_file(GRAFANA / "provisioning/datasources/prometheus.yaml")["datasources"][0]
    prom = load().service("prometheus")
    assert ds["url"] == f"http://{prom.address}" and ds["uid"] == OBS["grafana_datasource_uid"]


def test_dashboard_provider_reads_the_folder_compose_mounts() -> None:
    provider = yaml_file(GRAFANA / "provisioning/dashboards/soma-infra.yaml")["providers"][0]
    volumes = yaml_file(REPO / "infra/docker/shared-infra.compose.yaml")["services"]["grafana"]["volumes"]
    assert f"../config/grafana/dashboards:{provider['options']['path']}:ro" in volumes


def test_every_baseline_dashboard_is_a_file() -> None:
    assert set(OBS["baseline_dashboards"]) <= {b.uid for b in DASHBOARDS}


@pytest.mark.parametrize("board", DASHBOARDS, ids=[b.uid for b in DASHBOARDS])
def test_dashboard_queries_use_the_provisioned_datasource(board: dash.Dashboard) -> None:
    qs = dash.queries(board)
    assert qs, f"{board} has no PromQL"
    ids = [p.get("id") for p in dash.iter_panels(board.raw["panels"])]
    assert len(ids) == len(set(ids)), f"{board}: duplicate panel ids"
    for q in qs:
        assert q.datasource_uid == OBS["grafana_datasource_uid"], q.where
        # a fallback would make "shows data" true for a misspelled metric
        assert not re.search(r"\bvector\s*\(|absent\s*\(", q.expr), q.where
    for var in board.raw.get("templating", {}).get("list", []):
        if var["type"] == "query":
            assert dash.parse_label_values(var["definition"]), f"{board} ${var['name']}"


def test_seeded_dashboard_fault_differs_only_by_the_misspelling(tmp_path: Path) -> None:
    """The fault is an edit of the provisioned dashboards (no copy kept in fixtures/): the
    folder the suite is pointed at differs from the real one by one word in one panel."""
    from harness.faults.engine import suite_env
    from harness.faults.model import from_folders

    fault = next(f for f in from_folders(load()) if f.name == "dashboard-misspelled-metric")
    folder = Path(suite_env(fault, tmp_path)["SOMA_DASHBOARDS_DIR"])
    real = REPO / OBS["dashboards_dir"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in real.iterdir())
    for path in real.iterdir():
        text = path.read_text(encoding="utf-8")
        if path.name == "soma-redis.json":
            text = text.replace("redis_connected_clients", "redis_conected_clients")
        assert json.loads((folder / path.name).read_text(encoding="utf-8")) == json.loads(text), path.name
    redis = next(b for b in dash.load(folder) if b.path.name == "soma-redis.json")
    assert sum("redis_conected_clients" in q.expr for q in dash.queries(redis)) == 1


# --- variable expansion (Grafana's rules for Prometheus) ---------------------------------


def test_label_values_parsing() -> None:
    assert dash.parse_label_values('label_values(up{job="redis"}, instance)') == (
        'up{job="redis"}',
        "instance",
    )
    assert dash.parse_label_values("label_values(job)") == (None, "job")
    assert dash.parse_label_values("query_result(up)") is None


def test_expand_all_reference_forms_and_escape_multi_values() -> None:
    values = {"instance": dash.format_values(["a.b:1", "c"], multi=True), "job": "redis"}
    expr = 'x{instance=~"$instance", job="${job}", j2="${job:raw}", j3="[[job]]", z="$other"}'
    out = dash.expand(expr, values)
    assert out == 'x{instance=~"(a\\\\.b:1|c)", job="redis", j2="redis", j3="redis", z="$other"}'
    assert dash.unresolved(out) == ["other"]
    assert dash.builtins(15)["__rate_interval"] == "60s"


def test_variables_resolve_through_label_values_and_report_empty_ones() -> None:
    board = dash.Dashboard(
        "u",
        "T",
        Path("t.json"),
        {
            "templating": {
                "list": [
                    {"name": "job", "type": "custom", "query": "redis"},
                    {
                        "name": "instance",
                        "type": "query",
                        "multi": True,
                        "query": {"query": 'label_values(up{job="$job"}, instance)'},
                    },
                    {"name": "gone", "type": "query", "query": "label_values(nothing, instance)"},
                ]
            }
        },
    )
    seen: list[tuple[str | None, str]] = []

    def lv(match: str | None, label: str) -> list[str]:
        seen.append((match, label))
        return ["r:9121"] if match and "redis" in match else []

    values, problems = dash.resolve_variables(board, lv, 15)
    assert seen[0] == ('up{job="redis"}', "instance")
    assert values["instance"] == "(r:9121)" and values["job"] == "redis"
    assert len(problems) == 1 and "$gone" in problems[0] and "has no values" in problems[0]


# --- the contracts' failure messages, against a scripted Prometheus -----------------------


class FakePrometheus(Prometheus):
    def __init__(
        self,
        targets: list[dict[str, Any]] | None = None,
        series: int = 1,
        rules: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(Endpoint("prometheus", "127.0.0.1", 9))
        self._targets, self._series, self._rules = targets or [], series, rules or []

    def active_targets(self) -> list[dict[str, Any]]:
        return self._targets

    def query(self, expr: str) -> list[dict[str, Any]]:
        return [{"metric": {}, "value": [0, "1"]}] * self._series

    def rule_groups(self) -> list[dict[str, Any]]:
        return self._rules

    def label_values(self, match: str | None, label: str, lookback_s: int = 3600) -> list[str]:
        return ["i:1"] if self._series else []

    def uptime_s(self) -> float:
        return 3600.0  # an old Prometheus: no warm-up wait


def target(job: str, health: str = "up", error: str = "") -> dict[str, Any]:
    return {
        "labels": {"job": job},
        "health": health,
        "lastError": error,
        "scrapeUrl": f"http://{job}:1/metrics",
        "scrapeInterval": "15s",
    }


def test_targets_failure_names_missing_and_down_jobs_with_last_error() -> None:
    prom = FakePrometheus([target("redis"), target("postgres", "down", "dial tcp: no such host")])
    with pytest.raises(ContractFailure) as err:
        checks.targets_up(prom, {"redis": "redis", "postgres": "postgres", "kafka": "kafka"}, wait_s=0)
    msg = str(err.value)
    assert "targets up 1/3" in msg and "job 'kafka' (service kafka): no active target" in msg
    assert (
        "job 'postgres' (service postgres): target http://postgres:1/metrics is down: dial tcp: no such host"
        in msg
    )
    assert checks.targets_up(FakePrometheus([target("redis")]), {"redis": "redis"}, wait_s=0).ratio() == "1/1"


def test_intervals_of_a_prometheus_listing_no_targets_yet_do_not_pass() -> None:
    """Right after a restart Prometheus lists no active target: the contract once passed on
    that empty list while a job overrode the interval (the mutation run of 2026-12-03)."""
    with pytest.raises(ContractFailure, match=r"job 'etcd' \(service etcd\): no active target"):
        checks.scrape_intervals(FakePrometheus([]), "15s", {"etcd": "etcd"}, wait_s=0)
    assert checks.scrape_intervals(FakePrometheus([target("etcd")]), "15s", {"etcd": "etcd"}, wait_s=0).ok == 1


def test_interval_and_alert_failures_name_the_culprit() -> None:
    slow = target("etcd") | {"scrapeInterval": "60s"}
    with pytest.raises(ContractFailure, match=r"job 'etcd' .* every 60s"):
        checks.scrape_intervals(FakePrometheus([target("redis"), slow]), "15s", {"redis": "redis", "etcd": "etcd"},
                                wait_s=0)
    rules = [
        {
            "rules": [
                {
                    "name": "SomaRedisDown",
                    "health": "ok",
                    "alerts": [
                        {
                            "state": "firing",
                            "labels": {"alertname": "SomaRedisDown", "job": "redis"},
                            "annotations": {"summary": "Redis is unreachable"},
                        }
                    ],
                }
            ]
        }
    ]
    with pytest.raises(
        ContractFailure, match=r"1 of 1 alerting rules firing: SomaRedisDown .*Redis is unreachable"
    ):
        checks.no_alerts_firing(FakePrometheus(rules=rules))


def test_rules_failure_names_unloaded_rules_and_missing_metrics() -> None:
    live = [{"rules": [{"name": "A", "health": "ok"}]}]
    with pytest.raises(ContractFailure) as err:
        checks.rules_loaded(
            FakePrometheus(rules=live, series=0), {"A": 'x{job="redis"} > 0', "B": "up == 0"}, {"redis"}
        )
    assert "alert B is not loaded" in str(err.value) and 'alert A reads x{job="redis"}' in str(err.value)


class YoungPrometheus(FakePrometheus):
    """Started `age_s` ago; a selector's series appear from the `appear_at`-th query on."""

    def __init__(self, age_s: float, appear_at: int) -> None:
        super().__init__(rules=[{"rules": [{"name": "A", "health": "ok"}]}])
        self.age_s, self.appear_at, self.queries = age_s, appear_at, 0

    def query(self, expr: str) -> list[dict[str, Any]]:
        self.queries += 1
        return [{"metric": {}, "value": [0, "1"]}] if self.queries >= self.appear_at else []

    def uptime_s(self) -> float:
        return self.age_s


def test_rules_wait_for_series_on_a_young_stack_only() -> None:
    """Kafka's controller series appear a scrape after its healthcheck passes: a stack
    checked right after `up --wait` must not fail for that, a settled one fails at once."""
    rule = {"A": 'kafka_controller_activecontrollercount{job="kafka"} != 1'}
    young = YoungPrometheus(age_s=20, appear_at=3)
    assert checks.rules_loaded(young, rule, {"kafka"}, scrape_interval_s=1).ok == 1
    old = YoungPrometheus(age_s=3600, appear_at=3)
    with pytest.raises(ContractFailure, match="which selects no series"):
        checks.rules_loaded(old, rule, {"kafka"}, scrape_interval_s=1)
    assert old.queries == 1
    never = YoungPrometheus(age_s=20, appear_at=10**6)
    with pytest.raises(ContractFailure, match="which selects no series"):
        checks.rules_loaded(never, rule, {"kafka"}, scrape_interval_s=1)


def test_empty_panel_fails_naming_dashboard_and_panel(tmp_path: Path) -> None:
    board = {
        "uid": "d",
        "title": "D",
        "panels": [
            {
                "id": 7,
                "title": "Keys",
                "type": "stat",
                "datasource": {"uid": "prometheus"},
                "targets": [{"refId": "A", "expr": "nope"}],
            }
        ],
    }
    (tmp_path / "d.json").write_text(json.dumps(board), encoding="utf-8")
    with pytest.raises(ContractFailure, match=r"panels with data 0/1; dashboard 'D' \(d.json\) panel 'Keys'"):
        checks.dashboards_show_data(FakePrometheus(series=0), tmp_path, 15)
    assert checks.dashboards_show_data(FakePrometheus(), tmp_path, 15).ratio() == "1/1"
    skipped = checks.dashboards_show_data(FakePrometheus(series=0), tmp_path, 15, frozenset({"d"}))
    assert (
        skipped.ratio() == "0/0" and "not checked (fed from outside the stack): d (1 panels)" in skipped.notes
    )


# --- Grafana checks (no Grafana runs offline: a scripted HTTP double, NOT a live proof) ----


class FakeResponse:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code, self._body, self.text = status, body, json.dumps(body)

    def json(self) -> Any:
        return self._body


def fake_grafana(monkeypatch: pytest.MonkeyPatch, routes: dict[tuple[str, str], FakeResponse]) -> None:
    from conformance.observability import grafana

    monkeypatch.setattr(grafana, "tcp_reachable", lambda ep: None)
    monkeypatch.setattr(
        grafana.httpx, "request", lambda method, url, **kw: routes[(method, url.split(":3000", 1)[1])]
    )


GRAFANA_EP = Endpoint("grafana", "127.0.0.1", 3000)
HEALTH = ("GET", "/api/datasources/uid/prometheus/health")
QUERY = ("POST", "/api/ds/query")


def test_grafana_datasource_health_ok_or_query_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance.observability import grafana

    fake_grafana(monkeypatch, {HEALTH: FakeResponse(200, {"status": "OK"})})
    assert grafana.datasource_healthy(GRAFANA_EP, "prometheus").endswith("OK")
    frames = {"results": {"A": {"frames": [{}, {}]}}}
    fake_grafana(monkeypatch, {HEALTH: FakeResponse(403, {}), QUERY: FakeResponse(200, frames)})
    assert "2 frames" in grafana.datasource_healthy(GRAFANA_EP, "prometheus")


def test_grafana_datasource_failures_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance.observability import grafana

    fake_grafana(monkeypatch, {HEALTH: FakeResponse(400, {"status": "ERROR", "message": "bad gateway"})})
    with pytest.raises(ContractFailure, match="health answered 400"):
        grafana.datasource_healthy(GRAFANA_EP, "prometheus")
    fake_grafana(monkeypatch, {HEALTH: FakeResponse(403, {}), QUERY: FakeResponse(200, {"results": {}})})
    with pytest.raises(ContractFailure, match="query `up` answered 200"):
        grafana.datasource_healthy(GRAFANA_EP, "prometheus")


def test_grafana_missing_dashboards_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance.observability import grafana

    fake_grafana(
        monkeypatch,
        {
            ("GET", "/api/dashboards/uid/soma-redis"): FakeResponse(200, {}),
            ("GET", "/api/dashboards/uid/soma-kafka"): FakeResponse(404, {}),
        },
    )
    assert grafana.missing_dashboards(GRAFANA_EP, ["soma-redis", "soma-kafka"]) == ["soma-kafka (HTTP 404)"]


def test_young_prometheus_is_given_one_rate_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """A just-started Prometheus cannot have rate() data yet: the check waits (bounded)."""
    slept: list[float] = []
    monkeypatch.setattr(checks.time, "sleep", slept.append)

    class Young(FakePrometheus):
        def uptime_s(self) -> float:
            return 10.0

    assert checks.wait_for_history(Young(), 90) == 80
    assert slept == [80]
    assert checks.wait_for_history(FakePrometheus(), 90) == 0
    assert checks.wait_for_history(Young(), 10_000) == checks.WARM_UP_CAP_S - 10
    assert checks.longest_range_s(["rate(x[60s])", "increase(y[5m:30s])", "z"]) == 300
