"""Which CA bundle verifies which endpoint, for every HTTPS call the suite makes.

An external target registers each service that speaks TLS with its `ca_file` (or the
system trust store); HTTP clients ask `verify(url)` for the context to use, so a contract
never needs to know where its endpoint came from. In-process only: no environment change.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

_CA_FILES: dict[tuple[str, int], str] = {}


def register(host: str, port: int, ca_file: str | None) -> None:
    """Remember the CA bundle of host:port (None: verify against the system store)."""
    if ca_file:
        _CA_FILES[(host, port)] = ca_file


def ca_file(host: str, port: int) -> str | None:
    return _CA_FILES.get((host, port))


def verify(url: str) -> ssl.SSLContext | bool:
    """The `verify=` argument for an httpx call to url (always verifying, never off)."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return True
    cafile = _CA_FILES.get((parts.hostname or "", parts.port or 443))
    return ssl.create_default_context(cafile=cafile) if cafile else True
