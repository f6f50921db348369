"""The wheel holds what a consumer runs (plugin, targets, probes, contracts, report, CLI)
and none of this repo's lab (harness/: fault engine, benchmarks, stability runner)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("conformance.plugin", "conformance.targets", "conformance.probes", "conformance.contracts",
           "conformance.report", "conformance.cli")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel built from this checkout by hatchling itself (no pip, no network: ~0.3 s)."""
    out = tmp_path_factory.mktemp("wheel")
    (path,) = WheelBuilder(str(ROOT)).build(directory=str(out), versions=["standard"])
    return zipfile.ZipFile(path)


def modules(wheel: zipfile.ZipFile) -> set[str]:
    """Dotted names of the Python modules in the wheel (what is under _data is data)."""
    return {name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            for name in wheel.namelist() if name.endswith(".py") and "/_data/" not in name}


def test_the_wheel_ships_no_lab(wheel: zipfile.ZipFile) -> None:
    lab = sorted(m for m in modules(wheel)
                 if m.split(".")[0] == "harness" or {"bench", "faults", "stability"} & set(m.split(".")))
    assert not lab, f"the wheel ships lab modules: {lab}"


def test_the_wheel_ships_the_product(wheel: zipfile.ZipFile) -> None:
    shipped = modules(wheel)
    assert not [m for m in PRODUCT if m not in shipped], sorted(shipped)
    entry_points = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    text = wheel.read(entry_points).decode()
    assert "soma_conformance = conformance.plugin" in text and "soma-conformance = conformance.cli:main" in text
