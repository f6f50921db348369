"""A spare copy of a compose stack's OPA for load measurements: same image, command,
mounted bundle and config, on the stack's network (so it reaches the real JWKS), with a
CPU limit of our choosing, published on a free loopback port. The live OPA is never
touched (no `docker update` on a stack someone uses), and the copy is removed after."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from conformance.waiting import WaitTimeout, wait_until

DOCKER_TIMEOUT_S = 60
READY_TIMEOUT_S = 60


class SpareError(RuntimeError):
    """The spare OPA could not be started."""


def _docker(*args: str) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True,
                          timeout=DOCKER_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise SpareError(f"docker {' '.join(args[:2])}: {proc.stderr.strip()[-300:]}")
    return proc.stdout.strip()


def live_cpu_limit(container: str) -> float | None:
    """The CPU limit (cores) of a running container, None when unlimited."""
    info = json.loads(_docker("inspect", container))[0]["HostConfig"]
    if info.get("NanoCpus"):
        return float(info["NanoCpus"]) / 1e9
    if info.get("CpuQuota", 0) > 0 and info.get("CpuPeriod", 0) > 0:
        return float(info["CpuQuota"]) / float(info["CpuPeriod"])
    return None


@contextmanager
def spare_opa(live: str, name: str, cpus: float | None) -> Iterator[int]:
    """Start a copy of the OPA container `live` limited to `cpus` (None: unlimited); yields
    its loopback port once /health?bundles answers 200."""
    info = json.loads(_docker("inspect", live))[0]
    network = next(iter(info["NetworkSettings"]["Networks"]))
    args = ["run", "-d", "--rm", "--name", name, "--network", network, "-p", "127.0.0.1::8181",
            "--memory", str(info["HostConfig"].get("Memory") or "512m"), "--read-only",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true"]
    if cpus:
        args += ["--cpus", f"{cpus:g}"]
    for mount in info["Mounts"]:
        if mount["Type"] == "bind":
            args += ["-v", f"{mount['Source']}:{mount['Destination']}:ro"]
    for env in info["Config"].get("Env") or []:
        args += ["-e", env]
    _docker(*args, info["Config"]["Image"], *info["Config"]["Cmd"])
    try:
        port = int(_docker("port", name, "8181/tcp").splitlines()[0].rsplit(":", 1)[1])

        def healthy() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health?bundles", timeout=2) as r:
                return bool(r.status == 200)

        try:
            wait_until(healthy, timeout=READY_TIMEOUT_S, interval=0.2, retry_on=(urllib.error.URLError, OSError),
                       what=f"spare OPA {name} healthy")
        except WaitTimeout:
            raise SpareError(f"spare OPA {name} not healthy within {READY_TIMEOUT_S}s") from None
        yield port
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=DOCKER_TIMEOUT_S,
                       check=False)
