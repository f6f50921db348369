"""Live probes of the security contracts: what a stranger (no or wrong credentials, a
plain HTTP client) gets from each service. Each returns a list of problems naming the
endpoint and the cause; an empty list means the service refused the stranger."""

from __future__ import annotations

import secrets
import socket
from typing import Any

import httpx

from conformance.access import Credentials, Endpoint
from conformance.probes.clients import CONNECT_TIMEOUT_S, IO_TIMEOUT_S, ContractFailure, bounded, tcp_reachable

REFUSED_HTTP = (401, 403)


def _wrong(secret: str) -> str:
    return f"wrong-{secrets.token_hex(8)}" if secret else secrets.token_hex(8)


@bounded()
def postgres_login(ep: Endpoint, user: str, password: str, db: str) -> str:
    """'accepted' or the server's/libpq's refusal, for one TCP login attempt."""
    import psycopg

    tcp_reachable(ep)
    try:
        with psycopg.connect(host=ep.host, port=ep.port, user=user, password=password, dbname=db,
                             passfile="/dev/null", sslmode="disable",
                             connect_timeout=int(IO_TIMEOUT_S)) as conn:
            conn.execute("SELECT 1")
        return "accepted"
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__


def postgres_auth_problems(ep: Endpoint, creds: Credentials) -> list[str]:
    problems = []
    for what, password in (("without a password", ""), ("with a wrong password", _wrong(creds.postgres_password))):
        answer = postgres_login(ep, creds.postgres_user, password, creds.postgres_db)
        if answer == "accepted":
            problems.append(f"postgres at {ep.host}:{ep.port}: accepted a network login of "
                            f"{creds.postgres_user!r} {what} (trust authentication)")
        elif "password" not in answer.lower() and "authentication" not in answer.lower():
            problems.append(f"postgres at {ep.host}:{ep.port}: login {what} failed, but not for authentication: "
                            f"{answer}")
    return problems


@bounded()
def redis_exchange(ep: Endpoint, *commands: list[str]) -> list[str]:
    """Send RESP commands on one fresh connection; the first line of each reply."""
    tcp_reachable(ep)
    replies = []
    with socket.create_connection((ep.host, ep.port), timeout=CONNECT_TIMEOUT_S) as sock:
        sock.settimeout(IO_TIMEOUT_S)
        reader = sock.makefile("rb")
        for cmd in commands:
            frame = f"*{len(cmd)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in cmd)
            sock.sendall(frame.encode())
            replies.append(reader.readline().decode(errors="replace").strip())
    return replies


def redis_auth_problems(ep: Endpoint, creds: Credentials) -> list[str]:
    problems = []
    (ping,) = redis_exchange(ep, ["PING"])
    if not ping.startswith("-NOAUTH"):
        problems.append(f"redis at {ep.host}:{ep.port}: an unauthenticated PING answered {ping!r}, not NOAUTH "
                        "(requirepass is off)")
    wrong, after = redis_exchange(ep, ["AUTH", _wrong(creds.redis_password)], ["PING"])
    if not wrong.startswith("-WRONGPASS") or not after.startswith("-NOAUTH"):
        problems.append(f"redis at {ep.host}:{ep.port}: AUTH with a wrong password answered {wrong!r}, "
                        f"then PING {after!r} (expected WRONGPASS, then NOAUTH)")
    return problems


def _http(ep: Endpoint, method: str, path: str, **kw: Any) -> httpx.Response:
    tcp_reachable(ep)
    try:
        return httpx.request(method, ep.url(path), timeout=httpx.Timeout(IO_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
                             **kw)
    except httpx.HTTPError as exc:
        raise ContractFailure(f"{ep}: {method} {path}: {type(exc).__name__}: {exc}") from None


def vault_auth_problems(ep: Endpoint, paths: list[dict[str, str]]) -> list[str]:
    problems = []
    for item in paths:
        method, path = str(item["method"]), str(item["path"])
        body: dict[str, Any] | None = {} if method in ("POST", "PUT") else None
        for what, headers in (("without a token", {}),
                              ("with a bad token", {"X-Vault-Token": f"hvs.{secrets.token_hex(12)}"})):
            resp = _http(ep, method, path, headers=headers, json=body)
            if resp.status_code not in REFUSED_HTTP:
                problems.append(f"vault at {ep.host}:{ep.port}: {method} {path} {what} answered HTTP "
                                f"{resp.status_code} (expected 401/403: {resp.text[:80]!r})")
    return problems


OPA_PROBE_POLICY = "package soma_conformance_probe\n\nallow := true\n"


def opa_write_problems(ep: Endpoint) -> list[str]:
    """Writes to the policy and data APIs must be refused; anything accepted is removed."""
    problems = []
    policy = {"content": OPA_PROBE_POLICY, "headers": {"Content-Type": "text/plain"}}
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("PUT", "/v1/policies/soma-conformance-probe", policy),
        ("PUT", "/v1/data/soma_conformance_probe", {"json": {"written": True}}),
        ("PATCH", "/v1/data", {"json": [{"op": "add", "path": "/soma_conformance_probe", "value": True}]})]
    for method, path, kw in attempts:
        resp = _http(ep, method, path, **kw)
        if resp.status_code < 300:
            problems.append(f"opa at {ep.host}:{ep.port}: {method} {path} was accepted (HTTP {resp.status_code}): "
                            "a plain client can change policy or data")
            undo = "/v1/policies/soma-conformance-probe" if "policies" in path else "/v1/data/soma_conformance_probe"
            _http(ep, "DELETE", undo)
    return problems


def prometheus_admin_problems(ep: Endpoint) -> list[str]:
    """Admin API and lifecycle endpoints off. Only harmless calls are made: a reload and
    clean_tombstones change nothing on a healthy server even when they are open."""
    problems = []
    for method, path, what in (("POST", "/api/v1/admin/tsdb/clean_tombstones", "admin API"),
                               ("POST", "/-/reload", "lifecycle API (/-/reload, /-/quit)")):
        resp = _http(ep, method, path)
        if resp.status_code < 300:
            problems.append(f"prometheus at {ep.host}:{ep.port}: {what} is open: {method} {path} answered "
                            f"HTTP {resp.status_code}")
    return problems


def etcd_debug_problems(ep: Endpoint) -> list[str]:
    resp = _http(ep, "GET", "/debug/pprof/")
    if resp.status_code < 300:
        return [f"etcd at {ep.host}:{ep.port}: debug endpoints are served (GET /debug/pprof/ answered "
                f"HTTP {resp.status_code}; --enable-pprof is on)"]
    return []
