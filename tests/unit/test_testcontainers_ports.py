"""testcontainers target start-up: a host port taken between choosing it and `up` (a second
stack starting beside this one) is retried under new ports; any other failure is not.
testcontainers' DockerCompose is faked here: only the target's own machinery is tested."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance import catalog
from conformance.errors import TargetError
from conformance.targets import testcontainers as tc
from conformance.targets.base import TargetOptions


class Failure(Exception):
    def __init__(self, stderr: str) -> None:
        super().__init__("compose up failed")
        self.stderr = stderr.encode()


def fake_compose(monkeypatch: pytest.MonkeyPatch, failures: list[str]) -> list[dict[str, str]]:
    """Each start fails with the next stderr of `failures`, then succeeds; returns the
    port override file each start was given, read as a dict."""
    starts: list[dict[str, str]] = []
    downs: list[str] = []

    class Compose:
        def __init__(self, **kwargs: Any) -> None:
            self.override = Path(kwargs["env_file"][-1])

        def start(self) -> None:
            starts.append(dict(line.split("=", 1) for line in self.override.read_text().splitlines()))
            if failures:
                raise Failure(failures.pop(0))

        def stop(self, down: bool) -> None:
            downs.append(str(self.override))

    import testcontainers.compose

    monkeypatch.setattr(testcontainers.compose, "DockerCompose", Compose)
    monkeypatch.setattr(tc.TestcontainersTarget, "config", lambda self: {})
    monkeypatch.setattr(tc.TestcontainersTarget, "restarted_containers", lambda self: [])
    monkeypatch.setattr(tc.TestcontainersTarget, "_install_cleanup", lambda self: None)
    return starts


def target() -> tc.TestcontainersTarget:
    return tc.TestcontainersTarget(catalog.load(), TargetOptions())


TAKEN = ("Error response from daemon: driver failed programming external connectivity on endpoint "
         "soma-tc-1-opa-1 (d81a): Bind for 127.0.0.1:37307 failed: port is already allocated")


def test_a_taken_port_is_retried_under_a_new_project_and_new_ports(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    starts = fake_compose(monkeypatch, [TAKEN])
    t = target()
    t.setup()
    assert len(starts) == 2
    first, second = starts
    assert first["COMPOSE_PROJECT_NAME"] != second["COMPOSE_PROJECT_NAME"] == t.project
    assert [v for k, v in first.items() if k.endswith("_HOST_PORT")] != \
           [v for k, v in second.items() if k.endswith("_HOST_PORT")]
    assert sum(1 for f in t.env_files if Path(f).name.startswith("soma-tc-")) == 1  # no stale override
    assert "retrying with new ports" in capsys.readouterr().out
    t.teardown()


def test_other_failures_and_the_last_attempt_fail_with_dockers_line(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_compose(monkeypatch, ["pulling\nimage soma-infra/opa:local not found"])
    with pytest.raises(TargetError, match=r"compose up of soma-tc-[0-9a-f]+: image soma-infra/opa:local not found$"):
        target().setup()
    starts = fake_compose(monkeypatch, [TAKEN] * tc.START_ATTEMPTS)
    with pytest.raises(TargetError, match="port is already allocated"):
        target().setup()
    assert len(starts) == tc.START_ATTEMPTS
