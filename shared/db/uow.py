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
async def before_transaction(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Reads that need no transaction of their own (a request's directory read, a claim's load): on PostgreSQL
    each statement in the block runs on its own while the session has not yet begun a transaction on the server,
    so a request that only reads sends neither BEGIN nor ROLLBACK. Under READ COMMITTED every statement sees its
    own snapshot either way; once a transaction has begun, the block's statements run in it. Never a write here.
    """
    connection = await session.connection()
    if connection.dialect.driver != "asyncpg":
        yield session
        return
    driver_connection = (await connection.get_raw_connection()).dbapi_connection
    driver_connection.autocommit = True  # type: ignore[union-attr]
    try:
        yield session
    finally:
        driver_connection.autocommit = False  # type: ignore[union-attr]


@asynccontextmanager
async def read_only(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for reads that commits nothing; closing it ends the transaction and keeps what was loaded."""
    async with sessionmaker() as session:
        yield session
