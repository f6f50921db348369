"""`--wait-ready=DURATION`: retry readiness of every service until a deadline, then judge.

A post-deploy smoke run often starts while services still come up; waiting here (TCP
accept on every deployed service's endpoint) keeps "not up yet" from being judged as
"broken". Nothing fails here: after the deadline the contracts judge what they find.
"""

from __future__ import annotations

import contextlib
import socket
import time

from conformance.errors import TargetError
from conformance.targets.base import Target
from conformance.waiting import WaitTimeout, wait_until

POLL_S = 1.0
CONNECT_S = 2.0


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_S):
            return True
    except OSError:
        return False


def wait_ready(target: Target, deadline_s: float) -> str:
    """Poll until every deployed service accepts a connection or the deadline passes;
    returns one line saying how long it took and what was still down."""
    t0 = time.monotonic()
    pending: dict[str, tuple[str, int]] = {}
    for name in target.catalog.services:
        try:
            if target.deployed(name):
                ep = target.endpoint(name)
                pending[name] = (ep.host, ep.port)
        except TargetError:
            continue  # the service's contracts will name the cause

    def all_accept() -> bool:
        for name, (host, port) in list(pending.items()):
            if _accepts(host, port):
                del pending[name]
        return not pending

    with contextlib.suppress(WaitTimeout):  # nothing fails here: the contracts judge what is down
        wait_until(all_accept, timeout=deadline_s, interval=POLL_S,
                   what="every deployed service accepting a connection")
    took = time.monotonic() - t0
    if pending:
        return f"still not accepting after {took:.1f}s: {', '.join(sorted(pending))}"
    return f"every deployed service accepted a connection after {took:.1f}s"
