"""The suite's pytest options, and what they decide before anything runs: whether this run
is the suite's at all, the target's options and the run mode."""

from __future__ import annotations

import pytest

from conformance import runmode
from conformance.plugin import handoff
from conformance.resources import PACKAGE_DIR
from conformance.runmode import RunMode
from conformance.targets import TARGET_NAMES
from conformance.targets.base import TargetOptions

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
    if handoff.worker_of_active_run(config):
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


def run_mode_of(config: pytest.Config, target: str) -> RunMode:
    """--mode, and whether contracts that change state may run on this target."""
    mode = str(config.getoption("--mode") or "full")
    allow = config.getoption("--allow-disruptive")
    return RunMode(mode=mode, allow_disruptive=bool(allow) if allow is not None else (
        target in WRITABLE_BY_DEFAULT and mode != "quick"))


def target_options(config: pytest.Config) -> TargetOptions:
    return TargetOptions(
        compose_file=config.getoption("--compose-file"),
        env_files=list(config.getoption("--env-file")),
        project_name=config.getoption("--project-name"),
        compose_up=bool(config.getoption("--compose-up")) and not handoff.is_worker(config),
        keep=bool(config.getoption("--keep-stack")),
        endpoints_file=config.getoption("--endpoints"),
        kube_context=str(config.getoption("--kube-context")),
        namespace=str(config.getoption("--namespace")),
        probe_image=str(config.getoption("--probe-image") or DEFAULT_PROBE_IMAGE),
        probe_image_given=config.getoption("--probe-image") is not None,
        scrape_interval=config.getoption("--scrape-interval"),
        attach_state=handoff.handed_state(config),
    )
