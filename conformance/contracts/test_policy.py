"""Policy and tenancy contracts against the target's live OPA.

Expectations come from the repo (golden table, policy data, input schema); tokens are
real ones from the target's issuer, minted once per session. Properties run thousands
of inputs through kept-alive connections and vary everything except the tokens.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from conformance import runmode
from conformance.access import Endpoint
from conformance.catalog import Catalog
from conformance.identity.tokens import DevIssuer, IssuerError
from conformance.policy.cases import (
    GoldenCase,
    build_input,
    golden,
    input_schema,
    policy_data,
    schema_valid,
)
from conformance.policy.probe import DecisionClient
from conformance.policy.revision import revision
from conformance.probes.clients import ContractFailure
from conformance.resources import data_path

Mint = Callable[[str, str], str]
Identity = tuple[str, str]
EXAMPLES = runmode.examples(2000)  # --mode=quick: a small count
PROPERTY_TIMEOUT_S = 240
CLIENTS = 8  # concurrent decisions per property (DecisionClient's pool keeps them alive)
CASES, _ = golden()
# the dev identities whose tokens the `tokens` fixture mints: caller service x tenant
DEV_IDENTITIES: list[Identity] = [(svc, tenant) for svc in sorted(policy_data().allowlist)
                                  for tenant in sorted(policy_data().tenants)]
PROPS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                 phases=(Phase.explicit, Phase.generate),  # no shrinking: bounded time on failure
                 suppress_health_check=list(HealthCheck))


# --- session resources ------------------------------------------------------------------

@pytest.fixture(scope="session")
def opa(soma_endpoint: Callable[[str], Endpoint], soma_catalog: Catalog) -> Iterator[DecisionClient]:
    client = DecisionClient(soma_endpoint("opa"), soma_catalog)
    yield client
    client.close()


@pytest.fixture(scope="session")
def tokens(soma_issuer: DevIssuer) -> dict[Identity, str]:
    """One fresh real token per dev identity (caller service x tenant), minted in parallel
    from the live issuer when the policy tests start: soma_mint's session cache may hold
    tokens minted long before (their lifetime is the issuer's TTL, 15 minutes)."""
    ids = DEV_IDENTITIES
    try:
        with ThreadPoolExecutor(max_workers=len(ids)) as pool:
            minted = list(pool.map(lambda i: soma_issuer.mint(*i), ids))
    except IssuerError as exc:
        pytest.fail(f"vault at {soma_issuer.base_url}: minting the policy test identities: {exc}",
                    pytrace=False)
    return dict(zip(ids, minted, strict=True))


def _mint_from(tokens: dict[Identity, str]) -> Mint:
    def mint(service: str, tenant: str) -> str:
        if (service, tenant) not in tokens:
            raise ContractFailure(f"golden table needs identity {service}.{tenant}, which is "
                                  f"not a dev identity of the policy data")
        return tokens[(service, tenant)]
    return mint


def _measure(record: Callable[[str, object], None], text: str) -> None:
    record("measurement", text)


# --- bundle and configuration -----------------------------------------------------------

@pytest.mark.contract("policy.bundle_revision")
def test_live_bundle_is_the_repo_policy(opa: DecisionClient, soma_catalog: Catalog) -> None:
    source = str(soma_catalog.policy["bundle_source"])
    want = revision(data_path(source))
    bundles = opa.get("/v1/data/system/bundles")
    if not isinstance(bundles, dict) or not bundles:
        raise ContractFailure(f"{opa.ep}: serves no bundle (GET /v1/data/system/bundles: {bundles!r:.120})")
    served = {name: str((b.get("manifest") or {}).get("revision", "")) for name, b in bundles.items()}
    if want not in served.values():
        got = ", ".join(f"{name}={rev or '<none>'}" for name, rev in served.items())
        raise ContractFailure(f"{opa.ep}: policy drift: OPA serves revision {got}, "
                              f"but the repo's {source} computes {want}")


@pytest.mark.contract("policy.identity_config")
def test_policy_trusts_the_catalog_issuer(opa: DecisionClient, soma_catalog: Catalog) -> None:
    live = opa.get("/v1/data/soma/config/identity")
    if not isinstance(live, dict):
        raise ContractFailure(f"{opa.ep}: data.soma.config.identity is missing: {live!r:.120}")
    for key in ("issuer", "jwks_url", "audience", "algorithms", "required_claims"):
        if live.get(key) != soma_catalog.identity.get(key):
            raise ContractFailure(f"{opa.ep}: policy identity.{key} is {live.get(key)!r}, "
                                  f"the catalog says {soma_catalog.identity.get(key)!r}")


# --- golden decision table ----------------------------------------------------------------

def _golden_problems(case: GoldenCase, opa: DecisionClient, mint: Mint) -> list[str]:
    body = case.body(mint)
    expect = case.expect
    allowed = opa.allow(body)
    got = opa.decision(body)
    problems = []
    if allowed is not expect["allow"]:
        problems.append(f"{opa.allow_path} answered {allowed!r}, expected {expect['allow']}")
    if got["allow"] is not allowed:
        problems.append(f"{opa.debug_path}.allow {got['allow']!r} disagrees with {opa.allow_path}")
    if got["reasons"] != expect.get("reasons", []):
        problems.append(f"reasons {got['reasons']!r}, expected {expect.get('reasons', [])!r}")
    if "route" in expect and got.get("route") != expect["route"]:
        problems.append(f"route {got.get('route')!r}, expected {expect['route']!r}")
    return problems


def _coverage_problems(opa: DecisionClient) -> list[str]:
    """The table must cover every reason code the policy declares, every pool, throttle on/off."""
    codes = opa.get("/v1/data/soma/reason_codes")
    if not isinstance(codes, list) or not codes:
        return [f"data.soma.reason_codes is missing: {codes!r:.120}"]
    expected = [c.expect for c in CASES]
    used = {r.split(":", 1)[0] for e in expected for r in e.get("reasons", [])}
    routes = {(e["route"]["pool"], e["route"]["throttle"]) for e in expected if e.get("route")}
    routing = policy_data().routing
    want_pools = {*routing["pools"].values(), routing["batch_pool"]}
    problems = []
    if len(CASES) < 30:
        problems.append(f"only {len(CASES)} cases (at least 30)")
    if set(codes) - used:
        problems.append(f"no case for reason codes {sorted(set(codes) - used)}")
    if want_pools - {p for p, _ in routes} or {t for _, t in routes} != {True, False}:
        problems.append(f"routes covered {sorted(routes)}, need every pool of {sorted(want_pools)} "
                        f"and throttle true/false")
    return problems


@pytest.mark.contract("policy.golden")
def test_golden_decision_table(opa: DecisionClient, tokens: dict[Identity, str],
                               record_property: Callable[[str, object], None]) -> None:
    """Every case on both paths; one failure lists every golden case that broke."""
    problems = [f"table incomplete: {p}" for p in _coverage_problems(opa)]
    mint = _mint_from(tokens)
    for case in CASES:
        problems += [f"golden case {case.name!r}: {p}" for p in _golden_problems(case, opa, mint)]
    if problems:
        raise ContractFailure(f"{opa.ep}: {len(problems)} golden problem(s): " + " | ".join(problems))
    _measure(record_property, f"policy golden table: {len(CASES)} cases on {opa.allow_path} "
                              f"and {opa.debug_path}, every reason code covered")


# --- properties ---------------------------------------------------------------------------

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


def _allowed_bases(tokens: dict[Identity, str]) -> list[dict[str, Any]]:
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


class _Stopped(Exception):
    """Raised inside the property once a decision has failed: hypothesis stops drawing."""


def _run(opa: DecisionClient, check: Callable[[Any], None], strategy: st.SearchStrategy[Any]) -> str:
    """Run a property for EXAMPLES inputs; says how many inputs were checked, and how many
    decisions had to be asked again after a read timeout (DecisionClient).

    Each input hypothesis draws (no shrinking, see PROPS) is handed at once to CLIENTS
    threads that ask OPA over the client's kept-alive connections: drawing the next inputs
    (client CPU) overlaps asking the previous ones (OPA's CPU quota), so the property costs
    the larger of the two, not their sum. Every input is checked; the first failure is
    raised, and once one decision has failed no more inputs are drawn or asked."""
    asked_again = opa.asked_again
    failed = threading.Event()
    pending: list[Future[None]] = []

    def ask(example: Any) -> None:
        if failed.is_set():  # a fault fails fast: the inputs still queued are not asked
            return
        try:
            check(example)
        except BaseException:
            failed.set()
            raise

    pool = ThreadPoolExecutor(max_workers=CLIENTS)

    @PROPS
    @given(strategy)
    def prop(example: Any) -> None:
        if failed.is_set():
            raise _Stopped
        pending.append(pool.submit(ask, example))

    try:
        with contextlib.suppress(_Stopped):  # a decision failed: raised below
            prop()
        for future in pending:  # re-raises the first failing check
            future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if len(pending) < EXAMPLES:
        raise ContractFailure(f"property ran only {len(pending)} of {EXAMPLES} examples")
    again = opa.asked_again - asked_again
    return f"{len(pending)} examples" + (f"; {again} asked again after a read timeout" if again else "")


def _denied_with(opa: DecisionClient, inp: Any, want: str, what: str) -> None:
    """Denied, with a reason equal to want (or starting with it when it ends in ':')."""
    got = opa.decision({"input": inp})
    hit = any(r.startswith(want) if want.endswith(":") else r == want for r in got["reasons"])
    if got["allow"] or not hit:
        raise ContractFailure(f"{opa.ep}: {what} must be denied with reason {want!r}; decision was "
                              f"{got!r:.300} for input {inp!r:.300}")


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


@pytest.mark.contract("policy.malformed_denied")
@pytest.mark.timeout(PROPERTY_TIMEOUT_S)
def test_malformed_input_is_denied(opa: DecisionClient, tokens: dict[Identity, str],
                                   record_property: Callable[[str, object], None]) -> None:
    n = _run(opa, lambda inp: _denied_with(opa, inp, "malformed_input:",
                                           "input missing or mistyping a required field"),
             malformed_inputs(tokens))
    _measure(record_property, f"policy property malformed input denied: {n}")


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


@pytest.mark.contract("tenancy.mismatch_denied")
@pytest.mark.timeout(PROPERTY_TIMEOUT_S)
def test_tenant_mismatch_is_denied(opa: DecisionClient, tokens: dict[Identity, str],
                                   record_property: Callable[[str, object], None]) -> None:
    def check(example: tuple[dict[str, Any], str, str]) -> None:
        inp, token_tenant, tenant = example
        want = f'tenant_mismatch: token tenant "{token_tenant}" may not access tenant "{tenant}"'
        _denied_with(opa, inp, want, f"token of {token_tenant} on tenant {tenant}")

    n = _run(opa, check, mismatched_tenants(tokens))
    _measure(record_property, f"tenancy property tenant mismatch denied: {n}")


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


@pytest.mark.contract("policy.allowlist_enforced")
@pytest.mark.timeout(PROPERTY_TIMEOUT_S)
def test_call_outside_allowlist_is_denied(opa: DecisionClient, tokens: dict[Identity, str],
                                          record_property: Callable[[str, object], None]) -> None:
    def check(example: tuple[dict[str, Any], str]) -> None:
        inp, want = example
        _denied_with(opa, inp, want, "a call outside the allowlist")

    n = _run(opa, check, unlisted_calls(tokens))
    _measure(record_property, f"policy property call outside allowlist denied: {n}")


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


@pytest.mark.contract("policy.budget_enforced")
@pytest.mark.timeout(PROPERTY_TIMEOUT_S)
def test_usage_over_budget_is_denied(opa: DecisionClient, tokens: dict[Identity, str],
                                     record_property: Callable[[str, object], None]) -> None:
    n = _run(opa, lambda inp: _denied_with(opa, inp, "budget_exceeded:",
                                           "usage over the tenant budget"),
             over_budget(tokens))
    _measure(record_property, f"policy property usage over budget denied: {n}")


@pytest.mark.contract("policy.decision_stable")
@pytest.mark.timeout(PROPERTY_TIMEOUT_S)
def test_allowed_decision_ignores_irrelevant_context(
        opa: DecisionClient, tokens: dict[Identity, str],
        record_property: Callable[[str, object], None]) -> None:
    relevant = set(input_schema()["properties"]["context"]["properties"])
    extras = st.dictionaries(st.text(max_size=12).filter(lambda k: k not in relevant), JSON,
                             min_size=1, max_size=4)
    baseline: dict[str, dict[str, Any]] = {}

    def check(example: tuple[dict[str, Any], dict[str, Any]]) -> None:
        inp, extra = example
        key = repr(inp)
        if key not in baseline:  # two threads may both ask: same answer, setdefault keeps one
            first = baseline.setdefault(key, opa.decision({"input": inp}))
            if not first["allow"]:
                raise ContractFailure(f"{opa.ep}: an input the repo policy allows was denied: "
                                      f"{first!r:.300} for {inp!r:.300}")
        varied = {**inp, "context": {**inp["context"], **extra}}
        got = opa.decision({"input": varied})
        if got != baseline[key]:
            raise ContractFailure(f"{opa.ep}: context keys {sorted(extra)} changed the decision "
                                  f"from {baseline[key]!r:.200} to {got!r:.200}")

    bases = _allowed_bases(tokens)
    n = _run(opa, check, st.tuples(st.sampled_from(bases), extras))
    _measure(record_property, f"policy property allowed decision stable under irrelevant context: "
                              f"{n} ({len(baseline)} distinct allowed inputs)")
