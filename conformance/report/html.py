"""The self-contained HTML report: one file, inline CSS and SVG, no script, no external
asset (a Content-Security-Policy forbids any), so it opens offline and from CI artefacts.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from conformance.report.chart import pass_rate_svg
from conformance.report.history import History
from conformance.report.model import STATUSES, ContractResult, Run

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;
color:#1d2430;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde1e6;padding-bottom:4px}
.sub{color:#5b6573}
.banner{padding:10px 14px;border-radius:6px;margin:14px 0;font-weight:600}
.banner.ok{background:#e3f6e8;color:#165c2b}
.banner.bad{background:#fde8e8;color:#8a1c1c}
.banner.partial{background:#fff4d6;color:#7a5200}
.cards{display:flex;gap:10px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px 14px;min-width:96px}
.card b{display:block;font-size:22px}
.card span{color:#5b6573;font-size:12px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e6}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
th{background:#f0f2f5}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.st{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;font-weight:600}
.st.passed{background:#e3f6e8;color:#165c2b}
.st.failed,.st.error{background:#fde8e8;color:#8a1c1c}
.st.skipped{background:#eceff3;color:#4a5260}
.st.pending{background:#fff4d6;color:#7a5200}
.bar{display:flex;height:10px;width:160px;border-radius:3px;overflow:hidden;background:#eceff3}
.bar i{display:block}
.bar .passed{background:#2e9e4f}
.bar .failed,.bar .error{background:#d64545}
.bar .skipped{background:#b8bfc9}
.bar .pending{background:#e0b23a}
.fail{background:#fff;border:1px solid #f2c4c4;border-left:4px solid #d64545;border-radius:4px;
padding:8px 12px;margin:8px 0}
.fail h3{font-size:14px;margin:0 0 4px}
pre{white-space:pre-wrap;word-break:break-word;background:#f3f4f6;
padding:8px;border-radius:4px;font-size:12px;max-height:320px;overflow:auto}
dl.ev{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0}
dl.ev dt{color:#5b6573}
dl.ev dd{margin:0;font-family:ui-monospace,monospace;font-size:12px}
.chart .grid{stroke:#e3e6ea}
.chart .axis{font-size:11px;fill:#5b6573}
.chart .line{fill:none;stroke:#2f6fd6;stroke-width:2}
.chart .dot{fill:#2f6fd6}
.chart .dot.incomplete{fill:#e0b23a}
.chart .dot.current{stroke:#1d2430;stroke-width:2}
code{font-family:ui-monospace,monospace;font-size:12px}
.trail{font-family:ui-monospace,monospace;letter-spacing:2px}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _st(status: str) -> str:
    return f'<span class="st {escape(status)}">{escape(status)}</span>'


def _bar(row: dict[str, int]) -> str:
    total = sum(row.values()) or 1
    cells = "".join(f'<i class="{s}" style="width:{100 * row.get(s, 0) / total:.1f}%"></i>'
                    for s in (*STATUSES, "pending") if row.get(s))
    return f'<div class="bar">{cells}</div>'


def _group_table(title: str, rows: dict[str, dict[str, int]], anchor: str) -> str:
    head = "".join(f'<th class="n">{s}</th>' for s in (*STATUSES, "pending"))
    body = "".join(
        f"<tr><td>{escape(name)}</td>" + "".join(f'<td class="n">{row.get(s, 0)}</td>'
                                                   for s in (*STATUSES, "pending"))
        + f"<td>{_bar(row)}</td></tr>" for name, row in rows.items())
    return (f'<h2 id="{anchor}">By {title}</h2><table><thead><tr><th>{title}</th>{head}<th></th></tr>'
            f"</thead><tbody>{body}</tbody></table>")


def _value(v: Any) -> str:
    return escape(v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False))


def _evidence(ev: dict[str, Any]) -> str:
    if not ev:
        return '<p class="sub">no evidence recorded</p>'
    items = "".join(f"<dt>{escape(k)}</dt><dd>{_value(v)}</dd>" for k, v in ev.items())
    return f'<dl class="ev">{items}</dl>'


def _failure(c: ContractResult) -> str:
    details = (f"<details><summary>details</summary><pre>{escape(c.details)}</pre></details>"
               if c.details and c.details.strip() != (c.message or "").strip() else "")
    return (f'<div class="fail" id="c-{escape(c.id)}"><h3>{_st(c.status)} <code>{escape(c.id)}</code> '
            f'- {escape(c.title)}</h3><div class="sub">{escape(c.area)} / {escape(c.service)}</div>'
            f"<pre>{escape(c.message or '(no message)')}</pre>{_evidence(c.evidence)}{details}</div>")


def _history(history: History) -> str:
    parts = ['<h2 id="history">History</h2>',
             f'<p class="sub">{len(history.runs)} runs of environment '
             f'{escape(history.environment or "unknown")} (target {escape(history.target)}); '
             f"flaky = outcome changed at least twice in the last {history.window} runs. "
             "Trail: P passed, F failed, - no result (oldest to newest).</p>",
             pass_rate_svg(history.runs)]
    rows = []
    for cat in ("newly_failing", "fixed", "still_failing", "flaky"):
        for ch in history.of(cat):
            trail = "".join(o or "-" for o in ch.window)
            rows.append(f"<tr><td>{escape(cat.replace('_', ' '))}</td><td><code>{escape(ch.id)}</code></td>"
                        f'<td class="trail">{escape(trail)}</td><td>{escape(ch.message or "")}</td></tr>')
    counts = ", ".join(f"{len(history.of(c))} {c.replace('_', ' ')}"
                       for c in ("newly_failing", "fixed", "still_failing", "flaky"))
    parts.append(f'<p id="history-counts">{escape(counts)}</p>')
    if rows:
        parts.append("<table><thead><tr><th>change</th><th>contract</th><th>trail</th><th>message</th></tr>"
                     f"</thead><tbody>{''.join(rows)}</tbody></table>")
    return "".join(parts)


def _banner(run: Run, summary: dict[str, Any]) -> str:
    bad = summary["failed"] + summary["error"]
    if not run.complete:
        why = {"running": "the run has not finished (still running, or it was killed)",
               "interrupted": "the run was interrupted", "killed-or-crashed": "the run was killed or crashed",
               }.get(run.end_reason, run.end_reason)
        return (f'<div class="banner partial" id="status">INCOMPLETE: {escape(why)}; '
                f"{summary['pending']} contracts without a result.</div>")
    total = summary["total"]
    if bad:
        return f'<div class="banner bad" id="status">FAILED: {bad} of {total} contracts broken.</div>'
    return f'<div class="banner ok" id="status">PASSED: every contract that ran holds ({total}).</div>'


def _meta_table(run: Run) -> str:
    rev = run.infra.get("git_revision") or "unknown"
    if run.infra.get("git_dirty"):
        rev += " (uncommitted changes)"
    suite = f"{run.suite.get('name')} {run.suite.get('version')}, catalog v{run.suite.get('catalog_version')}"
    exit_status = "" if run.exit_status is None else str(run.exit_status)
    rows = [("run id", run.run_id), ("status", f"{run.status} ({run.end_reason})"),
            ("environment", run.environment_label), ("target", run.target),
            ("target detail", run.target_detail or ""),
            ("started", run.started_at), ("finished", run.finished_at or ""),
            ("last update", run.updated_at or ""),
            ("duration", f"{run.duration_s:.1f} s" if run.duration_s is not None else ""),
            ("suite", suite), ("infra git revision", rev), ("exit status", exit_status),
            *((f"host {k}", str(v)) for k, v in run.host.items()),
            ("command", " ".join(run.command))]
    return ('<h2 id="metadata">Run metadata</h2><table><tbody>'
            + "".join(f"<th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
            + "</tbody></table>").replace("<th>", "<tr><th>")


def render(run: Run, history: History | None = None) -> str:
    s = run.summary()
    rate = "n/a" if s["pass_rate"] is None else f"{s['pass_rate'] * 100:.1f}%"
    cards = "".join(f'<div class="card"><b>{v}</b><span>{escape(k)}</span></div>' for k, v in (
        ("contracts", s["total"]), ("passed", s["passed"]), ("failed", s["failed"]), ("error", s["error"]),
        ("skipped", s["skipped"]), ("pending", s["pending"]), ("pass rate", rate)))
    failures = run.failures()
    body = [
        f"<h1>Soma conformance report</h1><div class=\"sub\">environment <b>{escape(run.environment_label)}</b>"
        f" · target <b>{escape(run.target)}</b> · run "
        f"<code>{escape(run.run_id)}</code> · started {escape(run.started_at)}</div>",
        _banner(run, s), f'<h2 id="summary">Summary</h2><div class="cards">{cards}</div>',
        _group_table("area", run.by("area"), "by-area"),
        _group_table("service", run.by("service"), "by-service"),
        f'<h2 id="failures">Failures ({len(failures)})</h2>'
        + ("".join(_failure(c) for c in failures) or '<p class="sub">none</p>'),
    ]
    if history is not None:
        body.append(_history(history))
    rows = "".join(
        f"<tr><td><code>{escape(c.id)}</code><div class=\"sub\">{escape(c.title)}</div></td>"
        f"<td>{escape(c.area)}</td><td>{escape(c.service)}</td><td>{_st(c.status)}</td>"
        f'<td class="n">{c.duration_s:.2f}s</td><td>{escape(c.message or "")}</td></tr>'
        for c in run.contracts)
    body.append('<h2 id="contracts">All contracts</h2><table><thead><tr><th>contract</th><th>area</th>'
                "<th>service</th><th>status</th><th>time</th><th>message</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")
    if run.pending:
        body.append('<h2 id="pending">Without a result</h2><table><tbody>' + "".join(
            f"<tr><td><code>{escape(p.id)}</code></td><td>{escape(p.area)}</td><td>{escape(p.service)}</td>"
            f"<td>{_st('pending')}</td></tr>" for p in run.pending) + "</tbody></table>")
    if run.other_tests:
        body.append('<h2 id="other-tests">Other tests (no contract)</h2><table><tbody>' + "".join(
            f"<tr><td><code>{escape(t.nodeid)}</code></td><td>{_st(t.status)}</td>"
            f"<td>{escape(t.message or '')}</td></tr>" for t in run.other_tests) + "</tbody></table>")
    body.append(_meta_table(run))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>Soma conformance: {escape(run.target)} {escape(run.started_at[:16])}</title>"
            f"<style>{CSS}</style></head><body><main>{''.join(body)}</main></body></html>\n")
