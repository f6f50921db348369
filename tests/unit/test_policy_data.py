"""The policy bundle restates facts owned elsewhere; these tests fail when they drift:
the trusted issuer (catalog `identity:`), the decision contract (catalog `policy:`), and
the input schema's two implementations inside OPA (fast path, json.match_schema) versus
the JSON Schema validator the suite uses."""

from __future__ import annotations

import copy
import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conformance import catalog
from conformance.policy.cases import input_schema, policy_data, schema_valid
from conformance.resources import opa_binary

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "policies" / "bundle"


def test_bundle_identity_agrees_with_the_catalog() -> None:
    ident = catalog.load().identity
    data = policy_data().identity
    for key in ("issuer", "jwks_url", "audience", "algorithms", "required_claims"):
        assert data[key] == ident[key], f"policy data identity.{key} drifted from the catalog"


def test_catalog_policy_section_points_at_the_schema_the_bundle_uses() -> None:
    pol = catalog.load().policy
    schema_file = ROOT / pol["input_schema"]
    assert schema_file.resolve() == (BUNDLE / "soma" / "input_schema" / "data.json").resolve()
    assert (ROOT / pol["bundle_source"]).resolve() == BUNDLE.resolve()
    assert set(input_schema()["required"]) == set(pol["input_fields"])


def test_policy_data_is_consistent() -> None:
    data = policy_data()
    tiers = {t["tier"] for t in data.tenants.values()}
    assert tiers <= set(data.routing["pools"]), "every tenant tier needs a routing pool"
    for grant in data.cross_tenant:
        assert grant["caller"] in data.allowlist and grant["from_tenant"] != grant["to_tenant"]
        assert {grant["from_tenant"], grant["to_tenant"]} <= set(data.tenants)


# --- the schema inside OPA equals the schema in Python -------------------------------------

def _valid_input(rng: random.Random) -> dict[str, Any]:
    inp: dict[str, Any] = {
        "identity": {"token": "eyJh.eyJi." + "x" * rng.randint(0, 40)},
        "service": rng.choice(["orders", "a", "b-2"]), "tenant": rng.choice(["tenant-a", "0t"]),
        "request": {"operation": rng.choice(["read", "x.y_z-1"]), "resource": "r" * rng.randint(1, 30)},
        "context": {"usage": {"requests": rng.choice([0, 5, 1.0, 10**9]),
                              "cost_units": rng.choice([0, 0.5, 7, 1e6])}},
    }
    if rng.random() < 0.5:
        inp["context"]["priority"] = rng.choice(["interactive", "batch"])
    if rng.random() < 0.3:
        inp["context"]["trace"] = {"id": "t"}
    return inp


ODD_VALUES: list[Any] = [None, True, False, 0, -1, 1.5, -0.5, "", "x", "Orders", "read me", "a" * 1025,
                         "e30.e30.", "a.b", [], ["x"], {}, {"token": "a.b.c"}, "x" * 8193, 3.0]
PATHS = [("identity",), ("identity", "token"), ("service",), ("tenant",), ("request",),
         ("request", "operation"), ("request", "resource"), ("context",), ("context", "usage"),
         ("context", "usage", "requests"), ("context", "usage", "cost_units"), ("context", "priority")]


def _mutants(rng: random.Random, count: int) -> list[Any]:
    out: list[Any] = []
    for _ in range(count):
        inp = _valid_input(rng)
        for _ in range(rng.randint(0, 2)):
            *parents, leaf = rng.choice(PATHS)
            node: Any = inp
            for key in parents:
                node = node.get(key) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                continue
            roll = rng.random()
            if roll < 0.3:
                node.pop(leaf, None)
            elif roll < 0.9:
                node[leaf] = copy.deepcopy(rng.choice(ODD_VALUES))
            else:
                node["extra"] = 1
        out.append(inp)
    return out


def test_opa_input_checks_match_the_json_schema(tmp_path: Path) -> None:
    opa = opa_binary()
    if opa is None:
        pytest.skip("no opa binary (make test-policy builds it)")
    rng = random.Random(20261128)
    cases = [_valid_input(rng) for _ in range(100)] + _mutants(rng, 600)
    (tmp_path / "cases.json").write_text(json.dumps({"schema_cases": cases}))
    (tmp_path / "probe.rego").write_text(
        "package schema_probe\n\n"
        "results := [[fast, formed] |\n"
        "\tsome c in data.schema_cases\n"
        "\tfast := count([1 | data.soma._fast_ok with input as c]) > 0\n"
        "\tformed := count([1 | data.soma.well_formed with input as c]) > 0\n"
        "]\n")
    proc = subprocess.run(
        [str(opa), "eval", "-f", "json", "-d", str(BUNDLE), "-d", str(tmp_path / "probe.rego"),
         "-d", str(tmp_path / "cases.json"), "data.schema_probe.results"],
        capture_output=True, text=True, timeout=120, check=True)
    results = json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]
    valid = [schema_valid(c) for c in cases]
    assert sum(valid) >= 150 and len(cases) - sum(valid) >= 300, "the generator lost its spread"
    for case, ok, (fast, formed) in zip(cases, valid, results, strict=True):
        assert formed == ok, f"OPA well_formed={formed} but the JSON Schema says {ok}: {case}"
        assert ok or not fast, f"the fast path accepted an input the schema rejects: {case}"


# What _fast_ok in policies/bundle/soma/input.rego checks, keyword by keyword: it inlines
# each field's check (helper functions cost more than the checks), so a keyword added to
# the schema would not reach it. Update both together.
FAST_PATH_CHECKS: dict[str, Any] = {
    "type": "object", "required": ["identity", "request", "service", "tenant", "context"],
    "additionalProperties": False,
    "properties": {
        "identity": {"type": "object", "required": ["token"], "additionalProperties": False,
                     "properties": {"token": {"type": "string", "maxLength": "checked",
                                              "pattern": "checked"}}},
        "service": {"type": "string", "pattern": "checked"},
        "tenant": {"type": "string", "pattern": "checked"},
        "request": {"type": "object", "required": ["operation", "resource"], "additionalProperties": False,
                    "properties": {"operation": {"type": "string", "pattern": "checked"},
                                   "resource": {"type": "string", "minLength": "checked",
                                                "maxLength": "checked"}}},
        "context": {"type": "object", "required": ["usage"], "additionalProperties": True,
                    "properties": {
                        "usage": {"type": "object", "required": ["requests", "cost_units"],
                                  "additionalProperties": False,
                                  "properties": {"requests": {"type": "integer", "minimum": "checked"},
                                                 "cost_units": {"type": "number", "minimum": "checked"}}},
                        "priority": {"type": "string", "enum": "checked"}}},
    },
}
LIMITS = {"pattern", "maxLength", "minLength", "minimum", "enum"}


def _shape(schema: Any) -> Any:
    """The schema without prose, with limit values replaced by 'checked' (their values are
    read from the schema by _fast_ok; only which keywords exist matters here)."""
    if not isinstance(schema, dict):
        return schema
    return {k: "checked" if k in LIMITS else _shape(v) if k != "properties"
            else {name: _shape(sub) for name, sub in v.items()}
            for k, v in schema.items() if k not in ("description", "title", "$schema")}


def test_fast_path_checks_every_keyword_of_the_schema() -> None:
    assert _shape(input_schema()) == FAST_PATH_CHECKS, (
        "the input schema's keywords changed: update _fast_ok in policies/bundle/soma/input.rego "
        "(it must stay no looser than the schema) and FAST_PATH_CHECKS here")
