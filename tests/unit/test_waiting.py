"""wait_until: returns the first truthy answer, retries only what it is told to, and
always stops at its deadline with a message naming what it waited for."""

from __future__ import annotations

import pytest

from conformance.waiting import WaitTimeout, wait_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_first_truthy_answer() -> None:
    answers = iter([None, 0, "ready"])
    clock = FakeClock()
    assert wait_until(lambda: next(answers), timeout=10, what="x", clock=clock, sleep=clock.sleep) == "ready"
    assert clock.sleeps == [1.0, 1.0]


def test_deadline_names_what_and_last_answer_and_never_oversleeps() -> None:
    clock = FakeClock()
    with pytest.raises(WaitTimeout, match=r"redis PING: not reached within 2.5s \(last: got False\)"):
        wait_until(lambda: False, timeout=2.5, what="redis PING", clock=clock, sleep=clock.sleep)
    assert clock.now == pytest.approx(2.5)


def test_retries_listed_exceptions_and_propagates_others() -> None:
    clock = FakeClock()

    def refused() -> bool:
        raise ConnectionRefusedError("port 6379")

    with pytest.raises(WaitTimeout, match="ConnectionRefusedError: port 6379"):
        wait_until(refused, timeout=1, what="redis", retry_on=(OSError,), clock=clock, sleep=clock.sleep)
    with pytest.raises(ConnectionRefusedError):
        wait_until(refused, timeout=1, what="redis", clock=clock, sleep=clock.sleep)


def test_checks_once_even_with_no_time() -> None:
    clock = FakeClock()
    assert wait_until(lambda: 1, timeout=0, what="x", clock=clock, sleep=clock.sleep) == 1
