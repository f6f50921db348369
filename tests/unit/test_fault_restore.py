"""A fault whose contracts read Prometheus's series first waits until Prometheus scrapes
every target again (a mutation run once judged a dashboards fault by the gap the previous
fault, a stopped exporter, left in the series); the others do not wait."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.access import Endpoint
from harness.faults import engine as engine_mod
from harness.faults.engine import FaultEngine
from harness.faults.model import Fault


class FakeTarget:
    def endpoint(self, service: str) -> Endpoint:
        return Endpoint(service, "127.0.0.1", 9090)


def fake_prometheus(answers: list[tuple[float, float]], targets: list[dict[str, Any]]) -> type:
    """Each poll answers (min(up), min of scrapes in the rate window) from `answers` in turn."""
    polls: list[str] = []

    class FakePrometheus:
        def __init__(self, ep: Endpoint) -> None:
            self.ep = ep

        def query(self, expr: str) -> list[dict[str, Any]]:
            polls.append(expr)
            up, scraped = answers[min((len(polls) - 1) // 2, len(answers) - 1)]
            value = up if expr == "min(up)" else scraped
            assert expr in ("min(up)", "min(sum_over_time(up[60s]))"), expr
            return [{"metric": {}, "value": [0, str(value)]}]

        def active_targets(self) -> list[dict[str, Any]]:
            return targets

    FakePrometheus.polls = polls  # type: ignore[attr-defined]
    return FakePrometheus


def _engine() -> FaultEngine:
    return FaultEngine(FakeTarget(), Path("/nonexistent"))  # type: ignore[arg-type]


FAULT = Fault(name="alert-firing", description="", breaks=("observability.prometheus.alerts_quiet",), reason="",
              kind="stop", raw={})


def test_waits_for_two_scrapes_of_every_target(monkeypatch: pytest.MonkeyPatch) -> None:
    prom = fake_prometheus([(0, 0), (1, 1), (1, 2)], [])
    monkeypatch.setattr(engine_mod, "Prometheus", prom)
    monkeypatch.setattr(engine_mod, "wait_until", lambda fn, **kw: _poll(fn, 10))
    _engine().await_scrapes(FAULT)
    assert len(prom.polls) >= 4  # type: ignore[attr-defined]


def test_wait_fails_naming_the_targets_still_down(monkeypatch: pytest.MonkeyPatch) -> None:
    prom = fake_prometheus([(0, 0)], [{"scrapeUrl": "http://postgres-exporter:9187/metrics", "health": "down"},
                                      {"scrapeUrl": "http://redis-exporter:9121/metrics", "health": "up"}])
    monkeypatch.setattr(engine_mod, "Prometheus", prom)
    monkeypatch.setattr(engine_mod, "wait_until", lambda fn, **kw: _poll(fn, 3))
    with pytest.raises(RuntimeError, match=r"before fault alert-firing: Prometheus.*down: http://postgres-exporter:9187/metrics\)"):
        _engine().await_scrapes(FAULT)


def _poll(fn: Any, tries: int) -> bool:
    for _ in range(tries):
        if fn():
            return True
    raise engine_mod.WaitTimeout("never")


@pytest.mark.parametrize(("breaks", "waits"), [
    (("observability.prometheus.alerts_quiet",), True),
    (("observability.dashboards.data",), True),
    (("sizing.redis.eviction",), False),
    (("observability.tracing.decision_span",), False),
])
def test_only_faults_reading_series_wait(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         breaks: tuple[str, ...], waits: bool) -> None:
    calls: list[str] = []

    def step(name: str, result: object = None) -> Any:
        def record(*args: object) -> object:
            calls.append(name)
            return result
        return record

    engine = FaultEngine(FakeTarget(), tmp_path)  # type: ignore[arg-type]
    monkeypatch.setattr(engine, "await_scrapes", step("wait"))
    monkeypatch.setattr(engine, "apply", step("apply", {}))
    monkeypatch.setattr(engine, "restore", step("restore"))
    monkeypatch.setattr(engine, "suite_args", lambda fault: [])
    monkeypatch.setattr(engine_mod, "run_suite", lambda *a, **kw: None)
    monkeypatch.setattr(engine_mod, "judge", lambda fault, run: engine_mod.Verdict(fault, killed=True))
    fault = Fault(name="f", description="", breaks=breaks, reason="", kind="stop", raw={})
    engine.run(fault)
    assert calls == (["wait"] if waits else []) + ["apply", "restore"]
