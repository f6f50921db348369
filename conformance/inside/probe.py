"""Inside probe: run *within* the service network (a container on the compose network, a
pod in Kind) to prove each contract DNS name resolves and its port speaks its own
protocol -- not just that a TCP connect succeeds.

Standard library only, Python 3.9+ (a unit test runs it under 3.9 where one is installed),
so it runs in any small image. Usage:
    python3 inside.py '<json list of {service, host, port, protocol, path}>'
Prints one JSON object per check: {"service", "ok", "detail", "addresses"}.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Check = dict[str, Any]

TIMEOUT = 4.0


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def check_postgres(sock: socket.socket, _check: Check) -> str:
    # SSLRequest (length 8, code 80877103): a Postgres server answers exactly one byte,
    # 'S' or 'N', and nothing more. After 'N' a StartupMessage must get an
    # Authentication ('R') or Error ('E') message back -- a banner that merely starts
    # with 'S' (SSH!) does not pass.
    sock.sendall(struct.pack("!ii", 8, 80877103))
    answer = _recv_exact(sock, 1)
    if answer not in (b"S", b"N"):
        raise ValueError(f"answered SSLRequest with {answer!r}, not S/N")
    # anything more within 0.3s? (select, not a recv timeout: before 3.10 that raises
    # socket.timeout, which is not yet TimeoutError)
    readable, _, _ = select.select([sock], [], [], 0.3)
    extra = sock.recv(64) if readable else b""
    if extra:
        raise ValueError(f"SSLRequest answer {answer!r} was followed by {extra[:20]!r}: not Postgres")
    if answer == b"S":
        return "SSLRequest answered 'S' (TLS offered)"
    params = b"user\0soma-inside-probe\0database\0postgres\0\0"
    sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)  # protocol 3.0
    kind, length = struct.unpack("!ci", _recv_exact(sock, 5))
    if kind not in (b"R", b"E") or not 8 <= length < 1 << 16:
        raise ValueError(f"StartupMessage answered {kind!r} (length {length}), not Authentication/Error")
    return f"SSLRequest answered 'N'; StartupMessage answered {kind.decode()!r}"


def check_redis(sock: socket.socket, _check: Check) -> str:
    sock.sendall(b"PING\r\n")
    line = sock.recv(256)
    if line.startswith(b"+PONG") or line.startswith(b"-NOAUTH"):
        return "RESP reply {!r}".format(line.strip().decode(errors="replace"))
    raise ValueError(f"PING answered {line[:60]!r}, not a RESP reply")


def check_kafka(sock: socket.socket, _check: Check) -> str:
    client = b"soma-inside-probe"
    correlation = 0x50A
    body = struct.pack("!hhih", 18, 0, correlation, len(client)) + client  # ApiVersions v0
    sock.sendall(struct.pack("!i", len(body)) + body)
    (size,) = struct.unpack("!i", _recv_exact(sock, 4))
    if not 6 <= size <= 1 << 20:
        raise ValueError(f"ApiVersions response size {size} is not plausible")
    payload = _recv_exact(sock, size)
    got_corr, error = struct.unpack("!ih", payload[:6])
    if got_corr != correlation:
        raise ValueError(f"ApiVersions correlation id {got_corr} != {correlation}")
    if error != 0:
        raise ValueError(f"ApiVersions error code {error}")
    (count,) = struct.unpack("!i", payload[6:10])
    return f"ApiVersions ok, {count} APIs"


def check_http(sock: socket.socket, check: Check) -> str:
    path = check.get("path") or "/"
    req = f"GET {path} HTTP/1.0\r\nHost: {check['host']}:{check['port']}\r\nConnection: close\r\n\r\n"
    sock.sendall(req.encode())
    data = b""
    while len(data) < 65536:
        chunk = sock.recv(8192)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = status_line.split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {status_line[:60]!r}")
    if parts[1] != "200":
        raise ValueError(f"GET {path} answered {status_line}")
    return f"GET {path} -> {parts[1]} ({len(body)} bytes)"


CHECKS: dict[str, Any] = {"postgres": check_postgres, "redis": check_redis, "kafka": check_kafka, "http": check_http}


def run(check: Check) -> dict[str, Any]:
    result: dict[str, Any] = {"service": check["service"], "ok": False, "detail": "", "addresses": []}
    where = f"{check['host']}:{check['port']}"
    try:
        infos = socket.getaddrinfo(check["host"], check["port"], type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        result["detail"] = "{}: DNS name does not resolve ({})".format(check["host"], exc)
        return result
    result["addresses"] = sorted({info[4][0] for info in infos})
    try:
        with socket.create_connection((check["host"], check["port"]), timeout=TIMEOUT) as sock:
            sock.settimeout(TIMEOUT)
            detail = CHECKS[check["protocol"]](sock, check)
        result.update(ok=True, detail=f"{where}: {detail}")
    except Exception as exc:  # noqa: BLE001 - every failure becomes a reported result
        result["detail"] = f"{where}: {type(exc).__name__}: {exc}"
    return result


def main(argv: list[str]) -> int:
    # side by side: a check that a NetworkPolicy refuses waits out its connect timeout,
    # and one probe pod may check every service
    checks = json.loads(argv[1])
    with ThreadPoolExecutor(max_workers=max(1, len(checks))) as pool:
        for result in pool.map(run, checks):
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
