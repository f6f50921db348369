"""What runs in a compose project, read through the Docker SDK (the Engine API's typed
inspect documents, not `docker` CLI text): the project's running containers, the uids
of their processes, and the images they run."""

from __future__ import annotations

from typing import Any

from conformance.docker_engine import client
from conformance.errors import TargetError
from conformance.security.runtime import COMPOSE_SERVICE_LABEL, RunningContainer

# `docker save` of a large image may take minutes before the first byte on a busy engine
SAVE_TIMEOUT_S = 600


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
