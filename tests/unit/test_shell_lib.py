"""infra/scripts/lib.sh and step.sh, the shell the set-up targets stand on: a step prints
one line with its duration and keeps the tool output in a log, whose path and last lines a
failure shows with the command's own exit code; temp dirs go on every exit; a lock waits a
bounded time and says what it waited for; a stamp vouches only for finished artefacts."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "infra" / "scripts"
STEP = SCRIPTS / "step.sh"
LINE = re.compile(r"^==> (?P<name>.+?) \.\.\. (?P<result>ok|FAILED \(exit \d+, )\(?(?P<took>\d+m)?\d+s\)$")


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment: the cache, logs and temp dirs under tmp_path, quiet mode."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOMA_")}
    env.update(SOMA_CACHE=str(tmp_path / "cache"), TMPDIR=str(tmp_path), **extra)
    return env


def step(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(STEP), *args], capture_output=True, text=True, timeout=60,
                          env=env_for(tmp_path, **extra), check=False)


def logs(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "logs").glob("*.log"))


def script(tmp_path: Path, body: str) -> Path:
    """A throwaway script that sources lib.sh the way infra/scripts do."""
    path = tmp_path / "s.sh"
    path.write_text(f'. "{SCRIPTS}/lib.sh"\n{body}\n', encoding="utf-8")
    return path


def test_success_is_one_line_with_a_duration_and_the_output_in_a_log(tmp_path: Path) -> None:
    proc = step(tmp_path, "say hello", "sh", "-c", "echo to-stdout; echo to-stderr >&2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    [line] = proc.stdout.splitlines()
    assert re.fullmatch(r"==> say hello \.\.\. ok \(\d+s\)", line), line
    [log] = logs(tmp_path)
    text = log.read_text(encoding="utf-8")
    assert "to-stdout" in text and "to-stderr" in text


def test_failure_prints_the_log_path_and_last_lines_and_returns_the_exit_code(tmp_path: Path) -> None:
    cmd = 'for i in $(seq 1 40); do echo "line $i"; done; printf "\\033[31mred\\033[0m last\\n"; exit 7'
    proc = step(tmp_path, "break things", "bash", "-c", cmd)
    assert proc.returncode == 7
    assert re.fullmatch(r"==> break things \.\.\. FAILED \(exit 7, \d+s\)\n", proc.stdout), proc.stdout
    [log] = logs(tmp_path)
    assert f"log: {log}" in proc.stderr
    assert "line 40" in proc.stderr and "red last" in proc.stderr
    assert "line 1\n" not in proc.stderr, "only the last lines, not the whole log"
    assert "\x1b" not in proc.stdout + proc.stderr, "escape codes are stripped from what a person reads"


def test_nested_steps_are_indented_under_the_outer_line(tmp_path: Path) -> None:
    inner = script(tmp_path, 'step "first" true\nstep "second" sh -c "echo noise"\necho more-noise')
    proc = step(tmp_path, "outer", "bash", str(inner))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [re.sub(r"\(\d+s\)", "(Ns)", s) for s in lines] == [
        "==> outer ... ", "  -> first ... ok (Ns)", "  -> second ... ok (Ns)", "==> outer ok (Ns)"]
    [log] = logs(tmp_path)
    assert "noise" in log.read_text(encoding="utf-8")


def test_a_failing_inner_step_fails_the_outer_one_with_its_code(tmp_path: Path) -> None:
    inner = script(tmp_path, 'step "fine" true\nstep "broken" sh -c "echo why-it-broke; exit 5"\necho not-reached')
    proc = step(tmp_path, "outer", "bash", str(inner))
    assert proc.returncode == 5
    assert re.search(r"^  -> broken \.\.\. FAILED \(exit 5, \d+s\)$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^==> outer FAILED \(exit 5, \d+s\)$", proc.stdout, re.M), proc.stdout
    assert "why-it-broke" in proc.stderr and "not-reached" not in proc.stderr


def test_a_shell_function_step_stops_at_its_first_failing_command(tmp_path: Path) -> None:
    body = 'f() { false; echo after-false; }\nstep "function" f\necho after-step'
    proc = subprocess.run(["bash", str(script(tmp_path, body))], capture_output=True, text=True, timeout=60,
                          env=env_for(tmp_path), check=False)
    assert proc.returncode == 1 and "after-step" not in proc.stdout
    [log] = logs(tmp_path)
    assert "after-false" not in log.read_text(encoding="utf-8")


def test_step_refuses_a_context_where_bash_ignores_set_e(tmp_path: Path) -> None:
    """After `||` bash would run the whole step with set -e off: a failing command inside a
    function would not stop it, and a half-built artefact could be stamped."""
    body = 'f() { false; echo after-false; }\nstep "function" f || echo "step returned $?"'
    proc = subprocess.run(["bash", str(script(tmp_path, body))], capture_output=True, text=True, timeout=60,
                          env=env_for(tmp_path), check=False)
    assert "step returned 2" in proc.stdout and "after-false" not in proc.stdout
    assert "call it as a plain command" in proc.stderr


def test_verbose_mode_shows_everything(tmp_path: Path) -> None:
    proc = step(tmp_path, "chatty", "sh", "-c", "echo the-tool-output", SOMA_VERBOSE="1")
    assert proc.returncode == 0
    assert re.fullmatch(r"==> chatty\nthe-tool-output\n==> chatty ok \(\d+s\)\n", proc.stdout), proc.stdout
    assert logs(tmp_path) == []


def test_usage_error(tmp_path: Path) -> None:
    proc = step(tmp_path, "no command")
    assert proc.returncode == 2 and "usage: step.sh" in proc.stderr


@pytest.mark.parametrize("how", ["error", "sigterm"])
def test_temp_dirs_are_removed_on_any_exit(tmp_path: Path, how: str) -> None:
    body = 'tmpdir work; echo "$work" > "$TMPDIR/made"; touch "$work/half-built"\n'
    body += "false" if how == "error" else "sleep 30"
    proc = subprocess.Popen(["bash", str(script(tmp_path, body))], env=env_for(tmp_path))
    made = tmp_path / "made"
    deadline = time.monotonic() + 20
    while not made.exists() or not made.read_text():
        assert time.monotonic() < deadline, "the script never made its temp dir"
        time.sleep(0.05)
    if how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) != 0
    assert not Path(made.read_text().strip()).exists()


def test_lock_waits_a_bounded_time_and_names_the_lock(tmp_path: Path) -> None:
    lockfile = tmp_path / "cache" / "bin" / ".thing.lock"
    lockfile.parent.mkdir(parents=True)
    lockfile.touch()
    with lockfile.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = subprocess.run(["bash", str(script(tmp_path, f'lock "{lockfile}" 1; echo got-it'))],
                              capture_output=True, text=True, timeout=30, env=env_for(tmp_path), check=False)
    assert proc.returncode == 1 and "got-it" not in proc.stdout
    assert f"waiting up to 1s for {lockfile}" in proc.stderr
    assert f"gave up after 1s waiting for {lockfile}" in proc.stderr
    free = subprocess.run(["bash", str(script(tmp_path, f'lock "{lockfile}" 1; echo got-it'))],
                          capture_output=True, text=True, timeout=30, env=env_for(tmp_path), check=False)
    assert free.returncode == 0 and free.stdout == "got-it\n" and free.stderr == ""


def test_stamp_and_put_build_to_temp_then_move(tmp_path: Path) -> None:
    """`needs_build` says build until the artefact is in place AND stamped; the stamp keeps
    the `echo WANT` format the existing caches were written with."""
    body = """
