"""The pytest side of the report: evidence capture (every process) and the writer
(the controller only -- with xdist, workers never touch the report files).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance import catalog as catalog_mod
from conformance import session
from conformance.errors import TargetError
from conformance.report import meta, progress
from conformance.report.artefacts import write_all
from conformance.report.collector import CONTRACT_PROP, EVIDENCE_PROP, Collector
from conformance.report.history import DEFAULT_WINDOW, load_history
from conformance.report.json_writer import RESULT_NAME, write_run
from conformance.report.model import Run, jsonable

COLLECT_KEY = "soma_report_collect"  # workerinput key: folder where workers leave nodeid->contract
HISTORY_ENV = "SOMA_REPORT_HISTORY"  # set (by `nightly`) to render history into the HTML
WINDOW_ENV = "SOMA_REPORT_WINDOW"  # the flaky window for that history
ARCHIVE_DIR = "history"  # <report-dir>/history/<run_id>.json: the runs the trend is drawn from
ARCHIVE_KEEP = 200  # documents kept there (all environments together)
NORMAL_EXITS = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED)


class Evidence:
    """`soma_evidence(endpoint=..., decision=...)`: facts a test wants in the report."""

    def __init__(self, node: pytest.Item) -> None:
        self._node = node

    def __call__(self, **facts: Any) -> None:
        self._node.user_properties.append((EVIDENCE_PROP, jsonable(facts)))


def contract_of(item: pytest.Item) -> str | None:
    for name, value in item.user_properties:
        if name == CONTRACT_PROP:
            return str(value)
    marker = item.get_closest_marker("contract")
    return str(marker.args[0]) if marker is not None and marker.args else None


def record_endpoints(item: pytest.Item) -> None:
    """Record every endpoint a test asks `soma_endpoint` for: cheap evidence for all tests
    (the plugin's pytest_runtest_call calls this before the test runs)."""
    funcargs = getattr(item, "funcargs", None)
    original = funcargs.get("soma_endpoint") if isinstance(funcargs, dict) else None
    if funcargs is not None and callable(original):
        get: Callable[[str], Any] = original

        def recording(service: str) -> Any:
            endpoint = get(service)
            item.user_properties.append((EVIDENCE_PROP, {"endpoints": [str(endpoint)]}))
            return endpoint

        funcargs["soma_endpoint"] = recording


class EvidencePlugin:
    """Registered in every process: the fixture and the worker's collection map."""

    @pytest.fixture
    def soma_evidence(self, request: pytest.FixtureRequest) -> Evidence:
        """Attach evidence (what was probed, what came back) to this test's contract result."""
        node = request.node
        assert isinstance(node, pytest.Item)
        return Evidence(node)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """xdist worker: tell the controller which test asserts which contract (it has no items)."""
        folder = getattr(session.config, "workerinput", {}).get(COLLECT_KEY)
        if not folder:
            return
        mapping = {item.nodeid: contract_of(item) for item in session.items}
        worker = session.config.workerinput.get("workerid", "gw")  # type: ignore[attr-defined]
        path = Path(folder) / f"{worker}.json"
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(mapping), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # progress lines and pending lists degrade; results are unaffected


class ReportPlugin:
    """Controller only: builds the run document, rewrites the JSON after every result,
    prints area progress, and writes all artefacts at session end."""

    def __init__(self, config: pytest.Config, out_dir: Path, explicit: bool) -> None:
        self.config = config
        self.out_dir = out_dir
        self.explicit = explicit  # --report-dir given: write even for a run without contracts
        self.active = False
        self.collector = Collector(catalog_mod.load())
        self.collect_dir: str | None = None
        started = meta.now()
        self._t0 = started
        workers = getattr(config.option, "numprocesses", 0)
        self.run = Run(
            run_id=meta.new_run_id(started), target=session.target_name(config), started_at=meta.iso(started),
            suite=meta.suite_info(), infra={"git_revision": None, "git_dirty": None},
            host=meta.host_info(workers if isinstance(workers, int) else 0),
            command=[str(a) for a in config.invocation_params.args],
        )
        self.warned = False
        self.written: list[Path] = []

    # --- lifecycle -------------------------------------------------------------------------
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.config.option.collectonly:
            return
        self.run.infra = meta.infra_revision()
        if self.explicit:
            self._activate()

    def pytest_configure_node(self, node: Any) -> None:  # xdist hook
        if self.collect_dir is None:
            self.collect_dir = tempfile.mkdtemp(prefix="soma-report-")
        node.workerinput[COLLECT_KEY] = self.collect_dir

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """No xdist: the items are here."""
        if session.config.option.collectonly:
            return
        self._collected({item.nodeid: contract_of(item) for item in session.items})

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.collector.collected or not self.collect_dir:
            return
        worker = node.workerinput.get("workerid", "gw")
        try:
            mapping = json.loads((Path(self.collect_dir) / f"{worker}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        self._collected({str(k): (str(v) if v else None) for k, v in mapping.items()})

    def _collected(self, mapping: dict[str, str | None]) -> None:
        self.collector.set_collected(mapping)
        if any(mapping.values()):
            self._activate()
        self._save()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.collector.record(report)
        if any(name == CONTRACT_PROP for name, _ in report.user_properties):
            self._activate()
        self._refresh()
        for area, counts in self.collector.newly_done_areas():
            progress.emit(self.config, progress.area_line(area, counts, self.run))
        if report.when != "setup" or not report.passed:  # a passed setup changes no result
            self._save()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.collect_dir:
            shutil.rmtree(self.collect_dir, ignore_errors=True)
        if not self.active:
            return
        self.collector.finalize()
        self._refresh()
        ended = meta.now()
        normal = exitstatus in NORMAL_EXITS and not session.shouldstop and not session.shouldfail
        self.run.exit_status = int(exitstatus)
        self.run.finished_at = meta.iso(ended)
        self.run.duration_s = (ended - self._t0).total_seconds()
        self.run.end_reason = "finished" if normal else "interrupted"
        self.run.status = "complete" if normal and not self.run.pending else "incomplete"
        self.run.target_detail = _target_detail(self.config)
        self.run.preflight = _preflight(self.config)
        self.run.environment = _environment(self.config, final=True) or self.run.environment
        self._write_all()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Where the report went, then the run's tallies (progress.summary_sections)."""
        if self.written:
            s = self.run.summary()
            others = [p for p in self.written if p.name != "report.html"]
            terminalreporter.write_line(
                f"soma-conformance report ({self.run.status}): {s['passed']} passed, {s['failed']} failed, "
                f"{s['error']} error, {s['skipped']} skipped of {s['total']} contracts -> "
                f"{self.out_dir / 'report.html'} (+ {', '.join(p.name for p in others)})")
        progress.summary_sections(terminalreporter, self.collector.tallies,
                                  self.config.stash.get(session.WAIVERS_KEY, {}))

    # --- writing -----------------------------------------------------------------------------
    def _activate(self) -> None:
        if not self.active:
            self.active = True
            self._save()

    def _refresh(self) -> None:
        self.run.environment = self.run.environment or _environment(self.config)
        self.run.contracts = self.collector.contracts()
        self.run.pending = self.collector.pending()
        self.run.other_tests = self.collector.others()
        self.run.updated_at = meta.iso(meta.now())

    def _save(self) -> None:
        if not self.active:
            return
        try:
            write_run(self.out_dir / RESULT_NAME, self.run)
        except OSError as exc:
            self._warn(exc)

    def _write_all(self) -> None:
        history_dir = os.environ.get(HISTORY_ENV)
        try:
            if history_dir:
                root = Path(history_dir)
            else:  # keep every run's document, so the first render already shows the trend
                root = self.out_dir / ARCHIVE_DIR
                archive(self.run, root)
            window = int(os.environ.get(WINDOW_ENV) or DEFAULT_WINDOW)
            history = load_history(root, self.run, window)
            self.written = write_all(self.run, self.out_dir, history)
        except OSError as exc:
            self._warn(exc)

    def _warn(self, exc: OSError) -> None:
        if not self.warned:
            self.warned = True
            progress.emit(self.config, f"soma-conformance: cannot write the report in {self.out_dir}: {exc}")


def archive(run: Run, root: Path, keep: int = ARCHIVE_KEEP) -> None:
    """Copy the run's document into root/<run_id>.json and drop the oldest beyond `keep`."""
    write_run(root / f"{run.run_id}.json", run)
    kept = sorted(root.glob("*.json"))  # run ids start with the UTC start time: sorted = oldest first
    for old in kept[:-keep]:
        old.unlink(missing_ok=True)


def _environment(config: pytest.Config, final: bool = False) -> str | None:
    """The target's environment name, once the target was set up (a compose target learns
    its project from `compose config`); at session end whatever the target knows."""
    target = config.stash.get(session.TARGET_KEY, None) if final else session.set_up_target(config)
    if target is None:
        return None
    try:
        return str(target.environment) or None
    except (TargetError, KeyError, OSError):
        return None


def _preflight(config: pytest.Config) -> dict[str, str]:
    """What the target's preflight found (empty when it did not run here, e.g. a worker)."""
    target = config.stash.get(session.TARGET_KEY, None)
    return dict(target.found) if target is not None else {}


def _target_detail(config: pytest.Config) -> str | None:
    """The target's one-line description, only when it was set up (never set it up here)."""
    target = session.set_up_target(config)
    if target is None:
        return None
    error = session.setup_error(config)
    if error:
        return error  # already names the target
    try:
        return target.describe()
    except (TargetError, KeyError, OSError) as exc:
        return f"target {target.name} ({exc})"
