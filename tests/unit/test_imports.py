"""The package's modules import on their own, and its import graph has no cycle: the
plugin and the reports share their session state through conformance.session instead of
importing each other back from inside functions."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.resources import PACKAGE_DIR

ROOT = PACKAGE_DIR.parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def imported(name: str, path: Path) -> set[str]:
    """Package modules `name` imports anywhere in its file (inside functions too: a cycle
    dodged by a late import is still a cycle). `from pkg import sub` names the submodule."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            subs = {f"{base}.{alias.name}" for alias in node.names} & MODULES.keys()
            found.update(subs or {base})
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imported(name, path) for name, path in MODULES.items()}


def cycle_through(start: str) -> list[str] | None:
    """One import path from `start` back to itself, or None."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in GRAPH[node]:
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_graph_walker_sees_the_edges_it_must() -> None:
    """The check can fail: the plugin's import of the report package is an edge."""
    assert "conformance.report" in GRAPH["conformance.plugin.activation"]
    assert "conformance.session" in GRAPH["conformance.report.hooks"]


def test_no_cycle_between_plugin_and_report() -> None:
    """(On the code before conformance.session: plugin -> report -> plugin.)"""
    for name in (m for m in MODULES if m.startswith(("conformance.plugin", "conformance.report"))):
        cycle = cycle_through(name)
        assert cycle is None, " -> ".join(cycle or [])


def test_no_import_cycle_anywhere_in_the_package() -> None:
    cycles = [" -> ".join(c) for c in map(cycle_through, sorted(MODULES)) if c]
    assert not cycles


def test_report_never_imports_the_plugin() -> None:
    offenders = [m for m in MODULES if m.startswith("conformance.report")
                 and any(dep.startswith("conformance.plugin") for dep in GRAPH[m])]
    assert not offenders


def test_backends_import_no_other_backend_helpers() -> None:
    """Backends share process helpers through conformance.process; only the subclass
    relation (testcontainers extends compose) and the label reader are allowed."""
    allowed = {("conformance.targets.testcontainers", "conformance.targets.compose"),
               ("conformance.targets.compose", "conformance.targets.docker_project"),
               ("conformance.targets.testcontainers", "conformance.targets.docker_project")}
    backends = {"conformance.targets.compose", "conformance.targets.kind", "conformance.targets.external",
                "conformance.targets.testcontainers", "conformance.targets.docker_project"}
    crossed = {(m, dep) for m in backends for dep in GRAPH[m] & backends} - allowed
    assert not crossed


# a __main__ module runs its program when imported: `python -m` is its only use
@pytest.mark.parametrize("name", sorted(m for m in MODULES if not m.endswith(".__main__")))
def test_module_imports_alone_in_a_fresh_interpreter(name: str) -> None:
    proc = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_every_registered_target_loads_as_the_class_of_its_name() -> None:
    from conformance.targets import BACKENDS, TARGET_NAMES, target_class
    from conformance.targets.base import Target

    assert tuple(BACKENDS) == TARGET_NAMES
    for name in TARGET_NAMES:
        cls = target_class(name)
        assert issubclass(cls, Target) and cls.name == name


def test_an_unknown_target_is_the_one_line_usage_error() -> None:
    from conformance.errors import UsageError
    from conformance.targets import target_class

    with pytest.raises(UsageError, match=r"^--target: invalid choice 'nonsense' \(choose from testcontainers, "):
        target_class("nonsense")
