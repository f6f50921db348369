"""Target `compose`: the stack of infra/docker/shared-infra.compose.yaml.

Attaches to the running stack by default (or brings it up and down with --compose-up).
Everything -- published ports, credentials, the network name, which services the active
profiles deploy -- is read from `docker compose config`, so the compose file stays the
only definition of the stack.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from conformance.errors import TargetError
from conformance.probes import inside as inside_probe
from conformance.resources import repo_file
from conformance.targets.base import (
    Credentials,
    Endpoint,
    InsideCheck,
    InsideResult,
    Target,
    Tracing,
    decode_results,
    encode_checks,
)

COMPOSE_FILE = "infra/docker/shared-infra.compose.yaml"
ENV_FILE = "infra/env/.env.shared"
ENV_EXAMPLE = "infra/env/.env.shared.example"
NETWORK_KEY = "soma-infra"
UP_TIMEOUT_S = 300
CMD_TIMEOUT_S = 60
INSIDE_TIMEOUT_S = 90


def default_env_files() -> list[str]:
    """The local env copy if it exists, else the committed example (dev values)."""
    for rel in (ENV_FILE, ENV_EXAMPLE):
        path = repo_file(rel)
        if path is not None:
            return [str(path)]
    return []


def run(cmd: list[str], timeout: float, what: str) -> str:
    """Run a command with a bounded time; failures become one-line TargetErrors."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise TargetError(f"{what}: {cmd[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise TargetError(f"{what}: no answer within {timeout:.0f}s") from None
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout).strip().splitlines()
        raise TargetError(f"{what}: {err[-1] if err else f'exit {proc.returncode}'}")
    return proc.stdout


class ComposeTarget(Target):
    name = "compose"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        opts = self.options
        compose = opts.compose_file or (str(repo_file(COMPOSE_FILE) or COMPOSE_FILE))
        self.compose_file = str(Path(compose).resolve())
        self.env_files = [str(Path(f).resolve()) for f in (opts.env_files or default_env_files())]
        self.project = opts.project_name
        self._config: dict[str, Any] | None = None
        self._started = False

    # --- compose plumbing ------------------------------------------------------------
    def compose_cmd(self) -> list[str]:
        cmd = ["docker", "compose"]
        if self.project:
            cmd += ["--project-name", self.project]
        for env_file in self.env_files:
            cmd += ["--env-file", env_file]
        return [*cmd, "-f", self.compose_file]

    def config(self) -> dict[str, Any]:
        if self._config is None:
            out = run([*self.compose_cmd(), "config", "--format", "json"], CMD_TIMEOUT_S,
                      f"compose config of {self.compose_file}")
            self._config = json.loads(out)
            self.project = self.project or str(self._config.get("name", "soma-infra"))
        return self._config

    def service_config(self, service: str) -> dict[str, Any]:
        services: dict[str, Any] = self.config().get("services", {})
        return dict(services.get(service, {}))

    def container_ids(self, service: str | None = None) -> list[str]:
        """Ids of the project's containers (stopped ones too), or of one service's."""
        return run([*self.compose_cmd(), "ps", "-a", "-q", *([service] if service else [])],
                   CMD_TIMEOUT_S, f"compose ps of {self.project}").split()

    def network_name(self) -> str:
        nets: dict[str, Any] = self.config().get("networks", {})
        return str(nets.get(NETWORK_KEY, {}).get("name", f"{self.project}_{NETWORK_KEY}"))

    # --- lifecycle -------------------------------------------------------------------
    def setup(self) -> None:
        if not Path(self.compose_file).is_file():
            raise TargetError(f"compose file {self.compose_file} not found")
        if self.options.compose_up:
            run([*self.compose_cmd(), "up", "-d", "--wait"], UP_TIMEOUT_S,
                f"compose up of {self.compose_file}")
            self._started = True
        self.config()
        running = run([*self.compose_cmd(), "ps", "-a", "--format", "json"], CMD_TIMEOUT_S,
                      f"compose ps of project {self.project}")
        if not running.strip():
            raise TargetError(
                f"compose project {self.project!r} has no containers: start it with "
                "`make up` or pass --compose-up"
            )

    def teardown(self) -> None:
        if self._started and not self.options.keep:
            self._started = False
            run([*self.compose_cmd(), "down", "-v", "--remove-orphans"], UP_TIMEOUT_S,
                f"compose down of project {self.project}")

    def attach_state(self) -> dict[str, Any]:
        return {"project": self.project, "env_files": self.env_files,
                "compose_file": self.compose_file}

    # --- where things are --------------------------------------------------------------
    def deployed(self, service: str) -> bool:
        return service in self.config().get("services", {})

    def not_deployed_reason(self, service: str) -> str:
        return (f"{service} is not deployed by compose project {self.project} "
                f"(its profile is not enabled; the offline stack cannot build it)")

    def endpoint(self, service: str) -> Endpoint:
        self.catalog.service(service)  # unknown names fail loudly
        return self._published(service)

    def _published(self, service: str) -> Endpoint:
        ports = self.service_config(service).get("ports", [])
        if not ports:
            raise TargetError(f"{service}: compose service publishes no port")
        spec = ports[0]
        host = str(spec.get("host_ip") or "127.0.0.1")
        published = spec.get("published")
        if published in (None, ""):
            out = run([*self.compose_cmd(), "port", service, str(spec["target"])],
                      CMD_TIMEOUT_S, f"compose port of {service}")
            host, _, published = out.strip().rpartition(":")
        return Endpoint(service, "127.0.0.1" if host in ("0.0.0.0", "") else host, int(published))

    def tracing(self) -> Tracing:
        """SOMA_OTLP_ENDPOINT as the compose file hands it to OPA; the query API of the
        `jaeger` service where the `tracing` profile deploys it."""
        env = self.service_config("opa").get("environment") or {}
        otlp = str(env.get("SOMA_OTLP_ENDPOINT") or "")
        if not otlp:
            return Tracing(reason=f"tracing is off: SOMA_OTLP_ENDPOINT is empty in compose project {self.project}")
        if "jaeger" not in self.config().get("services", {}):
            return Tracing(otlp, None, f"traces go to {otlp}; compose project {self.project} deploys no "
                                       "Jaeger (profile `tracing`) whose query API could show them")
        return Tracing(otlp, self._published("jaeger"), "")

    def credentials(self) -> Credentials:
        pg = self.service_config("postgres").get("environment", {})
        redis = self.service_config("redis").get("environment", {})
        vault = self.service_config("vault").get("environment", {})
        return Credentials(
            postgres_user=str(pg.get("POSTGRES_USER", "postgres")),
            postgres_password=str(pg.get("POSTGRES_PASSWORD", "")),
            postgres_db=str(pg.get("POSTGRES_DB", "postgres")),
            redis_password=str(redis.get("REDIS_PASSWORD", "")),
            vault_token=str(vault.get("BAO_DEV_ROOT_TOKEN_ID", "")),
        )

    def run_inside(self, checks: list[InsideCheck]) -> list[InsideResult]:
        script = Path(inside_probe.__file__).resolve()
        cmd = ["docker", "run", "--rm", "--network", self.network_name(), "--read-only",
               "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
               "-v", f"{script}:/probe/inside.py:ro", self.options.probe_image,
               "/probe/inside.py", encode_checks(checks)]
        out = run(cmd, INSIDE_TIMEOUT_S, f"inside probe on network {self.network_name()}")
        return decode_results(out, checks)

    @property
    def environment(self) -> str:
        """The compose project (known once the target is set up or --project-name is given)."""
        return self.project or self.name

    def describe(self) -> str:
        return f"{super().describe()} project={self.project} file={self.compose_file}"
