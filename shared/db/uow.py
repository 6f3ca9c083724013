"""The unit of work: one transaction per request or job, committed in one place.

Domain functions flush but never commit, so two of them can share a transaction and roll back
together; whoever opened the unit of work decides. Reads that commit nothing use `read_only`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@asynccontextmanager
async def unit_of_work(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose work commits when the block ends and rolls back if it raises."""
    async with sessionmaker() as session, in_transaction(session):
        yield session


@asynccontextmanager
async def in_transaction(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """The unit of work of a session opened earlier (the API's request session): committed when the block
    ends, rolled back if it raises; the session stays open for whoever opened it to close."""
    try:
        yield session
    except BaseException:
        await session.rollback()
        raise
    await session.commit()


@asynccontextmanager
async def read_only(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for reads that commits nothing; closing it ends the transaction and keeps what was loaded."""
    async with sessionmaker() as session:
        yield session
