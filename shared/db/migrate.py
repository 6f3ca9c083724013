"""Apply the Alembic migrations that ship with the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

MIGRATIONS = Path(__file__).parents[1] / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` to `revision` (blocking)."""
    command.upgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    """The newest migration that ships with the package."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def current_revision(connection: AsyncConnection) -> str | None:
    """The revision the database is at; None before the first migration (no version table yet)."""
    try:
        revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception:  # noqa: BLE001 - no table means "never migrated", whatever the driver calls it
        return None
    return None if revision is None else str(revision)
