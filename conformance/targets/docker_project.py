"""A running Compose project read from Docker alone (container labels), no compose file.

Docker Compose labels every container it creates with com.docker.compose.project and
com.docker.compose.service, so a team that installed only the wheel can attach to a
running stack by name: published ports, environment and networks come from `docker
inspect`, shaped like `docker compose config --format json` so the compose target reads
both the same way.
"""

from __future__ import annotations

import json
from typing import Any

from conformance.errors import TargetError, UsageError
from conformance.process import CMD_TIMEOUT_S, run

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NETWORK_LABEL = "com.docker.compose.network"


def docker(args: list[str], what: str, timeout: float = CMD_TIMEOUT_S) -> str:
    """Run one bounded docker command; a failure is a one-line TargetError."""
    return run(["docker", *args], timeout, what)


def container_ids(project: str, service: str | None = None, running_only: bool = False) -> list[str]:
    args = ["ps", "-q", "--filter", f"label={PROJECT_LABEL}={project}"]
    if service:
        args += ["--filter", f"label={SERVICE_LABEL}={service}"]
    if not running_only:
        args.insert(1, "-a")
    return docker(args, f"docker ps of project {project}").split()


def projects() -> list[str]:
    """Names of the Compose projects that have running containers (for error messages)."""
    try:
        out = docker(["ps", "--format", "{{.Label \"" + PROJECT_LABEL + "\"}}"], "docker ps")
    except TargetError:
        return []
    return sorted({line.strip() for line in out.splitlines() if line.strip()})


DAEMON_TIMEOUT_S = 8.0


def require_daemon() -> str:
    """The Docker Engine's version; a one-line UsageError when it does not answer."""
    try:
        return docker(["version", "--format", "{{.Server.Version}}"], "docker version", DAEMON_TIMEOUT_S).strip()
    except TargetError as exc:
        raise UsageError(f"the Docker daemon does not answer ({exc}): start it "
                         "(`make docker` in the soma-infra repo installs and starts one)") from None


def require_project(project: str) -> None:
    """UsageError naming the running projects when `project` has no running container."""
    try:
        ids = container_ids(project, running_only=True)
    except TargetError as exc:
        raise UsageError(f"compose project {project!r}: {exc}") from None
    if not ids:
        running = projects()
        hint = f"running projects: {', '.join(running)}" if running else "no compose project is running"
        raise UsageError(f"compose project {project!r} has no running containers ({hint}): "
                         "start the stack, or pass --project-name=NAME")


def _env(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _ports(bindings: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Published ports as compose config shapes them: target, published, host_ip."""
    out: list[dict[str, Any]] = []
    for spec, hosts in sorted((bindings or {}).items()):
        port, _, proto = spec.partition("/")
        if proto not in ("", "tcp") or not hosts:
            continue
        for host in hosts:
            if ":" in str(host.get("HostIp", "")):
                continue  # the IPv6 twin of an IPv4 binding
            out.append({"target": int(port), "published": str(host.get("HostPort", "")),
                        "host_ip": str(host.get("HostIp", ""))})
    return out


def project_config(project: str) -> dict[str, Any]:
    """{'name', 'services': {svc: {ports, environment, image, networks}}, 'networks': {...}}."""
    ids = container_ids(project)
    if not ids:
        raise TargetError(f"compose project {project!r} has no containers")
    info = json.loads(docker(["inspect", *ids], f"docker inspect of project {project}"))
    services: dict[str, Any] = {}
    network_names: set[str] = set()
    for item in info:
        labels = item.get("Config", {}).get("Labels") or {}
        service = labels.get(SERVICE_LABEL)
        if not service:
            continue
        nets = sorted(item.get("NetworkSettings", {}).get("Networks") or {})
        network_names.update(nets)
        current = services.get(service)
        running = bool(item.get("State", {}).get("Running"))
        if current is not None and current["_running"] and not running:
            continue  # a stopped one-off beside the running replica
        services[service] = {
            "image": item.get("Config", {}).get("Image", ""),
            "environment": _env(item.get("Config", {}).get("Env")),
            "ports": _ports(item.get("NetworkSettings", {}).get("Ports")),
            "networks": {n: None for n in nets},
            "_running": running,
        }
    networks: dict[str, Any] = {}
    if network_names:
        out = docker(["network", "inspect", *sorted(network_names)], f"docker network inspect of {project}")
        for net in json.loads(out):
            key = (net.get("Labels") or {}).get(NETWORK_LABEL) or net.get("Name")
            networks[str(key)] = {"name": net.get("Name")}
    for spec in services.values():
        spec.pop("_running", None)
    return {"name": project, "services": services, "networks": networks}


def image_present(image: str) -> bool:
    try:
        docker(["image", "inspect", "--format", "{{.Id}}", image], f"docker image inspect {image}")
    except TargetError:
        return False
    return True
