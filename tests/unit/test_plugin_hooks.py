"""The plugin is a package with one module per job, but pytest registers only the hooks and
fixtures it finds on the entry-point module `conformance.plugin`: each one must be there,
and pytest must really register it."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import conformance.plugin

ROOT = Path(__file__).resolve().parents[2]


def is_fixture(value: Any) -> bool:
    # pytest >= 8.4 wraps a fixture function in a FixtureFunctionDefinition
    return type(value).__name__ == "FixtureFunctionDefinition"


def job_modules() -> list[ModuleType]:
    return [importlib.import_module(f"conformance.plugin.{m.name}")
            for m in pkgutil.iter_modules(conformance.plugin.__path__)]


def defined(predicate: Any) -> dict[str, Any]:
    """Name -> object of what the job modules define themselves (not what they import)."""
    return {name: value for module in job_modules() for name, value in vars(module).items()
            if predicate(name, value) and getattr(value, "__module__", module.__name__) == module.__name__}


HOOKS = defined(lambda name, value: name.startswith("pytest_") and callable(value))
FIXTURES = defined(lambda name, value: is_fixture(value))


def test_the_job_modules_define_hooks_and_fixtures() -> None:
    """The check can fail: it sees what the modules define."""
    assert {"pytest_addoption", "pytest_configure", "pytest_runtest_call"} <= set(HOOKS)
    assert {"soma_target", "soma_endpoint", "soma_run_mode"} <= set(FIXTURES)


@pytest.mark.parametrize("name", sorted({**HOOKS, **FIXTURES}))
def test_each_is_exposed_on_the_entry_point_module(name: str) -> None:
    assert getattr(conformance.plugin, name, None) is {**HOOKS, **FIXTURES}[name]


def test_pytest_registers_every_hook(pytestconfig: pytest.Config) -> None:
    plugin = next(p for p in pytestconfig.pluginmanager.get_plugins()
                  if getattr(p, "__name__", "") == "conformance.plugin")
    registered = {caller.name for caller in pytestconfig.pluginmanager.get_hookcallers(plugin) or []}
    assert set(HOOKS) <= registered, sorted(set(HOOKS) - registered)


def test_pytest_registers_every_fixture(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOMA_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode in (0, 5), proc.stderr[-2000:]
    listed = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("soma_")}
    assert set(FIXTURES) <= listed, (sorted(set(FIXTURES) - listed), proc.stdout[-3000:])
