"""INSERT ... ON CONFLICT DO NOTHING on whichever database the session is bound to."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import Base, table_of


@cache
def _insert_missing(dialect: str, table: Table) -> Insert:
    """Built once per table: the rows travel as parameters, so the statement compiles once, whatever their number."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing()


async def insert_missing(db: AsyncSession, model: type[Base], rows: dict[str, Any] | list[dict[str, Any]]) -> None:
    """Insert the rows that do not exist yet (by any unique key); safe under concurrency on both databases.

    Several rows go as one multi-row INSERT (the driver's `insertmanyvalues`); every row names the same columns.
    """
    if not rows:
        return
    statement = _insert_missing(db.get_bind().dialect.name, table_of(model))
    await db.execute(statement, rows)
