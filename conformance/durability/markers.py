"""What each stateful service acknowledged before a restart, and the proof it is still
there after. A marker is written once, checked after every restart, and removed at the
end (scratch table, key or topic of this run only). Endpoints are asked for anew at every
step: a Kubernetes target re-forwards a service whose pod was replaced."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from conformance import tls
from conformance.access import Credentials, Endpoint
from conformance.catalog import Catalog
from conformance.identity.validator import InvalidToken, TokenValidator, ValidatorConfig
from conformance.policy import probe as policy_probe
from conformance.probes import clients
from conformance.probes.clients import IO_TIMEOUT_S, ContractFailure, failing_as
from conformance.probes.kafka_scratch import ScratchTopic
from conformance.waiting import WaitTimeout, wait_until

EndpointOf = Callable[[], Endpoint]
Mint = Callable[[str, str], str]
KAFKA_MESSAGES = 100
# the Redis promise is AOF with fsync every second: a key older than that must survive a kill
REDIS_AOF_AGE_S = 1.2
# how long a restarted Vault's keeper may take to re-apply the identity bootstrap
ISSUER_BACK_S = 45.0


class Marker(Protocol):
    settle_s: float  # how old the write must be before a restart

    def write(self) -> str: ...

    def check(self) -> str: ...

    def cleanup(self) -> None: ...


def scratch_name() -> str:
    return f"soma_conformance_durability_{uuid.uuid4().hex[:10]}"


@dataclass
class PostgresMarker:
    """A committed row in a scratch table."""

    ep: EndpointOf
    creds: Credentials
    settle_s: float = 0.0
    table: str = field(default_factory=scratch_name)
    row: str = field(default_factory=lambda: uuid.uuid4().hex)

    def _run(self, sql: str, *args: str) -> list[tuple[Any, ...]]:
        ep = self.ep()
        what = sql.split(maxsplit=1)[0]
        with failing_as(ep, what), clients.postgres_connect(ep, self.creds, autocommit=True) as conn:
            cur = conn.execute(sql, args)
            return list(cur.fetchall()) if cur.description else []

    def write(self) -> str:
        self._run(f"CREATE TABLE {self.table} (id text PRIMARY KEY)")
        self._run(f"INSERT INTO {self.table} VALUES (%s)", self.row)  # autocommit: committed
        return f"row {self.row} committed in {self.table}"

    def insert(self, row: str) -> None:
        """Commit one more row (autocommit: acknowledged once this returns)."""
        self._run(f"INSERT INTO {self.table} VALUES (%s)", row)

    def rows(self) -> list[str]:
        return [str(r[0]) for r in self._run(f"SELECT id FROM {self.table}")]

    def check(self) -> str:
        if not self._run("SELECT 1 FROM pg_tables WHERE tablename = %s", self.table):
            raise ContractFailure(f"{self.ep()}: the committed row {self.row} is gone, and its table "
                                  f"{self.table} with it (a data directory that did not survive)")
        if not self._run(f"SELECT id FROM {self.table} WHERE id = %s", self.row):
            raise ContractFailure(f"{self.ep()}: the committed row {self.row} of {self.table} is gone")
        return "committed row present"

    def cleanup(self) -> None:
        self._run(f"DROP TABLE IF EXISTS {self.table}")


@dataclass
class RedisMarker:
    """A key written more than a second (the AOF fsync interval) before the restart."""

    ep: EndpointOf
    creds: Credentials
    settle_s: float = REDIS_AOF_AGE_S
    key: str = field(default_factory=lambda: f"soma-conformance:durability:{uuid.uuid4().hex}")
    value: str = field(default_factory=lambda: uuid.uuid4().hex)

    def write(self) -> str:
        ep = self.ep()
        with failing_as(ep, "SET"):
            clients.redis_client(ep, self.creds).set(self.key, self.value)
        return f"key {self.key}"

    def check(self) -> str:
        ep = self.ep()
        with failing_as(ep, "GET"):
            got = clients.redis_client(ep, self.creds).get(self.key)
        if got != self.value:
            conf = clients.redis_config(ep, self.creds, "appendonly", "appendfsync")
            raise ContractFailure(f"{ep}: key {self.key}, written {self.settle_s:g}s before, is "
                                  f"{'gone' if got is None else f'{got!r}'} (appendonly {conf.get('appendonly')}, "
                                  f"appendfsync {conf.get('appendfsync')})")
        return "key present"

    def cleanup(self) -> None:
        ep = self.ep()
        with failing_as(ep, "DEL"):
            clients.redis_client(ep, self.creds).delete(self.key)


@dataclass
class EtcdMarker:
    """An acknowledged put."""

    ep: EndpointOf
    settle_s: float = 0.0
    key: str = field(default_factory=lambda: f"/soma-conformance/durability/{uuid.uuid4().hex}")
    value: str = field(default_factory=lambda: uuid.uuid4().hex)

    def _client(self) -> tuple[Endpoint, Any]:
        ep = self.ep()
        return ep, clients.etcd_client(ep)

    def write(self) -> str:
        ep, client = self._client()
        try:
            with failing_as(ep, "put"):
                client.put(self.key, self.value)
        finally:
            client.close()
        return f"key {self.key}"

    def check(self) -> str:
        ep, client = self._client()
        try:
            with failing_as(ep, "get"):
                got, _meta = client.get(self.key)
        finally:
            client.close()
        if got is None or got.decode() != self.value:
            now = "gone" if got is None else f"now {got!r}"
            raise ContractFailure(f"{ep}: the acknowledged put of {self.key} is {now}")
        return "put present"

    def cleanup(self) -> None:
        ep, client = self._client()
        try:
            with failing_as(ep, "delete"):
                client.delete(self.key)
        finally:
            client.close()


@dataclass
class KafkaMarker:
    """Messages produced with acks=all to a scratch topic: every acknowledged one must be
    consumed after the restart."""

    ep: EndpointOf
    settle_s: float = 0.0
    acked: set[bytes] = field(default_factory=set)
    log: ScratchTopic | None = None

    def write(self) -> str:
        log = self.log = ScratchTopic(self.ep)
        log.create()
        producer = log.producer()
        try:
            sent = [(payload, producer.send(log.topic, payload))
                    for payload in (uuid.uuid4().bytes for _ in range(KAFKA_MESSAGES))]
            producer.flush(timeout=IO_TIMEOUT_S * 2)
            for payload, future in sent:
                with contextlib.suppress(Exception):  # an unacknowledged send promises nothing
                    future.get(timeout=0)
                    self.acked.add(payload)
        finally:
            producer.close(timeout=2)
        if not self.acked:
            raise ContractFailure(f"{self.ep()}: no message to {log.topic} was acknowledged with acks=all")
        return f"{len(self.acked)} messages acknowledged (acks=all) on {log.topic}"

    def check(self) -> str:
        assert self.log is not None, "write() first"
        if not self.log.exists():
            raise ContractFailure(f"{self.ep()}: topic {self.log.topic} is gone: all {len(self.acked)} messages "
                                  "acknowledged with acks=all on it were lost")
        got = self.log.consume_all()
        lost = self.acked - got
        if lost:
            raise ContractFailure(f"{self.ep()}: {len(lost)} of {len(self.acked)} messages acknowledged with acks=all "
                                  f"on {self.log.topic} were lost ({len(got)} consumed)")
        return f"{len(self.acked)}/{len(self.acked)} acknowledged messages consumed, 0 lost"

    def cleanup(self) -> None:
        if self.log is not None:
            self.log.delete()


def jwks_kids(url: str) -> set[str]:
    """The kids the JWKS publishes now."""
    try:
        resp = httpx.get(url, timeout=IO_TIMEOUT_S, verify=tls.verify(url))
        keys = resp.json().get("keys") if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        raise ContractFailure(f"JWKS {url}: {clients.describe_exc(exc)}") from None
    if not isinstance(keys, list):
        raise ContractFailure(f"JWKS {url}: HTTP {resp.status_code}, no key list")
    return {str(k.get("kid")) for k in keys if isinstance(k, dict)}


@dataclass
class VaultMarker:
    """The issuer's published keys and a token minted before the restart: the JWKS keeps
    the same kids, the old token validates through the JWKS alone (a fresh validator, no
    cached keys), and the issuer mints again."""

    catalog: Catalog
    jwks_url: Callable[[], str]  # host-reachable, asked anew after the restart
    mint: Mint
    settle_s: float = 0.0
    kids: set[str] = field(default_factory=set)
    token: str = ""

    def _identity(self) -> tuple[str, str]:
        return self.catalog.dev_issuer.conformance

    def write(self) -> str:
        self.kids = jwks_kids(self.jwks_url())
        self.token = self.mint(*self._identity())
        return f"JWKS kids {sorted(self.kids)} and a token of {'.'.join(self._identity())}"

    def check(self) -> str:
        self._mints_again()
        url = self.jwks_url()
        kids = jwks_kids(url)
        if kids != self.kids:
            raise ContractFailure(f"JWKS {url}: the kids published before the restart, {sorted(self.kids)}, are "
                                  f"not those after it, {sorted(kids)}: tokens apps hold no longer validate")
        validator = TokenValidator(ValidatorConfig.from_catalog(self.catalog.identity, jwks_url=url))
        try:
            validator.validate(self.token)
        except InvalidToken as exc:
            raise ContractFailure(f"JWKS {url}: a token minted before the restart no longer validates: {exc}") from None
        return f"the issuer mints; same {len(kids)} kid(s); the old token validates"

    def _mints_again(self) -> None:
        """The issuer mints after the restart, with no human step: its keeper may still be
        re-applying the bootstrap, so this waits for it (bounded)."""
        try:
            wait_until(lambda: bool(self.mint(*self._identity())), timeout=ISSUER_BACK_S, interval=1.0,
                       retry_on=(ContractFailure,), what="the issuer minting again after the restart")
        except WaitTimeout as exc:
            raise ContractFailure(f"the issuer mints nothing {ISSUER_BACK_S:.0f}s after the restart "
                                  f"(no one re-applied its bootstrap?): {exc}") from None

    def cleanup(self) -> None:
        """Nothing written: the token expires by itself."""


@dataclass
class OpaMarker:
    """A decision that allowed a token minted before the restart must allow it after."""

    ep: EndpointOf
    catalog: Catalog
    mint: Mint
    settle_s: float = 0.0
    body: dict[str, Any] = field(default_factory=dict)

    def write(self) -> str:
        from conformance.policy.cases import golden, golden_case

        _, picks = golden()
        self.body = golden_case(picks["allow"]).body(self.mint)
        self.check()
        return f"golden case {picks['allow']!r} allowed"

    def check(self) -> str:
        ep = self.ep()
        got = policy_probe.decide(ep, self.catalog, self.body.get("input"))
        if got is not True:
            raise ContractFailure(f"{ep}: {self.catalog.policy['decision_path']} for a token minted before the "
                                  f"restart is {got!r}, was true (Vault's keys or OPA's policy did not survive)")
        return "decision still allow"

    def cleanup(self) -> None:
        """Nothing written."""
