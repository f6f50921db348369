"""What a published JWK Set must look like (RFC 7517/7518), as a list of problems.

Kept apart from the contract test so the checker itself can be unit-tested against bad
documents (a check that cannot fail proves nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# RFC 7518 §6.2.2 / §6.3.2 / §6.4: members that only a private or symmetric key carries
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
REQUIRED_BY_KTY = {"RSA": ("n", "e"), "EC": ("crv", "x", "y"), "OKP": ("crv", "x")}


def content_type_problems(content_type: str | None) -> list[str]:
    """The JWKS must be served as JSON (application/json or application/jwk-set+json)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in ("application/json", "application/jwk-set+json"):
        return []
    return [f"content type {content_type!r} is not application/json or application/jwk-set+json"]


def private_member_problems(doc: Any) -> list[str]:
    """Keys that publish private (or symmetric) key material: anyone could then sign."""
    keys = doc.get("keys") if isinstance(doc, Mapping) else None
    problems = []
    for i, key in enumerate(keys if isinstance(keys, list) else []):
        leaked = [m for m in PRIVATE_MEMBERS if isinstance(key, Mapping) and m in key]
        if leaked:
            problems.append(f"keys[{i}] (kid {key.get('kid')!r}) publishes private key members {leaked}")
    return problems


def jwks_problems(doc: Any, allowed_algorithms: tuple[str, ...]) -> list[str]:
    """Every way `doc` falls short of a well-formed signing JWK Set (RFC 7517). Empty = valid.

    Private members are checked separately (private_member_problems): a different promise.
    """
    if not isinstance(doc, Mapping) or not isinstance(doc.get("keys"), list):
        return ["not a JWK Set: top level must be an object with a 'keys' array"]
    keys: list[Any] = doc["keys"]
    if not keys:
        return ["JWK Set has no keys"]
    problems: list[str] = []
    seen: set[str] = set()
    for i, key in enumerate(keys):
        if not isinstance(key, Mapping):
            problems.append(f"keys[{i}] is not an object")
            continue
        kid = key.get("kid")
        where = f"keys[{i}] (kid {kid!r})"
        if not isinstance(kid, str) or not kid:
            problems.append(f"{where} has no kid")
        elif kid in seen:
            problems.append(f"{where}: kid is not unique")
        else:
            seen.add(kid)
        kty = key.get("kty")
        if kty not in REQUIRED_BY_KTY:
            problems.append(f"{where} has kty {kty!r}; a signing JWKS holds RSA, EC or OKP keys")
        else:
            missing = [m for m in REQUIRED_BY_KTY[kty] if not isinstance(key.get(m), str)]
            if missing:
                problems.append(f"{where} ({kty}) lacks {missing}")
        if key.get("use") != "sig":
            problems.append(f"{where} has use {key.get('use')!r}, expected 'sig'")
        if key.get("alg") not in allowed_algorithms:
            problems.append(f"{where} has alg {key.get('alg')!r}, not one of {list(allowed_algorithms)}")
    return problems
