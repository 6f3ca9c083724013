"""A Redis that resets each connection as soon as it opens (a proxy or load balancer in front of a Redis that is
down) is an outage like any other for `handoff api`: changes are still answered, the stream is refused with 503,
and the outbox keeps every event until Redis is back: none is set aside as unpublishable."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio

from shared.bus.base import stream_key
from shared.outbox.relay import DEAD_LETTER_AFTER
from tests.conftest import JWT_SECRET, fresh_pg_database
from tests.support.faultproxy import ProxyControl, fault_proxy
from tests.support.processes import RedisServer, api_env, running, spare_port
from tests.support.sse import SSEClient
from tests.support.tenants import Actor, TenantFactory
from tests.support.waiting import eventually

ESCALATIONS = 20
STREAMS = 20


@dataclass
class Behind:
    """`handoff api` on its port, reaching its Redis through the fault proxy's route `redis`."""

    port: int
    proxy: ProxyControl
    redis: redis.asyncio.Redis
    database: asyncpg.Connection
    http: httpx.AsyncClient


@pytest.fixture
async def behind(tmp_path: Path) -> AsyncIterator[Behind]:
    own_redis = RedisServer(tmp_path)
    own_redis.start()
    port = spare_port()
    try:
        async with fault_proxy({"redis": own_redis.port}, tmp_path / "proxy.log") as (proxy, ports):
            with fresh_pg_database() as database_url:
                env = api_env(database_url, f"redis://127.0.0.1:{ports['redis']}/0", JWT_SECRET)
                with running(["api"], cwd=tmp_path, env=env, port=port):
                    database = await asyncpg.connect(database_url.replace("+asyncpg", ""))
                    client = redis.asyncio.Redis.from_url(own_redis.url)
                    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                        yield Behind(port, proxy, client, database, http)
                    await client.aclose()
                    await database.close()
    finally:
        own_redis.stop()


async def escalate(junior: Actor, title: str) -> str:
    return str((await junior.escalate((await junior.new_session(title))["id"]))["id"])


async def test_a_redis_resetting_every_connection_delays_events_and_loses_none(behind: Behind) -> None:
    tenant = await TenantFactory(behind.http, JWT_SECRET).create()
    junior, senior = tenant["junior"], tenant["senior"]
    await behind.proxy.send("down", "redis")

    # At once, as a busy replica meets them. Each escalation is a change the rate limiter counts, in Redis: it
    # lets them through while Redis cannot be reached. Each stream asks Redis for the account's tip first.
    created = await asyncio.gather(*(escalate(junior, f"Ticket {n}") for n in range(ESCALATIONS)))
    streams = await asyncio.gather(*(SSEClient.connect(behind.port, senior.token) for _ in range(STREAMS)))
    refusals = [(stream.status, json.loads(await stream.body())["code"]) for stream in streams]
    for stream in streams:
        await stream.close()

    async def tried_past_the_dead_letter_budget() -> bool:
        """The first event tried more often than a failing row may be, or one set aside already."""
        tries, set_aside = await behind.database.fetchrow(
            "select max(attempts), count(dead_at) from outbox where kind = 'event'"
        )
        return bool(set_aside or (tries and tries > DEAD_LETTER_AFTER))

    await eventually(tried_past_the_dead_letter_budget, 60, "the relay to keep trying")
    await behind.proxy.send("heal", "redis")
    key = stream_key(str(tenant.account_id))

    async def all_published() -> bool:
        return int(await behind.redis.xlen(key)) >= 2 * ESCALATIONS

    await eventually(all_published, 30, "the events once Redis is back")
    entries = await behind.redis.xrange(key)
    set_aside = await behind.database.fetchval("select count(*) from outbox where dead_at is not null")
    print(f"\nRedis resetting every connection: {len(created)} escalations answered 201; streams {Counter(refusals)}")

    assert refusals == [(503, "unavailable")] * STREAMS
    assert set_aside == 0
    for event in (b"handoff_created", b"handoff_paged"):
        announced = [json.loads(fields[b"data"])["handoff_id"] for _, fields in entries if fields[b"type"] == event]
        assert sorted(announced) == sorted(created)
