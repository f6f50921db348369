"""The attack corpus (one test per case) and the single-mutation property.

Each case starts from a real token of the target's issuer. Claim-level cases (expired,
nbf, audience, missing claim) use real tokens minted that way by the issuer's conformance
roles, so they are rejected for their claims and not for a broken signature; every case
also checks a control that the same validator accepts a good token.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.identity import attacks
from conformance.identity.checks import Issuer, accepts, rejects
from conformance.identity.tokens import CONFORMANCE_IDENTITY, DevIssuer
from conformance.identity.under_test import DEFAULT, Factory, Validator
from conformance.probes.clients import ContractFailure
from conformance.runmode import RunMode

Mint = Callable[[str, str], str]
FULL_FUZZ_EXAMPLES = 1000  # --mode=quick runs a small count (RunMode.examples)
OTHER_ISSUER = "http://issuer.invalid/v1/identity/oidc"


class AttackerServer:
    """The attacker's JWKS on loopback: a validator that follows jku/x5u/kid would hit it."""

    def __init__(self, attacker: attacks.Attacker) -> None:
        body = json.dumps(attacker.jwks()).encode()
        hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.hits = hits
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@dataclasses.dataclass
class Corpus:
    issuer: Issuer
    soma_issuer: DevIssuer
    factory: Factory
    validator: Validator
    token: str                      # a real gateway.tenant-a token
    issuer_jwk: dict[str, Any]      # the public JWK that signed it
    attacker: attacks.Attacker
    server: AttackerServer
    reference: bool                 # the validator under test is the reference one

    def conformance_token(self, role: str) -> str:
        return self.soma_issuer.mint(*CONFORMANCE_IDENTITY, role=role)


@pytest.fixture(scope="module")
def corpus(issuer: Issuer, soma_issuer: DevIssuer, soma_mint: Mint, validator: Validator,
           validator_factory: tuple[str, Factory]) -> Iterator[Corpus]:
    token = soma_mint("gateway", "tenant-a")
    kid = attacks.parts(token)[0]["kid"]
    _, jwks = issuer.get_json(issuer.jwks_url)
    jwk = next((k for k in jwks["keys"] if k.get("kid") == kid), None)
    if jwk is None:
        raise ContractFailure(f"vault JWKS {issuer.jwks_url} lacks kid {kid} of a fresh token")
    attacker = attacks.Attacker()
    server = AttackerServer(attacker)
    try:
        yield Corpus(issuer, soma_issuer, validator_factory[1], validator, token, jwk, attacker, server,
                     validator_factory[0] == DEFAULT)
    finally:
        server.server.shutdown()
        server.server.server_close()


def _with(c: Corpus, **config: Any) -> Validator:
    return c.factory(c.issuer.config(**config))


def _expired(c: Corpus) -> tuple[str, Validator, str | None]:
    strict = _with(c, leeway_s=0.0)
    accepts(strict, c.token, "a fresh token (control, leeway 0)")
    token = c.conformance_token("soma-conformance-short")  # a real 1-second token
    time.sleep(max(0.0, attacks.parts(token)[1]["exp"] + 1.2 - time.time()))
    return token, strict, None


def _foreign_key_header(c: Corpus, **header: Any) -> str:
    return c.attacker.resign(c.token, **header)


# name -> builder(corpus) -> (token, validator, expected tenant)
CASES: dict[str, Callable[[Corpus], tuple[str, Validator, str | None]]] = {
    "alg-none": lambda c: (attacks.alg_none(c.token), c.validator, None),
    "hs256-public-key-as-secret": lambda c: (attacks.hs256_with_public_key(c.token, c.issuer_jwk),
                                             c.validator, None),
    "expired": _expired,
    "nbf-in-future": lambda c: (c.conformance_token("soma-conformance-nbf"), c.validator, None),
    "wrong-iss": lambda c: (c.token, _with(c, issuer=OTHER_ISSUER), None),
    "wrong-aud": lambda c: (c.conformance_token("soma-conformance-other-aud"), c.validator, None),
    "unknown-kid": lambda c: (_foreign_key_header(c), c.validator, None),
    "attacker-key-under-real-kid": lambda c: (_foreign_key_header(c, kid=c.issuer_jwk["kid"]),
                                              c.validator, None),
    "payload-changed": lambda c: (attacks.payload_changed(c.token, tenant="tenant-b"), c.validator, None),
    "signature-changed": lambda c: (attacks.signature_changed(c.token), c.validator, None),
    "jku-attacker-jwks": lambda c: (_foreign_key_header(c, jku=c.server.url), c.validator, None),
    "x5u-attacker-url": lambda c: (_foreign_key_header(c, x5u=c.server.url), c.validator, None),
    "embedded-jwk": lambda c: (_foreign_key_header(c, jwk=c.attacker.public_jwk()), c.validator, None),
    "kid-is-attacker-url": lambda c: (_foreign_key_header(c, kid=c.server.url), c.validator, None),
    "missing-required-claim": lambda c: (c.conformance_token("soma-conformance-no-tenant"),
                                         c.validator, None),
    "tenant-a-token-for-tenant-b": lambda c: (c.token, c.validator, "tenant-b"),
}


