"""--target=external: every mistake in the endpoints file is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import catalog
from conformance.errors import UsageError
from conformance.plugin.fixtures import endpoint_of
from conformance.targets.base import TargetOptions
from conformance.targets.external import ExternalTarget, load_endpoints

KNOWN = set(catalog.load().services)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "endpoints.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services: [a, b", "not valid YAML at line"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("services: {}\n", "'services' must be a non-empty mapping"),
        ("services:\n  mongo: {host: h, port: 1}\n", "unknown service 'mongo'"),
        ("services:\n  redis: {host: h, port: 99999}\n", "port must be an integer"),
        ("services:\n  redis: {host: h, port: '6379'}\n", "port must be an integer"),
        ("services:\n  redis: {port: 6379}\n", "host must be a non-empty string"),
        ("services:\n  redis: 6379\n", "must be a mapping"),
        ("services:\n  redis: {host: h, port: 1}\ncredentials: []\n", "'credentials' must be a mapping"),
    ],
)
def test_malformed_endpoints_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as err:
        load_endpoints(write(tmp_path, text), KNOWN)
    assert "\n" not in str(err.value)


def test_missing_unreadable_oversized_and_binary(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="file not found"):
        load_endpoints(str(tmp_path / "missing.yaml"), KNOWN)
    with pytest.raises(UsageError, match="not a regular file"):
        load_endpoints(str(tmp_path), KNOWN)
    big = tmp_path / "big.yaml"
    big.write_text("#" * (2 << 20))
    with pytest.raises(UsageError, match="larger than"):
        load_endpoints(str(big), KNOWN)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(UsageError, match="not UTF-8"):
        load_endpoints(str(binary), KNOWN)
    with pytest.raises(UsageError, match="needs --endpoints"):
        load_endpoints(None, KNOWN)


def test_valid_file_gives_endpoints_and_credentials(tmp_path: Path) -> None:
    path = write(tmp_path, "name: staging\nservices:\n  redis: {host: r.example, port: 6380}\n"
                           "  grafana: {deployed: false}\ncredentials:\n  redis: {password: pw}\n")
    target = ExternalTarget(catalog.load(), TargetOptions(endpoints_file=path))
    assert target.endpoint("redis").port == 6380
    assert target.credentials().redis_password == "pw"
    assert not target.deployed("grafana")
    assert not target.deployed("postgres"), "postgres is not in the file: it is not deployed"
    assert target.judged("postgres") and not target.judged("grafana")
    assert target.inside_unsupported_reason()


def test_missing_required_service_fails_and_missing_optional_one_skips(tmp_path: Path) -> None:
    """deployed() tells the truth; the fixture turns a required gap into a failure."""
    path = write(tmp_path, "services:\n  redis: {host: r.example, port: 6380}\n  grafana: {deployed: false}\n")
    target = ExternalTarget(catalog.load(), TargetOptions(endpoints_file=path))
    with pytest.raises(pytest.fail.Exception, match="postgres: required by the contract catalog, but postgres "
                                                    "is not deployed on external target"):
        endpoint_of(target, "postgres")
    with pytest.raises(pytest.skip.Exception, match="grafana is not deployed"):
        endpoint_of(target, "grafana")
    assert endpoint_of(target, "redis").port == 6380
