"""Policy and tenancy contracts against the target's live OPA.

Expectations come from the repo (golden table, policy data, input schema); tokens are
real ones from the target's issuer, minted once per session. Properties run thousands
of inputs through kept-alive connections and vary everything except the tokens.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conformance.access import Endpoint
from conformance.catalog import Catalog
from conformance.identity.tokens import DevIssuer, IssuerError
from conformance.policy.cases import GoldenCase, golden, input_schema, policy_data
from conformance.policy.probe import DecisionClient
from conformance.policy.revision import revision
from conformance.policy.strategies import (
    DEV_IDENTITIES,
    JSON,
    Identity,
    allowed_bases,
    malformed_inputs,
    mismatched_tenants,
    over_budget,
    unlisted_calls,
)
from conformance.probes.clients import ContractFailure
from conformance.resources import data_path
from conformance.runmode import RunMode

Mint = Callable[[str, str], str]
FULL_EXAMPLES = 2000  # per property; --mode=quick runs a small count (RunMode.examples)
PROPERTY_TIMEOUT_S = 240
CLIENTS = 8  # concurrent decisions per property (DecisionClient's pool keeps them alive)
CASES, _ = golden()
PROPS = settings(deadline=None, database=None,
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


@pytest.fixture(scope="session")
def examples(soma_run_mode: RunMode) -> int:
    """Inputs per property in this run: FULL_EXAMPLES, or a small count in --mode=quick."""
    return soma_run_mode.examples(FULL_EXAMPLES)


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

class _Stopped(Exception):
    """Raised inside the property once a decision has failed: hypothesis stops drawing."""


def _run(opa: DecisionClient, check: Callable[[Any], None], strategy: st.SearchStrategy[Any],
         examples: int) -> str:
    """Run a property for `examples` inputs; says how many inputs were checked, and how many
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

    @settings(PROPS, max_examples=examples)
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
    if len(pending) < examples:
        raise ContractFailure(f"property ran only {len(pending)} of {examples} examples")
    again = opa.asked_again - asked_again
    return f"{len(pending)} examples" + (f"; {again} asked again after a read timeout" if again else "")


def _denied_with(opa: DecisionClient, inp: Any, want: str, what: str) -> None:
    """Denied, with a reason equal to want (or starting with it when it ends in ':')."""
    got = opa.decision({"input": inp})
    hit = any(r.startswith(want) if want.endswith(":") else r == want for r in got["reasons"])
    if got["allow"] or not hit:
        raise ContractFailure(f"{opa.ep}: {what} must be denied with reason {want!r}; decision was "
                              f"{got!r:.300} for input {inp!r:.300}")


@pytest.mark.contract("policy.malformed_denied")
@pytest.mark.timeout(PROPERTY_TIMEOUT_S)
def test_malformed_input_is_denied(opa: DecisionClient, tokens: dict[Identity, str],
                                   record_property: Callable[[str, object], None], examples: int) -> None:
    n = _run(opa, lambda inp: _denied_with(opa, inp, "malformed_input:",
                                           "input missing or mistyping a required field"),
             malformed_inputs(tokens), examples)
    _measure(record_property, f"policy property malformed input denied: {n}")


@pytest.mark.contract("tenancy.mismatch_denied")
@pytest.mark.timeout(PROPERTY_TIMEOUT_S)
def test_tenant_mismatch_is_denied(opa: DecisionClient, tokens: dict[Identity, str],
                                   record_property: Callable[[str, object], None], examples: int) -> None:
    def check(example: tuple[dict[str, Any], str, str]) -> None:
        inp, token_tenant, tenant = example
        want = f'tenant_mismatch: token tenant "{token_tenant}" may not access tenant "{tenant}"'
        _denied_with(opa, inp, want, f"token of {token_tenant} on tenant {tenant}")

    n = _run(opa, check, mismatched_tenants(tokens), examples)
    _measure(record_property, f"tenancy property tenant mismatch denied: {n}")


@pytest.mark.contract("policy.allowlist_enforced")
@pytest.mark.timeout(PROPERTY_TIMEOUT_S)
def test_call_outside_allowlist_is_denied(opa: DecisionClient, tokens: dict[Identity, str],
                                          record_property: Callable[[str, object], None], examples: int) -> None:
    def check(example: tuple[dict[str, Any], str]) -> None:
        inp, want = example
        _denied_with(opa, inp, want, "a call outside the allowlist")

    n = _run(opa, check, unlisted_calls(tokens), examples)
    _measure(record_property, f"policy property call outside allowlist denied: {n}")


@pytest.mark.contract("policy.budget_enforced")
@pytest.mark.timeout(PROPERTY_TIMEOUT_S)
def test_usage_over_budget_is_denied(opa: DecisionClient, tokens: dict[Identity, str],
                                     record_property: Callable[[str, object], None], examples: int) -> None:
    n = _run(opa, lambda inp: _denied_with(opa, inp, "budget_exceeded:",
                                           "usage over the tenant budget"),
             over_budget(tokens), examples)
    _measure(record_property, f"policy property usage over budget denied: {n}")


@pytest.mark.contract("policy.decision_stable")
@pytest.mark.timeout(PROPERTY_TIMEOUT_S)
def test_allowed_decision_ignores_irrelevant_context(
        opa: DecisionClient, tokens: dict[Identity, str],
        record_property: Callable[[str, object], None], examples: int) -> None:
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

    bases = allowed_bases(tokens)
    n = _run(opa, check, st.tuples(st.sampled_from(bases), extras), examples)
    _measure(record_property, f"policy property allowed decision stable under irrelevant context: "
                              f"{n} ({len(baseline)} distinct allowed inputs)")
