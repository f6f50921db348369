"""The endpoints file as a product: schema, unknown keys with 'did you mean', ${ENV}
secrets, the init template, TLS/SASL options carried to the endpoints."""

from __future__ import annotations

import argparse
from pathlib import Path

import jsonschema
import pytest

from conformance import catalog, endpoints, tls
from conformance.cli import endpoints as endpoints_cli
from conformance.errors import UsageError
from conformance.targets.base import TargetOptions
from conformance.targets.external import ExternalTarget

KNOWN = set(catalog.load().services)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "env.yaml"
    path.write_text(text)
    return str(path)


def test_schema_is_valid_and_names_every_catalog_service() -> None:
    doc = endpoints.schema()
    jsonschema.Draft202012Validator.check_schema(doc)
    assert set(doc["properties"]["services"]["properties"]) == KNOWN


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services: {redis: {host: h, port: 1}}\ncredentails: {}\n",
         "unknown key 'credentails' (did you mean 'credentials'?)"),
        ("services: {redis: {host: h, port: 1, tsl: true}}\n",
         "unknown key 'services.redis.tsl' (did you mean 'tls'?)"),
        ("services: {redsi: {host: h, port: 1}}\n", "unknown service 'redsi' (did you mean 'redis'?)"),
        ("services: {redis: {host: h, port: 1}}\ncredentials: {vault: {tokne: x}}\n",
         "unknown key 'credentials.vault.tokne' (did you mean 'token'?)"),
        ("services: {postgres: {host: h, port: 1, sslmode: maybe}}\n",
         "services.postgres.sslmode: 'maybe' is not one of"),
        ("services: {kafka: {host: h, port: 1, security_protocol: TLS}}\n", "security_protocol: 'TLS' is not one of"),
    ],
)
def test_mistakes_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        endpoints.load(write(tmp_path, text), KNOWN, env={})
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_env_expansion(tmp_path: Path) -> None:
    path = write(tmp_path, 'services: {redis: {host: "${R_HOST}", port: "${R_PORT}"}}\n'
                           'credentials: {redis: {password: "${R_PW}"}}\n')
    doc = endpoints.load(path, KNOWN, env={"R_HOST": "r.example", "R_PORT": "6380", "R_PW": "s3cret"})
    assert doc["services"]["redis"] == {"host": "r.example", "port": 6380}
    assert doc["credentials"]["redis"]["password"] == "s3cret"
    with pytest.raises(UsageError, match=r"credentials.redis.password: environment variable R_PW is not set"):
        endpoints.load(path, KNOWN, env={"R_HOST": "h", "R_PORT": "1"})


def test_template_is_a_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert endpoints_cli.main(argparse.Namespace(endpoints_command="init", from_compose=None, name=None)) == 0
    path = write(tmp_path, capsys.readouterr().out)
    env = {"PG_PASSWORD": "a", "REDIS_PASSWORD": "b", "KAFKA_PASSWORD": "c", "SOMA_VAULT_TOKEN": "d"}
    doc = endpoints.load(path, KNOWN, env=env)
    assert doc["services"]["kafka"]["security_protocol"] == "SASL_SSL"


def test_validate_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "name: dev\nservices: {redis: {host: h, port: 1}}\n")
    assert endpoints_cli.main(argparse.Namespace(endpoints_command="validate", file=good)) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("services: {redis: {host: h, port: 1}}\ncredentails: {}\n")
    assert endpoints_cli.main(argparse.Namespace(endpoints_command="validate", file=str(bad))) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean 'credentials'" in err[0]


def test_tls_and_sasl_reach_the_endpoints(tmp_path: Path) -> None:
    path = write(tmp_path, """
services:
  vault: {host: v.example, port: 8200, scheme: https, ca_file: /ca.pem}
  kafka: {host: k.example, port: 9093, security_protocol: SASL_SSL, sasl_mechanism: SCRAM-SHA-256}
  postgres: {host: p.example, port: 5432, sslmode: verify-full}
  redis: {host: r.example, port: 6380, tls: true}
credentials:
  kafka: {username: suite, password: pw}
  redis: {username: acl-user, password: pw}
""")
    target = ExternalTarget(catalog.load(), TargetOptions(endpoints_file=path))
    vault = target.endpoint("vault")
    assert vault.url("/v1/sys/health") == "https://v.example:8200/v1/sys/health"
    assert tls.ca_file("v.example", 8200) == "/ca.pem"
    assert target.reachable_url(str(catalog.load().identity["jwks_url"])).startswith("https://v.example:8200/")
    kafka = target.endpoint("kafka")
    from conformance.probes.clients import kafka_security
    sec = kafka_security(kafka)
    assert sec["security_protocol"] == "SASL_SSL" and sec["sasl_mechanism"] == "SCRAM-SHA-256"
    assert sec["sasl_plain_username"] == "suite" and sec["sasl_plain_password"] == "pw"
    assert "pw" not in repr(kafka), "a SASL password must never show in a repr"
    assert target.endpoint("postgres").option("sslmode") == "verify-full"
    assert target.endpoint("redis").tls
    assert target.credentials().redis_username == "acl-user"
