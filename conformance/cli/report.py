"""`soma-conformance report` and `soma-conformance nightly` (registered in conformance.cli).

    report [RUN] [--history DIR] [--write]   compare a run with earlier ones, re-render it
    nightly [--target T] [--reports DIR]     full suite into reports/<UTC time>/ + latest
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from conformance.errors import UsageError
from conformance.report import meta, metrics
from conformance.report.artefacts import METRICS_NAME, write_all
from conformance.report.history import DEFAULT_WINDOW, History, find_runs, load_history, render_text
from conformance.report.hooks import HISTORY_ENV, WINDOW_ENV
from conformance.report.json_writer import RESULT_NAME, atomic_write, load_run, result_file, write_run
from conformance.report.markdown import render as render_markdown
from conformance.report.model import Run

NIGHTLY_TIMEOUT_S = 1800
GRACE_S = 60  # after SIGINT, how long pytest gets to write its final report
TEXTFILE_NAME = "soma_conformance.prom"


def _window(value: str) -> int:
    n = int(value)
    if n < 2:
        raise argparse.ArgumentTypeError("the flaky window needs at least 2 runs")
    return n


def _publish_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--window", type=_window, default=DEFAULT_WINDOW, metavar="N",
                   help=f"flaky = outcome flipped twice within the last N runs (default {DEFAULT_WINDOW})")
    p.add_argument("--textfile-dir", type=Path, metavar="DIR",
                   help=f"also write the metrics as DIR/{TEXTFILE_NAME} (node-exporter textfile collector)")
    p.add_argument("--push", metavar="URL", help="also push the metrics to this Pushgateway")


def report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", nargs="?", type=Path,
                   help="a run folder or its conformance.json "
                        "(default: newest under --history, else reports/)")
    p.add_argument("--history", type=Path, metavar="DIR", help="folder of earlier runs (e.g. reports/)")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    p.add_argument("--write", action="store_true",
                   help="re-render HTML, Markdown, JUnit and metrics (with history) beside the run")
    p.add_argument("--out", type=Path, metavar="DIR", help="with --write: write there instead")
    _publish_args(p)


def _publish(run: Run, ns: argparse.Namespace) -> None:
    if ns.textfile_dir is not None:
        atomic_write(ns.textfile_dir / TEXTFILE_NAME, metrics.render(run))
    if ns.push:
        try:
            metrics.push(run, ns.push)
        except httpx.HTTPError as exc:
            raise UsageError(f"push to {ns.push}: {exc}") from None


def report(ns: argparse.Namespace) -> int:
    if ns.run is not None:
        path = Path(ns.run)
    elif ns.history is not None:
        runs, _ = find_runs(ns.history)
        if not runs:
            raise UsageError(f"{ns.history}: no result documents found")
        path = _path_of(ns.history, runs[-1])
    else:
        path = Path("reports")
    run = load_run(path)
    history = load_history(ns.history, run, ns.window) if ns.history is not None else None
    if ns.write:
        out = ns.out or result_file(path).parent
        write_all(run, out, history, write_json=ns.out is not None)
        if history is not None:
            atomic_write(out / "history.json", json.dumps(history.to_dict(), indent=2) + "\n")
    _publish(run, ns)
    print(_render(run, history, ns.format), end="")
    return 0


def _path_of(root: Path, run: Run) -> Path:
    for candidate in [*root.glob(f"*/{RESULT_NAME}"), *root.glob("*.json")]:
        try:
            if json.loads(candidate.read_text(encoding="utf-8")).get("run_id") == run.run_id:
                return candidate
        except (OSError, ValueError, AttributeError):
            continue
    raise UsageError(f"{root}: run {run.run_id} vanished while reading")


def _render(run: Run, history: History | None, fmt: str) -> str:
    if fmt == "markdown":
        return render_markdown(run, history)
    if fmt == "json":
        return json.dumps({"run": run.to_dict()["summary"] | {"run_id": run.run_id, "status": run.status,
                                                               "environment": run.environment},
                           "history": history.to_dict() if history else None}, indent=2) + "\n"
    s = run.summary()
    head = (f"run {run.run_id} ({run.target}, environment {run.environment or 'unknown'}, "
            f"{run.status}/{run.end_reason}): {s['passed']} passed, "
            f"{s['failed']} failed, {s['error']} error, {s['skipped']} skipped, {s['pending']} pending\n")
    return head + (render_text(history) if history else "")


# --- nightly ---------------------------------------------------------------------------------

def nightly_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", default="compose", help="the --target of the run (default compose)")
    p.add_argument("--reports", type=Path, default=Path("reports"), metavar="DIR",
                   help="root of the dated report folders (default reports/)")
    p.add_argument("--timeout", type=float, default=NIGHTLY_TIMEOUT_S, metavar="S",
                   help=f"stop the run after S seconds (SIGINT, then SIGKILL; default {NIGHTLY_TIMEOUT_S})")
    _publish_args(p)
    p.epilog = "more pytest arguments go after --, e.g. -- -n auto"


def dated_folder(root: Path) -> Path:
    base = meta.now().strftime(meta.FOLDER_FORMAT)
    folder, n = root / base, 1
    while folder.exists():
        n += 1
        folder = root / f"{base}-{n}"
    return folder


def point_latest(root: Path, folder: Path) -> None:
    """`latest` symlink (swapped atomically) plus a LATEST file for places without symlinks."""
    tmp = root / ".latest.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(folder.name, tmp)
    os.replace(tmp, root / "latest")
    atomic_write(root / "LATEST", folder.name + "\n")


def default_sigint() -> None:
    """preexec_fn for a pytest child that is stopped with SIGINT: a shell without job
    control starts background jobs with SIGINT ignored, the child would inherit that, and
    Python installs no KeyboardInterrupt handler for an ignored SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_pytest(cmd: list[str], env: dict[str, str], timeout: float) -> int:
    """pytest in a child; on timeout or Ctrl-C it gets SIGINT (to write its report) then SIGKILL."""
    proc = subprocess.Popen(cmd, env=env, preexec_fn=default_sigint)  # noqa: PLW1509 -- no threads here
    try:
        return proc.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        print(f"soma-conformance nightly: stopping the run (SIGINT, {GRACE_S}s grace)", file=sys.stderr)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=GRACE_S)
        return 2


