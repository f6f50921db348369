"""The self-contained HTML report: one file, inline CSS and SVG, no script, no external
asset (a Content-Security-Policy forbids any), so it opens offline and from CI artefacts.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from conformance import catalog as catalog_mod
from conformance import runbook
from conformance.report import causes
from conformance.report.chart import pass_rate_svg
from conformance.report.history import History
from conformance.report.model import STATUSES, ContractResult, Run

CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;
color:#1d2430;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px 16px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde1e6;padding-bottom:4px}
h3{font-size:15px;margin:0 0 6px}
.sub{color:#5b6573}
.banner{padding:10px 14px;border-radius:6px;margin:14px 0 6px;font-weight:600}
.banner.ok{background:#e3f6e8;color:#165c2b}
.banner.bad{background:#fde8e8;color:#8a1c1c}
.banner.partial{background:#fff4d6;color:#7a5200}
#counts{margin:0 0 10px}
.cards{display:flex;gap:8px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:8px 12px;min-width:84px}
.card b{display:block;font-size:20px}
.card span{color:#5b6573;font-size:12px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e6}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eef0f3;vertical-align:top;
overflow-wrap:anywhere}
th{background:#f0f2f5}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;overflow-wrap:normal}
td.nw{white-space:nowrap;overflow-wrap:normal}
th{overflow-wrap:normal}
.st{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap}
.st.passed{background:#e3f6e8;color:#165c2b}
.st.failed,.st.error{background:#fde8e8;color:#8a1c1c}
.st.skipped{background:#eceff3;color:#4a5260}
.st.pending{background:#fff4d6;color:#7a5200}
.bar{display:flex;height:10px;width:100%;min-width:60px;max-width:160px;border-radius:3px;overflow:hidden;
background:#eceff3}
.bar i{display:block}
.bar .passed{background:#2e9e4f}
.bar .failed,.bar .error{background:#d64545}
.bar .skipped{background:#b8bfc9}
.bar .pending{background:#e0b23a}
.fail{background:#fff;border:1px solid #f2c4c4;border-left:4px solid #d64545;border-radius:4px;
padding:8px 12px;margin:10px 0}
ul.contracts,ul.skips{margin:6px 0;padding-left:18px}
ul.contracts li,ul.skips li{margin:4px 0;overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f3f4f6;
padding:8px;border-radius:4px;font-size:12px;max-height:320px;overflow:auto;margin:6px 0}
dl.ev{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 12px;margin:4px 0}
dl.ev dt{color:#5b6573}
dl.ev dd{margin:0;font-family:ui-monospace,monospace;font-size:12px;white-space:pre-line;overflow-wrap:anywhere}
details.todo{background:#f4f8ff;border:1px solid #d6e4fb;border-radius:4px;padding:6px 10px;margin:8px 0}
details.todo summary{font-weight:600;cursor:pointer}
.rb{overflow-wrap:anywhere;margin:4px 0}
.rb p{margin:4px 0}
.rb-section{background:#fff;border:1px solid #dde1e6;border-radius:4px;padding:8px 12px;margin:8px 0}
a.rb-link{font-size:12px}
.chart{display:block;width:100%;max-width:720px;height:auto}
.chart .grid{stroke:#e3e6ea}
.chart .axis{font-size:11px;fill:#5b6573}
.chart .line{fill:none;stroke:#2f6fd6;stroke-width:2}
.chart .dot{fill:#2f6fd6}
.chart .dot.incomplete{fill:#e0b23a}
.chart .dot.current{stroke:#1d2430;stroke-width:2}
code{font-family:ui-monospace,monospace;font-size:12px;overflow-wrap:anywhere}
.trail{font-family:ui-monospace,monospace;letter-spacing:2px}
@media (max-width:600px){main{padding:16px 8px}th,td{padding:4px 5px}td:has(>.bar),th:empty{display:none}}
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


def _text(v: Any) -> str:
    """Evidence as text a person reads: list items one a line, mappings `key: value`."""
    if isinstance(v, list | tuple):
        return "\n".join(_inline(x) for x in v)
    if isinstance(v, dict):
        return "\n".join(f"{k}: {_inline(x)}" for k, x in v.items())
    return _inline(v)


def _inline(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}={_inline(x)}" for k, x in v.items())
    if isinstance(v, list | tuple):
        return ", ".join(_inline(x) for x in v)
    return str(v)


def _evidence(ev: dict[str, Any]) -> str:
    if not ev:
        return ""
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(_text(v))}</dd>" for k, v in ev.items())
    return f'<dl class="ev">{items}</dl>'


def _runbook_link(contract_id: str) -> str:
    section = runbook.section_for(contract_id)
    if section is None:
        return ""
    return f' <a class="rb-link" href="#rb-{escape(section.anchor)}">runbook: {escape(section.title)}</a>'


def _contract_line(c: ContractResult, group_message: str, link: bool) -> str:
    own = (c.message or "").strip()
    differs = own and own != group_message and not own.endswith(group_message)
    details = (f"<details><summary>details</summary><pre>{escape(c.details)}</pre></details>"
               if c.details and c.details.strip() != own else "")
    return (f'<li id="c-{escape(c.id)}">{_st(c.status)} <code>{escape(c.id)}</code> {escape(c.title)}'
            f"{_runbook_link(c.id) if link else ''}" + (f"<pre>{escape(own)}</pre>" if differs else "")
            + _evidence(c.evidence) + details + "</li>")


def _markdown(text: str) -> str:
    """The runbook's Markdown, enough of it: paragraphs, `code`, [links](target) as their text."""
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        para_html = escape(" ".join(line.strip() for line in para.splitlines()))
        para_html = re.sub(r"`([^`]+)`", r"<code>\1</code>", para_html)
        para_html = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", para_html)
        out.append(f"<p>{para_html}</p>")
    return "".join(out)


