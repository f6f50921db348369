"""Target registry: the `--target` flag picks one backend, named here by its class path
(as pytest-testinfra's backends are) and imported only when chosen, since each backend
has its own dependencies (testcontainers, kubectl, an endpoints file)."""

from __future__ import annotations

import importlib

from conformance.catalog import Catalog
from conformance.errors import UsageError
from conformance.targets.base import Target, TargetOptions

BACKENDS: dict[str, str] = {
    "testcontainers": "conformance.targets.testcontainers:TestcontainersTarget",
    "compose": "conformance.targets.compose:ComposeTarget",
    "kind": "conformance.targets.kind:KindTarget",
    "external": "conformance.targets.external:ExternalTarget",
}
TARGET_NAMES = tuple(BACKENDS)


def usage(name: str) -> str:
    """The one-line usage error for a target name not in the registry."""
    return f"--target: invalid choice {name!r} (choose from {', '.join(TARGET_NAMES)})"


def target_class(name: str) -> type[Target]:
    """The backend class registered under `name`, imported on first use."""
    try:
        module_name, _, class_name = BACKENDS[name].partition(":")
    except KeyError:
        raise UsageError(usage(name)) from None
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Target)):
        raise TypeError(f"{BACKENDS[name]} is not a Target")
    return cls


def make_target(name: str, catalog: Catalog, options: TargetOptions) -> Target:
    """Instantiate the named target."""
    return target_class(name)(catalog, options)
