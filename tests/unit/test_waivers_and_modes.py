"""Waivers (reason + expiry; expired ones fail loudly), --wait-ready durations, quick mode."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import catalog, runmode, waivers
from conformance.errors import UsageError

KNOWN = {c.id for c in catalog.load().contracts}
TODAY = dt.date(2026, 12, 2)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    return str(path)


def test_valid_waiver_names_its_reason_and_expiry(tmp_path: Path) -> None:
    path = write(tmp_path, "waivers:\n"
                           "  - {contract: identity.rotation, reason: SRE owns the key, expires: 2027-01-31}\n")
    (w,) = waivers.load(path, KNOWN, today=TODAY)
    assert w.skip_reason() == "waived (waivers.yaml, expires 2027-01-31): SRE owns the key"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("waivers:\n  - {contract: identity.rotation, reason: r, expires: 2026-12-01}\n",
         "the waiver of identity.rotation expired on 2026-12-01 (r)"),
        ("waivers:\n  - {contract: identity.rotaton, reason: r, expires: 2027-01-01}\n",
         "did you mean 'identity.rotation'?"),
        ("waivers:\n  - {contract: identity.rotation, reson: r, expires: 2027-01-01}\n",
         "unknown key 'reson' (did you mean 'reason'?)"),
        ("waivers:\n  - {contract: identity.rotation, reason: r}\n", "needs an expiry date"),
        ("waivers:\n  - {contract: identity.rotation, reason: '', expires: 2027-01-01}\n", "non-empty reason"),
        ("waivers:\n  - {contract: identity.rotation, reason: r, expires: soon}\n", "is not a date"),
        ("- just a list\n", "top level must be a mapping"),
    ],
)
def test_bad_or_expired_waivers_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        waivers.load(write(tmp_path, text), KNOWN, today=TODAY)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_skip_contract_ids_are_checked() -> None:
    assert "readiness.redis" in waivers.from_options(["readiness.redis"], None, KNOWN)
    with pytest.raises(UsageError, match=r"did you mean 'readiness\.redis'"):
        waivers.from_options(["readiness.reds"], None, KNOWN)


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("2m", 120), ("1.5h", 5400), ("500ms", 0.5)])
def test_durations(text: str, seconds: float) -> None:
    assert runmode.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-1s", "5 days", "48h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError, match="--wait-ready"):
        runmode.parse_duration(text)


def test_quick_mode_shrinks_example_counts() -> None:
    quick = runmode.RunMode(mode="quick", allow_disruptive=False)
    assert quick.examples(2000) == 100
    assert quick.examples(1000) == 50
    assert runmode.RunMode().examples(2000) == 2000


MODE_PROBE = '''
import pytest

@pytest.mark.contract("readiness.redis")
def test_mode(soma_run_mode):
    print(f"mode={soma_run_mode.mode} allow={soma_run_mode.allow_disruptive} "
          f"examples={soma_run_mode.examples(2000)}")
'''


@pytest.mark.parametrize(("args", "seen"), [
    (["--mode=quick"], "mode=quick allow=False examples=100"),
    (["--target=external", "--endpoints=env.yaml"], "mode=full allow=False examples=2000"),
    (["--target=external", "--endpoints=env.yaml", "--allow-disruptive"], "mode=full allow=True examples=2000"),
])
def test_the_run_mode_reaches_contracts_at_run_time(tmp_path: Path, args: list[str], seen: str) -> None:
    """The options decide the mode once, in the session's stash; a contract reads it through
    the soma_run_mode fixture when it runs (no module global read at import)."""
    (tmp_path / "test_mode.py").write_text(MODE_PROBE)
    (tmp_path / "env.yaml").write_text("name: stub\nservices:\n  redis: {host: 127.0.0.1, port: 1}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOMA_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert seen in proc.stdout
