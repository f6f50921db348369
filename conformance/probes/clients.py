"""Client-side probes, from the test process to a target's endpoints.

Each probe is bounded in time (a TCP pre-check, then client timeouts) and turns every
failure into a ContractFailure that names the endpoint and the cause, so an unreachable
service fails its own contracts quickly and nothing else.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import httpx

from conformance import tls
from conformance.access import Credentials, Endpoint

CONNECT_TIMEOUT_S = 3.0
IO_TIMEOUT_S = 5.0
# Hard bound on one probe, whatever the client library does (retries, back-off,
# bootstrap loops): a service that never answers fails its contract within this.
PROBE_DEADLINE_S = 10.0


class ContractFailure(AssertionError):
    """A contract did not hold; the message names the endpoint and the cause."""


def describe_exc(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


@contextmanager
def failing_as(ep: Endpoint, what: str) -> Iterator[None]:
    """Re-raise anything from a client library as a one-line ContractFailure."""
    try:
        yield
    except ContractFailure:
        raise
    except Exception as exc:
        raise ContractFailure(f"{ep}: {what}: {describe_exc(exc)}") from exc


P = ParamSpec("P")
R = TypeVar("R")


def bounded(seconds: float = PROBE_DEADLINE_S) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run a probe in a daemon thread and give up after `seconds`, naming the endpoint.

    The first argument of a bounded probe is its Endpoint. A probe still stuck in a
    client library is abandoned (daemon thread), never waited for."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            box: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=1)

            def target() -> None:
                try:
                    box.put((True, fn(*args, **kwargs)))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    box.put((False, exc))

            threading.Thread(target=target, daemon=True, name=f"probe-{fn.__name__}").start()
            try:
                ok, value = box.get(timeout=seconds)
            except queue.Empty:
                raise ContractFailure(
                    f"{args[0]}: {fn.__name__.replace('_', ' ')}: no answer within {seconds:.0f}s"
                ) from None
            if ok:
                return value  # type: ignore[return-value]
            raise value  # type: ignore[misc]

        return run

    return wrap


def tcp_reachable(ep: Endpoint, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast (bounded) when nothing listens, before a client library retries."""
    try:
        with socket.create_connection((ep.host, ep.port), timeout=timeout):
            return
    except OSError as exc:
        raise ContractFailure(f"{ep}: not reachable: {describe_exc(exc)}") from None


def http_get(ep: Endpoint, path: str, timeout: float = IO_TIMEOUT_S, **kw: Any) -> httpx.Response:
    tcp_reachable(ep)
    with failing_as(ep, f"GET {path}"):
        return httpx.get(ep.url(path), timeout=timeout, verify=tls.verify(ep.url()), **kw)


def http_post_json(ep: Endpoint, path: str, body: Any, timeout: float = IO_TIMEOUT_S) -> httpx.Response:
    tcp_reachable(ep)
    with failing_as(ep, f"POST {path}"):
        return httpx.post(ep.url(path), json=body, timeout=timeout, verify=tls.verify(ep.url()))


def json_of(ep: Endpoint, resp: httpx.Response, what: str) -> Any:
    """The JSON body, or a ContractFailure naming the endpoint if it is not JSON."""
    return json_body(ep, resp.status_code, resp.text, what)


def json_body(ep: Endpoint, status: int, text: str, what: str) -> Any:
    """json_of for an answer read without httpx (status and body text)."""
    try:
        return json.loads(text)
    except ValueError:
        raise ContractFailure(
            f"{ep}: {what}: answered HTTP {status} with non-JSON body {text[:80]!r}"
        ) from None


def postgres_connect(ep: Endpoint, creds: Credentials, **kw: Any) -> Any:
    """A psycopg connection with the target's credentials and TLS settings, bounded: every
    statement times out (the caller uses it as a context manager inside failing_as)."""
    import psycopg

    tcp_reachable(ep)
    tls_args: dict[str, Any] = {"sslmode": ep.option("sslmode", "prefer")}
    if ep.ca_file:
        tls_args["sslrootcert"] = ep.ca_file
    conn = psycopg.connect(host=ep.host, port=ep.port, user=creds.postgres_user, password=creds.postgres_password,
                           dbname=creds.postgres_db, connect_timeout=int(IO_TIMEOUT_S), **tls_args, **kw)
    conn.execute(f"SET statement_timeout = {int(IO_TIMEOUT_S * 1000)}")
    return conn


@bounded()
def postgres_select_1(ep: Endpoint, creds: Credentials) -> int:
    with failing_as(ep, "SELECT 1"), postgres_connect(ep, creds) as conn:
        row = conn.execute("SELECT 1").fetchone()
    if row is None or row[0] != 1:
        raise ContractFailure(f"{ep}: SELECT 1 returned {row!r}")
    return int(row[0])


def redis_client(ep: Endpoint, creds: Credentials) -> Any:
    import redis

    tcp_reachable(ep)
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    tls_args: dict[str, Any] = {"ssl": True, "ssl_ca_certs": ep.ca_file} if ep.tls else {}
    return redis.Redis(host=ep.host, port=ep.port, password=creds.redis_password or None,
                       username=creds.redis_username or None,
                       socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=IO_TIMEOUT_S,
                       retry=Retry(NoBackoff(), 0), decode_responses=True, **tls_args)


