"""How the test process reaches a service: where (Endpoint) and with which dev
credentials (Credentials). Every layer passes these around, so they sit below the
targets that produce them and the probes that use them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Endpoint:
    """Where the test process reaches one service."""

    service: str
    host: str
    port: int
    scheme: str = "http"  # https for an HTTP service behind TLS
    tls: bool = False  # TLS on the service's own protocol (https, rediss, etcd, Kafka SSL)
    ca_file: str | None = None  # CA bundle that verifies the server (None: system store)
    # protocol options from an endpoints file, e.g. sslmode, security_protocol, sasl_mechanism
    # (a SASL password may be among them: never in repr)
    options: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __str__(self) -> str:
        return f"{self.service} at {self.host}:{self.port}"

    def url(self, path: str = "", scheme: str | None = None) -> str:
        return f"{scheme or self.scheme}://{self.host}:{self.port}{path}"

    def option(self, name: str, default: str = "") -> str:
        return dict(self.options).get(name, default)


@dataclass(frozen=True)
class Credentials:
    """Dev credentials the contracts need; read from the target, never hard-coded."""

    postgres_user: str = "postgres"
    postgres_password: str = ""
    postgres_db: str = "postgres"
    redis_password: str = ""
    redis_username: str = ""  # Redis ACL user ("" = the default user)
    vault_token: str = ""
