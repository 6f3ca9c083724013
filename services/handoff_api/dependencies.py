"""Per-request dependencies."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession


async def provide_db(state: State) -> AsyncGenerator[AsyncSession, None]:
    """One database session per request; domain functions commit what they change."""
    async with state.sessionmaker() as session:
        yield session