@bounded()
def redis_ping(ep: Endpoint, creds: Credentials) -> bool:
    client = redis_client(ep, creds)
    with failing_as(ep, "PING"):
        return bool(client.ping())


@bounded()
def redis_config(ep: Endpoint, creds: Credentials, *names: str) -> dict[str, str]:
    client = redis_client(ep, creds)
    with failing_as(ep, "CONFIG GET"):
        out: dict[str, str] = {}
        for name in names:
            out.update(client.config_get(name))
        return out


def kafka_security(ep: Endpoint) -> dict[str, Any]:
    """kafka-python security settings of an endpoint: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
    protocol = ep.option("security_protocol", "SSL" if ep.tls else "PLAINTEXT")
    out: dict[str, Any] = {"security_protocol": protocol}
    if "SSL" in protocol:
        out["ssl_cafile"] = ep.ca_file
        out["ssl_check_hostname"] = True
    if protocol.startswith("SASL"):
        out["sasl_mechanism"] = ep.option("sasl_mechanism", "SCRAM-SHA-512")
        out["sasl_plain_username"] = ep.option("sasl_username")
        out["sasl_plain_password"] = ep.option("sasl_password")
    return out


def kafka_admin(ep: Endpoint) -> Any:
    from kafka import KafkaAdminClient

    tcp_reachable(ep)
    with failing_as(ep, "admin connect"):
        return KafkaAdminClient(bootstrap_servers=f"{ep.host}:{ep.port}",
                                request_timeout_ms=int(IO_TIMEOUT_S * 1000),
                                reconnect_backoff_max_ms=1000,
                                client_id="soma-conformance",
                                **kafka_security(ep))


@bounded()
def kafka_broker_configs(ep: Endpoint, names: list[str]) -> dict[str, str | None]:
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = kafka_admin(ep)
    try:
        with failing_as(ep, "DescribeCluster/DescribeConfigs"):
            cluster = admin.describe_cluster()
            broker_id = str(cluster["brokers"][0]["broker_id"])
            res = admin.describe_configs(
                [ConfigResource(ConfigResourceType.BROKER, broker_id, configs=names)],
                config_filter="all")
            entries = res["broker"][broker_id]
            return {name: entries.get(name, {}).get("value") for name in names}
    finally:
        admin.close()


@bounded()
def kafka_metadata(ep: Endpoint) -> dict[str, Any]:
    admin = kafka_admin(ep)
    try:
        with failing_as(ep, "DescribeCluster"):
            return dict(admin.describe_cluster())
    finally:
        admin.close()


@bounded(2 * PROBE_DEADLINE_S)
def kafka_round_trip(ep: Endpoint) -> float:
    """Produce one message to a scratch topic and consume it back; returns seconds."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic

    topic = f"soma-conformance-{uuid.uuid4().hex[:12]}"
    payload = uuid.uuid4().bytes
    bootstrap = f"{ep.host}:{ep.port}"
    admin = kafka_admin(ep)
    t0 = time.monotonic()
    try:
        with failing_as(ep, f"produce/consume round trip on {topic}"):
            admin.create_topics([NewTopic(topic, 1, 1)], timeout_ms=int(IO_TIMEOUT_S * 1000))
            security = kafka_security(ep)
            producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **security,
                                     request_timeout_ms=int(IO_TIMEOUT_S * 1000),
                                     max_block_ms=int(IO_TIMEOUT_S * 1000))
            try:
                producer.send(topic, payload).get(timeout=IO_TIMEOUT_S)
            finally:
                producer.close(timeout=2)
            consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **security,
                                     consumer_timeout_ms=int(IO_TIMEOUT_S * 1000),
                                     request_timeout_ms=int(IO_TIMEOUT_S * 1000) + 1000)
            try:
                tp = TopicPartition(topic, 0)
                consumer.assign([tp])
                consumer.seek_to_beginning(tp)
                got = [m.value for m in consumer]
            finally:
                consumer.close()
            if payload not in got:
                raise ContractFailure(f"{ep}: message produced to {topic} was not consumed back "
                                      f"({len(got)} other messages)")
    finally:
        with contextlib.suppress(Exception):  # cleanup of a scratch topic is best effort
            admin.delete_topics([topic], timeout_ms=int(IO_TIMEOUT_S * 1000))
        admin.close()
    return time.monotonic() - t0


def etcd_client(ep: Endpoint) -> Any:
    # etcd3's generated protobuf code predates protobuf 4: it needs the pure-Python
    # runtime. Set only here, when the suite itself first talks to etcd, never at import.
    os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
    import etcd3

    tcp_reachable(ep)
    with failing_as(ep, "connect"):
        return etcd3.client(host=ep.host, port=ep.port, timeout=IO_TIMEOUT_S,
                            ca_cert=ep.ca_file if ep.tls else None)


@bounded()
def etcd_put_get(ep: Endpoint) -> None:
    client = etcd_client(ep)
    key = f"/soma-conformance/{uuid.uuid4().hex}"
    value = uuid.uuid4().hex
    try:
        with failing_as(ep, "put/get"):
            client.put(key, value)
            got, _meta = client.get(key)
            if got is None or got.decode() != value:
                raise ContractFailure(f"{ep}: put {key}={value} but get returned {got!r}")
    finally:
        try:
            client.delete(key)
        finally:
            client.close()
