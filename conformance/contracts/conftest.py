"""Identity fixtures shared by contract tests (identity, policy, tenancy)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.access import Credentials, Endpoint
from conformance.catalog import Catalog
from conformance.identity.checks import Issuer
from conformance.identity.tokens import DevIssuer, IssuerError
from conformance.identity.under_test import Factory, Validator, load_factory
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
