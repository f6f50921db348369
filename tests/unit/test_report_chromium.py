"""Open the HTML report in headless Chromium: the summary must render offline, and a
screenshot is kept under reports/ as evidence. Skips when Chromium is not installed
(`make test-report` installs it and sets SOMA_REQUIRE_CHROMIUM=1, so there it fails)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.report import html
from conformance.report.history import compare
from conformance.resources import REPO_ROOT
from tests.unit.report_support import make_run

CHROMIUM_TIMEOUT_S = 90
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         "--hide-scrollbars"]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("SOMA_REQUIRE_CHROMIUM"):
        pytest.fail("chromium is not installed (apt-get install -y chromium)")
    pytest.skip("chromium is not installed")


def _chrome(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([_chromium(), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=CHROMIUM_TIMEOUT_S, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    earlier = [make_run({"readiness.redis": s, "readiness.postgres": "passed"}, day=i)
               for i, s in enumerate(["passed", "failed", "passed", "passed"])]
    run = make_run({"readiness.redis": "passed", "readiness.postgres": "failed", "dns.redis": "skipped",
                    "sizing.redis.eviction": "passed"}, day=4)
    page = tmp_path / "report.html"
    page.write_text(html.render(run, compare(run, earlier, window=5)), encoding="utf-8")

    dom = _chrome(["--dump-dom", page.as_uri()], tmp_path / "profile").stdout
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
    assert "Soma conformance report" in text
    assert "FAILED: 1 of 4 contracts broken." in text
    cards = r"\b4 contracts 2 passed 1 failed 0 error 1 skipped 0 pending 66\.7% pass rate\b"
    assert re.search(cards, text), text
    assert "By area" in text and "By service" in text and "readiness.postgres" in text
    assert "1 newly failing" in text and "<svg" in dom and "<circle" in dom

    shots = Path(os.environ.get("SOMA_SCREENSHOT_DIR") or REPO_ROOT / "reports" / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "report-html.png"
    shot.unlink(missing_ok=True)
    _chrome([f"--screenshot={shot}", "--window-size=1280,2200", page.as_uri()], tmp_path / "profile")
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
