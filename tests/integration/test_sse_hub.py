"""The hub on its own: stopping twice at once, as a server's signal handler and its lifespan both do."""

from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import BlockingConnectionPool

from services.handoff_api.sse.hub import SSEHub
from shared.bus.redis import RedisBus
from shared.redis_master import RedisMaster
from tests.conftest import REDIS_URL
from tests.support.events import tail_blocked
from tests.support.waiting import eventually


async def test_two_stops_at_once_both_finish_and_drop_every_stream() -> None:
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=4)
    bus = RedisBus(pool, master=RedisMaster(REDIS_URL))
    hub = SSEHub(bus, block_ms=500)
    hub.start()
    try:
        streams = [await hub.subscribe(str(uuid.uuid4()), uuid.uuid4()) for _ in range(20)]
        await eventually(lambda: tail_blocked(bus), 5, "the hub's reader to wait on the doorbell")
        async with asyncio.timeout(5):
            await asyncio.gather(hub.stop(), hub.stop())
        assert {s.drop_reason for s in streams} == {"shutdown"}
    finally:
        await bus.close()
        await pool.aclose()
