"""One contract, two job queues: arq on Redis and the in-process queue take a job id once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from arq.connections import ArqRedis
from redis.asyncio import BlockingConnectionPool

from shared.jobs.arq import ArqJobQueue
from shared.jobs.base import JOB_QUEUES
from shared.jobs.memory import InProcessJobQueue
from tests.conftest import REDIS_URL


async def test_arq_queue_takes_a_job_id_once() -> None:
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=2)
    jobs = ArqJobQueue(pool)
    job_id = f"assess:{uuid.uuid4()}"
    try:
        assert await jobs.enqueue("assess", job_id, {"handoff_id": "h"}) is True
        assert await jobs.enqueue("assess", job_id, {"handoff_id": "h"}) is False
        queued = await ArqRedis(connection_pool=pool).queued_jobs(queue_name=JOB_QUEUES["assess"])
        assert [j.job_id for j in queued].count(job_id) == 1
        assert [j.args for j in queued if j.job_id == job_id] == [({"handoff_id": "h"},)]
    finally:
        await jobs.close()
        await pool.aclose()


async def test_in_process_queue_runs_each_job_once_and_retries_failures() -> None:
    jobs = InProcessJobQueue(retry_delay_s=0.01)
    seen: list[dict[str, Any]] = []
    failures = {"left": 2}
    done = asyncio.Event()

    async def handler(payload: dict[str, Any]) -> None:
        if payload["n"] == 2 and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("transient")
        seen.append(payload)
        if len(seen) == 3:
            done.set()

    for n in (1, 2, 3):
        assert await jobs.enqueue("notify", f"notify:{n}", {"n": n}) is True
    assert await jobs.enqueue("notify", "notify:1", {"n": 1}) is False
    jobs.run("notify", handler, concurrency=1)
    await asyncio.wait_for(done.wait(), 5)
    await jobs.close()
    assert sorted(p["n"] for p in seen) == [1, 2, 3]


async def test_arq_requeue_takes_a_finished_or_lost_job_but_not_a_queued_one() -> None:
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=2)
    jobs = ArqJobQueue(pool)
    arq = ArqRedis(connection_pool=pool)
    job_id = f"assess:{uuid.uuid4()}"
    try:
        assert await jobs.enqueue("assess", job_id, {"handoff_id": "h"}) is True
        assert await jobs.requeue("assess", job_id, {"handoff_id": "h"}) is False  # still queued
        # A worker ran it out of tries: arq keeps its failed result, which blocks enqueue but not requeue.
        await arq.zrem(JOB_QUEUES["assess"], job_id)
        await arq.delete(f"arq:job:{job_id}")
        await arq.set(f"arq:result:{job_id}", b"x", ex=60)
        assert await jobs.enqueue("assess", job_id, {"handoff_id": "h"}) is False
        assert await jobs.requeue("assess", job_id, {"handoff_id": "h"}) is True
        assert [j.job_id for j in await arq.queued_jobs(queue_name=JOB_QUEUES["assess"])].count(job_id) == 1
    finally:
        await jobs.close()
        await pool.aclose()


async def test_in_process_requeue_after_a_job_runs_out_of_tries() -> None:
    jobs = InProcessJobQueue(max_tries=2, retry_delay_s=0.01)
    calls: list[int] = []
    healthy = asyncio.Event()
    done = asyncio.Event()

    async def handler(payload: dict[str, Any]) -> None:
        calls.append(payload["n"])
        if not healthy.is_set():
            raise RuntimeError("database unavailable")
        done.set()

    jobs.run("notify", handler, concurrency=1)
    assert await jobs.enqueue("notify", "notify:1", {"n": 1}) is True
    while len(calls) < 2:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert await jobs.enqueue("notify", "notify:1", {"n": 1}) is False  # its id stays taken...
    healthy.set()
    assert await jobs.requeue("notify", "notify:1", {"n": 1}) is True  # ...but the sweeper may queue it again
    await asyncio.wait_for(done.wait(), 5)
    await jobs.close()
    assert calls == [1, 1, 1]


async def test_in_process_close_lets_a_running_job_finish() -> None:
    jobs = InProcessJobQueue(drain_s=5)
    started, finished = asyncio.Event(), asyncio.Event()

    async def handler(payload: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.set()

    jobs.run("assess", handler, concurrency=2)
    await jobs.enqueue("assess", "assess:1", {})
    await asyncio.wait_for(started.wait(), 5)
    await jobs.close()
    assert finished.is_set()
