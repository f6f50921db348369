"""Scan container images for secrets: every file of every layer, the config's env and
labels, and the build history, for the target's credentials and PEM private-key blocks.

Layers are streamed (`docker save` through the Docker SDK, read as nested tar streams)
in fixed-size chunks, never unpacked to disk. An image is immutable per id, so its
verdict is cached per (image id, needle set) under ~/.cache/soma-infra/image-scan; the
cache never holds a secret, only the digest of the needle set.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from conformance import resources

PEM_TAIL = b"PRIVATE KEY-----"
# a PEM private-key *block*: the BEGIN line, then key material (base64 lines, or the
# Proc-Type header of a legacy encrypted key). A bare header string (a parser's constant
# inside a library such as libgnutls) is not a key.
PEM_BLOCK = re.compile(rb"-----BEGIN [A-Z0-9 ]{0,30}PRIVATE KEY-----\r?\n(?:[A-Za-z0-9+/=]{16,}|Proc-Type:)")
CHUNK = 1 << 20
MIN_SECRET_LEN = 8  # shorter values would match by chance; reported as not scannable
TAR_MAGIC_OFFSET = 257
SCANNER_VERSION = 2  # part of the cache key: bump when what counts as a finding changes


@dataclass(frozen=True)
class Needle:
    """A named secret to look for (the name, never the value, goes into messages)."""

    name: str
    value: bytes


def cache_dir() -> Path:
    return resources.cache_dir() / "image-scan"


def needle_digest(needles: Iterable[Needle]) -> str:
    h = hashlib.sha256(f"scanner {SCANNER_VERSION}".encode())
    for digest in sorted(hashlib.sha256(n.value).digest() for n in needles):
        h.update(digest)
    return h.hexdigest()[:16]


def find_in_text(text: bytes, needles: Iterable[Needle]) -> list[str]:
    """Names of the needles (and 'PEM private key') found in `text`."""
    found = [n.name for n in needles if n.value and n.value in text]
    pos = text.find(PEM_TAIL)
    while pos >= 0:  # cheap find first; the regex only runs around a candidate
        if PEM_BLOCK.search(text, max(0, pos - 50), pos + 200):
            found.append("PEM private key")
            break
        pos = text.find(PEM_TAIL, pos + 1)
    return found


def scan_stream(stream: IO[bytes], needles: list[Needle]) -> list[str]:
    """Needle names found in a byte stream, read in chunks with overlap."""
    keep = max([len(n.value) for n in needles] + [64]) - 1
    tail = b""
    found: set[str] = set()
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        window = tail + chunk
        found.update(find_in_text(window, needles))
        tail = window[-keep:]
    return sorted(found)


def _is_tar(head: bytes) -> bool:
    return len(head) > TAR_MAGIC_OFFSET + 5 and head[TAR_MAGIC_OFFSET:TAR_MAGIC_OFFSET + 5] == b"ustar"


def scan_layer(stream: IO[bytes], layer: str, needles: list[Needle]) -> list[str]:
    """Findings 'layer L: /path: <needle>' for every regular file of one layer tar."""
    findings = []
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            fh = tar.extractfile(member)
            if fh is None:
                continue
            for name in scan_stream(fh, needles):
                findings.append(f"layer {layer}: /{member.name.lstrip('./')}: {name}")
    return findings


class _ChunkReader(io.RawIOBase):
    """A file-like view over the SDK's chunk iterator of `docker save`."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def scan_saved(chunks: Iterator[bytes], needles: list[Needle]) -> list[str]:
    """Findings in a `docker save` tar: each layer's files, and every other member raw."""
    findings: list[str] = []
    outer_stream = io.BufferedReader(_ChunkReader(chunks), buffer_size=CHUNK)
    with tarfile.open(fileobj=outer_stream, mode="r|") as outer:
        for member in outer:
            if not member.isfile():
                continue
            fh = outer.extractfile(member)
            if fh is None:
                continue
            layer = member.name.removesuffix("/layer.tar").removeprefix("blobs/sha256/")[:12]
            if _is_tar(fh.peek(TAR_MAGIC_OFFSET + 8)):  # type: ignore[attr-defined]
                findings += scan_layer(fh, layer, needles)
            else:
                findings += [f"{member.name}: {n}" for n in scan_stream(fh, needles)]
    return findings


def scan_metadata(attrs: dict[str, Any], history: list[dict[str, Any]], needles: list[Needle]) -> list[str]:
    """Findings in the image config's env and labels and in its build history."""
    config = attrs.get("Config") or {}
    findings = []
    for env in config.get("Env") or []:
        findings += [f"config env {str(env).split('=', 1)[0]}: {n}" for n in find_in_text(str(env).encode(), needles)]
    for key, value in (config.get("Labels") or {}).items():
        findings += [f"label {key}: {n}" for n in find_in_text(f"{key}={value}".encode(), needles)]
    for step in history:
        text = str(step.get("CreatedBy", "")) + "\n" + str(step.get("Comment", ""))
        findings += [f"history step {text.strip()[:60]!r}: {n}" for n in find_in_text(text.encode(), needles)]
    return findings


LAYER_FINDING = re.compile(r"^layer \S+: (?P<path>/.*): (?P<what>[^:]+)$")


def split_allowed(findings: list[str], allowed: list[dict[str, str]]) -> tuple[list[str], list[str]]:
    """(problems, allowed findings): a layer finding is allowed when its path matches an
    entry's glob and it is that entry's kind of finding; credentials are never allowed."""
    problems: list[str] = []
    ok: list[str] = []
    for finding in findings:
        m = LAYER_FINDING.match(finding)
        hit = m is not None and m["what"] == "PEM private key" and any(
            fnmatch.fnmatchcase(m["path"], str(a["path"])) and m["what"] == str(a["finding"]) for a in allowed)
        (ok if hit else problems).append(finding)
    return problems, ok


def cached_findings(image_id: str, needles: list[Needle]) -> tuple[Path, list[str] | None]:
    """The cache file of (image id, needle set) and its findings, if that scan was done."""
    cache = cache_dir() / f"{image_id.replace(':', '-')}-{needle_digest(needles)}.json"
    try:
        return cache, list(json.loads(cache.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return cache, None  # never scanned, or a torn file: scan again


def scan_image(client: Any, image_id: str, needles: list[Needle], use_cache: bool = True) -> tuple[list[str], bool]:
    """(all findings for one image, metadata and layers; whether they came from the cache).
    An image id is a digest of its content, so a cached verdict is the same evidence."""
    cache, cached = cached_findings(image_id, needles)
    if use_cache and cached is not None:
        return cached, True
    image = client.images.get(image_id)
    findings = scan_saved(iter(image.save(chunk_size=CHUNK, named=False)), needles)
    findings += scan_metadata(image.attrs, image.history(), needles)
    if use_cache:
        from conformance.report.json_writer import atomic_write

        atomic_write(cache, json.dumps(findings))
    return findings, False
