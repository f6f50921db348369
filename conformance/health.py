"""The catalog's readiness probes (`services.<name>.health`), one checker per kind.

The catalog is the one place that says what "healthy" means for a service; the readiness
contracts call `check` with the service's declaration instead of repeating paths and
expected answers. Kinds:

- `http`: GET `path`; the status must equal `expect_status` when declared, and each member
  of `expect_json` must equal the same member of the JSON body (the body must be a JSON
  object then). A declaration without either only asks for an answer.
- `sql`, `ping`, `kafka-metadata`: protocol checks (SELECT 1, PING, Kafka metadata) that
  need credentials or a client library; their readiness tests call them in
  conformance.probes.clients, so they have no generic checker here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from conformance.access import Credentials, Endpoint
from conformance.probes import clients
from conformance.probes.clients import ContractFailure

# kinds whose readiness test is a protocol check of its own (clients.postgres_select_1,
# redis_ping, kafka_metadata), not a generic checker
PROTOCOL_KINDS = frozenset({"sql", "ping", "kafka-metadata"})


def _shown(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def check_http(ep: Endpoint, health: Mapping[str, Any]) -> str:
    """GET the declared path and judge the answer; returns one line saying what held."""
    path = str(health["path"])
    want_status = health.get("expect_status")
    want_json: dict[str, Any] = dict(health.get("expect_json") or {})
    resp = clients.http_get(ep, path)
    body: Any = clients.json_of(ep, resp, f"GET {path}") if want_json else None
    wrong: list[str] = []
    if want_status is not None and resp.status_code != int(want_status):
        wrong.append(f"status {resp.status_code}, expected {want_status}")
    if want_json and not isinstance(body, dict):
        wrong.append("body is not a JSON object")
    elif want_json:
        wrong += [f"{key} is {_shown(body.get(key))}, expected {_shown(value)}"
                  for key, value in want_json.items() if body.get(key) != value]
    if wrong:
        answer = json.dumps(body) if want_json else repr(resp.text[:120])
        raise ContractFailure(f"{ep}: GET {path} answered {resp.status_code} {answer}: {'; '.join(wrong)}")
    held = [f"status {resp.status_code}"] + [f"{k}={_shown(v)}" for k, v in want_json.items()]
    return f"GET {path}: {', '.join(held)}"


Checker = Callable[[Endpoint, Mapping[str, Any]], str]
CHECKERS: dict[str, Checker] = {"http": check_http}


def ready(ep: Endpoint, health: Mapping[str, Any], creds: Credentials) -> str:
    """Any kind, protocol kinds included (with the target's credentials): the probe a
    contract waits on after it restarted the service. One line saying what held."""
    kind = str(health.get("kind"))
    if kind == "sql":
        return f"SELECT 1 = {clients.postgres_select_1(ep, creds)}"
    if kind == "ping":
        return f"PING = {clients.redis_ping(ep, creds)}"
    if kind == "kafka-metadata":
        meta = clients.kafka_metadata(ep)
        if not meta.get("brokers") or meta.get("controller_id") in (None, -1):
            raise ContractFailure(f"{ep}: metadata without brokers or an active controller: {meta}")
        return f"metadata lists {len(meta['brokers'])} broker(s), controller {meta['controller_id']}"
    return check(ep, health)


def check(ep: Endpoint, health: Mapping[str, Any]) -> str:
    """Run the generic checker of the declaration's kind (a ContractFailure if it does not hold)."""
    kind = str(health.get("kind"))
    if kind not in CHECKERS:
        raise ValueError(f"no generic checker for health kind {kind!r} (protocol kinds: "
                         f"{', '.join(sorted(PROTOCOL_KINDS))} have their own readiness tests)")
    return CHECKERS[kind](ep, health)
