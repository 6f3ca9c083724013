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
