"""The hub on its own: stopping twice at once, as a server's signal handler and its lifespan both do; expiry."""

from __future__ import annotations

import asyncio
import time
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


async def test_the_keep_alive_ends_a_stream_whose_token_has_expired() -> None:
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=4)
    bus = RedisBus(pool, master=RedisMaster(REDIS_URL))
    hub = SSEHub(bus, block_ms=500, heartbeat_s=1.0)
    hub.start()
    try:
        account = str(uuid.uuid4())
        expiring, lasting = await hub.subscribe(account, uuid.uuid4()), await hub.subscribe(account, uuid.uuid4())
        expiring.expires_at = time.monotonic() + 0.3
        lasting.expires_at = time.monotonic() + 3600
        await eventually(lambda: expiring.drop_reason is not None, 5, "the expired stream to end")
        assert expiring.drop_reason == "token_expired"
        assert lasting.drop_reason is None
    finally:
        await hub.stop()
        await bus.close()
        await pool.aclose()
