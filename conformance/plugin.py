"""The pytest plugin (entry point `pytest11: soma_conformance`).

Adds `--target` and friends, registers the area and service markers, turns each test's
`@pytest.mark.contract("<id>")` into those markers from the catalog, and provides the
session fixtures through which contract tests reach a target.

Installed, it loads into every pytest run of the environment, so it stays inert until
asked: it acts only when a suite option is given or its contracts are collected. A
setup problem (no such project, missing image or file, bad endpoints) is one usage-error
line, exit 4, naming the fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from conformance import catalog as catalog_mod
from conformance import report, runmode
from conformance import waivers as waivers_mod
from conformance.access import Credentials, Endpoint
from conformance.errors import TargetError, UsageError
from conformance.inside.checks import InsideResult
from conformance.readiness_wait import wait_ready
from conformance.resources import PACKAGE_DIR
from conformance.session import (
    ACTIVE_KEY,
    PREFLIGHT_DONE_KEY,
    SETUP_DONE_KEY,
    TARGET_ERROR_KEY,
    TARGET_KEY,
    WAIVERS_KEY,
    is_active,
    target_name,
)
from conformance.targets import TARGET_NAMES, make_target, usage
from conformance.targets.base import Target, TargetOptions

DEFAULT_TIMEOUT_S = 60
DEFAULT_PROBE_IMAGE = "soma-infra/probe:local"
# targets the suite may change by default (throwaway or dev stacks); `external` is read-only
# unless --allow-disruptive, and --mode=quick is read-only everywhere
WRITABLE_BY_DEFAULT = ("testcontainers", "compose", "kind")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("soma-conformance", "Soma shared-infra conformance")
    group.addoption("--target", default=None,
                    help=f"where the shared infra runs: {', '.join(TARGET_NAMES)} "
                         "(default: ini soma_target, else compose)")
    group.addoption("--endpoints", default=None, metavar="FILE",
                    help="YAML endpoints file for --target=external")
    group.addoption("--report-dir", default=None, metavar="DIR",
                    help="where run reports are written (default: reports/)")
    group.addoption("--compose-file", default=None, metavar="FILE",
                    help="compose file of the stack (default: infra/docker/shared-infra.compose.yaml)")
    group.addoption("--env-file", action="append", default=[], metavar="FILE",
                    help="compose env file(s) (default: infra/env/.env.shared, else the example)")
    group.addoption("--project-name", default=None, help="compose project name to attach to")
    group.addoption("--compose-up", action="store_true", default=False,
                    help="compose target: bring the stack up before and down after the run")
    group.addoption("--keep-stack", action="store_true", default=False,
                    help="never tear down what the target created (debugging)")
    group.addoption("--contract", action="append", default=[], metavar="ID",
                    help="run only this catalog contract (repeatable)")
    group.addoption("--kube-context", default="kind-soma", help="kind target: kube context")
    group.addoption("--namespace", default="soma-infra", help="kind target: namespace")
    group.addoption("--probe-image", default=None,
                    help=f"image for in-network probes: any local image with python3 "
                         f"(default {DEFAULT_PROBE_IMAGE})")
    group.addoption("--allow-disruptive", action="store_true", default=None,
                    help="run contracts that change state (key rotation, scratch topics and keys); "
                         "default: yes on testcontainers/compose/kind, no on external and in --mode=quick")
    group.addoption("--mode", choices=runmode.MODES, default=None,
                    help="full (default) or quick: non-disruptive, small example counts (smoke runs)")
    group.addoption("--wait-ready", default=None, metavar="DURATION",
                    help="retry readiness of every service until this deadline (e.g. 90s, 2m) before judging")
    group.addoption("--skip-contract", action="append", default=[], metavar="ID",
                    help="waive this contract for the run (repeatable; shown as waived in the report)")
    group.addoption("--waivers", default=None, metavar="FILE",
                    help="YAML waiver file: contract, reason, expires (an expired waiver is an error)")
    group.addoption("--scrape-interval", default=None, metavar="DURATION",
                    help="the Prometheus scrape interval the target was deployed with: the "
                         "catalog's contract interval (default, 15s) or its on-demand one (5s; "
                         "make prometheus-5s, Helm prometheus.scrapeInterval)")
    parser.addini("soma_target", "default --target", default="compose")


# options whose presence means "run the suite" (their defaults are None/False/[])
SUITE_OPTIONS = ("target", "endpoints", "report_dir", "compose_file", "env_file", "project_name",
                 "compose_up", "keep_stack", "contract", "probe_image", "allow_disruptive", "mode",
                 "wait_ready", "skip_contract", "waivers")
OPTION_DEFAULTS = {"kube_context": "kind-soma", "namespace": "soma-infra"}


def asked(config: pytest.Config) -> bool:
    """Whether this run is the suite's: a suite option was given, or the arguments name the
    contracts (`--pyargs conformance`, a path inside the package). Otherwise stay inert."""
    if getattr(config, "workerinput", {}).get("soma_active"):
        return True
    opt = config.option
    if any(getattr(opt, name, None) not in (None, False, []) for name in SUITE_OPTIONS):
        return True
    if any(getattr(opt, name, default) != default for name, default in OPTION_DEFAULTS.items()):
        return True
    return names_the_suite(config)


def names_the_suite(config: pytest.Config) -> bool:
    """The arguments name the shipped contracts (`--pyargs conformance`, a package path)."""
    opt = config.option
    for arg in config.args:
        base = str(arg).split("::", 1)[0]
        if getattr(opt, "pyargs", False) and base.replace("/", ".").split(".")[0] == "conformance":
            return True
        try:
            path = (config.invocation_params.dir / base).resolve()
        except (OSError, ValueError):
            continue
        if path == PACKAGE_DIR or PACKAGE_DIR in path.parents:
            return True
    return False


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "contract(id): the catalog contract this test asserts")
    config.addinivalue_line("markers", "disruptive: the contract changes state on its target")
    if asked(config):
        _activate(config)


def _activate(config: pytest.Config) -> None:
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
    mode = str(config.getoption("--mode") or "full")
    allow = config.getoption("--allow-disruptive")
    runmode.CURRENT.mode = mode
    runmode.CURRENT.allow_disruptive = bool(allow) if allow is not None else (
        name in WRITABLE_BY_DEFAULT and mode != "quick")
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
        if not hasattr(config, "workerinput") and not config.option.collectonly and names_the_suite(config):
            target.preflight(inside=_may_probe_inside(config))
            config.stash[PREFLIGHT_DONE_KEY] = True
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[TARGET_KEY] = target
    report.register(config)  # JUnit/JSON/HTML/Markdown/metrics (conformance/report)
    # Under xdist the controller creates what must exist once (an ephemeral stack) and
    # hands workers the state to attach to it (or the reason it failed, so each contract
    # fails with it); without xdist setup is lazy (first use).
    worker_error = getattr(config, "workerinput", {}).get("soma_target_error")
    if worker_error:
        config.stash[SETUP_DONE_KEY] = True
        config.stash[TARGET_ERROR_KEY] = str(worker_error)
    if _is_xdist_controller(config) and not config.option.collectonly:
        _try_setup(config)


def _may_probe_inside(config: pytest.Config) -> bool:
    """Whether this selection can include the in-network (dns.*) contracts."""
    wanted = list(config.getoption("--contract"))
    return not wanted or any(w.startswith("dns.") for w in wanted)


def pytest_configure_node(node: Any) -> None:  # xdist hook, controller side
    if not is_active(node.config):
        return
    node.workerinput["soma_active"] = True
    target = node.config.stash.get(TARGET_KEY, None)
    error = node.config.stash.get(TARGET_ERROR_KEY, None)
    if error:
        node.workerinput["soma_target_error"] = error
    elif target is not None:
        node.workerinput["soma_target_state"] = target.attach_state()


def pytest_unconfigure(config: pytest.Config) -> None:
    target = config.stash.get(TARGET_KEY, None)
    if target is not None and not hasattr(config, "workerinput"):
        try:
            target.teardown()
        except TargetError as exc:
            print(f"soma-conformance: teardown: {exc}")


def _is_xdist_controller(config: pytest.Config) -> bool:
    return (not hasattr(config, "workerinput")
            and bool(getattr(config.option, "numprocesses", None))
            and getattr(config.option, "dist", "no") != "no")


def target_options(config: pytest.Config) -> TargetOptions:
    workerinput = getattr(config, "workerinput", None)
    return TargetOptions(
        compose_file=config.getoption("--compose-file"),
        env_files=list(config.getoption("--env-file")),
        project_name=config.getoption("--project-name"),
        compose_up=bool(config.getoption("--compose-up")) and workerinput is None,
        keep=bool(config.getoption("--keep-stack")),
        endpoints_file=config.getoption("--endpoints"),
        kube_context=str(config.getoption("--kube-context")),
        namespace=str(config.getoption("--namespace")),
        probe_image=str(config.getoption("--probe-image") or DEFAULT_PROBE_IMAGE),
        probe_image_given=config.getoption("--probe-image") is not None,
        scrape_interval=config.getoption("--scrape-interval"),
        attach_state=(workerinput or {}).get("soma_target_state"),
    )


def _try_setup(config: pytest.Config) -> None:
    """Set the target up once; a failure is recorded, not raised, so it fails the
    contracts that need the target (each naming the cause) rather than the session."""
    target = config.stash[TARGET_KEY]
    if not config.stash.get(SETUP_DONE_KEY, False):
        config.stash[SETUP_DONE_KEY] = True
        try:
            target.setup()
        except TargetError as exc:
            config.stash[TARGET_ERROR_KEY] = f"target {target.name}: {exc}"
            return
        wait = config.getoption("--wait-ready")
        if wait is not None and not hasattr(config, "workerinput"):
            waited = wait_ready(target, runmode.parse_duration(str(wait)))
            print(f"\nsoma-conformance: --wait-ready: {waited}")


def _setup_target(config: pytest.Config) -> Target:
    target = config.stash[TARGET_KEY]
    _try_setup(config)
    error = config.stash.get(TARGET_ERROR_KEY, None)
    if error:
        pytest.fail(error, pytrace=False)
    return target


def pytest_report_header(config: pytest.Config) -> list[str]:
    target = config.stash.get(TARGET_KEY, None)
    if target is None or not is_active(config):
        return []
    try:
        line = target.describe()
    except (TargetError, KeyError) as exc:
        line = f"target: {target.name} (endpoints unknown: {exc})"
    cat = catalog_mod.load()
    rm = runmode.CURRENT
    return [line, f"soma contract catalog v{cat.version}: {len(cat.contracts)} contracts, "
                  f"{len(cat.services)} services; mode {rm.mode}, "
                  f"{'disruptive contracts allowed' if rm.allow_disruptive else 'read-only'}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give each contract test its area and service markers, from the catalog; with
    --contract, keep only the named contracts; skip waived contracts and, on a read-only
    run, disruptive ones (naming the reason)."""
    if not is_active(config):
        if not any(i.get_closest_marker("contract") for i in items):
            return
        _activate(config)  # contracts collected by a path the arguments did not reveal
    cat = catalog_mod.load()
    waived = config.stash.get(WAIVERS_KEY, {})
    allow = runmode.CURRENT.allow_disruptive
    wanted = set(config.getoption("--contract"))
    for unknown in sorted(wanted - {c.id for c in cat.contracts}):
        raise pytest.UsageError(f"--contract: {unknown!r} is not in the contract catalog")
    deselected: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("contract")
        if marker is None:
            continue
        contract_id = str(marker.args[0]) if marker.args else ""
        try:
            contract = cat.contract(contract_id)
        except KeyError as exc:
            raise pytest.UsageError(f"{item.nodeid}: {exc.args[0]}") from None
        if wanted and contract.id not in wanted:
            deselected.append(item)
            continue
        item.add_marker(getattr(pytest.mark, contract.area))
        item.add_marker(getattr(pytest.mark, contract.service))
        item.user_properties.append(("contract", contract.id))
        if contract.id in waived:
            item.add_marker(pytest.mark.skip(reason=waived[contract.id].skip_reason()))
        elif contract.disruptive:
            item.add_marker(pytest.mark.disruptive)
            # a test that gates only its state-changing part asks for soma_disruptive
            if not allow and "soma_disruptive" not in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.skip(reason=disruptive_reason(contract)))
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT_S))
    if wanted:
        keep = [i for i in items if i not in deselected and i.get_closest_marker("contract")]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    _preflight_for(config, items)


