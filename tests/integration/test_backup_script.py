"""deploy/backup.sh against the real PostgreSQL server: dump, restore check, retention, health check."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import PG_ADMIN_DSN, _admin, fresh_pg_database

BACKUP = Path(__file__).resolve().parents[2] / "deploy" / "backup.sh"


def _libpq_env(database: str, backup_dir: Path, **extra: str) -> dict[str, str]:
    server = urlsplit(PG_ADMIN_DSN)
    return {
        **os.environ,
        "PGHOST": server.hostname or "127.0.0.1",
        "PGPORT": str(server.port or 5432),
        "PGUSER": server.username or "postgres",
        "PGDATABASE": database,
        "BACKUP_DIR": str(backup_dir),
        "BACKUP_CHECK_DB": f"{database}_check",
        **extra,
    }


def _backup(mode: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(BACKUP), mode], env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def handoff_database() -> Iterator[str]:
    """A migrated database, as the stack's `handoff` one is."""
    with fresh_pg_database() as url:
        yield url.rsplit("/", 1)[1]


def test_a_dump_that_restores_is_kept_and_the_oldest_beyond_the_limit_go(tmp_path: Path, handoff_database: str) -> None:
    older = ["handoff-20260101T000000Z.dump", "handoff-20260102T000000Z.dump", "handoff-20260103T000000Z.dump"]
    for name in older:
        (tmp_path / name).write_bytes(b"an older dump")
    env = _libpq_env(handoff_database, tmp_path, BACKUP_KEEP="2")
    assert _backup("check", env).returncode == 1  # no good dump yet
    result = _backup("once", env)
    assert result.returncode == 0, result.stdout + result.stderr
    dumps = sorted(path.name for path in tmp_path.glob("handoff-*.dump"))
    assert len(dumps) == 2
    assert dumps[0] == older[-1]  # the newest older one stays; the two before it are gone
    new = tmp_path / dumps[1]
    assert new.stat().st_size > 1000
    assert oct(new.stat().st_mode & 0o777) == "0o600"
    assert "restored cleanly" in result.stdout
    assert _backup("check", env).returncode == 0
    # The dump holds the schema: pg_restore lists the version table.
    listing = subprocess.run(["pg_restore", "--list", str(new)], capture_output=True, text=True, check=True)
    assert "alembic_version" in listing.stdout


def test_a_dump_that_does_not_restore_as_the_service_is_set_aside(tmp_path: Path) -> None:
    database = f"handoff_not_ours_{os.getpid()}"
    _admin(f'CREATE DATABASE "{database}"')
    try:
        (tmp_path / "handoff-20260101T000000Z.dump").write_bytes(b"an older dump")
        env = _libpq_env(database, tmp_path, BACKUP_KEEP="1")
        result = _backup("once", env)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    assert result.returncode == 1
    assert "did not restore" in result.stdout
    assert [path.name for path in tmp_path.glob("*.failed")]
    assert (tmp_path / "handoff-20260101T000000Z.dump").exists()  # a failed dump never pushes a good one out
    assert _backup("check", env).returncode == 1


def test_the_health_check_fails_once_the_last_good_dump_is_two_intervals_old(tmp_path: Path) -> None:
    env = _libpq_env("unused", tmp_path, BACKUP_INTERVAL_S="3600")
    marker = tmp_path / ".last-ok"
    marker.touch()
    assert _backup("check", env).returncode == 0
    two_hours_and_a_minute_ago = time.time() - 2 * 3600 - 60
    os.utime(marker, (two_hours_and_a_minute_ago, two_hours_and_a_minute_ago))
    assert _backup("check", env).returncode == 1
