"""`make backup` / `make restore` round trip on an isolated compose project (issue 15).

Rows go into two databases and a role is created; `make backup` dumps them; the project's
Postgres volume is removed (the data is proven gone on the new, empty volume); `make restore
FROM=...` brings it back, and the rows and the role are read back. Only the postgres
service of the stack runs (project soma-tc-backup-*, free host port), never the lead's stack.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from conformance.targets.compose import COMPOSE_FILE, default_env_files
from conformance.targets.testcontainers import free_port, port_vars
from conformance.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
MARK = uuid.uuid4().hex
EXTRA_DB = "backup_check"
EXTRA_ROLE = "backup_reader"


@dataclass
class PgProject:
    project: str
    compose: list[str]
    port: int
    user: str
    password: str
    db: str

    def run(self, *args: str, timeout: float = 300) -> str:
        proc = subprocess.run([*self.compose, *args], capture_output=True, text=True,
                              timeout=timeout, check=False)
        assert proc.returncode == 0, f"compose {' '.join(args)}: {proc.stderr.strip()[-400:]}"
        return proc.stdout

    def connect(self, dbname: str | None = None) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                               dbname=dbname or self.db, connect_timeout=5, autocommit=True)

    def make(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args,
                               f"COMPOSE={' '.join(self.compose)}"],
                              capture_output=True, text=True, timeout=600, check=False)


def env_value(files: list[str], key: str) -> str:
    value = ""
    for name in files:
        for line in Path(name).read_text().splitlines():
            if line.startswith(f"{key}="):
                value = line.split("=", 1)[1]
    return value


@pytest.fixture(scope="module")
def pg() -> Iterator[PgProject]:
    project = f"soma-tc-backup-{secrets.token_hex(4)}"
    port = free_port()
    fd, override = tempfile.mkstemp(prefix=f"{project}-", suffix=".env")
    with os.fdopen(fd, "w") as fh:
        fh.write(f"COMPOSE_PROJECT_NAME={project}\n")
        fh.writelines(f"{var}={port if var == 'POSTGRES_HOST_PORT' else free_port()}\n"
                      for var in port_vars().values())
    env_files = [*default_env_files(), override]
    cmd = ["docker", "compose", "--project-name", project]
    for name in env_files:
        cmd += ["--env-file", name]
    cmd += ["-f", str(ROOT / COMPOSE_FILE)]
    p = PgProject(project, cmd, port, env_value(env_files, "POSTGRES_USER"),
                  env_value(env_files, "POSTGRES_PASSWORD"), env_value(env_files, "POSTGRES_DB") or "soma")
    try:
        p.run("up", "-d", "--wait", "postgres")
        yield p
    finally:
        subprocess.run([*cmd, "down", "-v", "--remove-orphans"], capture_output=True, timeout=300, check=False)
        Path(override).unlink(missing_ok=True)


def write_rows(p: PgProject) -> None:
    with p.connect() as conn:
        conn.execute("CREATE TABLE backup_check (id int primary key, mark text)")
        conn.execute("INSERT INTO backup_check SELECT g, %s FROM generate_series(1, 1000) g", (MARK,))
        conn.execute(f"CREATE DATABASE {EXTRA_DB}")
        conn.execute(f"CREATE ROLE {EXTRA_ROLE} LOGIN")
    with p.connect(EXTRA_DB) as conn:
        conn.execute("CREATE TABLE notes (mark text)")
        conn.execute("INSERT INTO notes VALUES (%s)", (MARK,))
        conn.execute(f"GRANT SELECT ON notes TO {EXTRA_ROLE}")


def read_rows(p: PgProject) -> tuple[int, list[tuple[object, ...]], bool, bool]:
    with p.connect() as conn:
        count = conn.execute("SELECT count(*) FROM backup_check WHERE mark = %s", (MARK,)).fetchone()
        role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (EXTRA_ROLE,)).fetchone()
    with p.connect(EXTRA_DB) as conn:
        notes = conn.execute("SELECT mark FROM notes").fetchall()
        grant = conn.execute("SELECT has_table_privilege(%s, 'notes', 'SELECT')", (EXTRA_ROLE,)).fetchone()
    return int(str(count[0])) if count else 0, notes, role is not None, bool(grant and grant[0])


def wait_ready(p: PgProject, timeout: float = 60) -> None:
    def answers() -> bool:
        with p.connect() as conn:
            conn.execute("SELECT 1")
        return True

    wait_until(answers, timeout=timeout, retry_on=(psycopg.OperationalError,),
               what="the restored Postgres answering SELECT 1")


def test_backup_volume_removed_restore(pg: PgProject, tmp_path: Path) -> None:
    write_rows(pg)
    backups = tmp_path / "backups"
    t0 = time.monotonic()
    done = pg.make("backup", f"BACKUP_DIR={backups}")
    assert done.returncode == 0, done.stderr
    print(f"\nbackup: {done.stdout.strip()} ({time.monotonic() - t0:.1f}s with make)")
    [folder] = list(backups.iterdir())
    assert folder.name.endswith("Z") and folder.name[:8].isdigit(), f"not a dated UTC folder: {folder.name}"
    for db in (pg.db, EXTRA_DB, "postgres"):
        assert (folder / f"{db}.dump").read_bytes()[:5] == b"PGDMP", f"{db}.dump is not a custom-format dump"
    assert EXTRA_ROLE in (folder / "globals.sql").read_text()

    # destroy: the named volume goes with the containers; a new stack starts empty
    pg.run("down", "-v")
    volumes = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"name={pg.project}_"],
                             capture_output=True, text=True, timeout=30, check=True).stdout.split()
    assert volumes == [], f"volumes survived down -v: {volumes}"
    pg.run("up", "-d", "--wait", "postgres")
    wait_ready(pg)
    with pg.connect() as conn:
        gone = conn.execute("SELECT to_regclass('backup_check')").fetchone()
    assert gone == (None,), "the data was not destroyed: the round trip would prove nothing"

    t0 = time.monotonic()
    done = pg.make("restore", f"FROM={folder}")
    assert done.returncode == 0, done.stderr
    print(f"restore: {done.stdout.strip()} ({time.monotonic() - t0:.1f}s with make)")
    assert read_rows(pg) == (1000, [(MARK,)], True, True)

    # restoring again over live data replaces it (no duplicate rows, no error)
    done = pg.make("restore", f"FROM={folder}")
    assert done.returncode == 0, done.stderr
    assert read_rows(pg) == (1000, [(MARK,)], True, True)


def test_restore_refuses_bad_input(pg: PgProject, tmp_path: Path) -> None:
    missing = pg.make("restore")
    assert missing.returncode != 0 and "FROM=" in missing.stderr
    bogus = pg.make("restore", f"FROM={tmp_path / 'nope'}")
    assert bogus.returncode != 0 and "not a backup folder" in bogus.stderr
    # a corrupt archive must fail the restore loudly (exit status of pg_restore in the
    # container reaches make), never pass as restored
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "MANIFEST").write_text(f"database={pg.db}\n")
    (corrupt / "globals.sql").write_text("")
    (corrupt / f"{pg.db}.dump").write_bytes(b"PGDMP not really a dump")
    broken = pg.make("restore", f"FROM={corrupt}")
    assert broken.returncode != 0 and f"pg_restore of {pg.db} failed" in broken.stderr, broken.stderr

