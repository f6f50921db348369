"""Runtime posture of containers, judged from typed inspect data (Docker Engine API
`ContainerInspect`, as the Docker SDK returns it) and from Kubernetes pod/service JSON.

Every problem names the service/container (or pod) and the cause, e.g.
"redis (soma-tc-1-redis-1): runs as root (uid 0)".
"""

from __future__ import annotations

import ipaddress
from typing import Any

from conformance.docker_engine import RunningContainer


def is_loopback(host_ip: str) -> bool:
    try:
        return ipaddress.ip_address(host_ip).is_loopback
    except ValueError:
        return False


def exposure_problems(c: RunningContainer) -> list[str]:
    """Host ports published on anything but loopback, or host networking."""
    host = c.attrs.get("HostConfig") or {}
    problems = []
    if host.get("NetworkMode") == "host":
        problems.append(f"{c.label}: uses host networking")
    ports: dict[str, Any] = (c.attrs.get("NetworkSettings") or {}).get("Ports") or {}
    for port, bindings in sorted(ports.items()):
        for b in bindings or []:
            ip = str(b.get("HostIp") or "")
            if not is_loopback(ip):
                problems.append(f"{c.label}: port {port} published on {ip or '0.0.0.0'}:{b.get('HostPort')}"
                                " (not loopback)")
    return problems


def hardening_problems(c: RunningContainer) -> list[str]:
    """Non-root, read-only root FS, caps dropped (none added), no-new-privileges, limits."""
    host = c.attrs.get("HostConfig") or {}
    problems = []
    if not c.uids:
        problems.append(f"{c.label}: no running process to read a uid from")
    elif 0 in c.uids:
        problems.append(f"{c.label}: runs as root (uid 0)")
    if not host.get("ReadonlyRootfs"):
        problems.append(f"{c.label}: writable root filesystem (ReadonlyRootfs false)")
    if host.get("Privileged"):
        problems.append(f"{c.label}: privileged")
    drop = {str(x).upper().removeprefix("CAP_") for x in host.get("CapDrop") or []}
    if "ALL" not in drop:
        problems.append(f"{c.label}: capabilities not all dropped (CapDrop {sorted(drop)})")
    if host.get("CapAdd"):
        problems.append(f"{c.label}: capabilities added {sorted(host['CapAdd'])}")
    opts = [str(o).replace("=", ":") for o in host.get("SecurityOpt") or []]
    if not any(o in ("no-new-privileges", "no-new-privileges:true") for o in opts):
        problems.append(f"{c.label}: no-new-privileges not set (SecurityOpt {opts})")
    if not (host.get("NanoCpus") or host.get("CpuQuota")):
        problems.append(f"{c.label}: no CPU limit")
    if not host.get("Memory"):
        problems.append(f"{c.label}: no memory limit")
    return problems


# --- Kubernetes ---------------------------------------------------------------------------

def service_exposure_problems(services: list[dict[str, Any]], contract_names: set[str]) -> list[str]:
    """Contract Services must be ClusterIP (no NodePort/LoadBalancer/externalIPs)."""
    problems = []
    for svc in services:
        name = str(svc.get("metadata", {}).get("name"))
        if name not in contract_names:
            continue
        spec = svc.get("spec", {})
        kind = spec.get("type", "ClusterIP")
        if kind != "ClusterIP":
            problems.append(f"service {name}: type {kind} (contract: ClusterIP only)")
        if spec.get("externalIPs"):
            problems.append(f"service {name}: externalIPs {spec['externalIPs']}")
    return problems


def pod_exposure_problems(pod: dict[str, Any]) -> list[str]:
    name = str(pod.get("metadata", {}).get("name"))
    spec = pod.get("spec", {})
    problems = []
    if spec.get("hostNetwork"):
        problems.append(f"pod {name}: hostNetwork")
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        for p in c.get("ports", []) or []:
            if p.get("hostPort"):
                problems.append(f"pod {name} container {c.get('name')}: hostPort {p['hostPort']}")
    return problems


def pod_hardening_problems(pod: dict[str, Any]) -> list[str]:
    """The same runtime posture, from a pod's spec (what the kubelet enforces) and status."""
    name = str(pod.get("metadata", {}).get("name"))
    spec = pod.get("spec", {})
    pod_ctx = spec.get("securityContext") or {}
    problems: list[str] = []
    if (pod.get("status") or {}).get("phase") not in (None, "Running", "Succeeded"):
        return problems  # not running: nothing runs to judge
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        where = f"pod {name} container {c.get('name')}"
        ctx = c.get("securityContext") or {}
        uid = ctx.get("runAsUser", pod_ctx.get("runAsUser"))
        non_root = ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot"))
        if uid == 0 or (uid is None and not non_root):
            problems.append(f"{where}: may run as root (runAsUser {uid}, runAsNonRoot {non_root})")
        if not ctx.get("readOnlyRootFilesystem"):
            problems.append(f"{where}: writable root filesystem")
        if ctx.get("privileged"):
            problems.append(f"{where}: privileged")
        caps = ctx.get("capabilities") or {}
        if "ALL" not in [str(x).upper() for x in caps.get("drop") or []]:
            problems.append(f"{where}: capabilities not all dropped")
        if caps.get("add"):
            problems.append(f"{where}: capabilities added {caps['add']}")
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation not false (no-new-privileges)")
        limits = (c.get("resources") or {}).get("limits") or {}
        for res in ("cpu", "memory"):
            if not limits.get(res):
                problems.append(f"{where}: no {res} limit")
    return problems
