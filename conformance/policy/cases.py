"""Inputs for the policy contracts: golden cases, token variants, the repo's policy data.

Expectations are derived from the repo (policies/bundle/soma/config/data.json and the
input schema), never from the live OPA, so a drifted or faulty live policy cannot agree
with itself. Tokens are real ones from the live issuer (mint); the hostile variants
(forged, tampered, alg none, HS256) are built from a real token here.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from conformance.identity import attacks
from conformance.resources import data_path

Mint = Callable[[str, str], str]
GOLDEN = "fixtures/policy/golden.yaml"
POLICY_DATA = "policies/bundle/soma/config/data.json"
INPUT_SCHEMA = "policies/input.schema.json"
DEFAULT_RESOURCE = "objects/42"
DEFAULT_USAGE = {"requests": 10, "cost_units": 2.5}


@dataclass(frozen=True)
class PolicyData:
    """The repo's intended policy data (allowlist, grants, tenants)."""

    allowlist: dict[str, dict[str, list[str]]]
    cross_tenant: list[dict[str, Any]]
    tenants: dict[str, dict[str, Any]]
    identity: dict[str, Any]
    routing: dict[str, Any]

    def operation_allowed(self, caller: str, callee: str, operation: str) -> bool:
        return operation in self.allowlist.get(caller, {}).get(callee, [])

    def tenant_allowed(self, caller: str, token_tenant: str, tenant: str, operation: str) -> bool:
        return token_tenant == tenant or any(
            g["caller"] == caller and g["from_tenant"] == token_tenant
            and g["to_tenant"] == tenant and operation in g["operations"]
            for g in self.cross_tenant)

    def allowed_calls(self) -> list[tuple[str, str, str]]:
        """(caller, callee, operation) for every allowlist entry."""
        return [(caller, callee, op) for caller, callees in sorted(self.allowlist.items())
                for callee, ops in sorted(callees.items()) for op in ops]


@functools.cache
def policy_data() -> PolicyData:
    raw = json.loads(data_path(POLICY_DATA).read_text(encoding="utf-8"))
    return PolicyData(raw["allowlist"], raw["cross_tenant"], raw["tenants"], raw["identity"],
                      raw["routing"])


@functools.cache
def input_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(data_path(INPUT_SCHEMA).read_text(encoding="utf-8"))
    return schema


@functools.cache
def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(input_schema())


def schema_valid(inp: Any) -> bool:
    """Whether the input matches policies/input.schema.json (the same file OPA uses)."""
    return _validator().is_valid(inp)


def build_input(token: str, service: str, tenant: str, operation: str, *,
                usage: dict[str, Any] | None = None, context: dict[str, Any] | None = None,
                resource: str = DEFAULT_RESOURCE) -> dict[str, Any]:
    """A well-formed decision input."""
    ctx: dict[str, Any] = {"usage": dict(usage or DEFAULT_USAGE)}
    ctx.update(context or {})
    return {"identity": {"token": token}, "service": service, "tenant": tenant,
            "request": {"operation": operation, "resource": resource}, "context": ctx}


# --- hostile token variants, built from a real token (conformance.identity.attacks) ----

HMAC_SECRET = b"attacker-chosen-hmac-secret-0123456789"


@functools.cache
def _attacker() -> attacks.Attacker:
    return attacks.Attacker()  # one key for the run: an RSA key pair is slow to make


def forged(token: str) -> str:
    """Same kid and claims, signed with an attacker's own RSA key."""
    return _attacker().resign(token, kid=attacks.parts(token)[0].get("kid"))


def hs256(token: str) -> str:
    """Same claims, re-signed with HS256 under an attacker-chosen secret."""
    return attacks.hs256_signed(token, HMAC_SECRET)


TOKEN_KINDS: dict[str, Callable[[str], str]] = {
    "mint": lambda t: t, "forge": forged, "alg_none": attacks.alg_none, "hs256": hs256,
}


def make_token(spec: dict[str, Any], mint: Mint) -> str:
    """A golden case's token: {mint|forge|alg_none|hs256: service.tenant}, {tamper:, set:}, {raw:}."""
    if "raw" in spec:
        return str(spec["raw"])
    if "tamper" in spec:
        service, tenant = str(spec["tamper"]).split(".", 1)
        return attacks.payload_changed(mint(service, tenant), **dict(spec["set"]))
    (kind, who), = ((k, v) for k, v in spec.items() if k in TOKEN_KINDS)
    service, tenant = str(who).split(".", 1)
    return TOKEN_KINDS[kind](mint(service, tenant))


# --- golden cases -----------------------------------------------------------------------

@dataclass(frozen=True)
class GoldenCase:
    name: str
    spec: dict[str, Any]

    @property
    def expect(self) -> dict[str, Any]:
        return dict(self.spec["expect"])

    def identities(self) -> set[tuple[str, str]]:
        """The real identities this case needs minted."""
        tok = self.spec.get("token", {})
        who = next((v for k, v in tok.items() if k in (*TOKEN_KINDS, "tamper")), None)
        if not who:
            return set()
        service, tenant = str(who).split(".", 1)
        return {(service, tenant)}

    def body(self, mint: Mint) -> dict[str, Any]:
        """The request body ({"input": ...}, or {} for the no-input case)."""
        if self.spec.get("no_input"):
            return {}
        if "input" in self.spec:
            return {"input": copy.deepcopy(self.spec["input"])}
        call = self.spec["call"]
        inp = build_input(make_token(self.spec["token"], mint), call["service"], call["tenant"],
                          call["operation"], usage=self.spec.get("usage"),
                          context=self.spec.get("context"))
        for op in self.spec.get("patch", []):
            _apply(inp, op)
        return {"input": inp}


def _apply(doc: dict[str, Any], op: dict[str, Any]) -> None:
    *parents, leaf = str(op["path"]).strip("/").split("/")
    node: Any = doc
    for key in parents:
        node = node[key]
    if "value" in op:
        node[leaf] = op["value"]
    else:
        del node[leaf]


@functools.cache
def golden(path: Path | None = None) -> tuple[tuple[GoldenCase, ...], dict[str, str]]:
    """The golden table: its cases and the readiness picks {allow: name, deny: name}."""
    doc = yaml.safe_load((path or data_path(GOLDEN)).read_text(encoding="utf-8"))
    cases = tuple(GoldenCase(str(c["name"]), dict(c)) for c in doc["cases"])
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise ValueError(f"{GOLDEN}: duplicate case names")
    return cases, {k: str(v) for k, v in doc["readiness"].items()}


def golden_case(name: str) -> GoldenCase:
    cases, _ = golden()
    return next(c for c in cases if c.name == name)
