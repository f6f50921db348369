"""Turning the suite on: installed, the plugin loads into every pytest run of the
environment, so it acts only when a suite option is given or its contracts are collected.
Then it registers the markers, makes the target and the report, and turns every setup
mistake into one usage-error line (exit 4) naming the fix."""

from __future__ import annotations

import pytest

from conformance import catalog as catalog_mod
from conformance import report, runmode
from conformance import waivers as waivers_mod
from conformance.errors import TargetError, UsageError
from conformance.plugin import handoff
from conformance.plugin.options import asked, names_the_suite, run_mode_of, target_options
from conformance.plugin.target_setup import try_setup
from conformance.session import (
    ACTIVE_KEY,
    PREFLIGHT_DONE_KEY,
    RUN_MODE_KEY,
    TARGET_KEY,
    WAIVERS_KEY,
    is_active,
    run_mode,
    target_name,
)
from conformance.targets import TARGET_NAMES, make_target, usage


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "contract(id): the catalog contract this test asserts")
    config.addinivalue_line("markers", "disruptive: the contract changes state on its target")
    if asked(config):
        activate(config)


def activate(config: pytest.Config) -> None:
    """Turn the suite on: markers, target, report; every setup mistake is a usage error."""
    if is_active(config):
        return
    config.stash[ACTIVE_KEY] = True
    for area in catalog_mod.AREAS:
        config.addinivalue_line("markers", f"{area}: contracts of area {area}")
    for name in catalog_mod.load().services:
        config.addinivalue_line("markers", f"{name}: contracts of service {name}")
    config.addinivalue_line("markers", "stack: contracts about the stack as a whole")
    # client libraries' own deprecation noise is not a contract result
    for module in ("etcd3", "kafka", "google.protobuf", "hvac", "testcontainers"):
        config.addinivalue_line("filterwarnings", f"ignore::DeprecationWarning:{module}")
    config.addinivalue_line("filterwarnings", "ignore:open_text is deprecated:DeprecationWarning")

    name = target_name(config)
    if name not in TARGET_NAMES:
        raise pytest.UsageError(usage(name))
    config.stash[RUN_MODE_KEY] = run_mode_of(config, name)
    try:
        catalog_mod.asked_scrape_interval(catalog_mod.load(), config.getoption("--scrape-interval"))
        known = {c.id for c in catalog_mod.load().contracts}
        config.stash[WAIVERS_KEY] = waivers_mod.from_options(
            list(config.getoption("--skip-contract")), config.getoption("--waivers"), known)
        wait = config.getoption("--wait-ready")
        if wait is not None:
            runmode.parse_duration(str(wait))
        target = make_target(name, catalog_mod.load(), target_options(config))
        # the shipped suite is checked before anything runs; tests elsewhere that only carry
        # contract markers are checked at collection, if they use the target at all
        if not handoff.is_worker(config) and not config.option.collectonly and names_the_suite(config):
            target.preflight(inside=_may_probe_inside(config))
            config.stash[PREFLIGHT_DONE_KEY] = True
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[TARGET_KEY] = target
    report.register(config)  # JUnit/JSON/HTML/Markdown/metrics (conformance/report)
    # under xdist the controller sets the target up once and hands workers the state to
    # attach to it (or the reason it failed); without xdist setup is lazy (first use)
    handoff.take_handed_error(config)
    if handoff.is_controller(config) and not config.option.collectonly:
        try_setup(config)


def _may_probe_inside(config: pytest.Config) -> bool:
    """Whether this selection can include the in-network (dns.*) contracts."""
    wanted = list(config.getoption("--contract"))
    return not wanted or any(w.startswith("dns.") for w in wanted)


def pytest_report_header(config: pytest.Config) -> list[str]:
    target = config.stash.get(TARGET_KEY, None)
    if target is None or not is_active(config):
        return []
    try:
        line = target.describe()
    except (TargetError, KeyError) as exc:
        line = f"target: {target.name} (endpoints unknown: {exc})"
    cat = catalog_mod.load()
    rm = run_mode(config)
    found = [f"preflight found: {'; '.join(f'{k} {v}' for k, v in target.found.items())}"] if target.found else []
    return [line, *found, f"soma contract catalog v{cat.version}: {len(cat.contracts)} contracts, "
                  f"{len(cat.services)} services; mode {rm.mode}, "
                  f"{'disruptive contracts allowed' if rm.allow_disruptive else 'read-only'}"]
