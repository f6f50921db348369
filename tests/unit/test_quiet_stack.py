"""--quiet-stack pauses a stack someone may be using: only the project's other containers,
and they are unpaused however the measurement ends (docker faked here)."""

from __future__ import annotations

import signal

import pytest

from conformance.targets import docker_project
from harness.bench import quiet_stack

RUNNING = {None: ["opa1", "vault1", "kafka1"], "vault": ["vault1"]}


@pytest.fixture()
def docker(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []
    monkeypatch.setattr(docker_project, "container_ids",
                        lambda project, service=None, running_only=False: RUNNING[service])

    def fake(args: list[str], what: str, timeout: float = 0) -> str:
        calls.append(args)
        return ""

    monkeypatch.setattr(docker_project, "docker", fake)
    return calls


def test_pauses_all_but_the_kept_services_then_unpauses(docker: list[list[str]]) -> None:
    with quiet_stack.paused("soma", ("vault",)) as ids:
        assert ids == ["opa1", "kafka1"] and docker == [["pause", "opa1", "kafka1"]]
    assert docker[-1] == ["unpause", "opa1", "kafka1"]


def test_unpauses_when_the_measurement_fails(docker: list[list[str]]) -> None:
    with pytest.raises(RuntimeError), quiet_stack.paused("soma", ("vault",)):
        raise RuntimeError("load failed")
    assert docker[-1] == ["unpause", "opa1", "kafka1"]


def test_sigterm_while_paused_unwinds_and_the_handler_is_restored(docker: list[list[str]]) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), quiet_stack.paused("soma", ("vault",)):
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        handler(signal.SIGTERM, None)  # what the interpreter does on SIGTERM, without killing pytest
    assert docker[-1] == ["unpause", "opa1", "kafka1"]
    assert signal.getsignal(signal.SIGTERM) == before
