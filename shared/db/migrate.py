"""Apply the Alembic migrations that ship with the package.

Alembic is imported only to migrate: every `handoff api` reads the newest revision for `/readyz`, and importing
Alembic (with Mako and Pygments behind it) would add about 0.4 s to each start.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parents[1] / "migrations"
_ASSIGNED = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` to `revision` (blocking)."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def head_revision(migrations: Path = MIGRATIONS) -> str | None:
    """The newest migration that ships with the package: the one no other revises (None when there are none).

    Read from the scripts' `revision` and `down_revision` lines, as Alembic reads them, without importing Alembic.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (migrations / "versions").glob("*.py"):
        found = {name: ast.literal_eval(value) for name, value in _ASSIGNED.findall(script.read_text("utf-8"))}
        if "revision" not in found:
            continue
        revisions.add(found["revision"])
        down = found.get("down_revision")
        revised.update([down] if isinstance(down, str) else down or ())
    heads = revisions - revised
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have several heads: {', '.join(sorted(heads))}")
    return next(iter(heads), None)


async def current_revision(connection: AsyncConnection) -> str | None:
    """The revision the database is at; None before the first migration (no version table yet)."""
    try:
        revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception:  # noqa: BLE001 - no table means "never migrated", whatever the driver calls it
        return None
    return None if revision is None else str(revision)
