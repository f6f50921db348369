"""Running the tools a target drives (docker, docker compose, kubectl): every command has
a bounded time, and a failure is one line naming what was being done and why, never a
traceback. Backends import these from here, not from each other."""

from __future__ import annotations

import subprocess

from conformance.errors import TargetError

CMD_TIMEOUT_S = 60


def cause(text: str) -> str:
    """The line of a docker/compose/kubectl error that says what went wrong: not the
    trailing "Run 'docker run --help' for more information" boilerplate."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(("Run '", "See '"))]
    return (useful or lines or [""])[-1]


def completed(cmd: list[str], timeout: float, what: str, *,
              stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command with a bounded time and return it whatever its exit code (for callers
    that read a refusal, e.g. an admission verdict); a missing tool or a timeout is a
    one-line TargetError."""
    try:
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise TargetError(f"{what}: {cmd[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise TargetError(f"{what}: {cmd[0]} gave no answer within {timeout:.0f}s") from None


def run(cmd: list[str], timeout: float, what: str, *, stdin: str | None = None) -> str:
    """Run a command with a bounded time and return its stdout; a non-zero exit is a
    one-line TargetError carrying the tool's own cause."""
    proc = completed(cmd, timeout, what, stdin=stdin)
    if proc.returncode != 0:
        raise TargetError(f"{what}: {cause(proc.stderr or proc.stdout) or f'exit {proc.returncode}'}")
    return proc.stdout
