"""Steady load from the suite itself (Kafka, Postgres: protocols the in-cluster load pod
does not speak): attempts at a fixed interval in a thread while the main thread removes a
member; a failed attempt re-opens the client's way in (a forward to a pod that is gone),
at most once per RECONNECT_S, as a client library would."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from conformance.kube.disruptions import LoadRun
from conformance.probes.clients import describe_exc

RECONNECT_S = 2.0


def run_through(attempt: Callable[[int], object], disrupt: Callable[[], str], reconnect: Callable[[], None], *,
                seconds: float, interval: float, warmup_s: float = 3.0) -> LoadRun:
    """Attempts 1..n for `seconds`; `disrupt` after `warmup_s`. Each attempt's exception is
    its failure; its return value is not judged here (the caller knows what it acknowledged)."""
    events: list[dict[str, Any]] = []
    start = time.monotonic()
    stop = threading.Event()

    def loop() -> None:
        n, last_reconnect = 0, 0.0
        while not stop.is_set() and time.monotonic() - start < seconds:
            n += 1
            t = time.monotonic() - start
            try:
                attempt(n)
                events.append({"n": n, "t": round(t, 3), "ok": True, "detail": ""})
            except Exception as exc:  # noqa: BLE001 - every failure is a counted, reported attempt
                events.append({"n": n, "t": round(t, 3), "ok": False, "detail": describe_exc(exc)[:160]})
                if time.monotonic() - last_reconnect >= RECONNECT_S:
                    last_reconnect = time.monotonic()
                    with contextlib.suppress(Exception):  # the next attempt reports what still fails
                        reconnect()
            time.sleep(max(0.0, interval - (time.monotonic() - start - t)))

    worker = threading.Thread(target=loop, name="resilience load", daemon=True)
    worker.start()
    try:
        time.sleep(warmup_s)
        disrupted_at = time.monotonic() - start
        what = disrupt()
        worker.join(timeout=seconds + 60)
    finally:
        stop.set()
    return LoadRun(events, {"attempts": len(events), "failed": sum(1 for e in events if not e["ok"])},
                   disrupted_at, what)
