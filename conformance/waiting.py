"""One way to poll: every wait has a deadline, an interval, and a message naming what it
waited for, so a timeout reads the same everywhere and nothing can spin forever."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """The deadline passed; the message names what was awaited and the last thing seen."""


def wait_until(check: Callable[[], T], *, timeout: float, what: str, interval: float = 1.0,
               retry_on: tuple[type[BaseException], ...] = (),
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> T:
    """Call `check` until it returns a truthy value, which is returned.

    A falsy result, or an exception listed in `retry_on`, means "not yet"; any other
    exception propagates at once. `check` runs at least once, even with timeout 0.
    """
    deadline = clock() + timeout
    last = "no answer yet"
    while True:
        try:
            result = check()
            if result:
                return result
            last = f"got {result!r}"
        except retry_on as exc:
            last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout(f"{what}: not reached within {timeout:g}s (last: {last})")
        sleep(min(interval, remaining))