def _sections(contracts: list[ContractResult]) -> list[runbook.Section]:
    seen: dict[str, runbook.Section] = {}
    for c in contracts:
        section = runbook.section_for(c.id)
        if section is not None:
            seen.setdefault(section.anchor, section)
    return list(seen.values())


def _what_to_do(sections: list[runbook.Section]) -> str:
    return "".join(f'<details class="todo" open><summary>What to do: {escape(s.title)}</summary>'
                   f'<div class="rb">{_markdown(s.body)}</div>'
                   f'<div class="sub">{escape(_runbook_source(s))} (<a href="#rb-{escape(s.anchor)}">'
                   "in this report</a>)</div></details>" for s in sections)


def _runbook_source(section: runbook.Section) -> str:
    return f"{catalog_mod.load().runbook_doc}#{section.anchor}"


def _cause(cause: causes.Cause) -> str:
    n = len(cause.contracts)
    sections = _sections(cause.contracts)
    items = "".join(_contract_line(c, cause.message, len(sections) > 1) for c in cause.contracts)
    return (f'<div class="fail" id="{escape(cause.anchor)}"><h3>{escape(cause.title)} → {n} '
            f"contract{'s' if n != 1 else ''}</h3><pre>{escape(cause.message or '(no message)')}</pre>"
            f'{_what_to_do(sections)}<ul class="contracts">{items}</ul></div>')


def _failures(run: Run) -> str:
    failures = run.failures()
    if not failures:
        return '<h2 id="failures">Failures</h2><p class="sub">none</p>'
    groups = causes.group(failures)
    return (f'<h2 id="failures">Failures: {len(failures)} contract{"s" if len(failures) != 1 else ""}, '
            f'{len(groups)} root '
            f"cause{'s' if len(groups) != 1 else ''}</h2>" + "".join(_cause(g) for g in groups))


def _skipped(run: Run) -> str:
    skipped = [c for c in run.contracts if c.status == "skipped"]
    if not skipped:
        return ""
    reasons: dict[str, list[ContractResult]] = {}
    for c in skipped:
        reasons.setdefault(c.message or "(no reason given)", []).append(c)
    rows = "".join(f"<li>{escape(reason)} → {len(cs)}: "
                   + ", ".join(f"<code>{escape(c.id)}</code>" for c in cs) + "</li>"
                   for reason, cs in sorted(reasons.items(), key=lambda kv: -len(kv[1])))
    return (f'<h2 id="skipped">Not verified: {len(skipped)} skipped</h2>'
            f'<ul class="skips">{rows}</ul>')


def _trend(history: History | None) -> str:
    if history is None:
        return ""
    counts = ", ".join(f"{len(history.of(c))} {c.replace('_', ' ')}"
                       for c in ("newly_failing", "fixed", "still_failing", "flaky"))
    return ('<h2 id="trend">Trend</h2>'
            f'<p class="sub">pass rate of the last {len(history.runs)} '
            f"run{'s' if len(history.runs) != 1 else ''} of environment "
            f"{escape(history.environment or 'unknown')} (target {escape(history.target)}); "
            f'flaky = outcome changed at least twice in the last {history.window} runs.</p>'
            f"{pass_rate_svg(history.runs)}"
            f'<p id="history-counts">{escape(counts)}</p>')


