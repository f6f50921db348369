"""Write, read and validate the JSON result document.

Every write is atomic (temp file, fsync, rename), so whatever kills the run -- SIGINT,
SIGKILL, a full disk mid-write -- the file on disk is always the last complete document.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jsonschema

from conformance.errors import UsageError
from conformance.report.model import Run

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "conformance-result.v1.schema.json"
RESULT_NAME = "conformance.json"


def atomic_write(path: Path, text: str | bytes) -> None:
    """Replace `path` in one rename; readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@functools.cache
def schema() -> dict[str, Any]:
    with SCHEMA_PATH.open(encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


def validation_errors(doc: Any) -> list[str]:
    """Every schema violation as 'path: message' (empty when valid)."""
    validator = jsonschema.Draft202012Validator(schema())
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))]


def write_run(path: Path, run: Run) -> None:
    atomic_write(path, run.to_json())


def result_file(path: Path) -> Path:
    """A run folder or a JSON file -> the JSON file."""
    return path / RESULT_NAME if path.is_dir() else path


def load_run(path: Path, validate: bool = True) -> Run:
    """Read a result document; a missing, malformed or invalid one is a one-line UsageError."""
    file = result_file(path)
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{file}: no such result document") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{file}: not a readable JSON document: {exc}") from None
    if validate:
        errors = validation_errors(doc)
        if errors:
            raise UsageError(f"{file}: does not match the result schema: {errors[0]}")
    return Run.from_dict(doc)
