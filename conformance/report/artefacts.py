"""Write every artefact of one run into a folder, from the model alone.

The plugin calls this at session end; the CLI calls it to re-render a saved (even
partial) JSON document, optionally with the history of earlier runs.
"""

from __future__ import annotations

from pathlib import Path

from conformance.report import html, junit, markdown, metrics
from conformance.report.history import History
from conformance.report.json_writer import RESULT_NAME, atomic_write, write_run
from conformance.report.model import Run

JUNIT_NAME = "junit.xml"
HTML_NAME = "report.html"
MARKDOWN_NAME = "summary.md"
METRICS_NAME = "conformance.prom"
ALL_NAMES = (RESULT_NAME, JUNIT_NAME, HTML_NAME, MARKDOWN_NAME, METRICS_NAME)


def write_all(run: Run, out_dir: Path, history: History | None = None,
              write_json: bool = True) -> list[Path]:
    """Every artefact, each written atomically; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if write_json:
        write_run(out_dir / RESULT_NAME, run)
        written.append(out_dir / RESULT_NAME)
    for name, text in (
        (JUNIT_NAME, junit.render(run)),
        (HTML_NAME, html.render(run, history)),
        (MARKDOWN_NAME, markdown.render(run, history)),
        (METRICS_NAME, metrics.render(run)),
    ):
        atomic_write(out_dir / name, text)
        written.append(out_dir / name)
    return written
