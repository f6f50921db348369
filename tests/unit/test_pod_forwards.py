"""Per-pod port-forwards (Kafka's brokers): a StatefulSet's replacement pod keeps its name,
and a kubectl that forwarded to the old pod may live on refusing every connection, so a
forward is keyed by the pod's UID. kubectl is a stand-in here; no cluster is involved."""

from __future__ import annotations

import io
import subprocess
from typing import Any

import pytest

from conformance.kube import forward
from conformance.kube.kubectl import Kubectl


class FakeProc:
    def __init__(self, cmd: list[str]) -> None:
        self.cmd = cmd
        self.stdout = io.StringIO("")
        self.ended: int | None = None

    def poll(self) -> int | None:
        return self.ended

    def terminate(self) -> None:
        self.ended = -15

    def kill(self) -> None:
        self.ended = -9

    def wait(self, timeout: float | None = None) -> int | None:
        return self.ended


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[FakeProc]:
    procs: list[FakeProc] = []

    def popen(cmd: list[str], **_: Any) -> FakeProc:
        procs.append(FakeProc(cmd))
        return procs[-1]

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(forward, "await_forward", lambda proc, key: 29092)
    return procs


def test_same_pod_reuses_its_forward_and_a_replacement_gets_a_new_one(started: list[FakeProc]) -> None:
    fw = forward.PortForwards(Kubectl("kind-soma-prod", "soma-infra"))
    assert fw.pod_port("kafka/kafka-0", "uid-1", "kafka-0", 29092) == 29092
    fw.pod_port("kafka/kafka-0", "uid-1", "kafka-0", 29092)
    assert len(started) == 1
    fw.pod_port("kafka/kafka-0", "uid-2", "kafka-0", 29092)  # deleted and recreated: same name
    assert len(started) == 2 and started[0].ended is not None and started[1].ended is None
    assert list(fw.forwards) == ["kafka/kafka-0/uid-2"]


def test_an_ended_kubectl_is_reopened_and_reconnect_drops_every_broker(started: list[FakeProc]) -> None:
    fw = forward.PortForwards(Kubectl("kind-soma-prod", "soma-infra"))
    fw.pod_port("kafka/kafka-0", "uid-1", "kafka-0", 29092)
    fw.pod_port("kafka/kafka-1", "uid-9", "kafka-1", 29093)
    started[0].ended = 1
    fw.pod_port("kafka/kafka-0", "uid-1", "kafka-0", 29092)
    assert len(started) == 3
    fw.close("kafka")
    assert fw.forwards == {}
