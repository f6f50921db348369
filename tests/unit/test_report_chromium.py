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


def _page(tmp_path: Path) -> Path:
    earlier = [make_run({"readiness.redis": s, "readiness.postgres": "passed"}, day=i)
               for i, s in enumerate(["passed", "failed", "passed", "passed"])]
    run = make_run({"readiness.redis": "passed", "readiness.postgres": "failed", "dns.redis": "skipped",
                    "sizing.redis.eviction": "passed"}, day=4)
    page = tmp_path / "report.html"
    page.write_text(html.render(run, compare(run, earlier, window=5)), encoding="utf-8")
    return page


def _shot(page: Path, name: str, size: str, profile: Path) -> Path:
    shots = Path(os.environ.get("SOMA_SCREENSHOT_DIR") or REPO_ROOT / "reports" / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / name
    shot.unlink(missing_ok=True)
    _chrome([f"--screenshot={shot}", f"--window-size={size}", page.as_uri()], profile)
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    return shot


def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = _page(tmp_path)
    dom = _chrome(["--dump-dom", page.as_uri()], tmp_path / "profile").stdout
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
    assert "Soma conformance report" in text and "environment soma-infra" in text
    assert "FAILED: 1 of 3 contracts that ran are broken (1 root cause); 1 skipped, not verified." in text
    assert "4 contracts: 3 ran (2 passed, 1 failed, 0 error), 1 skipped" in text
    cards = r"\b4 contracts 3 ran 2 passed 1 failed 0 error 1 skipped 0 pending 66\.7% pass rate of ran\b"
    assert re.search(cards, text), text
    assert "By area" in text and "By service" in text and "readiness.postgres" in text
    assert "1 newly failing" in text and "<svg" in dom and "<circle" in dom
    _shot(page, "report-html.png", "1280,2200", tmp_path / "profile")


# test-only probe: a copy of the page without its CSP, plus a script that records how wide
# the laid-out document is (the report itself never carries a script)
_MEASURE = ("<script>addEventListener('load',()=>{const d=document.documentElement;"
            "const wide=[...document.querySelectorAll('body *')].filter(e=>e.getBoundingClientRect().right>"
            "d.clientWidth+1).slice(0,5).map(e=>e.tagName+'.'+e.className).join(' ');"
            "document.body.setAttribute('data-measure',d.scrollWidth+'/'+d.clientWidth+' '+wide);});</script>")


@pytest.mark.parametrize("width", [700, 500])
def test_no_horizontal_scroll_at_narrow_widths(tmp_path: Path, width: int) -> None:
    """At 700 px the 720 px chart used to scroll sideways (500 px: the narrowest headless window)."""
    page = _page(tmp_path)
    probe = tmp_path / "probe.html"
    probe.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "",
                            page.read_text(encoding="utf-8")).replace("</body>", _MEASURE + "</body>"),
                     encoding="utf-8")
    dom = _chrome([f"--window-size={width},900", "--virtual-time-budget=2000", "--dump-dom", probe.as_uri()],
                  tmp_path / "profile").stdout
    match = re.search(r'data-measure="(\d+)/(\d+) ?([^"]*)"', dom)
    assert match, dom[-500:]
    scroll, client = int(match.group(1)), int(match.group(2))
    assert client <= width and scroll <= client, f"scrolls sideways: {scroll} > {client}; widest: {match.group(3)}"
    if width == 700:
        _shot(page, "report-html-700.png", "700,2600", tmp_path / "profile")
