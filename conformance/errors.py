"""Errors the suite turns into one-line messages instead of tracebacks."""

# every entry point exits with this on a UsageError: the pytest plugin (raised as
# pytest.UsageError: pytest's ExitCode.USAGE_ERROR, a unit test holds them equal) and each
# `soma-conformance` subcommand; only argparse's rejection of an unknown option or a
# missing argument of `soma-conformance` itself keeps argparse's 2
USAGE_EXIT = 4


class UsageError(Exception):
    """Bad input from the user (option, endpoints file): printed as one line, exit USAGE_EXIT (4)."""


class TargetError(Exception):
    """A target could not be brought up or attached to; names the target and the cause."""
