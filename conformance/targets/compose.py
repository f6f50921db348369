"""Target `compose`: the stack of infra/docker/shared-infra.compose.yaml.

Attaches to the running stack by default (or brings it up and down with --compose-up).
Everything -- published ports, credentials, the network name, which services the active
profiles deploy -- is read from `docker compose config`, so the compose file stays the
only definition of the stack.

Without a compose file (the suite installed from its wheel), or with `--project-name`
alone, it attaches to the running project by name from Docker's own labels
(conformance/targets/docker_project.py): the same facts, read from what runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance.access import Credentials, Endpoint
from conformance.docker_engine import running_containers
from conformance.errors import TargetError, UsageError
from conformance.inside.checks import PROBE_SCRIPT, InsideCheck, InsideResult, decode_results, encode_checks
from conformance.process import CMD_TIMEOUT_S, run
from conformance.resources import data_path, repo_file
from conformance.targets import docker_project
from conformance.targets.base import Target, Tracing
from conformance.targets.docker_restarts import DockerRestarts

COMPOSE_FILE = "infra/docker/shared-infra.compose.yaml"
ENV_FILE = "infra/env/.env.shared"
ENV_EXAMPLE = "infra/env/.env.shared.example"
NETWORK_KEY = "soma-infra"
DEFAULT_PROJECT = "soma-infra"
UP_TIMEOUT_S = 300
INSIDE_TIMEOUT_S = 90


def default_env_files() -> list[str]:
    """The local env copy if it exists, else the committed example (dev values; the wheel
    ships the example as package data)."""
    for rel in (ENV_FILE, ENV_EXAMPLE):
        path = repo_file(rel)
        if path is not None:
            return [str(path)]
    shipped = data_path(ENV_EXAMPLE)
    return [str(shipped)] if shipped.is_file() else []


class ComposeTarget(Target):
    name = "compose"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        opts = self.options
        compose = opts.compose_file or (str(repo_file(COMPOSE_FILE) or COMPOSE_FILE))
        self.compose_file = str(Path(compose).resolve())
        self.env_files = [str(Path(f).resolve()) for f in (opts.env_files or default_env_files())]
        self.project = opts.project_name
        # attach by Docker labels: no file given and either a project named or no file at hand
        self.by_labels = (not opts.compose_file and not opts.compose_up and not opts.env_files
                          and (bool(opts.project_name) or repo_file(COMPOSE_FILE) is None))
        if self.by_labels:
            self.project = self.project or DEFAULT_PROJECT
        self._config: dict[str, Any] | None = None
        self._started = False

    # --- compose plumbing ------------------------------------------------------------
    def compose_cmd(self) -> list[str]:
        cmd = ["docker", "compose"]
        if self.project:
            cmd += ["--project-name", self.project]
        if self.by_labels:
            return cmd  # ps/port/down work on a project by name
        for env_file in self.env_files:
            cmd += ["--env-file", env_file]
        return [*cmd, "-f", self.compose_file]

    def config(self) -> dict[str, Any]:
        if self._config is None and self.by_labels:
            self._config = docker_project.project_config(str(self.project))
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
        if self.by_labels:
            return docker_project.container_ids(str(self.project), service)
        return run([*self.compose_cmd(), "ps", "-a", "-q", *([service] if service else [])],
                   CMD_TIMEOUT_S, f"compose ps of {self.project}").split()

    def network_name(self) -> str:
        nets: dict[str, Any] = self.config().get("networks", {})
        return str(nets.get(NETWORK_KEY, {}).get("name", f"{self.project}_{NETWORK_KEY}"))

    # --- lifecycle -------------------------------------------------------------------
    def preflight(self, inside: bool = True) -> None:
        """The compose file (when one is used), the project and the probe image exist."""
        if self.by_labels:
            docker_project.require_project(str(self.project))
        elif not Path(self.compose_file).is_file():
            raise UsageError(f"compose file {self.compose_file} not found: pass --compose-file=FILE, "
                             "or --project-name=NAME to attach to a running project without one")
        elif not self.options.compose_up:
            try:
                self.config()
            except TargetError as exc:
                raise UsageError(str(exc)) from None
            docker_project.require_project(str(self.project))
        if inside:
            self.require_probe_image()
        if not self.options.compose_up:
            self.found = {"project": str(self.project), "deployed services": ", ".join(
                s for s in self.catalog.services if self.deployed(s)) or "none"}

    def require_probe_image(self) -> None:
        image = self.options.probe_image
        if docker_project.image_present(image):
            return
        how = ("" if self.options.probe_image_given else
               f" or build it: docker build -t {image} {probe_dockerfile_dir()}")
        raise UsageError(f"probe image {image!r} is not present locally: pass --probe-image=IMAGE "
                         f"(any local image with python3){how}")

    def setup(self) -> None:
        if self.by_labels:
            self.config()
            return
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
                "compose_file": self.compose_file, "by_labels": self.by_labels}

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
        script = PROBE_SCRIPT
        # --entrypoint python3: any image with python3 serves (stock images have other entrypoints)
        cmd = ["docker", "run", "--rm", "--network", self.network_name(), "--read-only",
               "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--user", "65534:65534",
               "--entrypoint", "python3", "-v", f"{script}:/probe/inside.py:ro", self.options.probe_image,
               "/probe/inside.py", encode_checks(checks)]
        out = run(cmd, INSIDE_TIMEOUT_S, f"inside probe on network {self.network_name()}")
        return decode_results(out, checks)

    def docker_project(self) -> str:
        """Its containers run in the local Docker Engine, as this compose project."""
        self.config()
        return str(self.project)

    def restarts(self) -> DockerRestarts:
        """Kill and recreate; recreate only with the compose file (not attached by labels)."""
        return DockerRestarts(self.docker_project(), self.container_ids,
                              None if self.by_labels else self.compose_cmd())

    def running_images(self) -> dict[str, list[str]]:
        """The image of every running container of the project (a container's Image is the
        image ID it was created from)."""
        by_image: dict[str, list[str]] = {}
        for c in running_containers(self.docker_project()):
            by_image.setdefault(str(c.attrs["Image"]), []).append(c.service)
        return by_image

    @property
    def environment(self) -> str:
        """The compose project (known once the target is set up or --project-name is given)."""
        return self.project or self.name

    def describe(self) -> str:
        where = "attached by Docker labels" if self.by_labels else f"file={self.compose_file}"
        return f"{super().describe()} project={self.project} {where}"


def probe_dockerfile_dir() -> str:
    """Folder of the probe image's Dockerfile: the repo's, or the copy shipped in the wheel."""
    repo = repo_file("infra/docker/images/probe/Dockerfile")
    return str((repo or data_path("probe/Dockerfile")).parent)
