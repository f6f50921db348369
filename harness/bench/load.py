"""Decision load generators for the policy bench: sequential and concurrent closed-loop
clients on raw keep-alive HTTP/1.1 sockets.

The request bytes are built once; a client sends them, reads one response (status line,
headers, Content-Length body) and checks the answer, so the Python side costs a few
microseconds per decision and the figures are OPA's, not the client's.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field

IO_TIMEOUT_S = 10.0


class LoadError(RuntimeError):
    """A decision failed or answered something other than expected."""


def post_bytes(host: str, port: int, path: str, body: object) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


class Conn:
    """One keep-alive connection that sends a fixed request and returns the body."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=IO_TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def send(self, request: bytes) -> bytes:
        self.sock.sendall(request)
        status = self.reader.readline()
        if not status.startswith(b"HTTP/1.1 200"):
            raise LoadError(f"answered {status.strip()[:80]!r}")
        length = 0
        while True:
            line = self.reader.readline()
            if line in (b"\r\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return self.reader.read(length)

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


@dataclass
class Run:
    """Latencies (ms, sorted) and wall time of one load run."""

    ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.ms) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        """Nearest-rank percentile."""
        if not self.ms:
            return float("nan")
        rank = max(1, round(q / 100 * len(self.ms)))
        return self.ms[min(rank, len(self.ms)) - 1]


def sequential(host: str, port: int, request: bytes, *, expect: bytes, n: int, warmup: int) -> Run:
    """n decisions one after the other on one connection."""
    conn = Conn(host, port)
    try:
        for _ in range(warmup):
            conn.send(request)
        out = Run()
        t_start = time.perf_counter()
        for _ in range(n):
            t0 = time.perf_counter()
            body = conn.send(request)
            out.ms.append((time.perf_counter() - t0) * 1000)
            if expect not in body:
                raise LoadError(f"unexpected answer {body[:120]!r}")
        out.seconds = time.perf_counter() - t_start
    finally:
        conn.close()
    out.ms.sort()
    return out


def closed_loop(host: str, port: int, request: bytes, *, expect: bytes, clients: int,
                seconds: float) -> Run:
    """`clients` connections, each sending its next decision as soon as the last answered,
    for `seconds`; every answer is checked."""
    conns = [Conn(host, port) for _ in range(clients)]
    for conn in conns:  # warm each connection (and OPA's caches) before the clock starts
        conn.send(request)
    results: list[list[float]] = [[] for _ in conns]
    errors: list[str] = []
    start = threading.Event()
    stop_at = [0.0]

    def client(conn: Conn, mine: list[float]) -> None:
        start.wait()
        try:
            while time.perf_counter() < stop_at[0]:
                t0 = time.perf_counter()
                body = conn.send(request)
                mine.append((time.perf_counter() - t0) * 1000)
                if expect not in body:
                    raise LoadError(f"unexpected answer {body[:120]!r}")
        except (OSError, LoadError) as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=client, args=(c, r), daemon=True) for c, r in zip(conns, results, strict=True)]
    for t in threads:
        t.start()
    t_start = time.perf_counter()
    stop_at[0] = t_start + seconds
    start.set()
    for t in threads:
        t.join(seconds + IO_TIMEOUT_S * 2)
    out = Run(sorted(ms for r in results for ms in r), time.perf_counter() - t_start)
    for conn in conns:
        conn.close()
    if errors:
        raise LoadError(f"{len(errors)} client(s) failed: {errors[0]}")
    return out
