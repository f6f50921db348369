"""`kubectl port-forward` to a namespace's Services, one per service, each with a thread
that keeps reading kubectl's output (unread, the pipe fills and later connections hang)."""

from __future__ import annotations

import re
import selectors
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from typing import IO

from conformance.errors import TargetError
from conformance.kube.kubectl import Kubectl, kubectl
from conformance.waiting import WaitTimeout, wait_until

FORWARD_RE = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")
PORT_FORWARD_TIMEOUT_S = 15.0
FORWARD_READ_S = 0.5  # each look for kubectl's output waits this long at most
FORWARD_SAID_LINES = 5  # kubectl's last lines other than "Handling connection", per forward


def port_forward_cmd(context: str, namespace: str, service: str, port: int,
                     host_listener: int | None = None) -> list[str]:
    """Forward a random local port to the contract port, or, for a service that advertises a
    host listener (Kafka), that listener's port on the same local port."""
    spec = f"{host_listener}:{host_listener}" if host_listener else f":{port}"
    return kubectl(context, namespace, "port-forward", f"svc/{service}", spec, "--address", "127.0.0.1")


def drain(out: IO[str], said: deque[str]) -> None:
    """Read kubectl's output to its end, keeping its last other lines in `said` (errors such
    as "error creating forwarding stream ... Timeout occurred"). kubectl port-forward writes
    "Handling connection for PORT" for every connection it accepts, before it serves it:
    with nobody reading, the pipe fills after about 2,000 connections and each later one
    hangs until the client's read timeout."""
    for line in out:
        if not line.startswith("Handling connection for "):
            said.append(line.strip())


def parse_forward_line(line: str) -> int | None:
    """Local port from kubectl's 'Forwarding from 127.0.0.1:PORT -> REMOTE' line."""
    match = FORWARD_RE.search(line)
    return int(match.group(1)) if match else None


@dataclass
class Forward:
    """One `kubectl port-forward` and the thread that keeps reading its output."""

    proc: subprocess.Popen[str]
    port: int
    said: deque[str]
    reader: threading.Thread


class PortForwards:
    """The port forwards of one namespace, opened on first use and closed together."""

    def __init__(self, cluster: Kubectl) -> None:
        self.cluster = cluster
        self.forwards: dict[str, Forward] = {}

    def local_port(self, service: str, port: int, host_listener: int | None = None) -> int:
        """The local port forwarded to `port` of Service `service` (one kubectl per service)."""
        cmd = port_forward_cmd(self.cluster.context, self.cluster.namespace, service, port, host_listener)
        return self._open(service, cmd)

    def pod_port(self, name: str, uid: str, pod: str, port: int) -> int:
        """`port` of one pod, forwarded on the same local port (a broker that advertises
        127.0.0.1:<port>). Keyed by the pod's UID: a StatefulSet's replacement keeps the
        name, and kubectl may outlive the pod it forwarded to, refusing every connection;
        re-opened too when its kubectl ended."""
        key = f"{name}/{uid}"
        for stale in [k for k, f in self.forwards.items()
                      if k.startswith(f"{name}/") and (k != key or f.proc.poll() is not None)]:
            self.close(stale)
        cmd = kubectl(self.cluster.context, self.cluster.namespace, "port-forward", f"pod/{pod}", f"{port}:{port}",
                      "--address", "127.0.0.1")
        return self._open(key, cmd)

    def _open(self, key: str, cmd: list[str]) -> int:
        if key not in self.forwards:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            local = await_forward(proc, key)
            assert proc.stdout is not None
            said: deque[str] = deque(maxlen=FORWARD_SAID_LINES)
            reader = threading.Thread(target=drain, args=(proc.stdout, said), name=f"port-forward {key}",
                                      daemon=True)
            reader.start()
            self.forwards[key] = Forward(proc, local, said, reader)
        return self.forwards[key].port

    def close(self, service: str | None = None) -> None:
        """Stop every forward (or one service's, its pods' `<service>/<pod>` ones too: a pod
        went away, and kubectl forwards to one pod); print kubectl's last other lines
        (evidence for a call through it that timed out). The next use opens a new forward."""
        chosen = {k: v for k, v in self.forwards.items()
                  if service is None or k == service or k.startswith(f"{service}/")}
        for fwd in chosen.values():
            fwd.proc.terminate()
        for name, fwd in sorted(chosen.items()):
            try:
                fwd.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                fwd.proc.kill()
            fwd.reader.join(timeout=1)
            if service is None:
                for line in fwd.said:
                    print(f"soma-conformance: kubectl port-forward of {name}: {line}")
            del self.forwards[name]


def await_forward(proc: subprocess.Popen[str], service: str) -> int:
    """The local port of kubectl's 'Forwarding from' line (select waits for output, so
    the poll itself does not sleep); kubectl ending first is the same failure."""
    out = proc.stdout
    assert out is not None
    sel = selectors.DefaultSelector()
    sel.register(out, selectors.EVENT_READ)

    def forwarded() -> int | None:
        if not sel.select(timeout=FORWARD_READ_S):
            return None
        line = out.readline()
        if not line:
            raise EOFError("kubectl port-forward ended")
        return parse_forward_line(line)

    try:
        port = wait_until(forwarded, timeout=PORT_FORWARD_TIMEOUT_S, interval=0.0,
                          what=f"kubectl port-forward of {service}")
    except (WaitTimeout, EOFError):
        proc.kill()
        raise TargetError(f"{service}: kubectl port-forward did not start within "
                          f"{PORT_FORWARD_TIMEOUT_S:.0f}s") from None
    finally:
        sel.close()
    assert port is not None  # wait_until returns only a truthy answer
    return port
