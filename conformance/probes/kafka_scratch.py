"""A scratch topic of this run: created with the cluster's replication (up to 3), checked
for durable acknowledgements, produced to with acks=all, read back whole, deleted. The
durability and resilience contracts prove with it that what Kafka acknowledged stays."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.access import Endpoint
from conformance.probes import clients
from conformance.probes.clients import IO_TIMEOUT_S, ContractFailure, failing_as
from conformance.waiting import WaitTimeout, wait_until

# how long a new topic may take to reach the broker that answers describe_configs
CONFIGS_VISIBLE_S = 10.0


@dataclass
class ScratchTopic:
    ep: Callable[[], Endpoint]  # asked anew each time: a target may re-forward brokers
    topic: str = field(default_factory=lambda: f"soma-conformance-durability-{uuid.uuid4().hex[:10]}")
    replication: int = 1

    def _admin(self) -> tuple[Endpoint, Any]:
        ep = self.ep()
        return ep, clients.kafka_admin(ep)

    def create(self) -> None:
        from kafka.admin import NewTopic

        ep, admin = self._admin()
        try:
            self.replication = min(3, max(1, len(clients.kafka_metadata(ep).get("brokers") or [])))
            with failing_as(ep, f"create topic {self.topic}"):
                admin.create_topics([NewTopic(self.topic, 1, self.replication)], timeout_ms=int(IO_TIMEOUT_S * 1000))
        finally:
            admin.close()

    def require_durable_acks(self) -> None:
        """With replicas to lose, acks=all must mean a second replica holds the write: the
        topic's min.insync.replicas is at least 2 and no out-of-sync replica may lead."""
        from kafka.admin import ConfigResource, ConfigResourceType

        ep, admin = self._admin()

        def described() -> dict[str, Any]:
            # a broker that has not yet seen the new topic answers with no configs at all
            # (no error), which must not read as the defaults
            with failing_as(ep, f"describe configs of {self.topic}"):
                res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, self.topic)],
                                             config_filter="all")
            entries = dict(res["topic"].get(self.topic) or {})
            return entries if entries.get("min.insync.replicas") else {}

        try:
            entries = wait_until(described, timeout=CONFIGS_VISIBLE_S, interval=0.5,
                                 what=f"the configs of topic {self.topic}")
        except WaitTimeout:
            raise ContractFailure(f"{ep}: no broker described topic {self.topic}'s configs within "
                                  f"{CONFIGS_VISIBLE_S:g}s of creating it") from None
        finally:
            admin.close()
        configs = {name: str(entry.get("value")) for name, entry in entries.items()}
        min_isr = int(configs["min.insync.replicas"])
        if self.replication >= 3 and min_isr < 2:
            raise ContractFailure(f"{ep}: topic {self.topic} (RF {self.replication}) has min.insync.replicas "
                                  f"{min_isr}: an acks=all write is acknowledged by one replica, and lost with it")
        if str(configs.get("unclean.leader.election.enable", "false")).lower() == "true":
            raise ContractFailure(f"{ep}: unclean.leader.election.enable is true: an out-of-sync replica may lead "
                                  "and drop acknowledged writes")

    def leader(self) -> int:
        """The broker id leading partition 0."""
        ep, admin = self._admin()
        try:
            with failing_as(ep, f"describe topic {self.topic}"):
                desc = admin.describe_topics([self.topic])
        finally:
            admin.close()
        part = desc[0]["partitions"][0]
        leader = int(part.get("leader_id", part.get("leader", -1)))  # kafka-python 3.x, 2.x
        if leader < 0:
            raise ContractFailure(f"{ep}: topic {self.topic} partition 0 has no leader")
        return leader

    def producer(self) -> Any:
        from kafka import KafkaProducer

        ep = self.ep()
        with failing_as(ep, "producer"):
            return KafkaProducer(bootstrap_servers=f"{ep.host}:{ep.port}", acks="all",
                                 request_timeout_ms=int(IO_TIMEOUT_S * 1000), max_block_ms=int(IO_TIMEOUT_S * 1000),
                                 **clients.kafka_security(ep))

    def exists(self) -> bool:
        ep, admin = self._admin()
        try:
            with failing_as(ep, "list topics"):
                return self.topic in admin.list_topics()
        finally:
            admin.close()

    def consume_all(self) -> set[bytes]:
        from kafka import KafkaConsumer, TopicPartition

        ep = self.ep()
        with failing_as(ep, f"consume {self.topic}"):
            consumer = KafkaConsumer(bootstrap_servers=f"{ep.host}:{ep.port}", enable_auto_commit=False,
                                     consumer_timeout_ms=int(IO_TIMEOUT_S * 1000),
                                     request_timeout_ms=int(IO_TIMEOUT_S * 1000) + 1000, **clients.kafka_security(ep))
            try:
                tp = TopicPartition(self.topic, 0)
                consumer.assign([tp])
                consumer.seek_to_beginning(tp)
                return {m.value for m in consumer}
            finally:
                consumer.close()

    def delete(self) -> None:
        ep, admin = self._admin()
        try:
            with failing_as(ep, f"delete topic {self.topic}"):
                admin.delete_topics([self.topic], timeout_ms=int(IO_TIMEOUT_S * 1000))
        except ContractFailure:
            pass  # scratch data: best effort
        finally:
            admin.close()