def _preflight_for(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check the target before the first test when these items use it (serial runs whose
    arguments did not name the suite; xdist workers never: their controller decides)."""
    if (config.stash.get(PREFLIGHT_DONE_KEY, False) or hasattr(config, "workerinput")
            or config.option.collectonly):
        return
    config.stash[PREFLIGHT_DONE_KEY] = True
    names = [set(getattr(i, "fixturenames", ())) for i in items]
    if not any("soma_target" in n for n in names):
        return
    try:
        config.stash[TARGET_KEY].preflight(inside=any("soma_inside" in n for n in names))
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None


def disruptive_reason(contract: catalog_mod.Contract, part: bool = False) -> str:
    what = f"the read-only part held, then skipped ({contract.disruptive})" if part else contract.disruptive
    return f"disruptive, read-only run: {what}; pass --allow-disruptive to run it"


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Set the target up before the first test (not inside it): bringing up an ephemeral
    stack takes longer than one test's timeout, and is bounded by the target itself.
    A failure is recorded and fails each contract with its cause, as under xdist."""
    config = session.config
    if session.items and not config.option.collectonly and not hasattr(config, "workerinput") \
            and any("soma_target" in getattr(i, "fixturenames", ()) for i in session.items):
        _try_setup(config)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """A broken contract is reported as its one-line cause, not a client-library traceback."""
    if item.get_closest_marker("contract") is None:
        return (yield)
    # imported here, not at the top: the plugin loads into every pytest run of the
    # environment, and the client module pulls in httpx (not a cycle: tests/unit/test_imports.py)
    from conformance.probes.clients import ContractFailure

    try:
        return (yield)
    except ContractFailure as exc:
        pytest.fail(str(exc), pytrace=False)


_MEASUREMENTS: list[str] = []
_AREA_SECONDS: dict[str, float] = {}
_AREA_TESTS: dict[str, set[str]] = {}
_SESSION_START = time.monotonic()


_SKIPPED: dict[str, set[str]] = {"disruptive": set(), "waived": set()}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect `record_property("measurement", text)` lines, each area's time (setup,
    call and teardown of its tests) and which contracts were skipped as disruptive or
    waived (from xdist workers too)."""
    if report.when == "call":
        _MEASUREMENTS.extend(str(v) for k, v in report.user_properties if k == "measurement")
    area = next((a for a in catalog_mod.AREAS if a in report.keywords), None)
    if area:
        _AREA_SECONDS[area] = _AREA_SECONDS.get(area, 0.0) + report.duration
        _AREA_TESTS.setdefault(area, set()).add(report.nodeid)
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2])
        contract = next((str(v) for k, v in report.user_properties if k == "contract"), None)
        for kind, contracts in _SKIPPED.items():
            if contract and (reason.startswith(f"Skipped: {kind}") or reason.startswith(kind)):
                contracts.add(contract)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the measurements (attack cases, fuzz examples, latencies), where the time
    went per contract area, and which contracts were not judged because they are
    disruptive or waived."""
    if not is_active(terminalreporter.config):
        return
    if _MEASUREMENTS:
        terminalreporter.section("soma-conformance measurements")
        for line in _MEASUREMENTS:
            terminalreporter.write_line(line)
    if _AREA_SECONDS:
        terminalreporter.section("soma-conformance time per area")
        for area, secs in sorted(_AREA_SECONDS.items(), key=lambda kv: -kv[1]):
            terminalreporter.write_line(f"{area:<14} {secs:7.1f} s  ({len(_AREA_TESTS[area])} tests)")
        terminalreporter.write_line(f"{'(session wall)':<14} {time.monotonic() - _SESSION_START:7.1f} s  "
                                    "(areas sum test durations: with -n, workers overlap)")
    waived = terminalreporter.config.stash.get(WAIVERS_KEY, {})
    if _SKIPPED["disruptive"] or waived:
        terminalreporter.section("soma-conformance: not judged in this run")
        if _SKIPPED["disruptive"]:
            terminalreporter.write_line(
                f"disruptive (read-only run; --allow-disruptive runs them): "
                f"{', '.join(sorted(_SKIPPED['disruptive']))}")
        for cid, waiver in sorted(waived.items()):
            terminalreporter.write_line(f"waived {cid}: {waiver.skip_reason()}")


