"""INSERT ... ON CONFLICT DO NOTHING on whichever database the session is bound to."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import Base


async def insert_missing(db: AsyncSession, model: type[Base], rows: dict[str, Any] | list[dict[str, Any]]) -> None:
    """Insert the rows that do not exist yet (by any unique key); safe under concurrency on both databases."""
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    await db.execute(insert(model).values(rows).on_conflict_do_nothing())
