"""Which validator the identity contracts attack: the reference one, or another.

SOMA_IDENTITY_VALIDATOR=<module>:<factory> or <file.py>:<factory> swaps it, so a team can
run the attack corpus against its own validator, and a seeded fault can plant a broken one.
The factory takes a ValidatorConfig and returns an object with `algorithms` and
`validate(token, expected_tenant=None)` that raises InvalidToken on rejection.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from conformance.identity.validator import TokenValidator, ValidatorConfig
from conformance.resources import data_path

ENV = "SOMA_IDENTITY_VALIDATOR"
DEFAULT = "conformance.identity.validator:TokenValidator"


class Validator(Protocol):
    algorithms: tuple[str, ...]

    def validate(self, token: str, expected_tenant: str | None = None) -> dict[str, Any]: ...


Factory = Callable[[ValidatorConfig], Validator]


def load_factory(spec: str | None = None) -> tuple[str, Factory]:
    """(spec, factory) for the validator under test; default: the reference validator."""
    spec = spec or os.environ.get(ENV) or DEFAULT
    if spec == DEFAULT:
        return spec, TokenValidator
    where, _, name = spec.rpartition(":")
    if not where or not name:
        raise ValueError(f"{ENV}={spec!r}: expected <module or file.py>:<factory>")
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_absolute() and not path.exists():
            path = data_path(where)  # fixtures/... relative to the checkout or the package
        path = path.resolve()
        module_spec = importlib.util.spec_from_file_location(f"soma_validator_{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise ValueError(f"{ENV}={spec!r}: cannot load {path}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    factory: Factory = getattr(module, name)
    return spec, factory
