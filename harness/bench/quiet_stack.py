"""Pause a compose stack's other containers for the length of one measurement.

On a 2-core machine the stack's own work (Kafka, Prometheus scrapes, exporters) takes the
cores a decision waits for, and that is what sets the sequential p99. Pausing everything
but the services a measurement needs shows what OPA does with the cores to itself. It
touches a stack someone may be using, so the bench does it only when asked
(`--quiet-stack`), and always unpauses: on an exception, Ctrl-C or SIGTERM alike.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from conformance.targets import docker_project


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def paused(project: str, keep: tuple[str, ...]) -> Iterator[list[str]]:
    """Pause the running containers of `project` except those of the services in `keep`;
    yields their ids and unpauses them all when the block ends, however it ends."""
    kept = {cid for service in keep for cid in docker_project.container_ids(project, service, running_only=True)}
    ids = [cid for cid in docker_project.container_ids(project, running_only=True) if cid not in kept]
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop) if on_main else None
    try:
        if ids:
            docker_project.docker(["pause", *ids], f"docker pause of project {project}")
        yield ids
    finally:
        try:
            if ids:
                docker_project.docker(["unpause", *ids], f"docker unpause of project {project}")
        finally:
            if on_main:
                signal.signal(signal.SIGTERM, previous)
