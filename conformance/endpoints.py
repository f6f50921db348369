"""The endpoints file of `--target=external`: schema, `${ENV}` expansion, validation.

The file is a product for the teams that point the suite at their environments, so it
has a published JSON Schema (conformance/schema/endpoints.v1.schema.json), rejects unknown
keys with "did you mean", and keeps secrets out of the file through `${ENV_VAR}`.
Every mistake is one UsageError line.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from conformance.errors import UsageError
from conformance.suggest import did_you_mean

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "endpoints.v1.schema.json"
MAX_FILE_BYTES = 1 << 20
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@functools.cache
def schema() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return doc


def read_yaml(path_text: str, where: str) -> Any:
    path = Path(path_text)
    if not path.exists():
        raise UsageError(f"{where}: file not found")
    if not path.is_file():
        raise UsageError(f"{where}: not a regular file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UsageError(f"{where}: {size} bytes is larger than the {MAX_FILE_BYTES}-byte limit")
        text = path.read_text(encoding="utf-8")
    except PermissionError:
        raise UsageError(f"{where}: permission denied") from None
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{where}: cannot read ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise UsageError(f"{where}: not valid YAML{at}: {problem}") from None


def expand(value: Any, where: str, path: str = "", env: Mapping[str, str] | None = None) -> Any:
    """Replace ${VAR} in every string from the environment; an unset variable is an error.
    A port written as "${PORT}" becomes an integer."""
    names: Mapping[str, str] = os.environ if env is None else env
    if isinstance(value, dict):
        return {k: expand(v, where, f"{path}.{k}" if path else str(k), names) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, where, f"{path}[{i}]", names) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            raise UsageError(f"{where}: {path}: environment variable {name} is not set")
        return names[name]

    out = _VAR.sub(sub, value)
    if path.endswith(".port") and out != value and out.isdigit():
        return int(out)
    return out


def _unknown_keys(doc: Any, node: dict[str, Any], path: str, where: str) -> None:
    """Reject keys the schema does not know, naming the closest known key."""
    if not isinstance(doc, dict) or node.get("additionalProperties") is not False:
        return
    props: dict[str, Any] = node.get("properties", {})
    at = f"{path}." if path else ""
    for key, value in doc.items():
        if key not in props:
            if path == "services":
                raise UsageError(f"{where}: unknown service {key!r}{did_you_mean(str(key), props)}"
                                 f" (catalog has: {', '.join(sorted(props))})")
            raise UsageError(f"{where}: unknown key '{at}{key}'{did_you_mean(str(key), props)}")
        _unknown_keys(value, props[key], f"{at}{key}", where)


def _shape(doc: Any, where: str, known_services: set[str]) -> None:
    """The checks with hand-written messages (the most common mistakes)."""
    if not isinstance(doc, dict):
        raise UsageError(f"{where}: top level must be a mapping with a 'services' key")
    services = doc.get("services")
    if not isinstance(services, dict) or not services:
        raise UsageError(f"{where}: 'services' must be a non-empty mapping of service -> endpoint")
    for name, spec in services.items():
        if name not in known_services:
            raise UsageError(f"{where}: unknown service {name!r}{did_you_mean(str(name), known_services)}"
                             f" (catalog has: {', '.join(sorted(known_services))})")
        if not isinstance(spec, dict):
            raise UsageError(f"{where}: services.{name} must be a mapping with host and port")
        if spec.get("deployed", True) is False:
            continue
        host, port = spec.get("host"), spec.get("port")
        if not isinstance(host, str) or not host.strip():
            raise UsageError(f"{where}: services.{name}.host must be a non-empty string")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise UsageError(f"{where}: services.{name}.port must be an integer 1-65535, got {port!r}")
    if not isinstance(doc.get("credentials", {}), dict):
        raise UsageError(f"{where}: 'credentials' must be a mapping")


def validate(doc: Any, where: str, known_services: set[str]) -> dict[str, Any]:
    """Validate an (expanded) endpoints document against the schema; one line per mistake."""
    _shape(doc, where, known_services)
    _unknown_keys(doc, schema(), "", where)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema()).iter_errors(doc))
    if error is not None:
        at = ".".join(str(p) for p in error.absolute_path) or "top level"
        raise UsageError(f"{where}: {at}: {error.message.splitlines()[0]}")
    checked: dict[str, Any] = doc
    return checked


def load(path_text: str | None, known_services: set[str], env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read, expand and validate an endpoints file."""
    if not path_text:
        raise UsageError("--target=external needs --endpoints FILE (a YAML endpoints file; "
                         "`soma-conformance endpoints init` writes one)")
    where = f"--endpoints {path_text}"
    doc = read_yaml(path_text, where)
    if isinstance(doc, dict):
        _unknown_keys(doc, schema(), "", where)  # a misspelt key is named before anything else
    return validate(expand(doc, where, env=env), where, known_services)
