"""The identity checker itself, offline: a local key plays the issuer, a fake fetch plays
the JWKS URL. Proves each check can fail; the contracts run against the real issuer."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from conformance.identity import attacks
from conformance.identity.jwks import content_type_problems, jwks_problems, private_member_problems
from conformance.identity.under_test import load_factory
from conformance.identity.validator import (
    InsecureConfig,
    InvalidToken,
    JWKSCache,
    TokenValidator,
    ValidatorConfig,
)

URL = "http://issuer.test/jwks"
CFG = ValidatorConfig(issuer="http://issuer.test", audience="soma", jwks_url=URL,
                      algorithms=("RS256", "ES256"),
                      required_claims=("iss", "sub", "aud", "exp", "iat", "service", "tenant"))


class FakeIssuer:
    def __init__(self) -> None:
        self.key = attacks.Attacker(kid="issuer-key-1")
        self.fetched: list[str] = []

    def fetch(self, url: str) -> httpx.Response:
        self.fetched.append(url)
        return httpx.Response(200, json=self.key.jwks())

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": CFG.issuer, "sub": "e1", "aud": "soma", "iat": now, "exp": now + 300,
                   "service": "gateway", "tenant": "tenant-a", **claims}
        return self.key.sign(payload)

    def validator(self, cls: type[TokenValidator] = TokenValidator) -> TokenValidator:
        return cls(CFG, JWKSCache(URL, fetch=self.fetch))


def test_private_members_and_bad_documents_are_flagged() -> None:
    good = FakeIssuer().key.jwks()
    assert jwks_problems(good, CFG.algorithms) == [] and private_member_problems(good) == []
    from tests.identity.test_seeded_faults import _load_proxy

    leaked = json.loads(_load_proxy().leak(json.dumps(good).encode()))
    assert "publishes private key members" in private_member_problems(leaked)[0]
    dup = {"keys": [good["keys"][0], {**good["keys"][0], "use": "enc", "alg": "HS256"}]}
    text = "; ".join(jwks_problems(dup, CFG.algorithms))
    assert "not unique" in text and "use 'enc'" in text and "HS256" in text
    assert content_type_problems("text/html") and not content_type_problems("application/json")


def test_reference_validator_accepts_real_and_rejects_forgeries() -> None:
    issuer = FakeIssuer()
    v = issuer.validator()
    good = issuer.token()
    assert v.validate(good, expected_tenant="tenant-a")["service"] == "gateway"
    for bad in (attacks.alg_none(good), attacks.signature_changed(good),
                attacks.payload_changed(good, tenant="tenant-b"),
                attacks.hs256_with_public_key(good, issuer.key.public_jwk()),
                issuer.token(exp=int(time.time()) - 120), issuer.token(aud="other")):
        with pytest.raises(InvalidToken):
            v.validate(bad)
    with pytest.raises(InvalidToken, match="tenant"):
        v.validate(good, expected_tenant="tenant-b")


def test_key_source_headers_are_never_fetched() -> None:
    issuer = FakeIssuer()
    v = issuer.validator()
    payload = attacks.parts(issuer.token())[1]
    for header in ({"jku": "http://attacker.test/k"}, {"x5u": "http://attacker.test/c"},
                   {"kid": "http://attacker.test/k"}):
        with pytest.raises(InvalidToken):
            v.validate(attacks.Attacker().sign(payload, **header))
    assert set(issuer.fetched) == {URL}


def test_unknown_kid_refetches_once_then_rate_limits() -> None:
    issuer = FakeIssuer()
    now = [1000.0]
    cache = JWKSCache(URL, cache_ttl_s=300, min_refetch_interval_s=10, fetch=issuer.fetch,
                      clock=lambda: now[0])
    assert cache.get("issuer-key-1") is not None and cache.fetch_count == 1
    assert cache.get("nope") is None and cache.fetch_count == 1  # within 10 s: no refetch
    now[0] += 11
    assert cache.get("nope") is None and cache.fetch_count == 2
    assert cache.get("nope") is None and cache.fetch_count == 2


def test_symmetric_algorithms_are_refused_by_config() -> None:
    with pytest.raises(InsecureConfig):
        TokenValidator(ValidatorConfig(**{**CFG.__dict__, "algorithms": ("RS256", "HS256")}))


def test_hs256_fault_validator_really_is_vulnerable() -> None:
    """The seeded fault must be a real bug, or the contracts catching it prove nothing."""
    _, factory = load_factory("fixtures/faults/identity-validator-accepts-hs256/validator.py:AcceptsHS256")
    issuer = FakeIssuer()
    broken = factory(CFG)
    assert isinstance(broken, TokenValidator)
    broken.jwks = JWKSCache(URL, fetch=issuer.fetch)
    forged = attacks.hs256_with_public_key(issuer.token(), issuer.key.public_jwk())
    assert broken.validate(forged)["tenant"] == "tenant-a"
    assert "HS256" in broken.algorithms
