"""Hypothesis strategies for the policy properties: inputs the repo policy allows, and each
way of breaking one (malformed, another tenant, outside the allowlist, over budget), built
from the repo's policy data and input schema with real tokens of the dev identities."""

from __future__ import annotations

import functools
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from conformance.policy.cases import build_input, input_schema, policy_data, schema_valid

Identity = tuple[str, str]
# the dev identities whose tokens the `tokens` fixture mints: caller service x tenant
DEV_IDENTITIES: list[Identity] = [(svc, tenant) for svc in sorted(policy_data().allowlist)
                                  for tenant in sorted(policy_data().tenants)]

# valid names (schema patterns) that no policy data mentions: cheap to generate, unlike from_regex
NAMES = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", max_size=12).map(lambda s: f"zz{s}")
SERVICES = sorted({*policy_data().allowlist, "payroll"})
OPERATIONS = sorted({o for c in policy_data().allowlist.values() for v in c.values() for o in v})
TENANTS = sorted(policy_data().tenants)
ANY_SERVICE = st.sampled_from(SERVICES) | NAMES
ANY_OPERATION = st.sampled_from(OPERATIONS) | NAMES
IDENTITIES = st.sampled_from(DEV_IDENTITIES)
CONTEXTS = st.sampled_from([{}, {"priority": "batch"}, {"priority": "interactive"}])
RESOURCES = st.text(min_size=1, max_size=40)
OVER_KINDS = st.sampled_from([["requests"], ["cost_units"], ["requests", "cost_units"]])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)


# The strategies a composite picks from are built once per choice (functools.cache), not
# on every draw: hypothesis validates each new strategy, which cost a tenth of the drawing.

@functools.cache
def _within(tenant: str) -> st.SearchStrategy[dict[str, Any]]:
    """Usage inside the tenant's budget (at most the limits)."""
    budget = policy_data().tenants[tenant]["budget"]
    return st.fixed_dictionaries({
        "requests": st.integers(0, int(budget["requests"])),
        "cost_units": st.floats(0, float(budget["cost_units"])) | st.integers(0, int(budget["cost_units"])),
    })


def allowed_bases(tokens: dict[Identity, str]) -> list[dict[str, Any]]:
    """Every allowed call of the repo policy (own or granted tenant), per priority."""
    data = policy_data()
    return [build_input(tokens[(caller, token_tenant)], callee, tenant, op, context=ctx)
            for caller, callee, op in data.allowed_calls()
            for token_tenant in sorted(data.tenants) for tenant in sorted(data.tenants)
            if data.tenant_allowed(caller, token_tenant, tenant, op)
            for ctx in ({}, {"priority": "batch"})]


@st.composite
def allowed_inputs(draw: st.DrawFn, tokens: dict[Identity, str]) -> dict[str, Any]:
    """A well-formed input the repo policy allows: listed call, own tenant or a granted one."""
    data = policy_data()
    caller, callee, op = draw(st.sampled_from(data.allowed_calls()))
    token_tenant = draw(st.sampled_from(TENANTS))
    tenant = draw(_granted_tenants(caller, token_tenant, op))
    context = draw(CONTEXTS)
    return build_input(tokens[(caller, token_tenant)], callee, tenant, op,
                       usage=draw(_within(tenant)), context=context, resource=draw(RESOURCES))


@functools.cache
def _granted_tenants(caller: str, token_tenant: str, op: str) -> st.SearchStrategy[str]:
    """The tenants a caller's token may act on for op: its own, or a granted one."""
    data = policy_data()
    return st.sampled_from([t for t in TENANTS if data.tenant_allowed(caller, token_tenant, t, op)])


def _schema_paths(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every required field of the input schema, as a path."""
    out = []
    for name in schema.get("required", []):
        path = (*prefix, name)
        out.append(path)
        out.extend(_schema_paths(schema["properties"][name], path))
    return out


@functools.cache
def _required_fields() -> st.SearchStrategy[tuple[str, ...]]:
    return st.sampled_from(_schema_paths(input_schema()))


@st.composite
def malformed_inputs(draw: st.DrawFn, tokens: dict[Identity, str]) -> Any:
    """An allowed input with one required field removed or replaced by a wrong value."""
    inp = draw(allowed_inputs(tokens))
    if draw(st.integers(0, 19)) == 0:  # now and then the whole document is not an object
        return draw(JSON.filter(lambda v: not isinstance(v, dict)))
    *parents, leaf = draw(_required_fields())
    node = inp
    for key in parents:
        node = node[key]
    if draw(st.booleans()):
        del node[leaf]
    else:
        node[leaf] = draw(JSON)
    assume(not schema_valid(inp))
    return inp


@functools.cache
def _other_tenants(token_tenant: str) -> st.SearchStrategy[str]:
    """Any tenant but the token's: a known one or an unknown valid name."""
    return st.sampled_from([t for t in TENANTS if t != token_tenant]) | NAMES


@st.composite
def mismatched_tenants(draw: st.DrawFn, tokens: dict[Identity, str]) -> tuple[dict[str, Any], str, str]:
    data = policy_data()
    caller, token_tenant = draw(IDENTITIES)
    callee = draw(ANY_SERVICE)
    op = draw(ANY_OPERATION)
    tenant = draw(_other_tenants(token_tenant))
    assume(not data.tenant_allowed(caller, token_tenant, tenant, op))
    usage = draw(_within(tenant)) if tenant in data.tenants else {"requests": 1, "cost_units": 0}
    return build_input(tokens[(caller, token_tenant)], callee, tenant, op, usage=usage), token_tenant, tenant


@functools.cache
def _unlisted_pairs(caller: str) -> st.SearchStrategy[tuple[str, str]]:
    """Every known (callee, operation) the allowlist does not give caller."""
    data = policy_data()
    return st.sampled_from([(c, o) for c in SERVICES for o in OPERATIONS if not data.operation_allowed(caller, c, o)])


@st.composite
def unlisted_calls(draw: st.DrawFn, tokens: dict[Identity, str]) -> tuple[dict[str, Any], str]:
    """Half the time a known service/operation combination the allowlist lacks (so every
    such pair is tried), otherwise arbitrary names."""
    data = policy_data()
    caller, tenant = draw(IDENTITIES)
    if draw(st.booleans()):
        callee, op = draw(_unlisted_pairs(caller))
    else:
        callee, op = draw(NAMES), draw(ANY_OPERATION)
    inp = build_input(tokens[(caller, tenant)], callee, tenant, op, usage=draw(_within(tenant)))
    if callee in data.allowlist.get(caller, {}):
        return inp, f'operation_not_allowed: service "{caller}" may not "{op}" on service "{callee}"'
    return inp, f'pair_not_allowed: service "{caller}" may not call service "{callee}"'


@st.composite
def over_budget(draw: st.DrawFn, tokens: dict[Identity, str]) -> dict[str, Any]:
    inp = draw(allowed_inputs(tokens))
    budget = policy_data().tenants[inp["tenant"]]["budget"]
    usage = inp["context"]["usage"]
    for kind in draw(OVER_KINDS):
        usage[kind] = draw(_over(kind, budget[kind]))
    return inp


@functools.cache
def _over(kind: str, limit: float) -> st.SearchStrategy[float]:
    """Usage of one kind above its limit, up to 100 times it."""
    if kind == "requests":
        return st.integers(int(limit) + 1, int(limit) * 100)
    return st.floats(float(limit), float(limit) * 100, exclude_min=True)