# what the reference validator must name as the cause (other validators: any rejection)
REASONS = {
    "alg-none": "algorithm", "hs256-public-key-as-secret": "algorithm", "expired": "expired",
    "nbf-in-future": "nbf", "wrong-iss": "issuer", "wrong-aud": "audience", "unknown-kid": "unknown kid",
    "attacker-key-under-real-kid": "signature", "payload-changed": "signature",
    "signature-changed": "signature", "jku-attacker-jwks": "key source", "x5u-attacker-url": "key source",
    "embedded-jwk": "key source", "kid-is-attacker-url": "unknown kid",
    "missing-required-claim": "tenant", "tenant-a-token-for-tenant-b": "tenant",
}


@pytest.mark.contract("identity.attacks")
@pytest.mark.parametrize("case", sorted(CASES))
def test_attack_is_rejected(corpus: Corpus, case: str,
                            record_property: Callable[[str, object], None]) -> None:
    accepts(corpus.validator, corpus.token, "the untouched real token (control)", "tenant-a")
    token, validator, tenant = CASES[case](corpus)
    reason = rejects(validator, token, f"attack {case!r}", expected_tenant=tenant)
    if corpus.reference and REASONS[case] not in reason.lower():
        raise ContractFailure(f"attack {case!r} was rejected for the wrong reason: {reason}")
    if corpus.server.hits:
        raise ContractFailure(f"attack {case!r}: validator fetched attacker URLs {corpus.server.hits}")
    record_property("measurement", f"identity attack case {case}: rejected ({reason[:100]})")


# --- the mutation property ---------------------------------------------------------------

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@st.composite
def mutations(draw: st.DrawFn) -> tuple[int, str, str, int, int]:
    """(segment, level, kind, position, value): one edit to one segment of the token."""
    return (draw(st.integers(0, 2)), draw(st.sampled_from(["bytes", "text"])),
            draw(st.sampled_from(["flip", "replace", "insert", "delete"])),
            draw(st.integers(0, 1 << 16)), draw(st.integers(0, 255)))


def mutate(token: str, m: tuple[int, str, str, int, int]) -> str:
    seg_index, level, kind, pos, value = m
    segs = token.split(".")
    if level == "bytes":
        data = bytearray(attacks.b64url_decode(segs[seg_index]))
        data = _edit(data, kind, pos, value, lambda v: v)
        segs[seg_index] = attacks.b64url(bytes(data))
    else:
        text = bytearray(segs[seg_index].encode())
        text = _edit(text, kind, pos, value, lambda v: ord(B64[v % len(B64)]))
        segs[seg_index] = text.decode("latin-1")  # any byte: a non-base64 char is a mutation too
    return ".".join(segs)


def _edit(buf: bytearray, kind: str, pos: int, value: int, pick: Callable[[int], int]) -> bytearray:
    i = pos % (len(buf) + (1 if kind == "insert" else 0)) if buf or kind == "insert" else 0
    if kind == "insert":
        buf.insert(i, pick(value))
    elif kind == "delete" and buf:
        del buf[i]
    elif buf:
        new = pick(value) if kind == "replace" else buf[i] ^ (1 << (value % 8))
        buf[i] = new if new != buf[i] else buf[i] ^ 0x01
    return buf


@pytest.mark.contract("identity.fuzz.single_mutation")
def test_any_single_mutation_is_rejected(corpus: Corpus, record_property: Callable[[str, object], None],
                                         soma_run_mode: RunMode) -> None:
    fuzz_examples = soma_run_mode.examples(FULL_FUZZ_EXAMPLES)
    accepts(corpus.validator, corpus.token, "the untouched real token (control)")
    seen = 0

    @settings(max_examples=fuzz_examples, derandomize=True, database=None, deadline=None,
              report_multiple_bugs=False,  # one clear failure: the first accepted mutation
              suppress_health_check=list(HealthCheck))
    @given(mutations())
    def prop(m: tuple[int, str, str, int, int]) -> None:
        nonlocal seen
        token = mutate(corpus.token, m)
        if token == corpus.token:
            return  # e.g. a text edit that lands back on the same character
        seen += 1
        rejects(corpus.validator, token, f"a token with one mutation {m}")

    prop()
    if seen < fuzz_examples * 0.95:
        raise ContractFailure(f"only {seen} distinct mutations were tried (want ~{fuzz_examples})")
    record_property("measurement", f"identity fuzz: {seen} single mutations of a real token, all rejected")
