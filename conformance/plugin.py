"""The pytest plugin (entry point `pytest11: soma_conformance`).

Adds `--target` and friends, registers the area and service markers, turns each test's
`@pytest.mark.contract("<id>")` into those markers from the catalog, and provides the
session fixtures through which contract tests reach a target.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance import catalog as catalog_mod
from conformance import report
from conformance.errors import TargetError, UsageError
from conformance.targets import TARGET_NAMES, make_target
from conformance.targets.base import Credentials, Endpoint, InsideResult, Target, TargetOptions

TARGET_KEY = pytest.StashKey[Target]()
TARGET_ERROR_KEY = pytest.StashKey[str]()
SETUP_DONE_KEY = pytest.StashKey[bool]()
DEFAULT_TIMEOUT_S = 60


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
    group.addoption("--probe-image", default="soma-infra/probe:local",
                    help="image for in-network probes (any image with python3)")
    parser.addini("soma_target", "default --target", default="compose")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "contract(id): the catalog contract this test asserts")
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
        raise pytest.UsageError(
            f"--target: invalid choice {name!r} (choose from {', '.join(TARGET_NAMES)})")
    try:
        target = make_target(name, catalog_mod.load(), target_options(config))
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


def pytest_configure_node(node: Any) -> None:  # xdist hook, controller side
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


def target_name(config: pytest.Config) -> str:
    return str(config.getoption("--target") or config.getini("soma_target") or "compose")


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
        probe_image=str(config.getoption("--probe-image")),
        attach_state=(workerinput or {}).get("soma_target_state"),
    )


def report_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("--report-dir") or os.environ.get("SOMA_REPORT_DIR") or "reports")


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


def _setup_target(config: pytest.Config) -> Target:
    target = config.stash[TARGET_KEY]
    _try_setup(config)
    error = config.stash.get(TARGET_ERROR_KEY, None)
    if error:
        pytest.fail(error, pytrace=False)
    return target


def pytest_report_header(config: pytest.Config) -> list[str]:
    target = config.stash.get(TARGET_KEY, None)
    if target is None:
        return []
    try:
        line = target.describe()
    except (TargetError, KeyError) as exc:
        line = f"target: {target.name} (endpoints unknown: {exc})"
    cat = catalog_mod.load()
    return [line, f"soma contract catalog v{cat.version}: {len(cat.contracts)} contracts, "
                  f"{len(cat.services)} services"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give each contract test its area and service markers, from the catalog; with
    --contract, keep only the named contracts."""
    cat = catalog_mod.load()
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
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT_S))
    if wanted:
        keep = [i for i in items if i not in deselected and i.get_closest_marker("contract")]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


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
    from conformance.probes.clients import ContractFailure

    try:
        return (yield)
    except ContractFailure as exc:
        pytest.fail(str(exc), pytrace=False)


_MEASUREMENTS: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect `record_property("measurement", text)` lines (from xdist workers too)."""
    if report.when == "call":
        _MEASUREMENTS.extend(str(v) for k, v in report.user_properties if k == "measurement")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the measurements (attack cases, fuzz examples, latencies) at the end of the run."""
    if _MEASUREMENTS:
        terminalreporter.section("soma-conformance measurements")
        for line in _MEASUREMENTS:
            terminalreporter.write_line(line)


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
def soma_credentials(soma_target: Target) -> Credentials:
    try:
        return soma_target.credentials()
    except TargetError as exc:
        pytest.fail(f"target {soma_target.name}: credentials: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def soma_endpoint(soma_target: Target) -> Callable[[str], Endpoint]:
    """endpoint("redis") -> Endpoint; skips when the target does not deploy the service."""

    def get(service: str) -> Endpoint:
        if not soma_target.deployed(service):
            pytest.skip(soma_target.not_deployed_reason(service))
        try:
            return soma_target.endpoint(service)
        except TargetError as exc:
            pytest.fail(f"{service}: {exc}", pytrace=False)

    return get


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
