"""Installed, the plugin loads into every pytest run of the environment: an unrelated
project must not notice it (no INTERNALERROR, no environment change, no report, no header)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

UNRELATED = '''
import os
import warnings


def test_unrelated():
    assert "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION" not in os.environ
    assert not any("etcd3" in str(f) for f in warnings.filters)


def test_marker_named_like_an_area_is_the_projects_own():
    assert True
'''


def run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOMA_", "PROTOCOL_BUFFERS"))}
    env["PYTHONPATH"] = str(ROOT)
    # the pytest11 entry point is installed (make deps); PYTHONPATH makes it load this checkout's plugin
    return subprocess.run([sys.executable, "-m", "pytest", *args],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_unrelated_project_is_unaffected(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text(UNRELATED)
    proc = run(tmp_path, "-q", "-p", "no:cacheprovider")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
    assert "INTERNALERROR" not in proc.stdout + proc.stderr
    assert "soma" not in proc.stdout.lower(), proc.stdout  # no header, no summary section
    assert not (tmp_path / "reports").exists(), "an unrelated run must not write a conformance report"


def test_unrelated_project_under_xdist(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text(UNRELATED)
    proc = run(tmp_path, "-q", "-p", "no:cacheprovider", "-n", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (tmp_path / "reports").exists()


def test_a_suite_option_activates_it(tmp_path: Path) -> None:
    """--target in an unrelated project is a request for the suite: a bad value is exit 4."""
    (tmp_path / "test_mine.py").write_text(UNRELATED)
    proc = run(tmp_path, "-q", "--target=nonsense")
    assert proc.returncode == 4
    assert "--target: invalid choice 'nonsense'" in proc.stderr
