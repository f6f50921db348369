"""Reference JWT validator for Soma apps: copy this file or import it.

Why it looks like this: token validation is where systems get breached (alg confusion,
`alg: none`, attacker-supplied keys). So keys come only from the one configured JWKS URL
(never from `jku`, `x5u`, `jwk`, `x5c` or a `kid` that names a location), algorithms come
from a fixed asymmetric allow-list, each key is bound to its own algorithm, and `iss`,
`aud`, `exp`, `nbf` and the required claims are always checked. Depends only on PyJWT
(with cryptography) and httpx.

    v = TokenValidator(ValidatorConfig(issuer=..., audience="soma", jwks_url=...,
                                       algorithms=("RS256", "ES256"),
                                       required_claims=("iss", "sub", "aud", "exp", "iat",
                                                        "service", "tenant")))
    claims = v.validate(token, expected_tenant="tenant-a")   # raises InvalidToken
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

# Asymmetric JWS algorithms only: with these, knowing the public key never lets anyone sign.
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                   "ES256", "ES384", "ES512", "EdDSA"})
# Which JWK key type may verify which algorithm family.
KTY_FOR_ALG = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
# Header members that would let a token choose its own verification key: never honoured,
# and a token carrying one is rejected outright (our issuer never sets them).
KEY_SOURCE_HEADERS = ("jku", "x5u", "jwk", "x5c")
# Public JWK members we keep; anything else (private members d, p, q, dp, dq, qi, k) is dropped.
PUBLIC_JWK_MEMBERS = ("kty", "kid", "use", "alg", "n", "e", "crv", "x", "y", "key_ops")
MAX_TOKEN_BYTES = 8192
MAX_JWKS_BYTES = 256 * 1024
HTTP_TIMEOUT = httpx.Timeout(5.0, connect=3.0)

Fetch = Callable[[str], httpx.Response]


class InvalidToken(Exception):
    """The token must not be trusted; the message says why (safe to log, never to echo)."""


class InsecureConfig(ValueError):
    """The validator was configured in a way that would accept forged tokens."""


class JWKSUnavailable(InvalidToken):
    """The JWKS could not be fetched or parsed: fail closed."""


@dataclass(frozen=True)
class ValidatorConfig:
    issuer: str
    audience: str
    jwks_url: str
    algorithms: tuple[str, ...]
    required_claims: tuple[str, ...] = ("iss", "sub", "aud", "exp", "iat")
    leeway_s: float = 30.0            # clock skew tolerated on exp/nbf/iat
    cache_ttl_s: float = 300.0        # how long a fetched JWKS is trusted as complete
    min_refetch_interval_s: float = 10.0  # unknown kid: refetch at most this often

    @classmethod
    def from_catalog(cls, identity: Mapping[str, Any], jwks_url: str | None = None) -> ValidatorConfig:
        """Build from the catalog's `identity` section (jwks_url may be a reachable rewrite)."""
        return cls(issuer=str(identity["issuer"]), audience=str(identity["audience"]),
                   jwks_url=jwks_url or str(identity["jwks_url"]),
                   algorithms=tuple(str(a) for a in identity["algorithms"]),
                   required_claims=tuple(str(c) for c in identity["required_claims"]))


def _default_fetch(url: str) -> httpx.Response:
    from conformance import tls

    return httpx.get(url, timeout=HTTP_TIMEOUT, follow_redirects=False,
                     headers={"Accept": "application/json"}, verify=tls.verify(url))


def _canonical_b64url(segment: str) -> bool:
    """True when segment is the one canonical unpadded base64url text of its bytes."""
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (ValueError, binascii.Error):
        return False
    return bool(segment) and base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == segment


def public_jwk(member: Mapping[str, Any]) -> dict[str, Any]:
    """Only the public members of a JWK: private material is never loaded."""
    return {k: member[k] for k in PUBLIC_JWK_MEMBERS if k in member}


