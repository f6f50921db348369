"""The catalog is the one source of truth: it parses, rejects bad data in one line, and
everything that restates a fact from it (docs, compose file, tests) agrees with it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance import catalog
from conformance.cli.catalog_views import markdown
from conformance.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]


def raw() -> dict[str, Any]:
    return copy.deepcopy(catalog.load().raw)


def test_catalog_loads_with_every_contract_service() -> None:
    cat = catalog.load()
    assert set(cat.services) >= {"postgres", "kafka", "redis", "opa", "vault", "prometheus", "grafana", "etcd"}
    assert cat.service("postgres").address == "postgres.soma-infra.svc.cluster.local:5432"
    assert cat.policy["decision_path"] == "/v1/data/soma/allow"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["services"]["redis"].update(port=70000), "invalid port"),
        (lambda d: d["services"]["redis"].pop("protocol"), "lacks 'protocol'"),
        (lambda d: d["contracts"].append(dict(d["contracts"][0])), "duplicate contract id"),
        (lambda d: d["contracts"][0].update(area="vibes"), "unknown area"),
        (lambda d: d["contracts"][0].update(service="mongo"), "unknown service"),
        (lambda d: d.pop("dns_suffix"), "lacks 'dns_suffix'"),
        (lambda d: d["services"]["opa"].update(health={"kind": "htp", "path": "/health"}), "needs a kind"),
        (lambda d: d["services"]["opa"]["health"].pop("path"), "needs a path"),
        (lambda d: d["services"]["opa"]["health"].update(expect_status="200"), "invalid expect_status"),
        (lambda d: d["services"]["etcd"]["health"].update(expect_json=["true"]), "expect_json must be"),
    ],
)
def test_bad_catalog_is_a_one_line_usage_error(mutate: Any, message: str) -> None:
    doc = raw()
    mutate(doc)
    with pytest.raises(UsageError, match=message) as err:
        catalog.parse(doc)
    assert "\n" not in str(err.value)


def test_contracts_md_is_generated_from_the_catalog() -> None:
    """docs/infra/CONTRACTS.md is stale when it differs from the catalog's rendering."""
    doc = ROOT / "docs/infra/CONTRACTS.md"
    assert doc.read_text(encoding="utf-8") == markdown(catalog.load()), (
        "docs/infra/CONTRACTS.md is stale: run `soma-conformance contracts --format markdown "
        "> docs/infra/CONTRACTS.md`")


def test_compose_file_publishes_every_contract_name_and_port() -> None:
    compose = yaml.safe_load((ROOT / "infra/docker/shared-infra.compose.yaml").read_text())
    for svc in catalog.load().services.values():
        spec = compose["services"].get(svc.name)
        assert spec is not None, f"compose file has no service {svc.name}"
        aliases = spec["networks"]["soma-infra"]["aliases"]
        assert svc.dns_name in aliases, f"{svc.name}: alias {svc.dns_name} missing"
        targets = [str(p).rsplit(":", 1)[-1] for p in spec.get("ports", [])]
        assert targets, f"{svc.name}: no published port"
        assert "healthcheck" in spec, f"{svc.name}: no healthcheck"


def test_split_url_maps_catalog_urls_to_services() -> None:
    cat = catalog.load()
    svc, path = cat.split_url(cat.identity["jwks_url"])
    assert svc.name == "vault" and path.startswith("/v1/identity/oidc")
    with pytest.raises(KeyError):
        cat.split_url("http://elsewhere.example:1/x")


def test_asked_scrape_interval_defaults_to_the_contract_and_allows_on_demand() -> None:
    """sizing.prometheus.scrape_interval compares against what the target was asked for:
    the contract's 15s by default, the catalog's on-demand 5s when deployed that way."""
    cat = catalog.load()
    asked_scrape_interval = catalog.asked_scrape_interval
    assert asked_scrape_interval(cat, None) == "15s"
    assert asked_scrape_interval(cat, "") == "15s"
    assert asked_scrape_interval(cat, "5s") == "5s"
    with pytest.raises(UsageError, match="choose from 15s, 5s"):
        asked_scrape_interval(cat, "1m")
