"""The resilience contracts' measuring parts: the outage read from a load's attempts, the
in-cluster load script against a local HTTP server that fails for a while, and the
suite-side load loop that reconnects after a failure."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from conformance.inside.checks import LOAD_SCRIPT, json_lines
from conformance.resilience import client_load
from conformance.resilience.timeline import outage


def attempts(*oks: tuple[float, bool]) -> list[dict[str, Any]]:
    return [{"n": i, "t": t, "ok": ok, "detail": "" if ok else f"refused {i}"} for i, (t, ok) in enumerate(oks)]


def test_no_failure_is_no_outage() -> None:
    seen = outage(attempts((0.0, True), (0.5, True), (1.5, True)), disrupted_at=0.7)
    assert (seen.failed, seen.recovery_s, seen.longest_gap_s) == (0, 0.0, 1.0)


def test_recovery_counts_from_the_disruption_to_the_first_success_after_the_last_failure() -> None:
    seen = outage(attempts((0.0, True), (1.0, True), (2.0, False), (3.0, False), (4.5, True), (5.0, True)),
                  disrupted_at=1.5)
    assert (seen.attempts, seen.failed, seen.recovery_s, seen.longest_gap_s) == (6, 2, 3.0, 3.5)
    assert seen.first_failure == "refused 2" and "2 failed" in seen.line()


def test_never_back_is_an_endless_outage() -> None:
    assert outage(attempts((0.0, True), (1.0, False)), disrupted_at=0.5).recovery_s == float("inf")


class Flaky(BaseHTTPRequestHandler):
    """Answers 200 {"result": true}, except 503 for requests 4 to 6."""

    count = 0

    def do_POST(self) -> None:
        Flaky.count += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ok = not 4 <= Flaky.count <= 6
        body = json.dumps({"result": True}).encode()
        self.send_response(200 if ok else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        """Quiet."""


@pytest.fixture
def flaky_server() -> Any:
    Flaky.count = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_the_load_script_counts_every_attempt(flaky_server: ThreadingHTTPServer) -> None:
    spec = {"kind": "http", "url": f"http://127.0.0.1:{flaky_server.server_port}/v1/data/soma/allow",
            "body": {"input": {}}, "expect_true": True, "seconds": 1.0, "interval": 0.05}
    out = subprocess.run([sys.executable, str(LOAD_SCRIPT), json.dumps(spec)], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    lines = json_lines(out)
    assert lines[0] == {"ready": True}
    tried = [d for d in lines if "ok" in d]
    assert [d["ok"] for d in tried[:8]] == [True, True, True, False, False, False, True, True]
    assert "HTTP 503" in tried[3]["detail"]
    assert lines[-1]["summary"]["failed"] == 3 and lines[-1]["summary"]["acked"] == len(tried) - 3


def test_the_suite_side_loop_reconnects_after_a_failure() -> None:
    reconnects: list[float] = []
    down = threading.Event()

    def attempt(n: int) -> None:
        if down.is_set() and not reconnects:
            raise ConnectionError("forwarded pod is gone")

    def disrupt() -> str:
        down.set()
        return "pod x deleted"

    run = client_load.run_through(attempt, disrupt, lambda: reconnects.append(1.0), seconds=0.6, interval=0.02,
                                  warmup_s=0.1)
    assert run.disruption == "pod x deleted" and len(reconnects) == 1
    assert run.summary["failed"] >= 1 and run.events[-1]["ok"]