def finish(folder: Path, root: Path, window: int) -> tuple[Run, History | None]:
    """After the pytest child ended, however it ended: mark a run that never reached session
    end, then re-render every artefact with the history of the runs under root."""
    run = load_run(folder)
    if not run.complete and run.end_reason == "running":
        run.end_reason = "killed-or-crashed"  # the writer never reached session end
        write_run(folder / RESULT_NAME, run)
    history = load_history(root, run, window)
    write_all(run, folder, history, write_json=False)
    if history is not None:
        atomic_write(folder / "history.json", json.dumps(history.to_dict(), indent=2) + "\n")
    return run, history


def nightly(ns: argparse.Namespace) -> int:
    extra = list(getattr(ns, "pytest_args", None) or [])
    root: Path = ns.reports
    root.mkdir(parents=True, exist_ok=True)
    folder = dated_folder(root)
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance", f"--target={ns.target}",
           f"--report-dir={folder}", "-p", "no:cacheprovider", *extra]
    env = {**os.environ, HISTORY_ENV: str(root), WINDOW_ENV: str(ns.window)}
    print(f"soma-conformance nightly: {' '.join(cmd)}", flush=True)
    rc = _run_pytest(cmd, env, ns.timeout)
    if not (folder / RESULT_NAME).exists():
        print(f"soma-conformance nightly: the run wrote no result (exit {rc}); see its output above",
              file=sys.stderr)
        return rc or 3
    run, history = finish(folder, root, ns.window)
    point_latest(root, folder)
    _publish(run, ns)
    print(_render(run, history, "text"), end="")
    print(f"soma-conformance nightly: {folder}/ (report.html, {RESULT_NAME}, junit.xml, summary.md, "
          f"{METRICS_NAME}); {root / 'latest'} -> {folder.name}")
    return rc
