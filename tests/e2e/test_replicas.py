"""Several API processes on one PostgreSQL and one Redis: events cross replicas, survive a killed
replica, and survive a Redis outage."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio

from shared.bus.base import parse_id, stream_key
from shared.jobs.base import JOB_QUEUES
from tests.conftest import JWT_SECRET, REDIS_URL, fresh_pg_database
from tests.support.processes import RedisServer, api_env, running, spare_port
from tests.support.sse import Frame, SSEClient
from tests.support.tenants import Tenant, TenantFactory
from tests.support.waiting import eventually


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@pytest.fixture
def replicas(pg_url: str, tmp_path: Path) -> Iterator[tuple[int, int]]:
    """Two `handoff api` processes, A and B."""
    env = api_env(pg_url, REDIS_URL, JWT_SECRET)
    with ExitStack() as stack:
        ports = []
        for _ in range(2):
            port = spare_port()
            stack.enter_context(running(["api"], cwd=tmp_path, env=env, port=port))
            ports.append(port)
        yield ports[0], ports[1]


@pytest.fixture
async def via() -> AsyncIterator[dict[int, TenantFactory]]:
    clients: dict[int, httpx.AsyncClient] = {}

    class Factories(dict[int, TenantFactory]):
        def __missing__(self, port: int) -> TenantFactory:
            clients[port] = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
            self[port] = TenantFactory(clients[port], JWT_SECRET)
            return self[port]

    yield Factories()
    for client in clients.values():
        await client.aclose()


async def escalate_many(tenant: Tenant, count: int, concurrency: int = 4) -> list[str]:
    junior = tenant["junior"]
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> str:
        async with gate:
            return (await junior.escalate((await junior.new_session(f"ticket {n}"))["id"]))["id"]

    return await asyncio.gather(*(one(n) for n in range(count)))


async def test_an_escalation_through_a_reaches_a_subscriber_on_b(
    replicas: tuple[int, int], via: dict[int, TenantFactory]
) -> None:
    port_a, port_b = replicas
    tenant = await via[port_a].create()
    junior = tenant["junior"]
    subscriber = await SSEClient.connect(port_b, tenant["senior"].token)
    assert (await subscriber.next_frame()).event == "ready"

    latencies: list[float] = []
    for n in range(40):
        session = await junior.new_session(f"cross-replica {n}")
        started = time.perf_counter()
        handoff = await junior.escalate(session["id"])
        frame = await subscriber.next_frame(timeout=5)
        latencies.append((time.perf_counter() - started) * 1000)
        assert (frame.event, frame.json["handoff_id"]) == ("handoff_created", handoff["id"])
        # Step 0 pages in the same transaction, so its event follows at once.
        paged = await subscriber.next_frame(timeout=5)
        assert (paged.event, paged.json["handoff_id"]) == ("handoff_paged", handoff["id"])
    print(
        f"\nescalation via replica A -> SSE on replica B, {len(latencies)} events: "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms"
    )
    await subscriber.close()


async def read_until_broken(client: SSEClient, frames: list[Frame], stop_after: int, killed: asyncio.Event) -> None:
    while True:
        try:
            frame = await client.next_frame(timeout=10)
        except (EOFError, ConnectionError, asyncio.IncompleteReadError):
            return
        frames.append(frame)
        if len(frames) == stop_after:
            killed.set()


async def test_a_subscriber_resumes_on_b_after_a_is_killed(
    pg_url: str, tmp_path: Path, via: dict[int, TenantFactory]
) -> None:
    env = api_env(pg_url, REDIS_URL, JWT_SECRET)
    port_a, port_b = spare_port(), spare_port()
    with running(["api"], cwd=tmp_path, env=env, port=port_b):
        with running(["api"], cwd=tmp_path, env=env, port=port_a) as (replica_a, _):
            tenant = await via[port_b].create()
            client = await SSEClient.connect(port_a, tenant["senior"].token)
            assert (await client.next_frame()).event == "ready"
            frames: list[Frame] = []
            reached = asyncio.Event()
            reader = asyncio.create_task(read_until_broken(client, frames, 80, reached))
            producer = asyncio.create_task(escalate_many(tenant, 200))
            await asyncio.wait_for(reached.wait(), 60)
            os.kill(replica_a.pid, signal.SIGKILL)
            await asyncio.wait_for(reader, 15)
            before_kill = len(frames)
        created = await producer
        resumed = await SSEClient.connect(port_b, tenant["senior"].token, last_event_id=frames[-1].id)
        assert (await resumed.next_frame()).event == "ready"
        while len(frames) < 400:  # each escalation's handoff_created and handoff_paged
            frames.append(await resumed.next_frame(timeout=10))
        with pytest.raises(TimeoutError):
            await resumed.next_frame(timeout=0.5)
        await resumed.close()

    print(f"\nread {before_kill} events from replica A before SIGKILL, the rest from replica B")
    ids = [parse_id(f.id or "") for f in frames]
    assert ids == sorted(ids)
    assert len(set(ids)) == 400
    for event in ("handoff_created", "handoff_paged"):
        assert sorted(f.json["handoff_id"] for f in frames if f.event == event) == sorted(created)


async def test_a_redis_outage_delays_events_and_jobs_but_loses_none(
    tmp_path: Path, via: dict[int, TenantFactory]
) -> None:
    own_redis = RedisServer(tmp_path)
    own_redis.start()
    port = spare_port()
    try:
        with (
            fresh_pg_database() as database_url,
            running(["api"], cwd=tmp_path, env=api_env(database_url, own_redis.url, JWT_SECRET), port=port),
        ):
            tenant = await via[port].create()
            own_redis.stop()
            created = await escalate_many(tenant, 20)
            assert len(created) == 20  # every one a 201 while Redis was down
            ready = await via[port].http.get("/readyz")
            assert ready.status_code == 503
            assert "bus" in ready.json()["failed"]

            own_redis.start()
            client = redis.asyncio.Redis.from_url(own_redis.url)
            try:
                entries: list[Any] = []
                job_ids: set[str] = set()

                async def arrived() -> bool:
                    nonlocal entries, job_ids
                    entries = await client.xrange(stream_key(str(tenant.account_id)))
                    job_ids = set()
                    for queue in set(JOB_QUEUES.values()):
                        job_ids |= {m.decode() for m in await client.zrange(queue, 0, -1)}
                    return len(entries) >= 40 and len(job_ids) >= 60

                await eventually(arrived, 30, "40 events and 60 jobs", interval=0.1)
                print(f"\nafter the outage: {len(entries)} events and {len(job_ids)} jobs arrived")
            finally:
                await client.aclose()
            for event in (b"handoff_created", b"handoff_paged"):
                handoff_ids = [json.loads(f[b"data"])["handoff_id"] for _, f in entries if f[b"type"] == event]
                assert sorted(handoff_ids) == sorted(created)
            assert len(entries) == 40
            expected_jobs = {f"{job}:{h}" for h in created for job in ("assess", "notify", "psa_push")}
            assert job_ids == expected_jobs
            assert (await via[port].http.get("/readyz")).status_code == 200
    finally:
        own_redis.stop()
