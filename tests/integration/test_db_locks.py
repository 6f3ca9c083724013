"""Advisory locks: on PostgreSQL one transaction at a time holds a key; SQLite serialises writers by itself."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from shared.bootstrap import Runtime
from shared.db.locks import transaction_lock, try_transaction_lock
from tests.support.waiting import eventually

KEY = 0x5445_5354  # "TEST": apart from the service's own keys
WAITING = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")


async def test_a_held_key_is_refused_to_a_second_transaction_until_the_first_ends(runtime: Runtime) -> None:
    on_postgresql = runtime.engine.dialect.name == "postgresql"
    async with runtime.sessionmaker() as first, runtime.sessionmaker() as second:
        async with first.begin():
            assert await try_transaction_lock(first, KEY) is True
            async with second.begin():
                assert await try_transaction_lock(second, KEY) is (not on_postgresql)
        async with second.begin():
            assert await try_transaction_lock(second, KEY) is True


async def test_a_waiting_lock_is_granted_when_the_holder_commits(runtime: Runtime) -> None:
    on_postgresql = runtime.engine.dialect.name == "postgresql"
    order: list[str] = []
    async with runtime.sessionmaker() as first, runtime.sessionmaker() as second:
        await first.begin()
        await transaction_lock(first, KEY, 1)

        async def waiter() -> None:
            async with second.begin():
                await transaction_lock(second, KEY, 1)
                order.append("second")

        waiting = asyncio.create_task(waiter())
        if on_postgresql:  # parked on the lock until the holder ends: PostgreSQL shows it waiting
            async with runtime.sessionmaker() as observer:
                await eventually(lambda: observer.scalar(WAITING), 10, "the second transaction to wait on the lock")
        else:  # no lock to wait for
            await asyncio.wait_for(waiting, 10)
        order.append("first")
        await first.commit()
        await asyncio.wait_for(waiting, 10)
    assert order == (["first", "second"] if on_postgresql else ["second", "first"])
