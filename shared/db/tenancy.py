"""Rows that belong to one account: every tenant-scoped load goes through here, so no query forgets the account."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

# A mapped class whose table has an `id` and an `account_id`.
RowT = TypeVar("RowT", bound=DeclarativeBase)


async def row_of_account(
    db: AsyncSession, model: type[RowT], row_id: uuid.UUID, account_id: uuid.UUID, *, for_update: bool = False
) -> RowT | None:
    """The row `row_id` of `model` if it belongs to `account_id`, read afresh; None otherwise.

    `for_update` locks it until the transaction ends (on PostgreSQL; SQLite serialises writers anyway).
    """
    columns = model.__table__.c
    query = select(model).where(columns.id == row_id, columns.account_id == account_id)
    if for_update:
        query = query.with_for_update()
    return (await db.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
