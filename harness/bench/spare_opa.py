"""A spare copy of a compose stack's OPA for load measurements: same image, command,
mounted bundle and config, on the stack's network (so it reaches the real JWKS), with a
CPU limit of our choosing, measured at its address on that network (what the stack's apps
reach; no userland port proxy in between). The live OPA is never
touched (no `docker update` on a stack someone uses), and the copy is removed after.
Given another bundle, the copy serves that one instead (the bench's one-rule floor)."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conformance.waiting import WaitTimeout, wait_until

DOCKER_TIMEOUT_S = 60
READY_TIMEOUT_S = 60
OPA_DEFAULT_ADDR = ":8181"  # `opa run --server` without --addr


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
def spare_opa(live: str, name: str, cpus: float | None, bundle: Path | None = None, *,
              cfs_period_us: int | None = None) -> Iterator[tuple[str, int]]:
    """Start a copy of the OPA container `live` limited to `cpus` (None: unlimited), serving
    `bundle` instead of the live one when given; yields its (address, port) on the stack
    network once /health?bundles answers 200. `cfs_period_us` gives the same CPU share over
    another CFS period (the kernel's default is 100 ms: a busy container runs its quota, then
    waits out the rest of the period)."""
    info = json.loads(_docker("inspect", live))[0]
    cmd = list(info["Config"]["Cmd"])
    port = int(next((a.split("=", 1)[1] for a in cmd if a.startswith("--addr=")), OPA_DEFAULT_ADDR).rsplit(":", 1)[1])
    bundle_at = cmd[cmd.index("--bundle") + 1] if "--bundle" in cmd[:-1] else None
    if bundle is not None and bundle_at is None:
        raise SpareError(f"{live} is not started with --bundle: cannot swap its bundle")
    network = next(iter(info["NetworkSettings"]["Networks"]))
    args = ["run", "-d", "--rm", "--name", name, "--network", network,
            "--memory", str(info["HostConfig"].get("Memory") or "512m"), "--read-only",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true"]
    if cpus and cfs_period_us:
        args += ["--cpu-period", str(cfs_period_us), "--cpu-quota", str(round(cpus * cfs_period_us))]
    elif cpus:
        args += ["--cpus", f"{cpus:g}"]
    swapped = False
    for mount in info["Mounts"]:
        if mount["Type"] == "bind":
            source = mount["Source"]
            if bundle is not None and mount["Destination"] == bundle_at:
                source, swapped = str(bundle), True
            args += ["-v", f"{source}:{mount['Destination']}:ro"]
    if bundle is not None and not swapped:
        raise SpareError(f"{live}: its bundle {bundle_at} is not a bind-mounted file: cannot swap it")
    for env in info["Config"].get("Env") or []:
        args += ["-e", env]
    _docker(*args, info["Config"]["Image"], *cmd)
    try:
        address = f"{{{{(index .NetworkSettings.Networks {json.dumps(network)}).IPAddress}}}}"
        host = _docker("inspect", "--format", address, name)
        if not host:
            raise SpareError(f"spare OPA {name} has no address on network {network}")

        def healthy() -> bool:
            with urllib.request.urlopen(f"http://{host}:{port}/health?bundles", timeout=2) as r:
                return bool(r.status == 200)

        try:
            wait_until(healthy, timeout=READY_TIMEOUT_S, interval=0.2, retry_on=(urllib.error.URLError, OSError),
                       what=f"spare OPA {name} healthy")
        except WaitTimeout:
            raise SpareError(f"spare OPA {name} not healthy within {READY_TIMEOUT_S}s") from None
        yield host, port
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=DOCKER_TIMEOUT_S,
                       check=False)
