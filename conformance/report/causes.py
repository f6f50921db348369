"""Group failed contracts by root cause (service + cause), so one unreachable OPA reads as
"opa unreachable at 127.0.0.1:8181 → 9 contracts", not nine separate failures.

Failure messages name the endpoint first (`<service> at <host>:<port>: <what>: <cause>`,
or the endpoint's URL); connection-level errors all mean "unreachable", whatever client
library raised them. A message that names no endpoint is its own cause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from conformance.report.model import ContractResult

# "conformance.probes.clients.ContractFailure: opa at ..." (an error raised in a fixture)
_EXC_PREFIX = re.compile(r"^(?:[A-Za-z_][\w]*\.)+[A-Z]\w*: ")
_ENDPOINT = re.compile(r"^(?P<service>[\w-]+) at (?P<where>\S+?): (?P<rest>.*)$")
_UNREACHABLE = re.compile(
    r"not reachable|ConnectError|ConnectionRefused|Connection refused|ConnectTimeout|timed out|"
    r"TimeoutError|No route to host|Name or service not known|nodename nor servname|"
    r"Temporary failure in name resolution|Connection reset|NoBrokersAvailable", re.IGNORECASE)
UNREACHABLE = "unreachable"


@dataclass
class Cause:
    """One root cause and every failed contract it explains."""

    service: str  # the service at fault ('' when the message names none)
    endpoint: str  # host:port, or ''
    what: str  # "unreachable", or the first clause of the message
    message: str  # the first contract's full message, shown once
    contracts: list[ContractResult] = field(default_factory=list)

    @property
    def title(self) -> str:
        if self.endpoint and self.what == UNREACHABLE:
            return f"{self.service} unreachable at {self.endpoint}"
        if self.endpoint:
            return f"{self.service} at {self.endpoint}: {self.what}"
        return self.what

    @property
    def anchor(self) -> str:
        return "cause-" + re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")[:80]


def _host_port(where: str) -> str:
    if "://" in where:
        parts = urlsplit(where)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    return where


def key_of(c: ContractResult) -> tuple[str, str, str]:
    """(service, endpoint, what) of a failed contract's message."""
    message = _EXC_PREFIX.sub("", (c.message or "").strip(), count=1)
    if not message:
        return c.service, "", f"{c.service}: failed without a message"
    match = _ENDPOINT.match(message)
    if match is None:
        return c.service if not message.startswith("target ") else "", "", message
    rest = match.group("rest")
    what = UNREACHABLE if _UNREACHABLE.search(rest) else rest.split(": ")[0].strip()
    return match.group("service"), _host_port(match.group("where")), what


def group(failures: list[ContractResult]) -> list[Cause]:
    """Causes, the one explaining most contracts first (ties: first seen)."""
    causes: dict[tuple[str, str, str], Cause] = {}
    for c in failures:
        key = key_of(c)
        if key not in causes:
            causes[key] = Cause(*key, message=_EXC_PREFIX.sub("", (c.message or "").strip(), count=1))
        causes[key].contracts.append(c)
    order = {k: i for i, k in enumerate(causes)}
    return sorted(causes.values(), key=lambda g: (-len(g.contracts), order[(g.service, g.endpoint, g.what)]))
