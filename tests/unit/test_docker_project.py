"""Attaching to a running Compose project from Docker's labels alone (no compose file):
the inspect output is shaped like `docker compose config`; docker's error boilerplate
never hides the cause."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance import catalog
from conformance.docker_engine import ContainerState
from conformance.errors import UsageError
from conformance.process import cause
from conformance.targets import docker_project
from conformance.targets.base import TargetOptions
from conformance.targets.compose import ComposeTarget


def container(service: str, ports: dict[str, Any], env: list[str], running: bool = True) -> dict[str, Any]:
    return {"Config": {"Labels": {docker_project.SERVICE_LABEL: service, docker_project.PROJECT_LABEL: "p"},
                       "Env": env, "Image": f"soma-infra/{service}:local"},
            "State": {"Running": running},
            "NetworkSettings": {"Ports": ports, "Networks": {"p-net": {}}}}


INSPECT = [
    container("redis", {"6379/tcp": [{"HostIp": "127.0.0.1", "HostPort": "42613"}]}, ["REDIS_PASSWORD=pw"]),
    container("postgres", {"5432/tcp": [{"HostIp": "0.0.0.0", "HostPort": "50611"},
                                        {"HostIp": "::", "HostPort": "50611"}]},
              ["POSTGRES_USER=soma", "POSTGRES_PASSWORD=a=b", "POSTGRES_DB=soma"]),
    container("vault-bootstrap", {}, ["BAO_TOKEN=root"]),
]
NETWORKS = [{"Name": "p-net", "Labels": {docker_project.NETWORK_LABEL: "soma-infra"}}]


@pytest.fixture
def fake_docker(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []

    def docker(args: list[str], what: str, timeout: float = 60) -> str:
        calls.append(args)
        if args[0] == "ps":
            return "c1\nc2\nc3\n"
        if args[0] == "inspect":
            return json.dumps(INSPECT)
        if args[:2] == ["network", "inspect"]:
            return json.dumps(NETWORKS)
        raise AssertionError(args)

    monkeypatch.setattr(docker_project, "docker", docker)
    return calls


def test_project_config_has_compose_shape(fake_docker: list[list[str]]) -> None:
    config = docker_project.project_config("p")
    assert config["services"]["redis"]["ports"] == [{"target": 6379, "published": "42613", "host_ip": "127.0.0.1"}]
    assert config["services"]["postgres"]["ports"] == [{"target": 5432, "published": "50611", "host_ip": "0.0.0.0"}]
    assert config["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == "a=b"
    assert config["networks"] == {"soma-infra": {"name": "p-net"}}
    assert fake_docker[0] == ["ps", "-a", "-q", "--filter", f"label={docker_project.PROJECT_LABEL}=p"]


def test_compose_target_by_project_name_needs_no_file(fake_docker: list[list[str]]) -> None:
    target = ComposeTarget(catalog.load(), TargetOptions(project_name="p", compose_file=None))
    assert target.by_labels
    assert target.endpoint("postgres").host == "127.0.0.1" and target.endpoint("postgres").port == 50611
    assert target.credentials().postgres_password == "a=b"
    assert target.network_name() == "p-net"
    assert target.deployed("redis") and not target.deployed("kafka")
    assert target.docker_project() == "p" and target.kubernetes() is None


def test_absent_project_is_a_usage_error_listing_running_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    def docker(args: list[str], what: str, timeout: float = 60) -> str:
        return "" if "-q" in args else "soma-infra\nother\n"

    monkeypatch.setattr(docker_project, "docker", docker)
    with pytest.raises(UsageError, match=r"'absent' has no running containers \(running projects: other, soma-infra\)"):
        docker_project.require_project("absent")


def test_docker_error_keeps_the_cause() -> None:
    err = ("docker: Error response from daemon: No such image: soma-infra/probe:local.\n"
           "Run 'docker run --help' for more information\n")
    assert cause(err) == "docker: Error response from daemon: No such image: soma-infra/probe:local."


def test_container_state_is_read_from_typed_inspect_data() -> None:
    """Restarts, OOM kills and health come from the Engine's inspect document as numbers
    and booleans, not from matching `docker inspect -f` text."""
    calm = ContainerState.of({"Name": "/p-redis-1", "RestartCount": 0,
                              "State": {"Running": True, "OOMKilled": False, "ExitCode": 0,
                                        "Health": {"Status": "healthy"}},
                              "Config": {"Image": "redis:7"}, "NetworkSettings": {"Networks": {"p-net": {}}}})
    assert not calm.fell_over and calm.health == "healthy" and calm.networks == ("p-net",)
    assert str(calm) == "p-redis-1 restarts=0 oom_killed=false exit=0"
    assert ContainerState.of({"Name": "/a", "RestartCount": 10, "State": {}}).fell_over
    oom = ContainerState.of({"Name": "/b", "State": {"OOMKilled": True, "ExitCode": 137}})
    assert oom.fell_over and oom.health is None and oom.exit_code == 137
