"""The golden cases' hostile tokens come from the attack helpers
(conformance.identity.attacks): each is what its name says, built from a real token."""

from __future__ import annotations

import hashlib
import hmac

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from conformance.identity import attacks
from conformance.policy.cases import HMAC_SECRET, Mint, _attacker, make_token

CLAIMS = {"iss": "http://issuer", "sub": "s", "aud": "soma", "exp": 4102444800, "iat": 1,
          "service": "gateway", "tenant": "tenant-a"}


@pytest.fixture(scope="module")
def issuer_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def mint_with(key: rsa.RSAPrivateKey) -> Mint:
    """A stand-in issuer: RS256 tokens under kid issuer-1 (PKCS#1 v1.5: deterministic)."""
    def mint(service: str, tenant: str) -> str:
        return jwt.encode({**CLAIMS, "service": service, "tenant": tenant}, key, algorithm="RS256",
                          headers={"kid": "issuer-1"})
    return mint


def test_hostile_variants(issuer_key: rsa.RSAPrivateKey) -> None:
    mint = mint_with(issuer_key)
    real = mint("gateway", "tenant-a")
    assert make_token({"mint": "gateway.tenant-a"}, mint).split(".")[1] == real.split(".")[1]

    none = make_token({"alg_none": "gateway.tenant-a"}, mint)
    header, claims, sig = attacks.parts(none)
    assert header["alg"] == "none" and sig == "" and claims == CLAIMS

    hs = make_token({"hs256": "gateway.tenant-a"}, mint)
    header, claims, sig = attacks.parts(hs)
    signing_input = hs.rsplit(".", 1)[0].encode()
    assert header["alg"] == "HS256" and claims == CLAIMS
    assert attacks.b64url(hmac.new(HMAC_SECRET, signing_input, hashlib.sha256).digest()) == sig

    forged = make_token({"forge": "gateway.tenant-a"}, mint)
    assert attacks.parts(forged)[0]["kid"] == "issuer-1"
    assert jwt.decode(forged, _attacker().private_key.public_key(), algorithms=["RS256"],
                      audience="soma") == CLAIMS
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, issuer_key.public_key(), algorithms=["RS256"], audience="soma")

    tampered = make_token({"tamper": "billing.tenant-a", "set": {"service": "gateway"}}, mint)
    header, claims, sig = attacks.parts(tampered)
    assert claims["service"] == "gateway" and sig == mint("billing", "tenant-a").split(".")[2]
