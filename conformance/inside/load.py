"""Steady load from inside the service network: run in a pod (as the inside probe is) while
the suite removes a member of a replicated service, so what is measured is what an app
on the cluster sees through the Service's name, not a port-forward to one pod.

Standard library only, Python 3.9+. Usage:
    python3 load.py '<json {"kind", "url", "seconds", "interval", ...}>'
kinds:
  http  POST `body` (JSON) or GET `url`; a success is HTTP 200 (and, with `expect_true`,
        a JSON body whose `result` is true). One new connection per request: a Service's
        load balancing decides where each goes.
  etcd  put `<prefix><n>` through etcd's v3 JSON gateway; a success is an acknowledged put.
        After the last attempt (and `settle` seconds), every acknowledged key is read back.
Prints one JSON line per attempt {"n", "t", "ok", "detail"} (t: seconds since start), a
{"ready": true} line before the first, and a {"summary": ...} line at the end.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

TIMEOUT = 2.0


def _call(url: str, body: Any = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                 headers={"Content-Type": "application/json", "Connection": "close"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def attempt_http(spec: dict[str, Any], _n: int) -> str:
    status, raw = _call(spec["url"], spec.get("body"))
    if status != 200:
        raise ValueError(f"HTTP {status}: {raw[:80]!r}")
    if spec.get("expect_true") and json.loads(raw).get("result") is not True:
        raise ValueError(f"decision {raw[:80]!r}, expected true")
    return "200"


def attempt_etcd(spec: dict[str, Any], n: int) -> str:
    status, raw = _call(spec["url"].rstrip("/") + "/v3/kv/put",
                        {"key": _b64(f"{spec['prefix']}{n}"), "value": _b64(str(n))})
    if status != 200:
        raise ValueError(f"HTTP {status}: {raw[:80]!r}")
    return "put"


def etcd_present(spec: dict[str, Any]) -> set[int]:
    """The numbers of the prefix's keys the cluster holds now."""
    prefix = spec["prefix"]
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    status, raw = _call(spec["url"].rstrip("/") + "/v3/kv/range", {"key": _b64(prefix), "range_end": _b64(end)})
    if status != 200:
        raise ValueError(f"range read-back: HTTP {status}")
    kvs = json.loads(raw).get("kvs") or []
    return {int(base64.b64decode(kv["key"]).decode()[len(prefix):]) for kv in kvs}


ATTEMPTS = {"http": attempt_http, "etcd": attempt_etcd}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    attempt = ATTEMPTS[spec["kind"]]
    interval = float(spec.get("interval", 0.1))
    acked: list[int] = []
    failed = 0
    print(json.dumps({"ready": True}), flush=True)
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < float(spec["seconds"]):
        n += 1
        t = time.monotonic() - start
        try:
            detail = attempt(spec, n)
            ok = True
            acked.append(n)
        except Exception as exc:  # noqa: BLE001 - every failure is a counted, reported attempt
            detail, ok = f"{type(exc).__name__}: {exc}"[:160], False
            failed += 1
        print(json.dumps({"n": n, "t": round(t, 3), "ok": ok, "detail": detail}), flush=True)
        time.sleep(max(0.0, interval - (time.monotonic() - start - t)))
    summary: dict[str, Any] = {"attempts": n, "acked": len(acked), "failed": failed}
    if spec["kind"] == "etcd":
        time.sleep(float(spec.get("settle", 2)))
        present = etcd_present(spec)
        summary["lost"] = sorted(set(acked) - present)
    print(json.dumps({"summary": summary}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