def _changes(history: History | None) -> str:
    if history is None:
        return ""
    rows = []
    for cat in ("newly_failing", "fixed", "still_failing", "flaky"):
        for ch in history.of(cat):
            trail = "".join(o or "-" for o in ch.window)
            rows.append(f"<tr><td>{escape(cat.replace('_', ' '))}</td><td><code>{escape(ch.id)}</code></td>"
                        f'<td class="trail">{escape(trail)}</td><td>{escape(ch.message or "")}</td></tr>')
    if not rows:
        return ""
    return ('<h2 id="history">Since earlier runs</h2><p class="sub">Trail: P passed, F failed, '
            "- no result (oldest to newest).</p><table><thead><tr><th>change</th><th>contract</th>"
            f"<th>trail</th><th>message</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _ran(summary: dict[str, Any]) -> int:
    return int(summary["passed"] + summary["failed"] + summary["error"])


def _banner(run: Run, summary: dict[str, Any]) -> str:
    bad, ran, skipped = summary["failed"] + summary["error"], _ran(summary), summary["skipped"]
    not_verified = f"; {skipped} skipped, not verified" if skipped else ""
    if not run.complete:
        why = {"running": "the run has not finished (still running, or it was killed)",
               "interrupted": "the run was interrupted", "killed-or-crashed": "the run was killed or crashed",
               }.get(run.end_reason, run.end_reason)
        return (f'<div class="banner partial" id="status">INCOMPLETE: {escape(why)}; '
                f"{summary['pending']} contracts without a result.</div>")
    if bad:
        n = len(causes.group(run.failures()))
        return (f'<div class="banner bad" id="status">FAILED: {bad} of {ran} contracts that ran are broken '
                f"({n} root cause{'s' if n != 1 else ''}){not_verified}.</div>")
    if not ran:
        return (f'<div class="banner partial" id="status">NOTHING VERIFIED: all {summary["total"]} '
                "contracts were skipped.</div>")
    return (f'<div class="banner ok" id="status">PASSED: all {ran} contracts that ran hold'
            f"{not_verified}.</div>")


def _counts(summary: dict[str, Any]) -> str:
    pending = f", {summary['pending']} pending" if summary["pending"] else ""
    return (f'<p id="counts">{summary["total"] + summary["pending"]} contracts: <b>{_ran(summary)} ran</b> '
            f"({summary['passed']} passed, {summary['failed']} failed, {summary['error']} error), "
            f"<b>{summary['skipped']} skipped</b>{pending}</p>")


def _runbook_appendix(run: Run) -> str:
    sections = _sections(run.contracts)
    if not sections:
        return ""
    return ('<h2 id="runbook">Runbook</h2><p class="sub">From '
            f"{escape(catalog_mod.load().runbook_doc)}, the sections the contracts above link to.</p>"
            + "".join(f'<section class="rb-section" id="rb-{escape(s.anchor)}"><h3>{escape(s.title)}</h3>'
                      f'<div class="rb">{_markdown(s.body)}</div></section>' for s in sections))


def _meta_table(run: Run) -> str:
    rev = run.infra.get("git_revision") or "unknown"
    if run.infra.get("git_dirty"):
        rev += " (uncommitted changes)"
    suite = f"{run.suite.get('name')} {run.suite.get('version')}, catalog v{run.suite.get('catalog_version')}"
    exit_status = "" if run.exit_status is None else str(run.exit_status)
    rows = [("run id", run.run_id), ("status", f"{run.status} ({run.end_reason})"),
            ("environment", run.environment_label), ("target", run.target),
            ("target detail", run.target_detail or ""),
            *((f"found: {k}", v) for k, v in run.preflight.items()),
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
        ("contracts", s["total"]), ("ran", _ran(s)), ("passed", s["passed"]), ("failed", s["failed"]),
        ("error", s["error"]), ("skipped", s["skipped"]), ("pending", s["pending"]),
        ("pass rate of ran", rate)))
    body = [
        f"<h1>Soma conformance report</h1><div class=\"sub\">environment <b>{escape(run.environment_label)}</b>"
        f" · target <b>{escape(run.target)}</b> · run "
        f"<code>{escape(run.run_id)}</code> · started {escape(run.started_at)}</div>",
        _banner(run, s), _counts(s), f'<div class="cards" id="summary">{cards}</div>',
        _trend(history), _failures(run), _changes(history), _skipped(run),
        _group_table("area", run.by("area"), "by-area"),
        _group_table("service", run.by("service"), "by-service"),
    ]
    rows = "".join(
        f"<tr><td><code>{escape(c.id)}</code><div class=\"sub\">{escape(c.title)}{_runbook_link(c.id)}</div></td>"
        f'<td class="nw">{escape(c.service)}</td><td class="nw">{_st(c.status)}</td>'
        f'<td class="n">{c.duration_s:.2f}s</td><td>{escape(c.message or "")}</td></tr>'
        for c in run.contracts)
    body.append('<h2 id="contracts">All contracts</h2><table class="all"><thead><tr><th>contract</th>'
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
    body.append(_runbook_appendix(run))
    body.append(_meta_table(run))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>Soma conformance: {escape(run.environment_label)} {escape(run.started_at[:16])}</title>"
            f"<style>{CSS}</style></head><body><main>{''.join(body)}</main></body></html>\n")
