"""The session fixtures through which contract tests reach a target: the catalog, the set-up
target, its endpoints, credentials and in-network probe results, the run mode, and the gate
before a contract's state-changing part."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance import catalog as catalog_mod
from conformance.access import Credentials, Endpoint
from conformance.errors import TargetError
from conformance.inside.checks import InsideResult
from conformance.plugin import phases
from conformance.plugin.collection import disruptive_reason
from conformance.plugin.target_setup import setup_target
from conformance.runmode import RunMode
from conformance.session import run_mode
from conformance.targets.base import Target


@pytest.fixture(scope="session")
def soma_catalog() -> catalog_mod.Catalog:
    """The contract catalog."""
    return catalog_mod.load()


@pytest.fixture(scope="session")
def soma_target(pytestconfig: pytest.Config) -> Target:
    """The target under test, set up (or attached to) once per session."""
    return setup_target(pytestconfig)


@pytest.fixture(scope="session")
def soma_run_mode(pytestconfig: pytest.Config) -> RunMode:
    """--mode and --allow-disruptive as decided for this run (quick: small example counts)."""
    return run_mode(pytestconfig)


@pytest.fixture(scope="session")
def soma_scrape_interval(pytestconfig: pytest.Config, soma_catalog: catalog_mod.Catalog) -> str:
    """The Prometheus scrape interval the target was asked for (--scrape-interval): the
    contract's 15s unless it was deployed with the catalog's on-demand interval."""
    return catalog_mod.asked_scrape_interval(soma_catalog, pytestconfig.getoption("--scrape-interval"))


@pytest.fixture(scope="session")
def soma_credentials(soma_target: Target) -> Credentials:
    try:
        return soma_target.credentials()
    except TargetError as exc:
        pytest.fail(f"target {soma_target.name}: credentials: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def soma_endpoint(soma_target: Target) -> Callable[[str], Endpoint]:
    """endpoint("redis") -> Endpoint; skips when the target does not deploy the service."""

    def get(service: str) -> Endpoint:
        return endpoint_of(soma_target, service)

    return get


def endpoint_of(target: Target, service: str) -> Endpoint:
    """The service's endpoint; skips when the target does not deploy an optional service,
    fails when it lacks a required one (a gap in the stack is a failure, not a skip)."""
    if not target.deployed(service):
        if not target.judged(service):
            pytest.skip(target.not_deployed_reason(service))
        pytest.fail(f"{service}: required by the contract catalog, but "
                    f"{target.not_deployed_reason(service)}", pytrace=False)
    try:
        return target.endpoint(service)
    except TargetError as exc:
        pytest.fail(f"{service}: {exc}", pytrace=False)


@pytest.fixture
def soma_disruptive(soma_catalog: catalog_mod.Catalog, soma_run_mode: RunMode) -> Callable[[str], None]:
    """soma_disruptive("readiness.kafka"): call just before a contract's state-changing part;
    on a read-only run it skips there, after the read-only part has held."""

    def gate(contract_id: str) -> None:
        if not soma_run_mode.allow_disruptive:
            pytest.skip(disruptive_reason(soma_catalog.contract(contract_id), part=True))

    return gate


@pytest.fixture(scope="session")
def soma_inside(soma_target: Target) -> dict[str, InsideResult]:
    """Results of the in-network DNS/protocol probe, run once for all services."""
    reason = soma_target.inside_unsupported_reason()
    if reason:
        pytest.skip(reason)
    checks = soma_target.inside_checks()
    try:
        return {r.service: r for r in soma_target.run_inside(checks)}
    except TargetError as exc:
        pytest.fail(f"target {soma_target.name}: {exc}", pytrace=False)


@pytest.fixture
def soma_last_phase(pytestconfig: pytest.Config) -> float:
    """For a contract that restarts services: waits until every other contract of the run
    has finished (under xdist; serially the order does it); the seconds waited."""
    return phases.wait_for_the_rest(pytestconfig)
