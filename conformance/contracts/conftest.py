"""Fixtures shared by contract tests: identity (identity, policy, tenancy), and the
stack the last-phase contracts (durability, resilience) reach the target through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from conformance import health
from conformance.access import Credentials, Endpoint
from conformance.catalog import Catalog
from conformance.identity.checks import Issuer
from conformance.identity.tokens import DevIssuer, IssuerError
from conformance.identity.under_test import Factory, Validator, load_factory
from conformance.probes.clients import ContractFailure
from conformance.targets.base import Target

Mint = Callable[[str, str], str]


@pytest.fixture(scope="session")
def soma_issuer(soma_endpoint: Callable[[str], Endpoint], soma_credentials: Credentials) -> DevIssuer:
    """Admin client of the target's dev issuer (needs the dev Vault token of the target)."""
    ep = soma_endpoint("vault")
    if not soma_credentials.vault_token:
        pytest.fail(f"{ep}: no vault token in the target's credentials: cannot mint tokens",
                    pytrace=False)
    return DevIssuer(ep.url(), soma_credentials.vault_token)


@pytest.fixture(scope="session")
def soma_mint(soma_issuer: DevIssuer) -> Mint:
    """soma_mint(service, tenant) -> a real JWT from the live issuer, cached per identity."""
    cache: dict[tuple[str, str], str] = {}

    def mint(service: str, tenant: str) -> str:
        key = (service, tenant)
        if key not in cache:
            try:
                cache[key] = soma_issuer.mint(service, tenant)
            except IssuerError as exc:
                pytest.fail(f"vault at {soma_issuer.base_url}: minting a token for "
                            f"{service}.{tenant}: {exc}", pytrace=False)
        return cache[key]

    return mint


@pytest.fixture(scope="session")
def issuer(soma_catalog: Catalog, soma_target: Target) -> Issuer:
    ident = soma_catalog.identity
    return Issuer(ident, soma_target.reachable_url(str(ident["jwks_url"])),
                  soma_target.reachable_url(str(ident["discovery_url"])))


@pytest.fixture(scope="session")
def validator_factory() -> tuple[str, Factory]:
    return load_factory()


@pytest.fixture(scope="session")
def validator(issuer: Issuer, validator_factory: tuple[str, Factory]) -> Validator:
    """The validator under test, configured from the catalog only."""
    return validator_factory[1](issuer.config())


@dataclass(frozen=True)
class Stack:
    """What a contract that restarts or removes services reaches the target through: every
    endpoint is asked for anew (a Kubernetes target re-forwards a service whose pod went)."""

    target: Target
    catalog: Catalog
    endpoint: Callable[[str], Endpoint]
    creds: Credentials

    def mint(self, service: str, tenant: str) -> str:
        """A token minted now, through Vault's endpoint as it is now (the session's cached
        tokens may be near their expiry by the last phase)."""
        issuer = DevIssuer(self.endpoint("vault").url(), self.creds.vault_token)
        try:
            return issuer.mint(service, tenant)
        except IssuerError as exc:
            raise ContractFailure(f"vault at {issuer.base_url}: minting for {service}.{tenant}: {exc}") from None

    def jwks_url(self) -> str:
        """The catalog's JWKS URL, reachable from the suite now."""
        return self.target.reachable_url(str(self.catalog.identity["jwks_url"]))

    def ready(self, service: str) -> Callable[[], str]:
        """The service's readiness probe (the catalog's health), through its endpoint as it is now."""
        probe = self.catalog.service(service).health
        return lambda: health.ready(self.endpoint(service), probe, self.creds)


@pytest.fixture
def stack(soma_target: Target, soma_catalog: Catalog, soma_endpoint: Callable[[str], Endpoint],
          soma_credentials: Credentials) -> Stack:
    return Stack(soma_target, soma_catalog, soma_endpoint, soma_credentials)
