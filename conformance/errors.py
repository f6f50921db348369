"""Errors the suite turns into one-line messages instead of tracebacks."""


class UsageError(Exception):
    """Bad input from the user (option, endpoints file): printed as one line, exit 4."""


class TargetError(Exception):
    """A target could not be brought up or attached to; names the target and the cause."""
