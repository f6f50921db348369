"""History classification on synthetic run histories: every category, exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.cli import main
from conformance.report.history import classify_one, compare, load_history
from tests.unit.report_support import make_run, write_history

P, F, S = "passed", "failed", "skipped"

# contract -> statuses oldest..newest (the last run is the one compared)
HISTORY = {
    "c.stable": [P, P, P, P, P, P],
    "c.newly_failing": [P, P, P, P, P, F],
    "c.fixed": [F, F, F, F, F, P],
    "c.still_failing": [P, P, P, P, F, F],
    "c.flaky_now_failing": [P, P, P, F, P, F],
    "c.flaky_now_passing": [P, P, F, P, F, P],
    "c.flip_outside_window": [P, F, P, P, P, P],  # window 5 sees F P P P P: one flip only
    "c.error_is_failure": [P, P, P, P, P, "error"],
    "c.skip_is_no_outcome": [P, P, P, P, S, F],  # last outcome before now is P -> newly failing
    "c.skipped_now": [P, F, P, F, P, S],  # no outcome now -> not classified
    "c.error_then_failed": [P, P, P, P, "error", F],
}
EXPECTED = {
    "c.stable": "passing",
    "c.newly_failing": "newly_failing",
    "c.fixed": "fixed",
    "c.still_failing": "still_failing",
    "c.flaky_now_failing": "flaky",
    "c.flaky_now_passing": "flaky",
    "c.flip_outside_window": "passing",
    "c.error_is_failure": "newly_failing",
    "c.skip_is_no_outcome": "newly_failing",
    "c.error_then_failed": "still_failing",
}


def _runs() -> list:  # type: ignore[type-arg]
    n = len(next(iter(HISTORY.values())))
    return [make_run({cid: seq[day] for cid, seq in HISTORY.items()}, day=day) for day in range(n)]


def test_every_category_exactly() -> None:
    runs = _runs()
    history = compare(runs[-1], runs[:-1], window=5)
    got = {c.id: c.category for c in history.changes}
    assert got == EXPECTED
    assert [c.id for c in history.of("flaky")] == ["c.flaky_now_failing", "c.flaky_now_passing"]
    fixed = history.of("fixed")[0]
    assert (fixed.current, fixed.previous, fixed.window) == ("P", "F", ["F", "F", "F", "F", "P"])


def test_window_bounds_flakiness() -> None:
    runs = _runs()
    wide = {c.id: c.category for c in compare(runs[-1], runs[:-1], window=6).changes}
    assert wide["c.flip_outside_window"] == "flaky"  # P F P P P P: two flips in six runs
    narrow = {c.id: c.category for c in compare(runs[-1], runs[:-1], window=2).changes}
    assert narrow["c.flaky_now_failing"] == "newly_failing"  # only P F is in view


@pytest.mark.parametrize(("window", "previous", "want"), [
    (["P"], None, "passing"), (["F"], None, "newly_failing"), ([None, "F"], None, "newly_failing"),
    (["P", "F"], "P", "newly_failing"), (["F", "P"], "F", "fixed"), (["F", "F"], "F", "still_failing"),
    (["P", "F", "P"], "F", "flaky"), (["F", "P", "F"], "P", "flaky"),
    (["P", None, "F", None, "P"], "F", "flaky"),
    (["P", "F"], "F", "still_failing"), ([None], "P", None),
])
def test_classify_one(window: list[str | None], previous: str | None, want: str | None) -> None:
    assert classify_one(window, previous) == want


def test_other_targets_and_later_runs_are_ignored() -> None:
    runs = _runs()
    kind = make_run({"c.newly_failing": F}, day=3, run_id="kind-run", target="kind")
    later = make_run({"c.newly_failing": F}, day=40, run_id="from-the-future")
    history = compare(runs[-1], [*runs[:-1], kind, later], window=5)
    assert {c.id: c.category for c in history.changes} == EXPECTED
    assert [p.run_id for p in history.runs] == [r.run_id for r in runs]


def test_load_from_folders_skips_invalid_documents(tmp_path: Path) -> None:
    runs = _runs()
    write_history(tmp_path, runs)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "conformance.json").write_text('{"run_id": "x"}', encoding="utf-8")
    (tmp_path / "truncated.json").write_text('{"run_id": ', encoding="utf-8")
    history = load_history(tmp_path, window=5)
    assert history is not None and history.current == runs[-1].run_id
    assert {c.id: c.category for c in history.changes} == EXPECTED
    assert sorted(Path(p).name for p in history.skipped_files) == ["conformance.json", "truncated.json"]
    assert len(history.runs) == len(runs)


def test_report_command_prints_the_classification(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_history(tmp_path, _runs())
    assert main(["report", "--history", str(tmp_path), "--window", "5", "--write"]) == 0
    out = capsys.readouterr().out
    assert "newly failing: 3" in out and "fixed: 1" in out and "still failing: 2" in out and "flaky: 2" in out
    assert "c.flaky_now_passing" in out and "PFPFP" in out
    newest = sorted(p for p in tmp_path.iterdir() if p.is_dir() and p.name != "broken")[-1]
    html = (newest / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "pass rate over time" in html and "newly failing" in html
    assert (newest / "history.json").exists()


def test_report_command_rejects_an_invalid_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "conformance.json"
    bad.write_text('{"run_id": "x", "status": "done"}', encoding="utf-8")
    assert main(["report", str(bad)]) == 4  # a usage error: the same exit as the plugin's
    err = capsys.readouterr().err
    assert "does not match the result schema" in err and len(err.strip().splitlines()) == 1
