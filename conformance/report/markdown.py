"""The Markdown summary: short enough for a CI step summary or a chat message."""

from __future__ import annotations

from conformance.report import causes
from conformance.report.history import History
from conformance.report.model import STATUSES, Run

ICON = {"passed": "✅", "failed": "❌", "error": "💥", "skipped": "⏭️"}
MAX_MESSAGE = 200


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")[:MAX_MESSAGE]


def render(run: Run, history: History | None = None) -> str:
    s = run.summary()
    rate = "n/a" if s["pass_rate"] is None else f"{s['pass_rate'] * 100:.1f}%"
    state = ("complete" if run.complete
             else f"**INCOMPLETE** ({run.end_reason}, {s['pending']} without result)")
    rev = (run.infra.get("git_revision") or "unknown")[:12]
    lines = [
        f"## Soma conformance: {run.environment_label} ({run.target})",
        "",
        f"Run `{run.run_id}` · {run.started_at} · {state} · suite {run.suite.get('version')} · infra `{rev}`",
        "",
        f"{s['passed'] + s['failed'] + s['error']} of {s['total']} contracts ran: **{s['passed']} passed**, "
        f"**{s['failed']} failed**, {s['error']} error; {s['skipped']} skipped, not verified (pass rate {rate})",
        "",
        "| area | " + " | ".join(STATUSES) + " |",
        "|---|" + "---:|" * len(STATUSES),
    ]
    lines += [f"| {area} | " + " | ".join(str(row.get(st, 0)) for st in STATUSES) + " |"
              for area, row in run.by("area").items()]
    failures = run.failures()
    if failures:
        groups = causes.group(failures)
        lines += ["", f"### Failures: {len(failures)} contract{'s' if len(failures) != 1 else ''}, "
                  f"{len(groups)} root cause"
                  + ("s" if len(groups) != 1 else ""), ""]
        lines += [f"- **{_cell(g.title)}** → {len(g.contracts)}: " + ", ".join(f"`{c.id}`" for c in g.contracts)
                  for g in groups]
        lines += ["", "| contract | service | cause |", "|---|---|---|"]
        lines += [f"| {ICON[c.status]} `{c.id}` | {c.service} | {_cell(c.message)} |" for c in failures]
    if history is not None:
        lines += ["", f"### Since earlier runs ({len(history.runs)} runs, flaky window {history.window})", ""]
        for cat in ("newly_failing", "fixed", "still_failing", "flaky"):
            ids = ", ".join(f"`{c.id}`" for c in history.of(cat)) or "none"
            lines.append(f"- {cat.replace('_', ' ')}: {ids}")
    if run.other_tests:
        bad = sum(t.status in ("failed", "error") for t in run.other_tests)
        lines += ["", f"Other tests (no contract): {len(run.other_tests)}, {bad} failed."]
    return "\n".join(lines) + "\n"
