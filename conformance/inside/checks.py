"""What the inside probe is asked (InsideCheck) and answers (InsideResult), and the JSON
that carries both across the container or pod boundary."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

# the script a target runs inside its network (mounted into a container, or handed to a pod)
PROBE_SCRIPT = Path(__file__).resolve().with_name("probe.py")


@dataclass(frozen=True)
class InsideCheck:
    """One check to run from inside the service network (DNS + protocol)."""

    service: str
    host: str
    port: int
    protocol: str
    path: str = ""


@dataclass(frozen=True)
class InsideResult:
    service: str
    ok: bool
    detail: str
    addresses: tuple[str, ...] = ()


def encode_checks(checks: list[InsideCheck]) -> str:
    return json.dumps([asdict(c) for c in checks])


def decode_results(stdout: str, checks: list[InsideCheck]) -> list[InsideResult]:
    """Parse the inside probe's JSON output; a missing result is a failed check."""
    got: dict[str, InsideResult] = {}
    for raw in stdout.splitlines():
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        got[str(item["service"])] = InsideResult(
            service=str(item["service"]),
            ok=bool(item["ok"]),
            detail=str(item.get("detail", "")),
            addresses=tuple(item.get("addresses", ())),
        )
    return [
        got.get(c.service, InsideResult(c.service, False, "inside probe returned no result"))
        for c in checks
    ]
