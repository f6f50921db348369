"""`soma-conformance`: the suite's command line.

    soma-conformance contracts [--format text|markdown|json]    list the catalog's contracts
    soma-conformance services [--host-port-vars]                 the catalog's services, for scripts
    soma-conformance identity-env                                infra/config/vault/identity.env, generated
    soma-conformance stability --runs 20 -- [pytest args...]     N runs; any outcome that changes is flaky
    soma-conformance run [pytest args...]                         run the suite (= pytest --pyargs conformance)
    soma-conformance endpoints init|validate|schema              write and check endpoints files

Subcommands are registered in COMMANDS; each module that adds one owns its own parser.
`run` hands every argument to pytest untouched (its own options included, `--help` too);
commands that also take pytest arguments (stability, nightly) take them after `--`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from conformance import __version__
from conformance.cli import catalog_views, endpoints, report, runs
from conformance.errors import USAGE_EXIT, UsageError

Command = tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]

# commands whose extra arguments are pytest's: `run` takes all of them, the others those after `--`
PASSTHROUGH_ALL = frozenset({"run"})
PASSTHROUGH_AFTER_DASHDASH = frozenset({"stability", "nightly"})

COMMANDS: dict[str, Command] = {
    "contracts": (catalog_views.contracts_args, catalog_views.contracts),
    "services": (catalog_views.services_args, catalog_views.services),
    "identity-env": (catalog_views.identity_env_args, catalog_views.print_identity_env),
    "run": (runs.run_args, runs.run),
    "report": (report.report_args, report.report),
    "stability": (runs.stability_args, runs.stability),
    "nightly": (report.nightly_args, report.nightly),
    "endpoints": (endpoints.add_args, endpoints.main),
}


def split_passthrough(argv: Sequence[str]) -> tuple[list[str], list[str] | None]:
    """(arguments for our parser, arguments for pytest or None when the command takes none).

    argparse cannot pass options it does not know (`run --co -q` was rejected) and keeps a
    `--` inside a REMAINDER (pytest then read `--target=...` as a file name). So the split
    is done here: after `run` everything is pytest's; for stability and nightly, everything
    after the first `--`. The first `--` is ours and is dropped."""
    args = list(argv)
    index = next((i for i, a in enumerate(args) if not a.startswith("-")), None)
    if index is None or args[index] not in (PASSTHROUGH_ALL | PASSTHROUGH_AFTER_DASHDASH):
        return args, None
    own, tail = args[:index + 1], args[index + 1:]
    if args[index] in PASSTHROUGH_ALL:
        if "--" in tail:
            tail.remove("--")
        return own, tail
    if "--" in tail:
        cut = tail.index("--")
        return own + tail[:cut], tail[cut + 1:]
    return own + tail, []


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the console script: `soma-conformance contracts | head` is fine
        import signal

        # not when called with arguments (tests, embedding): SIG_DFL would let a closed
        # socket kill the calling process, e.g. an xdist worker
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = argparse.ArgumentParser(prog="soma-conformance", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add_args, _) in COMMANDS.items():
        add_args(sub.add_parser(name, allow_abbrev=False))
    own, pytest_args = split_passthrough(sys.argv[1:] if argv is None else argv)
    ns = parser.parse_args(own)
    if pytest_args is not None:
        ns.pytest_args = pytest_args
    try:
        return COMMANDS[ns.command][1](ns)
    except UsageError as exc:
        print(f"soma-conformance: error: {exc}", file=sys.stderr)
        return USAGE_EXIT

