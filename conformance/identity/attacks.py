"""Forged tokens for the attack corpus, the mutation property and the policy's golden cases.

Everything here is the attacker's side: it takes a real token (and the issuer's public
JWKS) and produces tokens a correct validator must reject. It never holds the issuer's
private key -- forgeries are signed with a freshly generated attacker key, or not at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_json(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(header, payload, signature segment) of a compact JWS, without verifying it."""
    h, p, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), s


@dataclass
class Attacker:
    """An attacker with their own RSA key pair, published under their own kid."""

    kid: str = field(default_factory=lambda: f"attacker-{uuid.uuid4().hex[:12]}")
    private_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}

    def sign(self, payload: dict[str, Any], **header: Any) -> str:
        """RS256-sign payload with the attacker key; header members as given (kid default)."""
        headers = {"kid": self.kid, **header}
        return jwt.encode(payload, self.private_key, algorithm="RS256", headers=headers)

    def resign(self, token: str, **header: Any) -> str:
        """The token's payload, RS256-signed with the attacker key (header members as given)."""
        return self.sign(parts(token)[1], **header)


def alg_none(token: str) -> str:
    header, payload, _ = parts(token)
    return f"{b64url_json({**header, 'alg': 'none'})}.{b64url_json(payload)}."


def hs256_signed(token: str, secret: bytes) -> str:
    """Same header (alg HS256) and payload, HMAC-SHA256-signed with a key of the attacker's choosing."""
    header, payload, _ = parts(token)
    signing_input = f"{b64url_json({**header, 'alg': 'HS256'})}.{b64url_json(payload)}"
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(sig)}"


def hs256_with_public_key(token: str, issuer_jwk: dict[str, Any]) -> str:
    """Classic alg confusion: HMAC-SHA256 keyed with the issuer's public key (PEM)."""
    public = jwt.PyJWK({k: v for k, v in issuer_jwk.items() if k in ("kty", "n", "e", "kid")}).key
    pem = public.public_bytes(serialization.Encoding.PEM,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return hs256_signed(token, pem)


def payload_changed(token: str, **changes: Any) -> str:
    """Same header and signature, edited payload (e.g. another tenant)."""
    h, _, s = token.split(".")
    _, payload, _ = parts(token)
    return f"{h}.{b64url_json({**payload, **changes})}.{s}"


def signature_changed(token: str) -> str:
    """Same header and payload, one bit of the signature flipped."""
    h, p, s = token.split(".")
    sig = bytearray(b64url_decode(s))
    sig[len(sig) // 2] ^= 0x01
    return f"{h}.{p}.{b64url(bytes(sig))}"
