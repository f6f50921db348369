"""How this run may behave, decided once by the plugin from its options and kept in the
session's stash (conformance.session.run_mode). Contracts read it at run time through
fixtures: `--mode=quick` shrinks their example counts, `--allow-disruptive` gates the
checks that change state. Nothing here touches the environment of other code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conformance.errors import UsageError

MODES = ("full", "quick")
QUICK_DIVISOR = 20  # quick: 1/20 of the full example count
QUICK_MIN_EXAMPLES = 50


@dataclass(frozen=True)
class RunMode:
    mode: str = "full"
    allow_disruptive: bool = True

    @property
    def quick(self) -> bool:
        return self.mode == "quick"

    def examples(self, full: int) -> int:
        """The property-test example count for this run: the full count, or a small one in quick mode."""
        if not self.quick:
            return full
        return max(min(full, QUICK_MIN_EXAMPLES), full // QUICK_DIVISOR)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str, option: str = "--wait-ready") -> float:
    """'90', '90s', '2m', '1.5h', '500ms' -> seconds; anything else is a one-line UsageError."""
    match = _DURATION.match(str(text))
    if not match:
        raise UsageError(f"{option}: {text!r} is not a duration (use e.g. 90s, 2m, 1h)")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds > 24 * 3600:
        raise UsageError(f"{option}: {text!r} is longer than 24h")
    return seconds
