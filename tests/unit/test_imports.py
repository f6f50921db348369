"""The package's modules import on their own, and its import graph has no cycle: the
plugin and the reports share their session state through conformance.session instead of
importing each other back from inside functions. The same holds between its folders:
each top-level module or package of conformance/ is one node, and imports between them
point one way (what two of them share sits below both)."""

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


def package_of(module: str) -> str:
    """The folder-level node of a module: its top-level module or package under conformance/."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_edges() -> dict[tuple[str, str], list[str]]:
    """(importing package, imported package) -> the module imports that make the edge."""
    edges: dict[tuple[str, str], list[str]] = {}
    for name, deps in GRAPH.items():
        for dep in deps:
            pair = (package_of(name), package_of(dep))
            if pair[0] != pair[1]:
                edges.setdefault(pair, []).append(f"{name} -> {dep}")
    return edges


PACKAGE_EDGES = package_edges()


def two_way(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    """Every pair of packages that import each other, with the module imports both ways."""
    return [f"{a} <-> {b}: " + "; ".join(edges[(a, b)] + edges[(b, a)])
            for a, b in sorted(edges) if a < b and (b, a) in edges]


def package_cycle(edges: dict[tuple[str, str], list[str]]) -> list[str] | None:
    """One cycle of packages (a -> b -> ... -> a), or None: the folders form a DAG."""
    succ: dict[str, set[str]] = {}
    for a, b in edges:
        succ.setdefault(a, set()).add(b)
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node):], node]
        if node in done:
            return None
        for nxt in sorted(succ.get(node, ())):
            found = visit(nxt, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    return next((c for c in (visit(n, []) for n in sorted(succ)) if c), None)


def test_no_two_packages_import_each_other() -> None:
    assert not two_way(PACKAGE_EDGES)


def test_package_imports_point_one_way() -> None:
    """No longer cycle either (a -> b -> c -> a)."""
    cycle = package_cycle(PACKAGE_EDGES)
    assert cycle is None, " -> ".join(cycle or []) + ": " + "; ".join(
        m for a, b in zip(cycle or [], (cycle or [])[1:], strict=False) for m in PACKAGE_EDGES[(a, b)])


def test_package_check_fails_on_a_back_edge() -> None:
    """The checks can fail: a back-edge added to a real edge (targets -> kube) is reported."""
    assert ("targets", "kube") in PACKAGE_EDGES
    edges = {**PACKAGE_EDGES, ("kube", "targets"): ["conformance.kube.pods -> conformance.targets.base"]}
    assert two_way(edges) == [f"kube <-> targets: conformance.kube.pods -> conformance.targets.base; "
                              f"{'; '.join(PACKAGE_EDGES[('targets', 'kube')])}"]
    assert package_cycle(edges) in (["kube", "targets", "kube"], ["targets", "kube", "targets"])


def test_targets_import_neither_probes_nor_security() -> None:
    """What they share (endpoints, the inside probe, the Docker view) sits below both."""
    assert not {b for a, b in PACKAGE_EDGES if a == "targets"} & {"probes", "security"}


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
