"""The PostgreSQL pool: a connection once made is kept and reused, at most pool size + overflow of them, and a
pooled connection the server dropped is replaced before a request gets it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import create_engine
from tests.support.waiting import eventually


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_engine(pg_url, pool_size=2, max_overflow=1)
    try:
        yield made
    finally:
        await made.dispose()


def count_connects(engine: AsyncEngine) -> list[int]:
    opened = [0]

    @event.listens_for(engine.sync_engine, "connect")
    def _opened(*_: Any) -> None:
        opened[0] += 1

    return opened


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_pooled_connection_is_reused_not_reopened(engine: AsyncEngine) -> None:
    opened = count_connects(engine)
    pids = {await backend_pid(engine) for _ in range(20)}
    assert opened[0] == 1
    assert len(pids) == 1


async def test_a_burst_keeps_its_connections_within_pool_size_and_overflow(engine: AsyncEngine) -> None:
    opened = count_connects(engine)
    release = asyncio.Event()
    holding = 0

    async def hold() -> None:
        nonlocal holding
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            holding += 1
            await release.wait()

    def all_held() -> bool:
        return holding == 3

    burst = [asyncio.create_task(hold()) for _ in range(3)]  # pool size 2 + overflow 1
    await eventually(all_held, 10, "three connections held at once")
    release.set()
    await asyncio.gather(*burst)
    assert opened[0] == 3
    for _ in range(2):  # the overflow's connection was kept too: a second burst opens none
        release.clear()
        holding = 0
        burst = [asyncio.create_task(hold()) for _ in range(3)]
        await eventually(all_held, 10, "three connections held at once again")
        release.set()
        await asyncio.gather(*burst)
    assert opened[0] == 3
    assert engine.sync_engine.pool.checkedin() == 3  # type: ignore[attr-defined]


async def test_a_pooled_connection_the_server_dropped_is_replaced_before_use(engine: AsyncEngine, pg_url: str) -> None:
    opened = count_connects(engine)
    dropped = await backend_pid(engine)
    other = create_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        async with other.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    finally:
        await other.dispose()
    assert await backend_pid(engine) != dropped  # answered on a new connection, not an error
    assert opened[0] == 2
