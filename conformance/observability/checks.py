"""The observability contracts' logic, one function per promise, each returning a summary
or raising ContractFailure with every broken item named (job, rule, dashboard + panel).

Contract tests stay thin; a fault harness or the report can call these directly.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance.catalog import Catalog
from conformance.observability import dashboards as dash
from conformance.observability.promapi import Prometheus
from conformance.probes.clients import ContractFailure
from conformance.waiting import WaitTimeout, wait_until

MAX_LISTED = 12
UNKNOWN_WAIT_S = 20.0  # a target just (re)discovered is "unknown" until its first scrape
# name{matchers} in a rule expression, e.g. pg_up{job="postgres"}
_SELECTOR = re.compile(r"(?P<name>[A-Za-z_:][\w:]*)\{(?P<matchers>[^}]*)\}")
_JOB = re.compile(r'\bjob\s*=\s*"(?P<job>[^"]+)"')


@dataclass
class Summary:
    """Numbers the lead reads off a run (printed by the contract tests)."""

    ok: int = 0
    total: int = 0
    notes: list[str] = field(default_factory=list)

    def ratio(self) -> str:
        return f"{self.ok}/{self.total}"


def joined(problems: list[str], limit: int = MAX_LISTED) -> str:
    """The first `limit` problems, then how many more (a failure line stays readable)."""
    more = len(problems) - limit
    return "; ".join(problems[:limit]) + (f"; ... and {more} more" if more > 0 else "")


def interval_seconds(text: str) -> int:
    """'15s' / '1m' -> seconds (Prometheus duration, the forms the catalog uses)."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", text.strip())
    if m is None:
        raise ValueError(f"not a duration: {text!r}")
    n, unit = int(m.group(1)), m.group(2)
    return {"ms": max(n // 1000, 1), "s": n, "m": n * 60, "h": n * 3600}[unit]


def expected_jobs(catalog: Catalog, deployed: list[str]) -> dict[str, str]:
    """metrics_job -> service, for the catalog services the target deploys."""
    return {catalog.service(s).metrics_job: s for s in deployed}


def targets_up(prom: Prometheus, jobs: dict[str, str], wait_s: float = UNKNOWN_WAIT_S) -> Summary:
    """Every expected job has an active target and all of them are up; any other active
    target that is down is named too. Waits (bounded) only while a target is `unknown`."""
    active: list[dict[str, Any]] = []

    def scraped() -> bool:
        active[:] = prom.active_targets()
        return not any(t.get("health") == "unknown" for t in active)

    with contextlib.suppress(WaitTimeout):  # after the wait, judge what is there
        wait_until(scraped, timeout=wait_s, interval=2, what="every Prometheus target past its first scrape")
    by_job: dict[str, list[dict[str, Any]]] = {}
    for t in active:
        by_job.setdefault(str(t.get("labels", {}).get("job") or t.get("scrapePool")), []).append(t)
    problems = []
    summary = Summary(total=len(jobs))
    for job, service in sorted(jobs.items()):
        found = by_job.get(job, [])
        if not found:
            problems.append(f"job {job!r} (service {service}): no active target in Prometheus")
            continue
        down = [t for t in found if t.get("health") != "up"]
        problems += [f"job {job!r} (service {service}): target {t.get('scrapeUrl')} is "
                     f"{t.get('health')}: {t.get('lastError') or 'no error recorded'}" for t in down]
        summary.ok += not down
    for job, found in sorted(by_job.items()):
        if job not in jobs:
            problems += [f"job {job!r} (not a catalog service): target {t.get('scrapeUrl')} is "
                         f"{t.get('health')}: {t.get('lastError')}" for t in found if t.get("health") != "up"]
    if problems:
        raise ContractFailure(f"{prom.ep}: targets up {summary.ratio()} expected jobs; "
                              + joined(problems))
    return summary


def scrape_intervals(prom: Prometheus, want: str, jobs: dict[str, str],
                     wait_s: float = UNKNOWN_WAIT_S) -> Summary:
    """Every active target is scraped at the contract interval (no job overrides it), and
    every expected job has one: a Prometheus that has just (re)started lists no target at
    all for a moment, and an empty list must not pass. Waits (bounded) for the jobs."""
    active: list[dict[str, Any]] = []

    def listed() -> bool:
        active[:] = prom.active_targets()
        return set(jobs) <= {str(t.get("labels", {}).get("job")) for t in active}

    with contextlib.suppress(WaitTimeout):  # after the wait, judge what is there
        wait_until(listed, timeout=wait_s, interval=1, what="every expected job listed as a Prometheus target")
    seen = {str(t.get("labels", {}).get("job")) for t in active}
    wrong = [f"job {job!r} (service {service}): no active target, so no scrape interval to read"
             for job, service in sorted(jobs.items()) if job not in seen]
    wrong += [f"job {t.get('labels', {}).get('job')!r} ({t.get('scrapeUrl')}) every {t.get('scrapeInterval')}"
              for t in active if str(t.get("scrapeInterval")) != want]
    if wrong:
        raise ContractFailure(f"{prom.ep}: contract scrape interval is {want}, but " + joined(wrong))
    return Summary(ok=len(active), total=len(active))


def repo_alert_names(rules_dir: Path) -> dict[str, str]:
    """alertname -> expression, from the rule files under version control."""
    out: dict[str, str] = {}
    for path in sorted(rules_dir.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in doc.get("groups") or []:
            for rule in group.get("rules") or []:
                if "alert" in rule:
                    out[str(rule["alert"])] = str(rule["expr"])
    return out


def rule_selectors(expr: str) -> list[tuple[str, str]]:
    """(job, `name{job="x"}`) for each `name{...job="x"...}` in a rule expression.

    Only the metric name and job are kept: other matchers (code=~"5..") legitimately
    select nothing on a healthy stack, but the metric itself must exist.
    """
    out = []
    for m in _SELECTOR.finditer(expr):
        job = _JOB.search(m.group("matchers"))
        if job:
            out.append((job.group("job"), f'{m.group("name")}{{job="{job.group("job")}"}}'))
    return out


def rules_loaded(prom: Prometheus, expected: dict[str, str], deployed_jobs: set[str],
                 scrape_interval_s: int = 0) -> Summary:
    """Every rule under version control is loaded and healthy, and every metric it reads
    (for a deployed job) exists, so no alert is silently unable to ever fire.
    On a just-started stack (Prometheus younger than the warm-up cap) a selector without
    series is asked again for up to three scrape intervals: Kafka's controller series
    appear only once the broker runs, which can be a scrape after its healthcheck passed."""
    live = {str(r.get("name")): r for g in prom.rule_groups() for r in g.get("rules") or []}
    problems = [f"alert {name} is not loaded" for name in sorted(expected) if name not in live]
    problems += [f"alert {name} is unhealthy: {r.get('lastError')}" for name, r in sorted(live.items())
                 if r.get("health") not in ("ok", "unknown")]
    selectors = sorted({sel for expr in expected.values() for job, sel in rule_selectors(expr) if job in deployed_jobs})
    checked = {sel: bool(prom.query(f"group({sel})")) for sel in selectors}
    empty = [sel for sel, found in checked.items() if not found]
    if empty and scrape_interval_s and prom.uptime_s() < WARM_UP_CAP_S:
        def appeared() -> bool:
            checked.update({sel: bool(prom.query(f"group({sel})")) for sel in empty if not checked[sel]})
            return all(checked[sel] for sel in empty)

        with contextlib.suppress(WaitTimeout):
            wait_until(appeared, timeout=3.0 * scrape_interval_s, interval=1.0,
                       what="series of the alert rules' selectors on a young stack")
    for name, expr in sorted(expected.items()):
        for job, selector in rule_selectors(expr):
            if job in deployed_jobs and not checked[selector]:
                problems.append(f"alert {name} reads {selector}, which selects no series")
    if problems:
        raise ContractFailure(f"{prom.ep}: {len(live)} alerting rules loaded; " + joined(problems))
    return Summary(ok=len(live), total=len(expected),
                   notes=[f"{len(checked)} rule selectors checked against live series"])


def no_alerts_firing(prom: Prometheus) -> Summary:
    """No alerting rule fires on a healthy stack (pending ones are named as notes)."""
    firing: list[str] = []
    pending: list[str] = []
    total = 0
    for group in prom.rule_groups():
        for rule in group.get("rules") or []:
            total += 1
            for alert in rule.get("alerts") or []:
                labels = {k: v for k, v in (alert.get("labels") or {}).items() if k != "alertname"}
                text = (f"{rule.get('name')} {labels}: "
                        f"{(alert.get('annotations') or {}).get('summary', '')}").strip()
                (firing if alert.get("state") == "firing" else pending).append(text)
    if firing:
        raise ContractFailure(f"{prom.ep}: {len(firing)} of {total} alerting rules firing: " + joined(firing))
    return Summary(ok=total, total=total, notes=[f"pending: {p}" for p in pending])


_RANGE = re.compile(r"\[(\d+)([smh])(?::[^\]]*)?\]")
WARM_UP_CAP_S = 180.0


def longest_range_s(exprs: list[str]) -> int:
    """The longest range selector (`[60s]`, `[5m]`) in any of the expressions."""
    unit = {"s": 1, "m": 60, "h": 3600}
    return max((int(n) * unit[u] for e in exprs for n, u in _RANGE.findall(e)), default=0)


def wait_for_history(prom: Prometheus, needed_s: float) -> float:
    """A rate over a window needs that window of samples: on a just-started Prometheus,
    wait (bounded) until it has been scraping that long. Returns the seconds waited."""
    missing = min(needed_s, WARM_UP_CAP_S) - prom.uptime_s()
    if missing > 0:
        time.sleep(missing)
        return missing
    return 0.0


def dashboards_show_data(prom: Prometheus, folder: Path, scrape_interval_s: int,
                         fed_externally: frozenset[str] = frozenset()) -> Summary:
    """Every PromQL expression of every provisioned panel returns at least one series.

    Dashboards whose uid is in `fed_externally` (data pushed from outside the stack, such
    as the suite's own results) are named in the summary as not checked.
    """
    boards = dash.load(folder)
    if not boards:
        raise ContractFailure(f"no dashboards under {folder}")
    skipped = [b for b in boards if b.uid in fed_externally]
    boards = [b for b in boards if b.uid not in fed_externally]
    problems: list[str] = []
    empty_panels: set[tuple[str, int]] = set()
    total_panels = 0
    n_queries = 0
    # one rate window plus two scrapes of history, else a young stack looks broken
    all_exprs = [q.expr for b in boards for q in dash.queries(b)]
    rate_s = int(dash.builtins(scrape_interval_s)["__rate_interval"].rstrip("s"))
    waited = wait_for_history(prom, max(longest_range_s(all_exprs), rate_s) + 2 * scrape_interval_s)
    for board in boards:
        values, var_problems = dash.resolve_variables(board, prom.label_values, scrape_interval_s)
        problems += var_problems
        total_panels += dash.panel_count(board)
        for q in dash.queries(board):
            n_queries += 1
            expr = dash.expand(q.expr, values)
            missing = dash.unresolved(expr)
            if missing:
                problems.append(f"{q.where}: unresolved variable(s) {missing}")
                empty_panels.add((board.uid, q.panel_id))
                continue
            try:
                series = prom.query(expr)
            except ContractFailure as exc:
                problems.append(f"{q.where}: query error: {exc}")
                empty_panels.add((board.uid, q.panel_id))
                continue
            if not series:
                problems.append(f"{q.where}: `{expr}` returned no series")
                empty_panels.add((board.uid, q.panel_id))
    summary = Summary(ok=total_panels - len(empty_panels), total=total_panels,
                      notes=[f"{n_queries} expressions in {len(boards)} dashboards"])
    if waited:
        summary.notes.append(f"waited {waited:.0f}s for Prometheus to hold a rate window of samples")
    summary.notes += [f"not checked (fed from outside the stack): {b.uid} ({dash.panel_count(b)} panels)"
                      for b in skipped]
    if problems:
        raise ContractFailure(f"{prom.ep}: panels with data {summary.ratio()}; " + joined(problems))
    return summary
