"""What a load run saw while a member of a service was removed: how many attempts failed,
how long the service was out (from the disruption to the first success after the last
failure), and the longest gap between two successes. Pure functions over the attempts."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Outage:
    attempts: int
    failed: int
    recovery_s: float  # disruption -> first success after the last failure (0: never out)
    longest_gap_s: float  # the longest time between two successful attempts
    first_failure: str  # what the first failed attempt said ("" when none failed)

    def line(self) -> str:
        return (f"{self.attempts} attempts, {self.failed} failed, back {self.recovery_s:.1f}s after the "
                f"disruption, longest gap between successes {self.longest_gap_s:.1f}s")


def outage(events: list[dict[str, Any]], disrupted_at: float) -> Outage:
    """The outage in attempts `events` ({"t", "ok", "detail"} in order) around `disrupted_at`
    (seconds on the same clock). No success after the disruption is an outage to the end."""
    tried = [e for e in events if "ok" in e]
    ok_times = [float(e["t"]) for e in tried if e["ok"]]
    failures = [e for e in tried if not e["ok"]]
    gaps = [b - a for a, b in itertools.pairwise(ok_times)]
    recovery = 0.0
    if failures:
        last_failure = max(float(e["t"]) for e in failures)
        after = [t for t in ok_times if t > last_failure]
        recovery = max(0.0, after[0] - disrupted_at) if after else float("inf")
    return Outage(len(tried), len(failures), recovery, max(gaps, default=0.0),
                  str(failures[0].get("detail", "")) if failures else "")
