"""`make backup-kind` / `make restore-kind` round trip on the live Kind cluster (issue 15).

A database of the test's own (rows + a role with a grant) is written into postgres-0, the
backup is taken, the database and the role are dropped (the loss is proven), the backup is
restored, and the rows, role and grant are read back. Only the test's own objects are
touched; they are dropped at the end.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kind.test_live_faults import CONTEXT, NAMESPACE, cluster_up

ROOT = Path(__file__).resolve().parents[2]
DB = "backup_check_kind"
ROLE = "backup_reader_kind"
MARK = uuid.uuid4().hex


def psql(sql: str, db: str = "postgres") -> str:
    """One SQL command through psql inside postgres-0 (its socket, its superuser)."""
    proc = subprocess.run(
        ["kubectl", "--context", CONTEXT, "-n", NAMESPACE, "exec", "-i", "postgres-0", "-c", "postgres", "--",
         "sh", "-c", 'PGHOST=/tmp psql -XAtq -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$1"', "sh", db],
        input=sql, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"psql on {db}: {proc.stderr.strip()[-400:]}"
    return proc.stdout.strip()


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args, f"KUBE_CONTEXT={CONTEXT}"],
                          capture_output=True, text=True, timeout=600, check=False)


def drop_own_objects() -> None:
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql(f"DROP ROLE IF EXISTS {ROLE}")


@pytest.fixture
def own_database() -> Iterator[None]:
    why_not = cluster_up()
    if why_not:
        pytest.fail(f"the Kind cluster is not up: {why_not}")
    drop_own_objects()
    psql(f"CREATE DATABASE {DB}")
    psql(f"CREATE ROLE {ROLE} LOGIN")
    psql(f"CREATE TABLE rows (id int primary key, mark text); "
         f"INSERT INTO rows SELECT g, '{MARK}' FROM generate_series(1, 1000) g; "
         f"GRANT SELECT ON rows TO {ROLE}", DB)
    try:
        yield
    finally:
        drop_own_objects()


def test_backup_drop_restore_on_kind(own_database: None, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    t0 = time.monotonic()
    done = make("backup-kind", f"BACKUP_DIR={backups}")
    assert done.returncode == 0, done.stderr
    print(f"\nbackup-kind: {done.stdout.strip()} ({time.monotonic() - t0:.1f}s with make)")
    [folder] = list(backups.iterdir())
    assert (folder / f"{DB}.dump").read_bytes()[:5] == b"PGDMP"

    drop_own_objects()
    assert psql(f"SELECT count(*) FROM pg_database WHERE datname = '{DB}'") == "0", "the drop did not happen"

    t0 = time.monotonic()
    done = make("restore-kind", f"FROM={folder}")
    assert done.returncode == 0, done.stderr
    print(f"restore-kind: {done.stdout.strip()} ({time.monotonic() - t0:.1f}s with make)")
    assert psql(f"SELECT count(*) FROM rows WHERE mark = '{MARK}'", DB) == "1000"
    assert psql(f"SELECT has_table_privilege('{ROLE}', 'rows', 'SELECT')", DB) == "t"
