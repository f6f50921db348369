"""Sizing/config contracts a live service can show (seed manual, section 7)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from conformance.access import Credentials, Endpoint
from conformance.catalog import Catalog
from conformance.probes import clients
from conformance.probes.clients import ContractFailure

Get = Callable[[str], Endpoint]


@pytest.mark.contract("sizing.redis.persistence")
def test_redis_aof_everysec(soma_endpoint: Get, soma_credentials: Credentials, soma_catalog: Catalog) -> None:
    ep = soma_endpoint("redis")
    want = soma_catalog.sizing["redis"]
    got = clients.redis_config(ep, soma_credentials, "appendonly", "appendfsync")
    for key in ("appendonly", "appendfsync"):
        if got.get(key) != want[key]:
            raise ContractFailure(f"{ep}: {key} is {got.get(key)!r}, contract says {want[key]!r}")


@pytest.mark.contract("sizing.redis.eviction")
def test_redis_allkeys_lru(soma_endpoint: Get, soma_credentials: Credentials, soma_catalog: Catalog) -> None:
    ep = soma_endpoint("redis")
    want = soma_catalog.sizing["redis"]["maxmemory-policy"]
    got = clients.redis_config(ep, soma_credentials, "maxmemory-policy", "maxmemory")
    if got.get("maxmemory-policy") != want:
        raise ContractFailure(f"{ep}: maxmemory-policy is {got.get('maxmemory-policy')!r}, contract says {want!r}")
    if got.get("maxmemory") in (None, "0"):
        raise ContractFailure(f"{ep}: maxmemory is unset, so {want} never evicts")


def effective_retention_ms(cfg: dict[str, str | None]) -> int | None:
    """Kafka's precedence: log.retention.ms, else .minutes, else .hours; -1 = forever."""
    if cfg.get("log.retention.ms") not in (None, ""):
        return int(str(cfg["log.retention.ms"]))
    if cfg.get("log.retention.minutes") not in (None, ""):
        return int(str(cfg["log.retention.minutes"])) * 60_000
    if cfg.get("log.retention.hours") not in (None, ""):
        return int(str(cfg["log.retention.hours"])) * 3_600_000
    return None


@pytest.mark.contract("sizing.kafka.retention")
def test_kafka_retention_short(soma_endpoint: Get, soma_catalog: Catalog) -> None:
    ep = soma_endpoint("kafka")
    limit = int(soma_catalog.sizing["kafka"]["max_log_retention_ms"])
    cfg = clients.kafka_broker_configs(ep, ["log.retention.ms", "log.retention.minutes", "log.retention.hours"])
    got = effective_retention_ms(cfg)
    if got is None or got < 0 or got > limit:
        raise ContractFailure(f"{ep}: log retention is {got} ms ({cfg}), contract says at most {limit} ms")


@pytest.mark.contract("sizing.prometheus.scrape_interval")
def test_prometheus_scrape_interval(soma_endpoint: Get, soma_scrape_interval: str) -> None:
    # 15s, or the catalog's on-demand 5s when the target says it was deployed that way
    # (--scrape-interval): a Prometheus at 5s that nobody asked for still fails
    ep = soma_endpoint("prometheus")
    want = soma_scrape_interval
    resp = clients.http_get(ep, "/api/v1/status/config")
    body = clients.json_of(ep, resp, "GET /api/v1/status/config")
    try:
        live = yaml.safe_load(body["data"]["yaml"])
        got = str(live["global"]["scrape_interval"])
    except (KeyError, TypeError, yaml.YAMLError) as exc:
        raise ContractFailure(f"{ep}: cannot read the live config: {exc}") from None
    if got != want:
        raise ContractFailure(f"{ep}: global scrape_interval is {got}, asked for {want}")
