"""The dev issuer's facts (issuer, audience, key, AppRole mount, dev identities) have one
source, the catalog: the suite reads them there, and infra/config/vault/identity.sh reads
the generated identity.env, which must be the catalog's rendering."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest

from conformance import catalog
from conformance.cli import main
from conformance.cli.catalog_views import IDENTITY_ENV, identity_env
from conformance.errors import UsageError
from conformance.identity import tokens

ROOT = Path(__file__).resolve().parents[2]


def test_identity_env_is_generated_from_the_catalog() -> None:
    assert (ROOT / IDENTITY_ENV).read_text(encoding="utf-8") == identity_env(catalog.load()), (
        f"{IDENTITY_ENV} is stale: run `soma-conformance identity-env > {IDENTITY_ENV}`")


def test_identity_env_sets_what_identity_sh_used_to_hard_code(tmp_path: Path) -> None:
    """Sourced by POSIX sh as identity.sh does; a variable already set still wins."""
    env_file = ROOT / IDENTITY_ENV
    script = f'. "{env_file}"; echo "$SOMA_ID_ISSUER_BASE|$SOMA_ID_KEY|$SOMA_ID_SERVICES|$SOMA_ID_TENANTS|' \
             '$SOMA_ID_CONFORMANCE_SERVICE.$SOMA_ID_CONFORMANCE_TENANT|$SOMA_ID_AUDIENCE|$SOMA_ID_APPROLE_PATH"'
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin"}).stdout.strip()
    assert out == ("http://vault.soma-infra.svc.cluster.local:8200|soma-dev|gateway orders billing reports|"
                   "tenant-a tenant-b|conformance.tenant-a|soma|approle")
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "SOMA_ID_KEY": "other"}).stdout
    assert out.split("|")[1] == "other"
    assert "identity.env" in (ROOT / "infra/config/vault/identity.sh").read_text(encoding="utf-8")


def test_suite_reads_the_same_dev_identities() -> None:
    dev = catalog.load().dev_issuer
    assert dev.services == tokens.DEV_SERVICES and dev.tenants == tokens.DEV_TENANTS
    assert dev.conformance == tokens.CONFORMANCE_IDENTITY
    assert (dev.approle_path, dev.signing_key) == (tokens.APPROLE_PATH, tokens.SIGNING_KEY)


def _with_identity(**changes: object) -> catalog.Catalog:
    raw = copy.deepcopy(catalog.load().raw)
    raw["identity"].update(changes)
    return catalog.parse(raw)


def test_issuer_the_dev_issuer_cannot_serve_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not an OpenBao identity issuer"):
        identity_env(_with_identity(issuer="https://idp.example/realms/soma"))


def test_shell_unsafe_value_is_a_usage_error() -> None:
    dev = dict(catalog.load().raw["identity"]["dev"], signing_key="soma-dev$(reboot)")
    with pytest.raises(UsageError, match="SOMA_ID_KEY"):
        identity_env(_with_identity(dev=dev))


@pytest.mark.parametrize(("dev", "message"), [
    ({"signing_key": "k", "approle_path": "a", "services": [], "tenants": ["t"],
      "conformance": {"service": "c", "tenant": "t"}}, "services must be a non-empty list"),
    ({"signing_key": "k", "approle_path": "a", "services": ["s"], "tenants": ["t"]}, "lacks 'conformance'"),
])
def test_malformed_dev_issuer_fails_at_load(dev: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _with_identity(dev=dev)


def test_missing_dev_issuer_is_named() -> None:
    raw = copy.deepcopy(catalog.load().raw)
    del raw["identity"]["dev"]
    with pytest.raises(UsageError, match=r"identity\.dev is missing"):
        _ = catalog.parse(raw).dev_issuer


def test_services_command_lists_names_and_host_port_vars(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["services"]) == 0
    names = capsys.readouterr().out.split()
    assert names == list(catalog.load().services)
    assert main(["services", "--host-port-vars"]) == 0
    assert capsys.readouterr().out.split() == [f"{n.upper()}_HOST_PORT" for n in names]
