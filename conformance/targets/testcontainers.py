"""Target `testcontainers`: an ephemeral copy of the compose stack for one test session.

It does not redefine the stack: testcontainers' Compose support runs the very same
compose file (the repo's, or the identical copy the wheel ships as package data), under
an isolated project name (so its own network and volumes) and with
freshly chosen free host ports. It is torn down at the end of the session, on SIGINT or
SIGTERM, and at interpreter exit, whichever comes first.

A port is chosen free before `up` and taken by Docker only during it, so a second stack
starting beside this one can take it in between ("port is already allocated"); Kafka's
advertised listener must know its port before it starts, so Docker cannot pick them. Such
a start is removed and retried under a new project with new ports.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import socket
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

from conformance.catalog import load as load_catalog
from conformance.docker_engine import container_states
from conformance.errors import TargetError, UsageError
from conformance.policy import bundle
from conformance.process import CMD_TIMEOUT_S, run
from conformance.resources import data_path, repo_file
from conformance.targets import docker_project
from conformance.targets.compose import COMPOSE_FILE, ComposeTarget


def port_vars() -> dict[str, str]:
    """The env variable that sets each catalog service's published host port (the naming
    rule of infra/env/.env.shared.example: <SERVICE>_HOST_PORT)."""
    return {svc.name: svc.host_port_var for svc in load_catalog().services.values()}


# published ports of services outside the catalog (the optional Jaeger of profile `tracing`)
EXTRA_PORT_VARS = ("JAEGER_HOST_PORT",)
# what Docker says when a chosen host port was taken before `up` could bind it
PORT_TAKEN = ("port is already allocated", "address already in use")
START_ATTEMPTS = 3


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestcontainersTarget(ComposeTarget):
    name = "testcontainers"
    __test__ = False  # not a pytest test class despite the name

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.by_labels = False  # it brings its own project up from the compose file
        if not self.options.compose_file:
            self.compose_file = str(data_path(COMPOSE_FILE).resolve())
        self._compose: Any = None
        self._override: Path | None = None
        self._stage: Path | None = None  # private copy of the shipped stack files (wheel)
        self._base_env_files = list(self.env_files)  # without this run's port override
        state = self.options.attach_state
        if state:  # an xdist worker attaching to the controller's stack
            self.project = state["project"]
            self.env_files = list(state["env_files"])
            self.compose_file = str(state.get("compose_file") or self.compose_file)

    @property
    def environment(self) -> str:
        """Every run is a fresh one-off copy (project soma-tc-<random>) of the same compose
        file, so runs are keyed by that file, not by the throw-away project name."""
        file = Path(self.compose_file).name
        return self.name if file == Path(COMPOSE_FILE).name else f"{self.name}:{file}"

    def _write_override(self) -> None:
        self.project = f"soma-tc-{secrets.token_hex(4)}"
        lines = [f"COMPOSE_PROJECT_NAME={self.project}"]
        lines += [f"{var}={free_port()}" for var in (*port_vars().values(), *EXTRA_PORT_VARS)]
        fd, name = tempfile.mkstemp(prefix=f"{self.project}-", suffix=".env")
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        self._override = Path(name)
        self.env_files = [*self._base_env_files, name]

    def preflight(self, inside: bool = True) -> None:
        """The Docker daemon answers; the compose file, its bind-mounted files and every image
        it runs exist locally."""
        self.found = {"docker engine": docker_project.require_daemon()}
        compose = Path(self.compose_file)
        if not compose.is_file():
            raise UsageError(f"compose file {compose} not found: pass --compose-file=FILE")
        if not self.env_files:
            raise UsageError("no compose env file found: pass --env-file=FILE")
        try:
            env_args = [arg for f in self.env_files for arg in ("--env-file", f)]
            images = run(["docker", "compose", *env_args, "-f", self.compose_file, "config", "--images"],
                         CMD_TIMEOUT_S,
                         f"compose config of {self.compose_file}").split()
        except TargetError as exc:
            raise UsageError(str(exc)) from None
        missing = sorted({i for i in images if not docker_project.image_present(i)})
        if missing:
            raise UsageError(f"images not present locally: {', '.join(missing)}: build them "
                             "(`make images` in the soma-infra repo) or load them")
        if not self._bundle().is_file() and not self._stage_from_package():
            raise UsageError(f"OPA bundle {self._bundle()} not found: `make bundle` in the soma-infra repo")
        if inside:
            self.require_probe_image()

    def _bundle(self) -> Path:
        """Where the compose file mounts the OPA bundle from (../../build/opa/soma.tar.gz)."""
        return Path(self.compose_file).parent.parent.parent / "build" / "opa" / "soma.tar.gz"

    def _stage_from_package(self) -> bool:
        """From the wheel (no repo, no opa binary): copy the shipped stack files into a
        private folder and build the bundle beside them from the shipped policies."""
        if repo_file(COMPOSE_FILE) is not None or self.options.compose_file:
            return False
        stage = Path(tempfile.mkdtemp(prefix="soma-tc-stack-"))
        shutil.copytree(data_path("infra"), stage / "infra")
        bundle.build(data_path("policies/bundle"), stage / "build" / "opa" / "soma.tar.gz")
        self.compose_file = str(stage / "infra" / "docker" / Path(COMPOSE_FILE).name)
        self._stage = stage
        return True

    def setup(self) -> None:
        if self.options.attach_state:
            self.config()
            return
        try:
            from testcontainers.compose import DockerCompose
        except ImportError as exc:
            raise TargetError(f"testcontainers is not installed: {exc}") from None
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # no registry for ryuk
        self._install_cleanup()
        compose_path = Path(self.compose_file)
        for attempt in range(1, START_ATTEMPTS + 1):
            self._write_override()
            self._compose = DockerCompose(
                context=str(compose_path.parent),
                compose_file_name=compose_path.name,
                env_file=self.env_files,
                wait=True,
            )
            try:
                self._compose.start()
                break
            except Exception as exc:  # noqa: BLE001 - any failure to start becomes a TargetError
                project = self.project
                self.teardown()
                stderr = getattr(exc, "stderr", b"") or b""
                text = stderr.decode(errors="replace").strip()
                if attempt < START_ATTEMPTS and any(m in text for m in PORT_TAKEN):
                    print(f"soma-conformance: testcontainers: a host port of {project} was taken before "
                          "compose up could bind it: retrying with new ports")
                    continue
                last = text.splitlines()[-1:] or [str(exc)]
                raise TargetError(f"testcontainers compose up of {project}: {last[0]}") from None
        self._config = None
        self.config()

    def _install_cleanup(self) -> None:
        atexit.register(self.teardown)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            previous = signal.getsignal(signum)

            def handler(sig: int, frame: FrameType | None, previous: Any = previous) -> None:
                self.teardown()
                if callable(previous):
                    previous(sig, frame)
                raise SystemExit(128 + sig)

            signal.signal(signum, handler)

    def restarted_containers(self) -> list[str]:
        """Containers of this project that restarted or were OOM-killed since `up --wait`:
        a contract failing because the stack itself fell over should say so."""
        ids = self.container_ids()
        if not ids:
            return []
        return [str(state) for state in container_states(ids, f"docker inspect of {self.project}")
                if state.fell_over]

    def teardown(self) -> None:
        compose, self._compose = self._compose, None
        if compose is not None:
            try:
                for line in self.restarted_containers():
                    print(f"soma-conformance: testcontainers: container fell over during the run: {line}")
            except TargetError as exc:
                print(f"soma-conformance: testcontainers: could not inspect containers: {exc}")
        if compose is not None and not self.options.keep:
            try:
                compose.stop(down=True)  # down --volumes: containers, network, volumes
            except Exception:  # noqa: BLE001 - any failure of testcontainers' down: plain down
                self._config = None
                with contextlib.suppress(TargetError):
                    run([*self.compose_cmd(), "down", "-v", "--remove-orphans"], 300,
                        f"compose down of {self.project}")
        if self._override is not None and not self.options.keep:
            self._override.unlink(missing_ok=True)
            self._override = None
        if self._stage is not None and not self.options.keep:
            shutil.rmtree(self._stage, ignore_errors=True)
            self._stage = None

    def attach_state(self) -> dict[str, Any]:
        return {**super().attach_state(), "project": self.project, "env_files": self.env_files}
