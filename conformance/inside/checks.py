"""What the inside probe is asked (InsideCheck) and answers (InsideResult), and the JSON
that carries both across the container or pod boundary."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# the scripts a target runs inside its network (mounted into a container, or handed to a
# pod): the DNS/protocol probe, and the steady load of the resilience contracts
PROBE_SCRIPT = Path(__file__).resolve().with_name("probe.py")
LOAD_SCRIPT = Path(__file__).resolve().with_name("load.py")


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


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects a script printed one per line (other lines, e.g. kubectl's, skipped)."""
    out = []
    for raw in stdout.splitlines():
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def decode_results(stdout: str, checks: list[InsideCheck]) -> list[InsideResult]:
    """Parse the inside probe's JSON output; a missing result is a failed check."""
    got: dict[str, InsideResult] = {}
    for item in json_lines(stdout):
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
