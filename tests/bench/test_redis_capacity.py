"""How far one Redis master with a replica goes for this service (docs/decisions/0008): events per second and
the memory of retained events, on loopback.

The publish figures run the service's own bus (`RedisBus.publish`: the publish-once script and the doorbell,
with `WAIT 1` when asked), one event at a time as the outbox relay sends them, over many accounts' streams.
Beside them, what Redis itself takes when the same appends come pipelined, and what one blocking tail reads.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import redis.asyncio
from redis.asyncio import BlockingConnectionPool

from shared.bus.base import stream_key
from shared.bus.redis import DOORBELL, RedisBus
from shared.redis_master import RedisMaster
from tests.bench.conftest import record, scale
from tests.support.sentinel import replicated_redis

EVENTS = scale(2000, 20000)
ACCOUNTS = scale(200, 10000)
PIPELINE = 500
# A handoff_created event as the stream carries it: about 450 bytes of JSON.
EVENT = json.dumps(
    {
        "type": "handoff_created",
        "handoff": {
            "id": str(uuid.uuid4()),
            "title": "VPN drops every few minutes at the Leeds office",
            "status": "open",
            "urgency": "high",
            "claimed_by": None,
            "created_by": {"id": str(uuid.uuid4()), "name": "Jamie Junior"},
            "assessment_status": "pending",
        },
        "account_id": str(uuid.uuid4()),
        "handoff_id": str(uuid.uuid4()),
        "session_id": str(uuid.uuid4()),
        "occurred_at": "2026-12-06T10:00:00.000Z",
    }
).encode()


async def relay_rate(url: str, accounts: list[str], min_replicas: int, offset: int) -> float:
    """Events per second through RedisBus.publish, one at a time as the relay sends them."""
    pool = BlockingConnectionPool.from_url(url, max_connections=4)
    bus = RedisBus(pool, master=RedisMaster(url), min_replicas=min_replicas)
    try:
        started = time.perf_counter()
        for n in range(EVENTS):
            account = accounts[n % len(accounts)]
            await bus.publish(account, "handoff_created", EVENT, dedupe_key=f"outbox:{offset + n}")
        return EVENTS / (time.perf_counter() - started)
    finally:
        await bus.close()
        await pool.aclose()


async def pipelined_rate(client: redis.asyncio.Redis, accounts: list[str]) -> float:
    """Events per second Redis takes when the same two appends (event, doorbell) come pipelined."""
    started = time.perf_counter()
    for start in range(0, EVENTS, PIPELINE):
        async with client.pipeline(transaction=False) as pipe:
            for n in range(start, min(EVENTS, start + PIPELINE)):
                account = accounts[n % len(accounts)]
                pipe.xadd(stream_key(account), {"type": "handoff_created", "data": EVENT}, maxlen=10000)
                pipe.xadd(DOORBELL, {"a": account}, maxlen=10000)
            await pipe.execute()
    return EVENTS / (time.perf_counter() - started)


async def full_stream_bytes(client: redis.asyncio.Redis) -> float:
    """Bytes per event of one account's stream at the default HANDOFF_STREAM_MAXLEN (10,000 events)."""
    key = stream_key(str(uuid.uuid4()))
    for _ in range(10000 // PIPELINE):
        async with client.pipeline(transaction=False) as pipe:
            for _entry in range(PIPELINE):
                pipe.xadd(key, {"type": "handoff_created", "data": EVENT}, maxlen=10000)
            await pipe.execute()
    size = int(await client.memory_usage(key, samples=0) or 0)
    await client.delete(key)
    return size / 10000


async def tail_rate(url: str, accounts: list[str]) -> float:
    """Events per second one hub's tail reads (doorbell, then each rung account's stream) while they are written."""
    pool = BlockingConnectionPool.from_url(url, max_connections=4)
    bus = RedisBus(pool, master=RedisMaster(url))
    writer = redis.asyncio.Redis.from_url(url)
    cursors = {account: await bus.tip(account) for account in accounts}
    read = 0
    try:
        await bus.tail(cursors, block_ms=1)  # the first call sweeps every stream; start from here
        started = time.perf_counter()
        producing = asyncio.create_task(pipelined_rate(writer, accounts))
        while read < EVENTS:
            for account, entry in await bus.tail(cursors, block_ms=1000):
                cursors[account] = entry.id
                read += 1
        await producing
        return read / (time.perf_counter() - started)
    finally:
        await writer.aclose()
        await bus.close()
        await pool.aclose()


async def test_how_far_one_master_with_a_replica_goes(tmp_path: Path) -> None:
    accounts = [str(uuid.uuid4()) for _ in range(ACCOUNTS)]
    with replicated_redis(tmp_path, replicas=1) as group:
        url = group.url()
        plain = await relay_rate(url, accounts, 0, 0)
        waiting = await relay_rate(url, accounts, 1, EVENTS)
        client = redis.asyncio.Redis.from_url(url)
        try:
            await client.flushdb()
            before = int((await client.info("memory"))["used_memory"])
            pipelined = await pipelined_rate(client, accounts)
            spread_mb = (int((await client.info("memory"))["used_memory"]) - before) / 2**20
            full = await full_stream_bytes(client)
            tailed = await tail_rate(url, accounts)
        finally:
            await client.aclose()

    record(
        f"events/s one relay publishes, {ACCOUNTS:,} accounts' streams, master + 1 replica ({EVENTS:,} events)",
        f"{plain:,.0f}/s; {waiting:,.0f}/s with HANDOFF_REDIS_MIN_REPLICAS=1",
        f"Redis pipelined XADD + doorbell {pipelined:,.0f}/s; one hub's tail reads {tailed:,.0f}/s",
        "far above the escalation rate",
    )
    record(
        "Redis memory per retained event, an account's stream at HANDOFF_STREAM_MAXLEN=10000",
        f"{full:,.0f} B",
        f"the event's own JSON {len(EVENT)} B; {EVENTS:,} events over {ACCOUNTS:,} streams took {spread_mb:,.1f} MB",
        "retained events x this",
    )
