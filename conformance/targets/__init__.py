"""Target registry: the `--target` flag picks one backend module."""

from __future__ import annotations

from conformance.catalog import Catalog
from conformance.errors import UsageError
from conformance.targets.base import Target, TargetOptions

TARGET_NAMES = ("testcontainers", "compose", "kind", "external")


def make_target(name: str, catalog: Catalog, options: TargetOptions) -> Target:
    """Instantiate the named target (imports lazily: each backend has its own deps)."""
    if name == "compose":
        from conformance.targets.compose import ComposeTarget
        return ComposeTarget(catalog, options)
    if name == "testcontainers":
        from conformance.targets.testcontainers import TestcontainersTarget
        return TestcontainersTarget(catalog, options)
    if name == "kind":
        from conformance.targets.kind import KindTarget
        return KindTarget(catalog, options)
    if name == "external":
        from conformance.targets.external import ExternalTarget
        return ExternalTarget(catalog, options)
    raise UsageError(f"--target: invalid choice {name!r} (choose from {', '.join(TARGET_NAMES)})")
