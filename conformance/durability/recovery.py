"""Restart one service the target's way and wait until it answers its readiness probe
again: the time that takes is what an app sees as the outage."""

from __future__ import annotations

import time
from collections.abc import Callable

from conformance.errors import TargetError
from conformance.probes.clients import ContractFailure
from conformance.targets.base import Restarts
from conformance.waiting import WaitTimeout, wait_until

# Kafka replays its log after a SIGKILL; everything else is back in seconds
BACK_TIMEOUT_S = 240.0
POLL_S = 0.5


def restart_and_recover(restarts: Restarts, service: str, way: str, ready: Callable[[], object],
                        timeout: float = BACK_TIMEOUT_S) -> tuple[str, float]:
    """(what was done, seconds from the restart until `ready` held). A service that does
    not come back is a ContractFailure naming the way and the last answer."""
    t0 = time.monotonic()
    try:
        done = restarts.restart(service, way)
    except TargetError as exc:
        raise ContractFailure(f"{service}: {way}: {exc}") from None

    def answers() -> bool:
        try:
            ready()
        except (ContractFailure, TargetError):
            restarts.reconnect(service)  # the next try takes the Service's member of now
            raise
        return True

    try:
        wait_until(answers, timeout=timeout, interval=POLL_S, retry_on=(ContractFailure, TargetError),
                   what=f"{service} ready again after the {way}")
    except WaitTimeout as exc:
        raise ContractFailure(str(exc)) from None
    return done, time.monotonic() - t0
