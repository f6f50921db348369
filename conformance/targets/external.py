"""Target `external`: anything already running (staging, prod, a colleague's laptop),
described by an endpoints file. Every mistake in that file is a one-line UsageError.

    # endpoints.yaml
    name: staging                      # optional label for reports
    services:
      postgres: {host: pg.staging.internal, port: 5432}
      grafana: {deployed: false}       # optional services may be absent
      ...
    credentials:
      postgres: {user: soma, password: ..., database: soma}
      redis: {password: ...}
      vault: {token: ...}

There is no in-network probe for an external target, so the DNS/ports contracts skip
with that reason (run the suite in-cluster, e.g. `helm test`, to check them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from conformance.errors import UsageError
from conformance.targets.base import Credentials, Endpoint, InsideCheck, InsideResult, Target

MAX_FILE_BYTES = 1 << 20


def load_endpoints(path_text: str | None, known_services: set[str]) -> dict[str, Any]:
    """Read and validate an endpoints file; raise UsageError with one line per mistake."""
    if not path_text:
        raise UsageError("--target=external needs --endpoints FILE (a YAML endpoints file)")
    path = Path(path_text)
    where = f"--endpoints {path_text}"
    if not path.exists():
        raise UsageError(f"{where}: file not found")
    if not path.is_file():
        raise UsageError(f"{where}: not a regular file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UsageError(f"{where}: {size} bytes is larger than the {MAX_FILE_BYTES}-byte limit")
        text = path.read_text(encoding="utf-8")
    except PermissionError:
        raise UsageError(f"{where}: permission denied") from None
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{where}: cannot read ({exc.strerror})") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise UsageError(f"{where}: not valid YAML{at}: {problem}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{where}: top level must be a mapping with a 'services' key")
    services = doc.get("services")
    if not isinstance(services, dict) or not services:
        raise UsageError(f"{where}: 'services' must be a non-empty mapping of service -> endpoint")
    for name, spec in services.items():
        if name not in known_services:
            raise UsageError(f"{where}: unknown service {name!r} (catalog has: {', '.join(sorted(known_services))})")
        if not isinstance(spec, dict):
            raise UsageError(f"{where}: services.{name} must be a mapping with host and port")
        if spec.get("deployed", True) is False:
            continue
        host, port = spec.get("host"), spec.get("port")
        if not isinstance(host, str) or not host.strip():
            raise UsageError(f"{where}: services.{name}.host must be a non-empty string")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise UsageError(f"{where}: services.{name}.port must be an integer 1-65535, got {port!r}")
    creds = doc.get("credentials", {})
    if not isinstance(creds, dict):
        raise UsageError(f"{where}: 'credentials' must be a mapping")
    return doc


class ExternalTarget(Target):
    name = "external"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.doc = load_endpoints(self.options.endpoints_file, set(self.catalog.services))
        self.label = str(self.doc.get("name", "external"))

    @property
    def environment(self) -> str:
        """The endpoints file's `name:`; without one, the file's stem (external:staging)."""
        name = self.doc.get("name")
        return str(name) if name else f"external:{Path(str(self.options.endpoints_file)).stem}"

    def setup(self) -> None:
        """Nothing to bring up: an external target is already running."""

    def _spec(self, service: str) -> dict[str, Any] | None:
        spec = self.doc["services"].get(service)
        if spec is None or spec.get("deployed", True) is False:
            return None
        return dict(spec)

    def deployed(self, service: str) -> bool:
        if self._spec(service) is not None:
            return True
        # a required service missing from the file is still "deployed": its contracts
        # must fail (naming the gap), not silently skip
        return self.catalog.service(service).required

    def not_deployed_reason(self, service: str) -> str:
        return f"{service} is not deployed on external target {self.label} (endpoints file)"

    def endpoint(self, service: str) -> Endpoint:
        spec = self._spec(service)
        if spec is None:
            from conformance.errors import TargetError
            raise TargetError(f"{service}: no endpoint in {self.options.endpoints_file}")
        return Endpoint(service, str(spec["host"]), int(spec["port"]))

    def credentials(self) -> Credentials:
        c = self.doc.get("credentials", {})
        pg, redis, vault = c.get("postgres", {}), c.get("redis", {}), c.get("vault", {})
        return Credentials(
            postgres_user=str(pg.get("user", "postgres")),
            postgres_password=str(pg.get("password", "")),
            postgres_db=str(pg.get("database", "postgres")),
            redis_password=str(redis.get("password", "")),
            vault_token=str(vault.get("token", "")),
        )

    def inside_unsupported_reason(self) -> str | None:
        return ("an external target has no in-network probe; run the suite inside the "
                "cluster (helm test) to check DNS names")

    def run_inside(self, checks: list[InsideCheck]) -> list[InsideResult]:
        return [InsideResult(c.service, False, self.inside_unsupported_reason() or "") for c in checks]

    def describe(self) -> str:
        eps = ", ".join(f"{s}={self._spec(s)['host']}:{self._spec(s)['port']}"  # type: ignore[index]
                        for s in self.catalog.services if self._spec(s) is not None)
        return f"target: external {self.label} ({eps})"
