"""The pytest plugin (entry point `pytest11: soma_conformance`).

Adds `--target` and friends, registers the area and service markers, turns each test's
`@pytest.mark.contract("<id>")` into those markers from the catalog, and provides the
session fixtures through which contract tests reach a target. Installed, it stays inert
until asked (conformance/plugin/activation.py).

One module per job; pytest registers the hooks and fixtures it finds on this module, so
each is imported here by name (tests/unit/test_plugin_hooks.py checks that none is missed).
"""

from conformance.plugin.activation import pytest_configure, pytest_report_header
from conformance.plugin.collection import pytest_collection_modifyitems
from conformance.plugin.fixtures import (
    soma_catalog,
    soma_credentials,
    soma_disruptive,
    soma_endpoint,
    soma_inside,
    soma_last_phase,
    soma_run_mode,
    soma_scrape_interval,
    soma_target,
)
from conformance.plugin.handoff import pytest_configure_node
from conformance.plugin.options import pytest_addoption
from conformance.plugin.phases import pytest_xdist_make_scheduler
from conformance.plugin.results import pytest_runtest_call
from conformance.plugin.target_setup import pytest_runtestloop, pytest_unconfigure

__all__ = [
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_configure_node",
    "pytest_report_header",
    "pytest_runtest_call",
    "pytest_runtestloop",
    "pytest_unconfigure",
    "pytest_xdist_make_scheduler",
    "soma_catalog",
    "soma_credentials",
    "soma_disruptive",
    "soma_endpoint",
    "soma_inside",
    "soma_last_phase",
    "soma_run_mode",
    "soma_scrape_interval",
    "soma_target",
]
