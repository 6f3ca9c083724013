"""Per-request dependencies."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.uow import unit_of_work


async def provide_db(state: State) -> AsyncGenerator[AsyncSession, None]:
    """The request's unit of work: committed after the handler returns (before the response is sent),
    rolled back if it raises."""
    async with unit_of_work(state.sessionmaker) as session:
        yield session
