"""Identity contracts: the issuer's JWKS, discovery and rotation, and JWT validation.

Every token here is real (minted by the target's issuer) or forged from a real one by an
attacker who has only public material. The validator under test is the reference one
unless SOMA_IDENTITY_VALIDATOR names another (conformance.identity.under_test).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.identity import attacks
from conformance.identity.checks import Issuer, accepts
from conformance.identity.jwks import content_type_problems, jwks_problems, private_member_problems
from conformance.identity.tokens import DEV_SERVICES, DEV_TENANTS, DevIssuer
from conformance.identity.under_test import Factory, Validator
from conformance.identity.validator import ASYMMETRIC_ALGORITHMS
from conformance.probes.clients import ContractFailure

Mint = Callable[[str, str], str]


# --- the issuer's published documents -------------------------------------------------

@pytest.mark.contract("identity.jwks.valid")
def test_jwks_is_a_valid_signing_jwk_set(issuer: Issuer) -> None:
    resp, doc = issuer.get_json(issuer.jwks_url)
    problems = content_type_problems(resp.headers.get("content-type"))
    problems += jwks_problems(doc, tuple(issuer.catalog["algorithms"]))
    if problems:
        raise ContractFailure(f"vault JWKS {issuer.jwks_url}: {'; '.join(problems)}")


@pytest.mark.contract("identity.jwks.no_private_members")
def test_jwks_has_no_private_members(issuer: Issuer) -> None:
    _, doc = issuer.get_json(issuer.jwks_url)
    problems = private_member_problems(doc)
    if problems:
        raise ContractFailure(f"vault JWKS {issuer.jwks_url}: {'; '.join(problems)}")


@pytest.mark.contract("identity.discovery")
def test_discovery_names_catalog_issuer_and_jwks(issuer: Issuer) -> None:
    _, doc = issuer.get_json(issuer.discovery_url)
    want = {"issuer": issuer.catalog["issuer"], "jwks_uri": issuer.catalog["jwks_url"]}
    got = {k: doc.get(k) for k in want}
    if got != want:
        raise ContractFailure(f"vault discovery {issuer.discovery_url}: names {got}, catalog says {want}")
    algs = set(doc.get("id_token_signing_alg_values_supported") or [])
    if not set(issuer.catalog["algorithms"]) & algs:
        raise ContractFailure(f"vault discovery {issuer.discovery_url}: signs with {sorted(algs)}, "
                              f"none in the catalog allow-list {issuer.catalog['algorithms']}")


# --- real tokens --------------------------------------------------------------------------

@pytest.mark.contract("identity.token.validates")
@pytest.mark.parametrize("service", DEV_SERVICES)
@pytest.mark.parametrize("tenant", DEV_TENANTS)
def test_minted_token_validates_through_jwks(soma_mint: Mint, validator: Validator, issuer: Issuer,
                                             service: str, tenant: str) -> None:
    token = soma_mint(service, tenant)
    claims = accepts(validator, token, f"a fresh token of {service}.{tenant}", expected_tenant=tenant)
    want = {"iss": issuer.catalog["issuer"], "aud": issuer.catalog["audience"],
            "service": service, "tenant": tenant}
    got = {k: claims.get(k) for k in want}
    if got != want:
        raise ContractFailure(f"vault token of {service}.{tenant}: claims {got}, expected {want}")
    missing = [c for c in issuer.catalog["required_claims"] if c not in claims]
    if missing:
        raise ContractFailure(f"vault token of {service}.{tenant} lacks required claims {missing}")


@pytest.mark.contract("identity.validator.algorithms")
def test_validator_allows_only_asymmetric_algorithms(issuer: Issuer, validator: Validator,
                                                      validator_factory: tuple[str, Factory]) -> None:
    for where, algs in (("catalog identity.algorithms", issuer.catalog["algorithms"]),
                        (f"validator {validator_factory[0]}", validator.algorithms)):
        bad = sorted(set(algs) - ASYMMETRIC_ALGORITHMS)
        if bad or not algs:
            raise ContractFailure(f"{where} allows {bad or 'nothing'}: only asymmetric algorithms "
                                  "may verify tokens (a symmetric one lets public-key holders sign)")


@pytest.mark.contract("identity.rotation")
def test_rotation_keeps_url_and_old_tokens_valid(soma_issuer: DevIssuer, issuer: Issuer,
                                                 validator_factory: tuple[str, Factory],
                                                 record_property: Callable[[str, object], None]) -> None:
    where = f"vault at {soma_issuer.base_url}"
    key = soma_issuer.key()
    if not key.get("rotation_period") or not key.get("verification_ttl"):
        raise ContractFailure(f"{where}: signing key has no rotation period / verification TTL: {key}")
    before = soma_issuer.mint("gateway", "tenant-a")
    old_kid = attacks.parts(before)[0]["kid"]
    cached = validator_factory[1](issuer.config(min_refetch_interval_s=0.0))
    accepts(cached, before, "a pre-rotation token before rotating")
    kids_before = {k["kid"] for k in issuer.get_json(issuer.jwks_url)[1]["keys"]}

    soma_issuer.rotate()
    after = soma_issuer.mint("gateway", "tenant-a")
    new_kid = attacks.parts(after)[0]["kid"]
    if new_kid == old_kid:
        raise ContractFailure(f"{where}: a token minted after rotation still carries kid {old_kid}")
    _, disc = issuer.get_json(issuer.discovery_url)
    if disc.get("jwks_uri") != issuer.catalog["jwks_url"]:
        raise ContractFailure(f"{where}: after rotation discovery names jwks_uri {disc.get('jwks_uri')}")
    kids_after = {k["kid"] for k in issuer.get_json(issuer.jwks_url)[1]["keys"]}
    for kid, what in ((old_kid, "pre-rotation"), (new_kid, "new")):
        if kid not in kids_after:
            raise ContractFailure(f"{where}: the {what} key {kid} is not in the JWKS after rotation")
    accepts(cached, after, "a post-rotation token (validator with a pre-rotation JWKS cache)")
    accepts(cached, before, "a pre-rotation token after rotation")
    fresh = validator_factory[1](issuer.config())
    accepts(fresh, before, "a pre-rotation token (fresh validator, JWKS fetched after rotation)")
    record_property("measurement", f"identity rotation: kid {old_kid} -> {new_kid}; new kid published "
                    f"before rotation: {new_kid in kids_before}; JWKS now holds {len(kids_after)} keys; "
                    f"verification TTL {key['verification_ttl']}s")
