"""Read-only by default on external targets: contracts that change state skip, named, and
run with --allow-disruptive; a contract's read-only part still judges before its gate.
Waivers skip with their reason. The endpoints point at a stub etcd (its /health only) and
at closed ports, so nothing real is needed and the gated parts are seen to run or not."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.suite_runner import run_suite


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"health": "true"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def stub_etcd() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def endpoints(tmp_path: Path, etcd_port: int) -> str:
    path = tmp_path / "env.yaml"
    path.write_text(f"name: stub\nservices:\n  etcd: {{host: 127.0.0.1, port: {etcd_port}}}\n"
                    f"  vault: {{host: 127.0.0.1, port: {closed_port()}}}\n")
    return str(path)


def test_read_only_by_default_on_external(tmp_path: Path, stub_etcd: int) -> None:
    args = ["--target=external", f"--endpoints={endpoints(tmp_path, stub_etcd)}", "-rs",
            "--contract=readiness.etcd", "--contract=identity.rotation"]
    run = run_suite(args, tmp_path, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:]
    by_contract = {run.contracts[n]: (run.outcomes[n], run.messages[n]) for n in run.outcomes}
    status, message = by_contract["readiness.etcd"]
    assert status == "skipped" and message.startswith("disruptive, read-only run: the read-only part held, "
                                                      "then skipped (its put/get round trip writes")
    status, message = by_contract["identity.rotation"]
    assert status == "skipped" and "rotates the live OIDC signing key" in message
    assert "pass --allow-disruptive" in message
    assert "disruptive (read-only run; --allow-disruptive runs them): identity.rotation, readiness.etcd" in run.stdout


def test_allow_disruptive_runs_them(tmp_path: Path, stub_etcd: int) -> None:
    args = ["--target=external", f"--endpoints={endpoints(tmp_path, stub_etcd)}", "--allow-disruptive",
            "--contract=readiness.etcd", "--contract=identity.rotation"]
    run = run_suite(args, tmp_path, timeout=120)
    assert run.returncode == 1, run.stdout[-3000:]
    failed = {run.contracts[n]: run.messages[n] for n in run.outcomes if run.outcomes[n] in ("failed", "error")}
    assert set(failed) == {"readiness.etcd", "identity.rotation"}, run.outcomes
    assert "put/get" in failed["readiness.etcd"] or "etcd" in failed["readiness.etcd"]


def test_quick_mode_is_read_only_on_any_target(tmp_path: Path, stub_etcd: int) -> None:
    args = ["--target=external", f"--endpoints={endpoints(tmp_path, stub_etcd)}", "--mode=quick",
            "--contract=identity.rotation"]
    run = run_suite(args, tmp_path, timeout=120)
    assert run.returncode == 0 and set(run.outcomes.values()) == {"skipped"}, run.stdout[-2000:]


def test_waived_contract_is_skipped_with_its_reason(tmp_path: Path, stub_etcd: int) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - {contract: readiness.vault, reason: vault moves to HSM (OPS-7), "
                       "expires: 2999-01-01}\n")
    args = ["--target=external", f"--endpoints={endpoints(tmp_path, stub_etcd)}", f"--waivers={waivers}",
            "--contract=readiness.vault", "--skip-contract=readiness.etcd", "--contract=readiness.etcd"]
    run = run_suite(args, tmp_path, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:]
    messages = {run.contracts[n]: run.messages[n] for n in run.outcomes}
    assert messages["readiness.vault"].startswith("waived (waivers.yaml, expires 2999-01-01): vault moves to HSM")
    assert "waived (--skip-contract)" in messages["readiness.etcd"]
    doc = json.loads((tmp_path / "reports" / "conformance.json").read_text())
    shown = {c["id"]: c["message"] for c in doc["contracts"]}
    assert "vault moves to HSM (OPS-7)" in shown["readiness.vault"], "the report shows the waiver"
    assert "waived readiness.vault" in run.stdout


def test_expired_waiver_fails_loudly(tmp_path: Path, stub_etcd: int) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - {contract: readiness.vault, reason: r, expires: 2020-01-01}\n")
    run = run_suite(["--target=external", f"--endpoints={endpoints(tmp_path, stub_etcd)}",
                     f"--waivers={waivers}"], tmp_path, timeout=120)
    assert run.returncode == 4
    assert "the waiver of readiness.vault expired on 2020-01-01" in run.stderr
