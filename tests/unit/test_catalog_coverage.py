"""The catalog and the contract tests agree both ways: every catalog contract is asserted
by at least one collected test (else it would silently never appear in any report), and
every test names a contract the catalog has. Collected for real, in a subprocess, from the
installed package; the comparison is also shown to catch a seeded mismatch each way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conformance import catalog

RECORDER = textwrap.dedent("""
    import json, os

    def pytest_collection_finish(session):
        ids = sorted({str(m.args[0]) for item in session.items
                      for m in item.iter_markers("contract") if m.args})
        with open(os.environ["SOMA_COLLECTED_IDS"], "w") as fh:
            json.dump(ids, fh)
""")


# collect the very package this test imported (not whichever copy is installed)
PACKAGE_ROOT = str(Path(catalog.__file__).resolve().parents[1])


def coverage_gaps(catalog_ids: set[str], test_ids: set[str]) -> tuple[set[str], set[str]]:
    """(catalog contracts no test asserts, test contract ids the catalog lacks)."""
    return catalog_ids - test_ids, test_ids - catalog_ids


@pytest.fixture(scope="module")
def collected_ids(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Contract ids of every test that `pytest --pyargs conformance` collects."""
    tmp = tmp_path_factory.mktemp("collect")
    (tmp / "soma_contract_recorder.py").write_text(RECORDER)
    out = tmp / "ids.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "conformance", "--collect-only", "-q",
         "-p", "no:cacheprovider", "-p", "soma_contract_recorder", "--rootdir", str(tmp)],
        cwd=tmp, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp), PACKAGE_ROOT]),
             "SOMA_COLLECTED_IDS": str(out)})
    assert out.exists(), f"collection failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
    return set(json.loads(out.read_text()))


def test_every_contract_has_a_test_and_every_test_a_contract(collected_ids: set[str]) -> None:
    untested, unknown = coverage_gaps({c.id for c in catalog.load().contracts}, collected_ids)
    assert not untested, f"catalog contracts no collected test asserts: {sorted(untested)}"
    assert not unknown, f"tests name contracts missing from the catalog: {sorted(unknown)}"


def test_a_seeded_mismatch_is_caught_each_way(collected_ids: set[str]) -> None:
    """Drop one contract from the catalog: a test's id becomes unknown. Drop one test's
    contract id from the collection: that contract becomes untested."""
    ids = collected_ids
    cat_ids = {c.id for c in catalog.load().contracts}
    victim = sorted(ids & cat_ids)[0]
    untested, unknown = coverage_gaps(cat_ids, ids)
    assert coverage_gaps(cat_ids - {victim}, ids) == (untested, unknown | {victim})
    assert coverage_gaps(cat_ids, ids - {victim}) == (untested | {victim}, unknown)