class JWKSCache:
    """The issuer's keys by kid, from the configured URL only; refetch rate-limited."""

    def __init__(self, url: str, cache_ttl_s: float = 300.0, min_refetch_interval_s: float = 10.0,
                 fetch: Fetch | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.cache_ttl_s = cache_ttl_s
        self.min_refetch_interval_s = min_refetch_interval_s
        self.fetch_count = 0
        self._fetch = fetch or _default_fetch
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        self.fetch_count += 1
        self._fetched_at = self._clock()
        try:
            resp = self._fetch(self.url)
        except httpx.HTTPError as exc:
            raise JWKSUnavailable(f"JWKS {self.url}: {type(exc).__name__}: {exc}") from None
        if resp.status_code != 200:
            raise JWKSUnavailable(f"JWKS {self.url}: HTTP {resp.status_code}")
        if len(resp.content) > MAX_JWKS_BYTES:
            raise JWKSUnavailable(f"JWKS {self.url}: {len(resp.content)} bytes is too large")
        try:
            doc = json.loads(resp.content)
            members = doc["keys"]
            if not isinstance(members, list):
                raise TypeError("keys is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            raise JWKSUnavailable(f"JWKS {self.url}: not a JWK Set: {exc}") from None
        keys: dict[str, jwt.PyJWK] = {}
        for member in members:
            if not isinstance(member, dict) or not isinstance(member.get("kid"), str):
                continue
            if member.get("use", "sig") != "sig" or member.get("kty") not in ("RSA", "EC", "OKP"):
                continue  # encryption keys and symmetric ("oct") keys never verify tokens
            try:
                keys[member["kid"]] = jwt.PyJWK(public_jwk(member))
            except (jwt.PyJWKError, jwt.InvalidKeyError):
                continue  # an unusable key cannot verify anything
        self._keys = keys

    def get(self, kid: str) -> jwt.PyJWK | None:
        """The key for kid; refetch when stale, or once (rate-limited) when kid is unknown."""
        with self._lock:
            now = self._clock()
            age = None if self._fetched_at is None else now - self._fetched_at
            stale = age is None or age >= self.cache_ttl_s
            may_refetch = age is not None and age >= self.min_refetch_interval_s
            if stale or (kid not in self._keys and may_refetch):
                self._refresh()
            return self._keys.get(kid)

    def kids(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._keys)


class TokenValidator:
    """Validate one bearer token: signature via the JWKS, then iss/aud/exp/nbf and claims."""

    permitted_algorithms: frozenset[str] = ASYMMETRIC_ALGORITHMS

    def __init__(self, config: ValidatorConfig, jwks: JWKSCache | None = None) -> None:
        bad = [a for a in config.algorithms if a not in self.permitted_algorithms]
        if bad or not config.algorithms:
            raise InsecureConfig(f"algorithms {bad or '[]'} are not asymmetric JWS algorithms: "
                                 f"allowed are {sorted(self.permitted_algorithms)}")
        self.config = config
        self.algorithms = tuple(config.algorithms)
        self.jwks = jwks or JWKSCache(config.jwks_url, config.cache_ttl_s,
                                      config.min_refetch_interval_s)

    def validate(self, token: str, expected_tenant: str | None = None) -> dict[str, Any]:
        """The verified claims, or InvalidToken. expected_tenant: the tenant being accessed."""
        header = self._header(token)
        key = self._key_for(header)
        claims = self._decode(token, header, key)
        self._check_claims(claims, expected_tenant)
        return claims

    def _header(self, token: str) -> dict[str, Any]:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
            raise InvalidToken("not a compact JWS")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed header: {exc}") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken(f"algorithm {alg!r} is not in the allow-list {list(self.algorithms)}")
        present = [h for h in KEY_SOURCE_HEADERS if h in header]
        if present:
            raise InvalidToken(f"header names its own key source {present}: never trusted")
        if "crit" in header:
            raise InvalidToken("header has critical extensions this validator does not support")
        if not isinstance(header.get("kid"), str) or not header["kid"]:
            raise InvalidToken("header has no kid")
        if not all(_canonical_b64url(seg) for seg in token.split(".")):
            raise InvalidToken("segment is not canonical base64url (malleable encoding)")
        return dict(header)

    def _key_for(self, header: Mapping[str, Any]) -> jwt.PyJWK:
        key = self.jwks.get(str(header["kid"]))
        if key is None:
            raise InvalidToken(f"unknown kid {header['kid']!r} (not in the issuer's JWKS)")
        alg = str(header["alg"])
        if key.key_type != KTY_FOR_ALG.get(alg[:2]) or key.algorithm_name != alg:
            raise InvalidToken(f"key {header['kid']!r} ({key.key_type}/{key.algorithm_name}) "
                               f"does not fit algorithm {alg}")
        return key

    def _decode(self, token: str, header: Mapping[str, Any], key: jwt.PyJWK) -> dict[str, Any]:
        cfg = self.config
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[str(header["alg"])], audience=cfg.audience,
                issuer=cfg.issuer, leeway=cfg.leeway_s,
                options={"require": list(cfg.required_claims), "verify_signature": True,
                         "verify_exp": True, "verify_nbf": True, "verify_iat": True,
                         "verify_aud": True, "verify_iss": True, "strict_aud": False})
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"{type(exc).__name__}: {exc}") from None
        return claims

    def _check_claims(self, claims: Mapping[str, Any], expected_tenant: str | None) -> None:
        for name in ("service", "tenant"):
            if name in self.config.required_claims and (
                    not isinstance(claims.get(name), str) or not claims[name]):
                raise InvalidToken(f"claim {name!r} must be a non-empty string")
        if expected_tenant is not None and claims.get("tenant") != expected_tenant:
            raise InvalidToken(f"token is for tenant {claims.get('tenant')!r}, "
                               f"not {expected_tenant!r}")
