"""The compose stack from a clean state: every service healthy, and the data of every
stateful service survives a full restart (containers removed, named volumes kept)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")

import etcd3
import psycopg
import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from conformance.targets.testcontainers import TestcontainersTarget

MARK = uuid.uuid4().hex


def compose(target: TestcontainersTarget, *args: str, timeout: float = 300) -> str:
    proc = subprocess.run([*target.compose_cmd(), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert proc.returncode == 0, f"compose {' '.join(args)}: {proc.stderr.strip()[-400:]}"
    return proc.stdout


def states(target: TestcontainersTarget) -> dict[str, tuple[str, str]]:
    rows = [json.loads(line) for line in compose(target, "ps", "-a", "--format", "json").splitlines() if line]
    return {r["Service"]: (r["State"], r.get("Health", "")) for r in rows}


def test_every_service_healthy(fresh_stack: TestcontainersTarget) -> None:
    got = states(fresh_stack)
    expected = set(fresh_stack.config()["services"])
    assert set(got) == expected, f"services {sorted(expected - set(got))} have no container"
    for service, (state, health) in got.items():
        assert (state, health) == ("running", "healthy"), f"{service}: {state} {health}"


def write_all(t: TestcontainersTarget) -> None:
    c = t.credentials()
    pg = t.endpoint("postgres")
    with psycopg.connect(host=pg.host, port=pg.port, user=c.postgres_user, password=c.postgres_password,
                         dbname=c.postgres_db, connect_timeout=5) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS persistence_check (mark text primary key)")
        conn.execute("INSERT INTO persistence_check VALUES (%s)", (MARK,))
    rd = t.endpoint("redis")
    r = redis.Redis(host=rd.host, port=rd.port, password=c.redis_password, socket_timeout=5)
    r.set("persistence-check", MARK)
    # appendfsync everysec: the AOF is on disk within a second; make sure before restart
    r.execute_command("BGREWRITEAOF")
    kf = t.endpoint("kafka")
    producer = KafkaProducer(bootstrap_servers=f"{kf.host}:{kf.port}", acks="all", max_block_ms=10000)
    producer.send("persistence-check", MARK.encode()).get(timeout=10)
    producer.close(timeout=5)
    ed = t.endpoint("etcd")
    client = etcd3.client(host=ed.host, port=ed.port, timeout=5)
    client.put("/persistence-check", MARK)
    client.close()


def read_all(t: TestcontainersTarget) -> None:
    c = t.credentials()
    pg = t.endpoint("postgres")
    with psycopg.connect(host=pg.host, port=pg.port, user=c.postgres_user, password=c.postgres_password,
                         dbname=c.postgres_db, connect_timeout=5) as conn:
        row = conn.execute("SELECT mark FROM persistence_check WHERE mark = %s", (MARK,)).fetchone()
    assert row == (MARK,), "postgres row lost across restart"
    rd = t.endpoint("redis")
    got = redis.Redis(host=rd.host, port=rd.port, password=c.redis_password, socket_timeout=5).get("persistence-check")
    assert got == MARK.encode(), "redis key lost across restart"
    kf = t.endpoint("kafka")
    consumer = KafkaConsumer(bootstrap_servers=f"{kf.host}:{kf.port}", consumer_timeout_ms=10000,
                             enable_auto_commit=False)
    tp = TopicPartition("persistence-check", 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    values = [m.value for m in consumer]
    consumer.close()
    assert MARK.encode() in values, "kafka message lost across restart"
    ed = t.endpoint("etcd")
    client = etcd3.client(host=ed.host, port=ed.port, timeout=5)
    value, _ = client.get("/persistence-check")
    client.close()
    assert value == MARK.encode(), "etcd key lost across restart"


def test_data_survives_restart(fresh_stack: TestcontainersTarget) -> None:
    write_all(fresh_stack)
    compose(fresh_stack, "down")  # containers and network go; named volumes stay
    compose(fresh_stack, "up", "-d", "--wait")
    fresh_stack._config = None
    read_all(fresh_stack)
    # OpenBao runs as a dev server (in-memory storage): nothing of it is expected to survive
