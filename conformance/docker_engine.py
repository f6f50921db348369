"""The Docker Engine through its SDK (the `docker` package, installed with testcontainers):
typed inspect documents instead of matching `docker inspect -f` text, with a bounded time
on every call. The compose CLI stays the tool for compose itself. Also what runs in a
compose project (its containers, their processes' uids, their images): the compose target
lists its images from it and the security contracts judge it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.errors import TargetError

SDK_TIMEOUT_S = 30
# `docker save` of a large image may take minutes before the first byte on a busy engine
SAVE_TIMEOUT_S = 600
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"


def client(timeout: float = SDK_TIMEOUT_S) -> Any:
    """A Docker SDK client whose every API call is bounded by `timeout` seconds; no SDK or
    no engine is a one-line TargetError naming the cause."""
    try:
        import docker  # optional: it comes with testcontainers
    except ImportError as exc:
        raise TargetError(f"the Docker SDK is not installed (it comes with testcontainers): {exc}") from None
    try:
        return docker.from_env(timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any SDK failure is "no Docker engine"
        raise TargetError(f"cannot reach the Docker engine: {type(exc).__name__}: {exc}") from None


@dataclass(frozen=True)
class ContainerState:
    """What the engine says about one container's life so far."""

    name: str
    image: str
    running: bool
    restart_count: int
    oom_killed: bool
    exit_code: int
    health: str | None  # None: the container has no healthcheck
    networks: tuple[str, ...]

    @classmethod
    def of(cls, attrs: dict[str, Any]) -> ContainerState:
        """From an inspect document (`container.attrs`)."""
        state = attrs.get("State") or {}
        health = state.get("Health") or {}
        return cls(
            name=str(attrs.get("Name", "")).lstrip("/"),
            image=str((attrs.get("Config") or {}).get("Image", "")),
            running=bool(state.get("Running")),
            restart_count=int(attrs.get("RestartCount") or 0),
            oom_killed=bool(state.get("OOMKilled")),
            exit_code=int(state.get("ExitCode") or 0),
            health=str(health["Status"]) if "Status" in health else None,
            networks=tuple(sorted((attrs.get("NetworkSettings") or {}).get("Networks") or {})),
        )

    @property
    def fell_over(self) -> bool:
        """Restarted or OOM-killed since it was created."""
        return self.restart_count > 0 or self.oom_killed

    def __str__(self) -> str:
        return (f"{self.name} restarts={self.restart_count} oom_killed={str(self.oom_killed).lower()} "
                f"exit={self.exit_code}")


def container_states(ids: list[str], what: str, timeout: float = SDK_TIMEOUT_S) -> list[ContainerState]:
    """The state of each container (by id or name); an engine error is a one-line
    TargetError that starts with `what`."""
    sdk = client(timeout)
    try:
        return [ContainerState.of(dict(sdk.api.inspect_container(cid))) for cid in ids]
    except Exception as exc:  # noqa: BLE001 - an Engine API error names what was inspected
        raise TargetError(f"{what}: {type(exc).__name__}: {exc}") from None
    finally:
        sdk.close()


def container_state(cid: str, what: str, timeout: float = SDK_TIMEOUT_S) -> ContainerState:
    """The state of one container."""
    return container_states([cid], what, timeout)[0]


@dataclass(frozen=True)
class RunningContainer:
    """What the security contracts need of one running container."""

    service: str
    name: str
    attrs: dict[str, Any]  # the Engine API's ContainerInspect document
    uids: tuple[int, ...]  # uids of the processes running in it (docker top)

    @property
    def label(self) -> str:
        return f"{self.service} ({self.name})"


def process_uids(container: Any) -> tuple[int, ...]:
    """Uids of every process in the container, as the host's ps sees them."""
    top = container.top(ps_args="-o pid,uid")
    col = [str(t).upper() for t in top.get("Titles", [])].index("UID")
    return tuple(int(row[col]) for row in top.get("Processes") or [])


def running_containers(project: str) -> list[RunningContainer]:
    """Every running container of the compose project (labelled by compose)."""
    sdk = client()
    try:
        found = sdk.containers.list(filters={"label": f"com.docker.compose.project={project}",
                                             "status": "running"})
        out = []
        for c in found:
            attrs = dict(c.attrs)
            labels = (attrs.get("Config") or {}).get("Labels") or {}
            out.append(RunningContainer(service=str(labels.get(COMPOSE_SERVICE_LABEL, c.name)),
                                        name=str(c.name), attrs=attrs, uids=process_uids(c)))
    except Exception as exc:  # noqa: BLE001 - an Engine API error names the project
        raise TargetError(f"inspecting the containers of compose project {project}: "
                          f"{type(exc).__name__}: {exc}") from None
    finally:
        sdk.close()
    return sorted(out, key=lambda r: r.service)
