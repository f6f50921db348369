"""Fixtures for tests that run a real, isolated copy of the compose stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance import catalog
from conformance.targets.base import TargetOptions
from conformance.targets.testcontainers import TestcontainersTarget


@pytest.fixture(scope="package")
def fresh_stack() -> Iterator[TestcontainersTarget]:
    """A stack of its own (project soma-tc-*, free host ports), torn down with volumes."""
    target = TestcontainersTarget(catalog.load(), TargetOptions())
    target.setup()
    try:
        yield target
    finally:
        target.teardown()
