"""Rows that belong to one account: every tenant-scoped load goes through here, so no query forgets the account."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, defer

from shared.errors import NotFound

# A mapped class whose table has an `id` and an `account_id`.
RowT = TypeVar("RowT", bound=DeclarativeBase)
CallerT = TypeVar("CallerT")


class TenantLoader(Generic[CallerT, RowT]):
    """Loads one row of `model` for a caller: from the caller's account only, and only if `visible` lets them see it.

    Anything else raises NotFound(`name`): a row of another account, or one hidden from the caller, does not
    exist for them.
    """

    def __init__(
        self,
        model: type[RowT],
        name: str,
        *,
        account_of: Callable[[CallerT], uuid.UUID],
        visible: Callable[[CallerT, RowT], bool],
        heavy: Sequence[QueryableAttribute[Any]] = (),
    ) -> None:
        """`heavy` columns (large documents) stay unread by a `light` load, for a caller deciding on the rest."""
        self.model = model
        self.name = name
        self.account_of = account_of
        self.visible = visible
        # Built once, with bound parameters: a load runs on most requests.
        columns = model.__table__.c
        query = select(model).where(columns.id == bindparam("row_id"), columns.account_id == bindparam("account_id"))
        self._query: Select[RowT] = query.execution_options(populate_existing=True)
        self._locking: Select[RowT] = self._query.with_for_update()
        self._light: Select[RowT] = self._query.options(*(defer(column) for column in heavy))
        self.heavy = [column.key for column in heavy]

    async def __call__(
        self, db: AsyncSession, caller: CallerT, row_id: uuid.UUID, *, for_update: bool = False, light: bool = False
    ) -> RowT:
        """The row, read afresh; `for_update` locks it until the transaction ends (SQLite serialises writers anyway).

        A `light` row lacks the `heavy` columns: reading one of them before a load or a refresh that names them raises.
        """
        query = self._locking if for_update else self._light if light else self._query
        parameters = {"row_id": row_id, "account_id": self.account_of(caller)}
        row = (await db.execute(query, parameters)).scalar_one_or_none()
        if row is None or not self.visible(caller, row):
            raise NotFound(self.name)
        return row
