"""1,000 SSE clients on one replica: its memory, its Redis connections, and one event's fan-out time.

Prints its figures; the one assertion is that Redis connections stay bounded, whatever the client count.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import httpx
import psutil
import redis.asyncio

from tests.conftest import JWT_SECRET, REDIS_URL
from tests.support.processes import api_env, running, spare_port
from tests.support.sse import SSEClient
from tests.support.tenants import TenantFactory

CLIENTS = 1000
# The replica's shared pool (20) plus its one blocking tail connection.
REDIS_CONNECTION_BOUND = 21


async def redis_connections_of(pid: int) -> int:
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        listing = await client.client_list()
    finally:
        await client.aclose()
    return sum(1 for c in listing if c.get("name") == f"handoff-api-{pid}")


async def connect_all(port: int, token: str, count: int) -> list[SSEClient]:
    gate = asyncio.Semaphore(100)

    async def one() -> SSEClient:
        async with gate:
            client = await SSEClient.connect(port, token)
            assert client.status == 200
            assert (await client.next_frame(timeout=30)).event == "ready"
            return client

    return await asyncio.gather(*(one() for _ in range(count)))


async def test_thousand_sse_clients_on_one_replica(pg_url: str, tmp_path: Path) -> None:
    port = spare_port()
    # One senior's token opens every stream here: the per-user stream cap is not what this measures.
    env = {**api_env(pg_url, REDIS_URL, JWT_SECRET), "HANDOFF_SSE_MAX_STREAMS_PER_USER": str(CLIENTS)}
    with running(["api"], cwd=tmp_path, env=env, port=port) as (process, _):
        replica = psutil.Process(process.pid)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            tenant = await TenantFactory(http, JWT_SECRET).create()
            token = tenant["senior"].token
            rss_idle = replica.memory_info().rss

            few = await connect_all(port, token, 10)
            redis_at_10 = await redis_connections_of(process.pid)
            many = few + await connect_all(port, token, CLIENTS - 10)
            await asyncio.sleep(0.5)
            redis_at_1000 = await redis_connections_of(process.pid)
            rss_at_1000 = replica.memory_info().rss

            started = time.perf_counter()
            handoff = await tenant["junior"].escalate((await tenant["junior"].new_session("fan-out"))["id"])

            async def arrival(client: SSEClient) -> float:
                frame = await client.next_frame(timeout=30)
                assert frame.json["handoff_id"] == handoff["id"]
                return (time.perf_counter() - started) * 1000

            arrivals = sorted(await asyncio.gather(*(arrival(c) for c in many)))
            await asyncio.gather(*(c.close() for c in many))

    print(
        f"\n{CLIENTS} SSE clients on one replica: RSS {rss_idle / 2**20:.1f} MiB idle -> "
        f"{rss_at_1000 / 2**20:.1f} MiB ({(rss_at_1000 - rss_idle) / CLIENTS / 1024:.1f} KiB per client); "
        f"Redis connections held by the replica: {redis_at_10} at 10 clients, {redis_at_1000} at {CLIENTS}; "
        f"one escalation reached all {CLIENTS}: p50 {statistics.median(arrivals):.0f} ms, "
        f"p99 {arrivals[int(0.99 * (len(arrivals) - 1))]:.0f} ms, last {arrivals[-1]:.0f} ms"
    )
    assert 1 <= redis_at_10 <= REDIS_CONNECTION_BOUND
    assert redis_at_1000 <= REDIS_CONNECTION_BOUND
