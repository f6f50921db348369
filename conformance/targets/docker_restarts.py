"""Restarting a compose service the two ways Docker does: a kill (SIGKILL, then the same
container started again: what a crash or an OOM kill does) and a recreate (a new container
from the compose file, the named volumes kept: what `docker compose up` does after a
changed setting). Both keep the service's volumes, so what it acknowledged must survive."""

from __future__ import annotations

from collections.abc import Callable

from conformance.errors import TargetError
from conformance.process import run

KILL = "kill"
RECREATE = "recreate"
DOCKER_TIMEOUT_S = 60
RECREATE_TIMEOUT_S = 180


class DockerRestarts:
    """Restarts of one compose project's services. Without the compose file (a project
    attached by its labels) only the kill is possible."""

    def __init__(self, project: str, container_ids: Callable[[str], list[str]],
                 compose_cmd: list[str] | None) -> None:
        self.project = project
        self._ids = container_ids
        self._compose = compose_cmd

    @property
    def ways(self) -> tuple[str, ...]:
        return (KILL, RECREATE) if self._compose else (KILL,)

    def reconnect(self, service: str) -> None:
        """Compose publishes each service on a fixed host port: nothing to re-open."""

    def restart(self, service: str, way: str) -> str:
        if way == KILL:
            ids = self._ids(service)
            if not ids:
                raise TargetError(f"compose project {self.project} has no container of {service} to kill")
            run(["docker", "kill", "--signal", "KILL", *ids], DOCKER_TIMEOUT_S, f"docker kill of {service}")
            # a restart policy may already have started it: starting a running one is a no-op
            run(["docker", "start", *ids], DOCKER_TIMEOUT_S, f"docker start of {service}")
            return f"{service}: SIGKILL, then the same container started"
        if way == RECREATE and self._compose:
            run([*self._compose, "up", "-d", "--no-deps", "--force-recreate", service], RECREATE_TIMEOUT_S,
                f"compose recreate of {service}")
            return f"{service}: container recreated from the compose file (volumes kept)"
        raise TargetError(f"compose project {self.project} cannot restart {service} by {way!r} "
                          f"(ways: {', '.join(self.ways)})")