# --- fixtures ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def soma_catalog() -> catalog_mod.Catalog:
    """The contract catalog."""
    return catalog_mod.load()


@pytest.fixture(scope="session")
def soma_target(pytestconfig: pytest.Config) -> Target:
    """The target under test, set up (or attached to) once per session."""
    return _setup_target(pytestconfig)


@pytest.fixture(scope="session")
def soma_scrape_interval(pytestconfig: pytest.Config, soma_catalog: catalog_mod.Catalog) -> str:
    """The Prometheus scrape interval the target was asked for (--scrape-interval): the
    contract's 15s unless it was deployed with the catalog's on-demand interval."""
    return catalog_mod.asked_scrape_interval(soma_catalog, pytestconfig.getoption("--scrape-interval"))


@pytest.fixture(scope="session")
def soma_credentials(soma_target: Target) -> Credentials:
    try:
        return soma_target.credentials()
    except TargetError as exc:
        pytest.fail(f"target {soma_target.name}: credentials: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def soma_endpoint(soma_target: Target) -> Callable[[str], Endpoint]:
    """endpoint("redis") -> Endpoint; skips when the target does not deploy the service."""

    def get(service: str) -> Endpoint:
        return endpoint_of(soma_target, service)

    return get


def endpoint_of(target: Target, service: str) -> Endpoint:
    """The service's endpoint; skips when the target does not deploy an optional service,
    fails when it lacks a required one (a gap in the stack is a failure, not a skip)."""
    if not target.deployed(service):
        if not target.judged(service):
            pytest.skip(target.not_deployed_reason(service))
        pytest.fail(f"{service}: required by the contract catalog, but "
                    f"{target.not_deployed_reason(service)}", pytrace=False)
    try:
        return target.endpoint(service)
    except TargetError as exc:
        pytest.fail(f"{service}: {exc}", pytrace=False)


@pytest.fixture
def soma_disruptive(soma_catalog: catalog_mod.Catalog) -> Callable[[str], None]:
    """soma_disruptive("readiness.kafka"): call just before a contract's state-changing part;
    on a read-only run it skips there, after the read-only part has held."""

    def gate(contract_id: str) -> None:
        if not runmode.CURRENT.allow_disruptive:
            pytest.skip(disruptive_reason(soma_catalog.contract(contract_id), part=True))

    return gate


@pytest.fixture(scope="session")
def soma_inside(soma_target: Target) -> dict[str, InsideResult]:
    """Results of the in-network DNS/protocol probe, run once for all services."""
    reason = soma_target.inside_unsupported_reason()
    if reason:
        pytest.skip(reason)
    checks = soma_target.inside_checks()
    try:
        return {r.service: r for r in soma_target.run_inside(checks)}
    except TargetError as exc:
        pytest.fail(f"target {soma_target.name}: {exc}", pytrace=False)