mkdir -p "$bin"
needs_build "$bin/.tool.version" "mod@v1" "$bin/.tool.lock" 5 "$bin/tool" && echo build-1
tmpdir work; printf '#!/bin/sh\\n' > "$work/out"; chmod +x "$work/out"
put "$work/out" "$bin/tool"
needs_build "$bin/.tool.version" "mod@v1" "$bin/.tool.lock" 5 "$bin/tool" && echo build-2-unstamped
stamp "$bin/.tool.version" "mod@v1"
needs_build "$bin/.tool.version" "mod@v1" "$bin/.tool.lock" 5 "$bin/tool" || echo cached
needs_build "$bin/.tool.version" "mod@v2" "$bin/.tool.lock" 5 "$bin/tool" && echo build-new-version
ls -A "$bin"
"""
    proc = subprocess.run(["bash", str(script(tmp_path, body))], capture_output=True, text=True, timeout=60,
                          env=env_for(tmp_path), check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.split()
    assert out[:4] == ["build-1", "build-2-unstamped", "cached", "build-new-version"]
    assert sorted(out[4:]) == [".tool.lock", ".tool.version", "tool"], "no temp files left beside the artefact"
    assert (tmp_path / "cache" / "bin" / ".tool.version").read_text() == "mod@v1\n"
